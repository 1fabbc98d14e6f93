"""The completion of a run: trades, account, logs, marks and the strategy's stats in ONE transaction."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from engine.errors import AccountConflict, ClaimLost, StorageError, StrategyNotFound
from engine.ledger import LedgerError
from engine.models.execution import ExecutionLog, RunStatus
from engine.models.history import StrategyEvent
from engine.models.strategy import PauseReason, StrategyStatus
from engine.models.trading import Account, Trade
from engine.money import ZERO
from engine.storage.alert_state import AlertStateRepository
from engine.storage.dynamo import StorageClients, error_code, get_clients, map_error
from engine.storage.executions import ExecutionLogRepository
from engine.storage.history import HistoryRepository
from engine.storage.portfolios import ACCOUNT_SK, account_item
from engine.storage.query import Expr
from engine.storage.risk import GUARD_ATTRIBUTE
from engine.storage.trades import TradeRepository

logger = logging.getLogger(__name__)

MAX_TRANSACTION_ITEMS = 100
AUTO_PAUSE_REASON = PauseReason.CONSECUTIVE_FAILURES.value
_CONDITION_FAILED = "ConditionalCheckFailed"


class CommitTooLarge(StorageError):
    """A run produced more writes than one DynamoDB transaction holds (100 items)."""


class GuardSet(AccountConflict):
    """The run entered without the shared limits, but its strategy was marked (limits set, kill switch on)
    after the run read it: decide again under them (`guard`: the mark, the limits' timezone)."""

    def __init__(self, guard: str, *, details: Any = None) -> None:
        super().__init__("shared limits were set since the run read its strategy", details=details)
        self.guard = guard


@dataclass
class Completion:
    """What a scheduled run's completion writes on the strategy (guarded by its claim token)."""

    claim_token: str
    execution_ms: int
    status: RunStatus
    executed_at: datetime
    next_due_at: datetime | None  # None leaves due_at as it is
    counts_as_failure: bool | None  # True: +1, False: reset to 0, None: leave as is
    read_consecutive_failures: int
    max_consecutive_failures: int
    risk_pause_reason: str | None = None  # a risk rule paused the strategy (auto:max_drawdown)

    @property
    def auto_pauses(self) -> bool:
        return self.pause_reason is not None

    @property
    def pause_reason(self) -> str | None:
        if (
            bool(self.counts_as_failure)
            and self.read_consecutive_failures + 1 >= self.max_consecutive_failures
        ):
            return AUTO_PAUSE_REASON
        return self.risk_pause_reason


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
    account_before: Account | None = None  # as read (its version is the condition); None: no account yet
    account_after: Account | None = None  # None when nothing traded
    logs: list[ExecutionLog] = field(default_factory=list)
    marks: dict[str, Any] | None = None  # {token_id: {"price": Decimal, "status": str}}
    marked_at: datetime | None = None
    settled_at: datetime | None = None  # the run settled its resolved holdings at this time (settle_due)
    completion: Completion | None = None
    manual: ManualStats | None = None
    # the NOTIFY nodes' new sets (None: unchanged, nothing written) and the state version the run read
    alert_seen: Mapping[str, frozenset[str]] | None = None
    alert_state_version: int = 0
    # the deployment its trades and logs belong to (stamped on those that do not name one yet)
    deployment_id: str | None = None
    events: list[StrategyEvent] = field(default_factory=list)  # timeline entries (run now, auto-pause)
    # shared-limit exposure counters the run moves (issue 14): transaction Updates, increases conditioned
    exposure: list[dict[str, Any]] = field(default_factory=list)
    # the run entered without reading shared limits (its strategy was not marked): the commit holds only while
    # the strategy still is not, so a run that read it just before limits were set decides again (GuardSet)
    unguarded_entries: bool = False


@dataclass(frozen=True)
class CommitResult:
    ok: bool
    auto_paused: bool = False
    reason: str | None = None


def cancellation_codes(exc: ClientError) -> list[str]:
    """The per-item codes of a cancelled transaction, in request order ("None" for items that passed)."""
    reasons = exc.response.get("CancellationReasons")
    if reasons:
        return [str(r.get("Code") or "None") for r in reasons]
    # older SDKs only put them in the message: "... reasons [ConditionalCheckFailed, None]"
    match = re.search(r"\[([^\]]*)\]\s*$", str(exc.response.get("Error", {}).get("Message", "")))
    return [c.strip() for c in match.group(1).split(",")] if match else []


_Stampable = TypeVar("_Stampable", Trade, ExecutionLog)


def _stamped(record: _Stampable, deployment_id: str | None) -> _Stampable:
    """The trade or log naming the deployment it belongs to (one that names one already keeps it)."""
    if record.deployment_id is not None or deployment_id is None:
        return record
    return record.model_copy(update={"deployment_id": deployment_id})


class RunRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        self.clients = clients or get_clients()
        self.db = self.clients.dynamodb
        self.settings = self.clients.settings
        self.trades = TradeRepository(self.clients)
        self.logs = ExecutionLogRepository(self.clients)
        self.history = HistoryRepository(self.clients)

    def commit_run(self, commit: RunCommit) -> CommitResult:
        """One TransactWriteItems: all or nothing.

        Raises ClaimLost (the claim was taken over or completed), AccountConflict (another run wrote the
        account first: re-read and decide again), StrategyNotFound (a manual run's strategy went away),
        StorageError (throttling, outage). A commit whose trades or logs already exist was applied
        before: nothing is written and the result is ok False with reason "duplicate".
        """
        items, kinds = self._build(commit)
        if not items:
            return CommitResult(ok=True)
        try:
            self.db.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise map_error(exc, what="complete run") from exc
            return self._cancelled(exc, kinds, commit)
        return CommitResult(ok=True, auto_paused=bool(commit.completion and commit.completion.auto_pauses))

    def _build(self, commit: RunCommit) -> tuple[list[dict[str, Any]], list[str]]:
        if commit.completion is not None and commit.manual is not None:
            raise ValueError("a run is either scheduled (completion) or manual, not both")
        if commit.trades and commit.account_after is None:
            raise ValueError("trades without the account they move")
        items: list[dict[str, Any]] = []
        kinds: list[str] = []
        trades_table = self.settings.trades_table
        for decided in commit.trades:
            trade = _stamped(decided, commit.deployment_id)
            items.append(
                {
                    "Put": {
                        "TableName": trades_table,
                        "Item": self.trades.item_for(trade),
                        # deterministic ids: a retried run cannot apply a trade twice
                        "ConditionExpression": "attribute_not_exists(trade_id)",
                    }
                }
            )
            kinds.append("trade")
        if commit.account_after is not None:
            items.append(self._account_put(commit))
            kinds.append("account")
            for update in commit.exposure:
                items.append(update)
                kinds.append("exposure")
        for written in commit.logs:
            log = _stamped(written, commit.deployment_id)
            items.append(
                {
                    "Put": {
                        "TableName": self.settings.executions_table,
                        "Item": self.logs.item_for(log),
                        "ConditionExpression": "attribute_not_exists(log_key)",
                    }
                }
            )
            kinds.append("log")
        if commit.marks is not None:
            if commit.marked_at is None:
                raise ValueError("marks need their marked_at")
            marks = self.trades.marks_item(commit.strategy_id, commit.marks, commit.marked_at)
            items.append({"Put": {"TableName": trades_table, "Item": marks}})
            kinds.append("marks")
        if commit.alert_seen is not None:
            items.append(
                AlertStateRepository(self.clients).put_for_commit(
                    commit.strategy_id, commit.alert_seen, read_version=commit.alert_state_version
                )
            )
            kinds.append("alert_state")
        for event in commit.events:
            items.append(self.history.put_event(event))
            kinds.append("event")
        if commit.completion is not None:
            items.append(
                self._unguarded(self._completion_update(commit.strategy_id, commit.completion), commit)
            )
            kinds.append("strategy")
        elif commit.manual is not None:
            items.append(self._unguarded(self._manual_update(commit.strategy_id, commit.manual), commit))
            kinds.append("strategy")
        if len(items) > MAX_TRANSACTION_ITEMS:
            raise CommitTooLarge(
                f"a run may write at most {MAX_TRANSACTION_ITEMS} items in one transaction; this one has "
                f"{len(items)} ({len(commit.trades)} trades)",
                details={"items": len(items), "trades": len(commit.trades)},
            )
        return items, kinds

    def _account_put(self, commit: RunCommit) -> dict[str, Any]:
        after = commit.account_after
        assert after is not None
        # DynamoDB cannot condition on the value a Put writes, so the cash rule is checked here; the version
        # condition guarantees the cash it was computed from is still the stored one.
        if after.cash_usd < ZERO:
            raise LedgerError(f"the run would take cash to {after.cash_usd}")
        if any(h.shares < ZERO for h in after.positions.values()):
            raise LedgerError("the run would hold negative shares")
        before = commit.account_before
        expr = Expr()
        if before is None:
            condition = f"attribute_not_exists({expr.name('sk')})"
            version = 1
        else:
            condition = f"{expr.name('version')} = {expr.value(before.version)}"
            version = before.version + 1
        item = account_item(
            after.model_copy(update={"strategy_id": commit.strategy_id}),
            version=version,
            shards=self.settings.due_shards,
            settled_at=commit.settled_at,
        )
        return {
            "Put": {
                "TableName": self.settings.portfolios_table,
                "Item": item,
                "ConditionExpression": condition,
                **expr.kwargs(),
            }
        }

    @staticmethod
    def _unguarded(update: dict[str, Any], commit: RunCommit) -> dict[str, Any]:
        """The strategy's update, also conditioned on its not being marked when the run entered unguarded
        (no extra request: the condition rides on the update the commit makes anyway)."""
        if not commit.unguarded_entries:
            return update
        body = dict(update["Update"])
        names = dict(body.get("ExpressionAttributeNames") or {})
        names["#unguarded"] = GUARD_ATTRIBUTE
        body["ExpressionAttributeNames"] = names
        body["ConditionExpression"] = f"({body['ConditionExpression']}) AND attribute_not_exists(#unguarded)"
        body["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return {"Update": body}

    def _completion_update(self, strategy_id: str, done: Completion) -> dict[str, Any]:
        expr = Expr()
        sets = [
            f"{expr.name('last_executed_at')} = {expr.value(done.executed_at)}",
            f"{expr.name('last_execution_status')} = {expr.value(done.status.value)}",
        ]
        removes = ["claim_token", "claim_slot", "claim_expires_at"]
        adds = [
            f"{expr.name('total_executions')} {expr.value(1)}",
            f"{expr.name('total_execution_time_ms')} {expr.value(done.execution_ms)}",
        ]
        if done.counts_as_failure is True:
            sets.append(
                f"{expr.name('consecutive_failures')} = {expr.value(done.read_consecutive_failures + 1)}"
            )
        elif done.counts_as_failure is False:
            sets.append(f"{expr.name('consecutive_failures')} = {expr.value(0)}")
        if done.auto_pauses:
            sets += [
                f"{expr.name('status')} = {expr.value(StrategyStatus.PAUSED.value)}",
                f"{expr.name('is_active')} = {expr.value(False)}",
                f"{expr.name('pause_reason')} = {expr.value(done.pause_reason)}",
                f"{expr.name('updated_at')} = {expr.value(done.executed_at)}",
            ]
            adds.append(f"{expr.name('version')} {expr.value(1)}")
            # leaving RUNNING leaves the sparse due index; next_execution_at is null unless RUNNING
            removes += ["due_shard", "due_at", "next_execution_at"]
        elif done.next_due_at is not None:
            sets += [
                f"{expr.name('due_at')} = {expr.value(done.next_due_at)}",
                f"{expr.name('next_execution_at')} = {expr.value(done.next_due_at)}",
            ]
        update = (
            "SET "
            + ", ".join(sets)
            + " ADD "
            + ", ".join(adds)
            + " REMOVE "
            + ", ".join(expr.name(r) for r in removes)
        )
        condition = f"{expr.name('claim_token')} = {expr.value(done.claim_token)}"
        return {
            "Update": {
                "TableName": self.settings.strategies_table,
                "Key": {"strategy_id": {"S": strategy_id}},
                "UpdateExpression": update,
                "ConditionExpression": condition,
                **expr.kwargs(),
            }
        }

    def _manual_update(self, strategy_id: str, stats: ManualStats) -> dict[str, Any]:
        expr = Expr()
        # ADD, not read-modify-write: concurrent completions never lose an execution or its time
        update = (
            f"SET {expr.name('last_executed_at')} = {expr.value(stats.executed_at)}, "
            f"{expr.name('last_execution_status')} = {expr.value(stats.status.value)} "
            f"ADD {expr.name('total_executions')} {expr.value(1)}, "
            f"{expr.name('total_execution_time_ms')} {expr.value(stats.execution_ms)}"
        )
        return {
            "Update": {
                "TableName": self.settings.strategies_table,
                "Key": {"strategy_id": {"S": strategy_id}},
                "UpdateExpression": update,
                "ConditionExpression": f"attribute_exists({expr.name('strategy_id')})",
                **expr.kwargs(),
            }
        }

    def _cancelled(self, exc: ClientError, kinds: list[str], commit: RunCommit) -> CommitResult:
        codes = cancellation_codes(exc)
        failed = {kind for kind, code in zip(kinds, codes, strict=False) if code == _CONDITION_FAILED}
        details = {
            "reasons": dict(zip(kinds, codes, strict=False)) if len(set(kinds)) == len(kinds) else codes
        }
        # the slot's log (or trade) is already there: this commit, or another claimant's of the same slot,
        # landed; a scheduled run's claim is then gone too (a retry after a lost answer), and that is a
        # duplicate, not a lost claim. A manual run whose strategy condition failed has lost its strategy.
        if failed & {"trade", "log"} and ("strategy" not in failed or commit.completion is not None):
            logger.info("run already applied", extra={"strategy_id": commit.strategy_id, "details": details})
            return CommitResult(ok=False, reason="duplicate")
        if "strategy" in failed:
            guard = _guard_set(exc, kinds, commit)
            if guard is not None:
                raise GuardSet(guard, details=details) from exc
            if commit.completion is not None:
                raise ClaimLost(
                    "the claim on this slot was taken over or completed", details=details
                ) from exc
            raise StrategyNotFound("strategy not found") from exc
        account_conflict = any(
            kind in ("account", "alert_state") and code in (_CONDITION_FAILED, "TransactionConflict")
            for kind, code in zip(kinds, codes, strict=False)
        )
        if account_conflict:
            raise AccountConflict("the account changed since it was read", details=details) from exc
        if "exposure" in failed:
            # another strategy of the owner took the room under a shared cap first: decide again
            raise AccountConflict("a shared limit was reached meanwhile", details=details) from exc
        raise StorageError("complete run: storage is busy, try again", details=details) from exc

    def release_claim(self, strategy_id: str, claim_token: str) -> bool:
        """Give a claim back (best effort); False when it was not ours any more or the call failed."""
        expr = Expr()
        try:
            self.db.update_item(
                TableName=self.settings.strategies_table,
                Key={"strategy_id": {"S": strategy_id}},
                UpdateExpression="REMOVE "
                + ", ".join(expr.name(a) for a in ("claim_token", "claim_slot", "claim_expires_at")),
                ConditionExpression=f"{expr.name('claim_token')} = {expr.value(claim_token)}",
                **expr.kwargs(),
            )
        except ClientError as exc:
            # best effort: the lease expires anyway and a later tick takes the slot again
            logger.warning("claim not released", extra={"strategy_id": strategy_id, "code": error_code(exc)})
            return False
        return True


def _guard_set(exc: ClientError, kinds: list[str], commit: RunCommit) -> str | None:
    """The strategy's new mark when that alone failed an unguarded commit's strategy update: the item as it
    was still holds the run's claim (or, for a manual run, exists) but is marked now."""
    if not commit.unguarded_entries:
        return None
    reasons = exc.response.get("CancellationReasons") or []
    old = next((r.get("Item") for k, r in zip(kinds, reasons, strict=False) if k == "strategy"), None)
    if not old or GUARD_ATTRIBUTE not in old:
        return None
    if commit.completion is not None and old.get("claim_token", {}).get("S") != commit.completion.claim_token:
        return None
    return str(old[GUARD_ATTRIBUTE].get("S") or "UTC")


def commit_run(commit: RunCommit, clients: StorageClients | None = None) -> CommitResult:
    return RunRepository(clients).commit_run(commit)


def release_claim(strategy_id: str, claim_token: str, clients: StorageClients | None = None) -> bool:
    return RunRepository(clients).release_claim(strategy_id, claim_token)


__all__ = [
    "ACCOUNT_SK",
    "AUTO_PAUSE_REASON",
    "CommitResult",
    "CommitTooLarge",
    "Completion",
    "GuardSet",
    "ManualStats",
    "RunCommit",
    "RunRepository",
    "cancellation_codes",
    "commit_run",
    "release_claim",
]
