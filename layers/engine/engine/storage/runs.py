"""The completion of a run: trades, account, logs, marks and the strategy's stats in ONE transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.errors import StorageError
from engine.models.execution import ExecutionLog, RunStatus
from engine.models.trading import Account, Trade
from engine.storage.dynamo import StorageClients

MAX_TRANSACTION_ITEMS = 100
AUTO_PAUSE_REASON = "auto:consecutive_failures"


class CommitTooLarge(StorageError):
    """A run produced more writes than one DynamoDB transaction holds (100 items)."""


@dataclass
class Completion:
    """What a scheduled run's completion writes on the strategy (guarded by its claim token)."""

    claim_token: str
    execution_ms: int
    status: RunStatus
    executed_at: datetime
    next_due_at: datetime | None
    counts_as_failure: bool | None  # True: +1, False: reset to 0, None: leave as is
    read_consecutive_failures: int
    max_consecutive_failures: int


@dataclass
class ManualStats:
    """What a manual run writes on the strategy (no claim, no due_at, no consecutive failures)."""

    execution_ms: int
    status: RunStatus
    executed_at: datetime


@dataclass
class RunCommit:
    strategy_id: str
    trades: list[Trade] = field(default_factory=list)
    account_before: Account | None = None
    account_after: Account | None = None  # None when nothing traded
    logs: list[ExecutionLog] = field(default_factory=list)
    marks: dict[str, Any] | None = None  # {token_id: {"price": Decimal, "status": str}}
    marked_at: datetime | None = None
    completion: Completion | None = None
    manual: ManualStats | None = None


@dataclass(frozen=True)
class CommitResult:
    ok: bool
    auto_paused: bool = False
    reason: str | None = None


class RunRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        raise NotImplementedError

    def commit_run(self, commit: RunCommit) -> CommitResult:
        """One TransactWriteItems. ClaimLost / AccountConflict / StorageError, or ok False on a duplicate."""
        raise NotImplementedError

    def release_claim(self, strategy_id: str, claim_token: str) -> bool:
        """Give a claim back (best effort); False when it was not ours any more or the call failed."""
        raise NotImplementedError


def commit_run(commit: RunCommit, clients: StorageClients | None = None) -> CommitResult:
    return RunRepository(clients).commit_run(commit)


def release_claim(strategy_id: str, claim_token: str, clients: StorageClients | None = None) -> bool:
    return RunRepository(clients).release_claim(strategy_id, claim_token)
