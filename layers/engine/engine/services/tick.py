"""One cron tick: find what is due, claim and run it inside the time budget, defer the rest, settle holders.

Claiming (INTERNALS step 1) needs the strategy's cron and timezone to compute the latest due slot, and the
KEYS_ONLY due index carries neither. So the claim is taken first, conditioned on the `due_at` the index
showed, with the tick's slot as `claim_slot` (the upper bound of what the claim may run); the latest due
slot and the missed count are then computed from the item the claim returns (ReturnValues=ALL_NEW), which
costs no extra read. The completion's `due_at` is the next slot after the one actually run.

Budget: the invocation stops claiming when the remaining time is no more than the safety margin plus one
run deadline; each run gets min(run deadline, remaining - margin); every provider call is bounded by the
run's deadline (RunMarkets); whatever did not start goes to the ExecutionQueue as (strategy, slot, due_at).
"""

from __future__ import annotations

import json
import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from engine import schedule
from engine.clock import Deadline, iso, parse_iso
from engine.errors import AccountConflict, ClaimLost, MarketDataUnavailable, StorageError
from engine.market.snapshot import MarketSnapshot
from engine.market.types import Market, MarketDataProvider
from engine.models.execution import RunStatus
from engine.models.strategy import Strategy
from engine.models.trading import Account
from engine.services import risk
from engine.services.execution import Engine, RunMarkets, RunOutcome, RunSlot, execute, with_retries
from engine.services.notifications import AUTO_PAUSED_EVENT, Publisher, notify_auto_paused
from engine.settings import Settings
from engine.storage.messaging import Messaging
from engine.storage.portfolios import settle_check_for
from engine.storage.runs import AUTO_PAUSE_REASON, RunCommit
from engine.storage.strategies import DueRef

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class DeferredRun:
    """A (strategy, slot) pair sent to the ExecutionQueue. `slot` is the tick's slot: the worker runs the
    latest slot of the strategy at or before it; `due_at` is what the due index showed (the claim's
    condition), so a message for a slot that has been run since claims nothing."""

    strategy_id: str
    slot: datetime
    due_at: datetime

    def to_body(self) -> str:
        return json.dumps(
            {"strategy_id": self.strategy_id, "slot": iso(self.slot), "due_at": iso(self.due_at)},
            sort_keys=True,
        )

    @classmethod
    def from_body(cls, body: str) -> DeferredRun:
        """ValueError when the body is not one of ours (a poison message)."""
        try:
            raw = json.loads(body)
            strategy_id = raw["strategy_id"]
            if not isinstance(strategy_id, str) or not strategy_id:
                raise ValueError("strategy_id must be a non-empty string")
            return cls(strategy_id, parse_iso(str(raw["slot"])), parse_iso(str(raw["due_at"])))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not an execution message: {exc}") from exc


# ------------------------------------------------------------------------------------------ report


@dataclass
class TickReport:
    tick_id: str
    slot: str
    due: int = 0
    claimed: int = 0
    not_claimed: int = 0  # another invocation or worker holds it, or it was run meanwhile
    executed: int = 0  # runs committed (any status but skipped)
    completed: int = 0
    failed: int = 0
    timed_out: int = 0
    market_data_unavailable: int = 0
    deferred: int = 0
    defer_failed: int = 0  # could not be queued: still due, the next tick takes them
    left_due: int = 0  # no time left to queue them: still due, the next tick takes them
    skipped_slots: int = 0
    claim_lost: int = 0
    commit_failed: int = 0  # claimed but not committed: retaken after the lease
    errors: int = 0
    abandoned: int = 0  # still running when the budget ended (their claims expire)
    auto_paused: int = 0
    settle_checked: int = 0
    settled: int = 0  # SETTLE trades written by the settlement pass
    lag_seconds: float = 0.0
    duration_ms: int = 0
    market_fetches: int = 0
    book_fetches: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def count_outcome(self, outcome: RunOutcome) -> None:
        if outcome.outcome == "not_claimed":
            self.add(not_claimed=1)
            return
        self.add(claimed=1)
        if outcome.outcome == "claim_lost":
            self.add(claim_lost=1)
            return
        if outcome.outcome == "commit_failed":
            self.add(commit_failed=1)
            return
        status = outcome.status
        self.add(
            executed=1,
            completed=int(status is RunStatus.COMPLETED),
            failed=int(status is RunStatus.FAILED),
            timed_out=int(status is RunStatus.TIMEOUT),
            market_data_unavailable=int(
                outcome.log is not None and outcome.log.error_code == MarketDataUnavailable.code
            ),
            skipped_slots=outcome.slot.missed_slots,
            auto_paused=int(outcome.auto_paused),
        )

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


# ----------------------------------------------------------------------------------- one due strategy


def _cron(strategy: Strategy) -> str:
    return strategy.schedule_cron or schedule.FREQUENCIES[strategy.frequency or "1m"]


def log_outcome(outcome: RunOutcome, *, tick_id: str) -> None:
    """The per-run line the saved Logs Insights queries read (status, strategy_id, execution_time_ms,
    error_code), with scheduled_for and the tick id."""
    log = outcome.log
    fields: dict[str, Any] = {
        "strategy_id": outcome.strategy_id,
        "scheduled_for": iso(outcome.slot.scheduled_for),
        "tick_id": tick_id,
        "outcome": outcome.outcome,
        "trigger": outcome.slot.trigger,
    }
    if log is not None:
        fields.update(
            status=log.status.value,
            execution_time_ms=log.execution_time_ms,
            error_code=log.error_code,
            trades_created=log.trades_created,
            missed_slots=outcome.slot.missed_slots,
        )
    if outcome.error:
        fields["error"] = outcome.error
    level = logging.WARNING if outcome.outcome in ("commit_failed", "claim_lost") else logging.INFO
    logger.log(level, "run", extra=fields)


def claim_and_run(
    engine: Engine,
    ref: DueRef,
    *,
    tick_slot: datetime,
    now: datetime,
    snapshot: MarketSnapshot,
    deadline: Deadline,
    publisher: Publisher | None,
    tick_id: str,
) -> RunOutcome:
    """Claim `ref` for the latest slot at or before `tick_slot` and run it (the cron's and the worker's
    path). A claim someone else holds, or a `due_at` that moved on, is `not_claimed`: nothing happens."""
    lease = engine.settings.claim_lease_seconds
    strategy = with_retries(
        lambda: engine.strategies.claim(ref, slot=tick_slot, now=now, lease_seconds=lease), deadline=deadline
    )
    provisional = RunSlot.scheduled(tick_slot)
    if strategy is None:
        return RunOutcome(ref.strategy_id, provisional, "not_claimed")
    due_at = strategy.due_at or ref.due_at
    try:
        latest, missed = schedule.latest_due_slot(_cron(strategy), strategy.timezone, due_at, tick_slot)
    except (ValueError, KeyError) as exc:
        # not due after all (or a schedule that no longer parses): give the slot back untouched
        engine.runs.release_claim(strategy.strategy_id, strategy.claim_token or "")
        return RunOutcome(ref.strategy_id, provisional, "not_claimed", error=str(exc))
    slot = RunSlot.scheduled(latest, missed=missed, first_missed=due_at)
    outcome = execute(
        engine,
        strategy,
        slot=slot,
        snapshot=snapshot,
        deadline=deadline,
        now=now,
        claim_token=strategy.claim_token,
    )
    log_outcome(outcome, tick_id=tick_id)
    if outcome.auto_paused:
        failures = strategy.consecutive_failures + 1
        logger.warning(
            AUTO_PAUSED_EVENT,
            extra={
                "event": AUTO_PAUSED_EVENT,
                "strategy_id": strategy.strategy_id,
                "scheduled_for": iso(slot.scheduled_for),
                "tick_id": tick_id,
                "owner": strategy.created_by,
                "consecutive_failures": failures,
                "pause_reason": outcome.pause_reason,
            },
        )
        if publisher is not None:
            notify_auto_paused(
                publisher,
                strategy,
                failures=failures,
                at=now,
                last_error=outcome.log.error_code if outcome.log else None,
                reason=outcome.pause_reason or AUTO_PAUSE_REASON,
            )
    return outcome


def run_deferred(
    body: str,
    *,
    engine: Engine,
    snapshot: MarketSnapshot,
    now: datetime,
    remaining_seconds: float,
    publisher: Publisher | None,
    tick_id: str,
) -> RunOutcome:
    """The worker's run of one queued (strategy, slot): it claims the strategy itself, so a duplicate
    message (or one for a slot that has run since) claims nothing and changes nothing.

    ValueError for a message that is not ours; TimeoutError when no run deadline fits in what is left.
    """
    message = DeferredRun.from_body(body)
    settings = engine.settings
    left = remaining_seconds - settings.safety_margin_seconds
    if left < 1.0:
        raise TimeoutError("not enough time left in this invocation for a run")
    deadline = Deadline(min(settings.run_deadline_seconds, left))
    return claim_and_run(
        engine,
        DueRef(message.strategy_id, message.due_at),
        tick_slot=message.slot,
        now=now,
        snapshot=snapshot,
        deadline=deadline,
        publisher=publisher,
        tick_id=tick_id,
    )


# ------------------------------------------------------------------------------------------- settle


def settle_due(
    engine: Engine, *, now: datetime, snapshot: MarketSnapshot, deadline: Deadline, limit: int
) -> tuple[int, int]:
    """Settle resolved holdings of every account the `settle_due` index lists (running or not).

    Returns (accounts checked, SETTLE trades written). A settlement-only commit is guarded by the account
    version alone; a conflict means a run wrote first (and settled itself): the next tick looks again. Under
    shared limits it releases the exposure counters in the same transaction, as a run's sells do (only
    decreases, so no cap condition can fail it); the strategy is read for its owner and guard mark only
    when something settles.
    """
    ids = with_retries(lambda: engine.accounts.query_settle_due(now=now, limit=limit), deadline=deadline)
    if not ids:
        return 0, 0
    accounts = [a for a in (_read_account(engine, sid, deadline) for sid in ids) if a is not None]
    markets = RunMarkets(snapshot, deadline)
    wanted = [h.market_id for a in accounts for h in a.positions.values()]
    try:
        by_id: dict[str, Market] = {m.market_id: m for m in markets.prefetch(wanted)}
    except MarketDataUnavailable as exc:
        logger.warning("settlement skipped: market data unavailable", extra={"error": exc.message})
        return len(accounts), 0
    settled = 0
    for account in accounts:
        if deadline.expired():
            break
        sid = account.strategy_id
        result = engine.broker.settle(account, by_id, strategy_id=sid, now=now)
        remaining = result.account
        if result.trades:
            commit = RunCommit(
                strategy_id=sid,
                trades=result.trades,
                account_before=account,
                account_after=result.account,
                deployment_id=account.deployment_id,
            )
            try:
                # the shared limits' counters are released in the same transaction, as a run's sells are
                strategy = with_retries(lambda s=sid: engine.strategies.find(s), deadline=deadline)  # type: ignore[misc]
                commit.exposure = risk.commit_exposure(
                    strategy, account, result.account, state=None, risk=engine.risk
                )
                with_retries(lambda c=commit: engine.runs.commit_run(c), deadline=deadline)  # type: ignore[misc]
            except (AccountConflict, ClaimLost, StorageError) as exc:
                logger.info("settlement deferred", extra={"strategy_id": sid, "error": exc.message})
                continue
            settled += len(result.trades)
            logger.info(
                "settled",
                extra={"strategy_id": sid, "trades_created": len(result.trades), "status": "settled"},
            )
        if remaining.positions:
            try:
                next_check = settle_check_for(remaining, settled_at=now)
                assert next_check is not None  # it still holds positions
                engine.accounts.push_settle_check(sid, at=next_check)
            except StorageError as exc:
                logger.info("settlement check not pushed", extra={"strategy_id": sid, "error": exc.message})
    return len(accounts), settled


def _read_account(engine: Engine, strategy_id: str, deadline: Deadline) -> Account | None:
    try:
        return with_retries(lambda: engine.accounts.get(strategy_id), deadline=deadline)
    except StorageError:
        return None


# --------------------------------------------------------------------------------------------- tick


def run_tick(
    *,
    slot: datetime,
    remaining_ms: Callable[[], int],
    provider: MarketDataProvider,
    settings: Settings,
    tick_id: str,
    started_at: datetime | None = None,
    engine: Engine | None = None,
    messaging: Messaging | None = None,
) -> TickReport:
    """One tick for `slot` (the scheduled event's time floored to the minute), inside `remaining_ms()`."""
    clock_start = time.monotonic()
    engine = engine or Engine.from_settings(settings)
    messaging = messaging or Messaging(settings)
    report = TickReport(tick_id=tick_id, slot=iso(slot))
    if started_at is not None:
        report.lag_seconds = round((started_at - slot).total_seconds(), 3)
    margin = settings.safety_margin_seconds

    def remaining() -> float:
        return remaining_ms() / 1000.0

    budget = Deadline(max(0.0, remaining() - margin))  # nothing bounded by it runs into the margin
    try:
        refs = with_retries(
            lambda: engine.strategies.query_due(now=slot, limit=settings.max_due_per_tick), deadline=budget
        )
    except StorageError as exc:
        logger.error("due query failed", extra={"tick_id": tick_id, "error": exc.message})
        refs = []
        report.errors += 1
    report.due = len(refs)
    # One snapshot for the whole tick; MarketSnapshot fetches the market list on the first query only, so
    # a tick with nothing due never calls the market API.
    snapshot = engine.snapshot(provider, now=slot, deadline=budget)
    deferred: list[DueRef] = []
    deferred_lock = threading.Lock()
    # The overflow is queued as it becomes known, by a few sender threads beside the runs: at 10,000 due a
    # single sender (one SendMessageBatch of 10 at a time) would need most of the budget.
    senders = ThreadPoolExecutor(max_workers=DEFER_SENDERS, thread_name_prefix="defer")

    def send(chunk: list[DueRef]) -> None:
        # each chunk is sent only while time remains; what cannot be sent stays due (unclaimed), so the
        # next tick takes it
        if remaining() <= margin / 2 + DEFER_CHUNK_SECONDS:
            report.add(left_due=len(chunk))
            return
        _defer(messaging, chunk, slot=slot, report=report, tick_id=tick_id)

    def defer(ref: DueRef) -> None:
        with deferred_lock:
            deferred.append(ref)
            if len(deferred) < DEFER_CHUNK:
                return
            chunk = deferred[:]
            deferred.clear()
        senders.submit(send, chunk)

    def flush() -> None:
        with deferred_lock:
            chunk = deferred[:]
            deferred.clear()
        if chunk:
            senders.submit(send, chunk)

    def one(ref: DueRef) -> None:
        left = remaining()
        if left <= margin + settings.run_deadline_seconds:
            defer(ref)
            return
        deadline = Deadline(min(settings.run_deadline_seconds, left - margin))
        try:
            outcome = claim_and_run(
                engine,
                ref,
                tick_slot=slot,
                now=slot,
                snapshot=snapshot,
                deadline=deadline,
                publisher=messaging,
                tick_id=tick_id,
            )
        except Exception:  # one strategy's failure never stops the others
            logger.exception(
                "run crashed",
                extra={"strategy_id": ref.strategy_id, "scheduled_for": iso(slot), "tick_id": tick_id},
            )
            report.add(errors=1)
            return
        report.count_outcome(outcome)

    try:
        if refs:
            _run_all(
                refs,
                one,
                defer,
                workers=settings.run_concurrency,
                report=report,
                wait_seconds=lambda: remaining() - margin / 2,
                start_window=lambda: remaining() - margin - settings.run_deadline_seconds,
                drained=flush,
            )
    finally:
        flush()
        senders.shutdown(wait=True)  # every send checks the time first and is bounded by the client timeouts
    if remaining() > margin + 1:
        try:
            # bounded by what is left now, not by the budget taken at the start of the tick
            checked, settled = settle_due(
                engine,
                now=slot,
                snapshot=snapshot,
                deadline=Deadline(remaining() - margin),
                limit=settings.max_due_per_tick,
            )
            report.add(settle_checked=checked, settled=settled)
        except StorageError as exc:
            logger.error("settlement pass failed", extra={"tick_id": tick_id, "error": exc.message})
            report.add(errors=1)
    report.market_fetches = snapshot.markets_fetches + snapshot.market_id_fetches
    report.book_fetches = snapshot.book_fetches
    report.duration_ms = int((time.monotonic() - clock_start) * 1000)
    return report


WAIT_SLICE_SECONDS = 0.25  # how often the tick looks up from its runs to queue the overflow
CAPACITY_FACTOR = 0.8  # keep a fifth of the estimated capacity in hand: run times vary
DEFER_CHUNK = 10  # overflow messages queued at a time: one SendMessageBatch, so time is checked per call
DEFER_CHUNK_SECONDS = 2.0  # time kept in hand to send one chunk
DEFER_SENDERS = 4  # threads queueing the overflow beside the runs


def _run_all(
    refs: Sequence[DueRef],
    one: Callable[[DueRef], None],
    defer: Callable[[DueRef], None],
    *,
    workers: int,
    report: TickReport,
    wait_seconds: Callable[[], float],
    start_window: Callable[[], float],
    drained: Callable[[], None],
) -> None:
    """Run `refs` (oldest due first) with at most `workers` in flight. From the run times measured so far it
    estimates how many more runs can still start inside `start_window()` seconds, and hands the newest-due
    rest to `defer` early, so the overflow is queued while runs go on rather than in a burst at the end;
    `drained` is called once nothing is left to start or defer."""
    todo = deque(refs)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="run")
    pending: set[Future[None]] = set()
    started: dict[Future[None], float] = {}
    durations: list[float] = []
    while todo or pending:
        left = wait_seconds()
        if left <= 0:
            break
        window = start_window()
        if window <= 0:
            while todo:
                defer(todo.pop())
        elif durations:
            typical = statistics.median(durations[-50:])
            can_start = int(CAPACITY_FACTOR * workers * window / max(typical, 0.001))
            while len(todo) > can_start:
                defer(todo.pop())
        while todo and len(pending) < workers:
            future = pool.submit(one, todo.popleft())
            started[future] = time.monotonic()
            pending.add(future)
        if not todo:
            drained()  # nothing more to hand out: the last partial chunk of overflow goes now, not at the end
        done, pending = wait(pending, timeout=min(WAIT_SLICE_SECONDS, left), return_when=FIRST_COMPLETED)
        now = time.monotonic()
        durations += [now - started.pop(f) for f in done]
    while todo:  # the budget ended before they could start: they go to the queue (or stay due)
        defer(todo.pop())
    if pending:
        # Runs still in flight past the budget: return anyway (the invocation must end before its timeout);
        # their claims expire after the lease and a later tick takes those slots again.
        for future in pending:
            future.cancel()
        report.add(abandoned=sum(1 for f in pending if not f.cancelled()))
    pool.shutdown(wait=not pending, cancel_futures=True)


def _defer(
    messaging: Messaging, refs: list[DueRef], *, slot: datetime, report: TickReport, tick_id: str
) -> None:
    bodies = [DeferredRun(r.strategy_id, slot, r.due_at).to_body() for r in refs]
    try:
        result = messaging.send_batch(bodies)
    except StorageError as exc:
        logger.error(
            "overflow not queued", extra={"tick_id": tick_id, "error": exc.message, "count": len(bodies)}
        )
        report.add(defer_failed=len(bodies))
        return
    report.add(deferred=result.sent, defer_failed=len(result.failed))


__all__ = [
    "DeferredRun",
    "TickReport",
    "claim_and_run",
    "log_outcome",
    "run_deferred",
    "run_tick",
    "settle_due",
]
