"""Domain errors. Handlers map these to HTTP answers or log outcomes; the engine never speaks HTTP."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the engine raises on purpose. `code` is the public error code."""

    code = "domain_error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(DomainError):
    """Input broke a rule. `details` is a list of {"loc": [...], "msg": str}."""

    code = "validation_error"


class StrategyNotFound(DomainError):
    code = "strategy_not_found"


class NotFound(DomainError):
    """A resource under a strategy (a deployment, a graph version) that does not exist."""

    code = "not_found"


class DeploymentNotFound(NotFound):
    pass


class VersionNotFound(NotFound):
    pass


class WatchlistNotFound(NotFound):
    pass


class ExecutionNotFound(DomainError):
    """No log with this id among the strategy's (or the strategy is not the caller's)."""

    code = "execution_not_found"


class InvalidTransition(DomainError):
    """An action the state table does not allow; details carry the status and the allowed actions."""

    code = "invalid_transition"


class Conflict(DomainError):
    code = "conflict"


class LiveTradingUnavailable(DomainError):
    code = "live_trading_unavailable"


class PreconditionFailed(DomainError):
    code = "precondition_failed"


class QuotaExceeded(DomainError):
    code = "quota_exceeded"


class RateLimited(DomainError):
    """Asked again too soon; `retry_after` is the whole seconds to wait."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class InvalidNextToken(DomainError):
    code = "invalid_next_token"


class StorageError(DomainError):
    """A storage call failed for a reason that is not the caller's fault (throttling, outage)."""

    code = "storage_error"


class ClaimLost(DomainError):
    """The slot claim this worker held was taken over or completed by someone else."""

    code = "claim_lost"


class AccountConflict(DomainError):
    """The account changed between read and write (another run of the same strategy wrote first)."""

    code = "account_conflict"


class MarketDataUnavailable(DomainError):
    """The market data source failed (HTTP error, timeout, garbage). Does not count toward auto-pause."""

    code = "market_data_unavailable"


class DeadlineExceeded(DomainError):
    """The caller's deadline passed before the work finished."""

    code = "timeout"


class KillSwitchActive(DomainError):
    """start or resume while the owner's kill switch is on (issue 14)."""

    code = "kill_switch_active"
