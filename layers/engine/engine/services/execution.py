"""One run of one strategy for one slot: the single code path shared by the cron, the worker and POST /run.

A run reads the account, runs the graph against the tick's shared market snapshot, fills the orders with the
paper broker (settling resolved holdings first), marks what it holds, and commits trades, account, logs,
marks and the strategy's stats in ONE transaction (INTERNALS "A run"). Scheduled runs are guarded by their
claim; manual runs by the account version only and never touch `due_at` or `consecutive_failures`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol, TypeVar

from engine import schedule
from engine.broker import PaperBroker
from engine.clock import Deadline, iso
from engine.errors import (
    AccountConflict,
    ClaimLost,
    InvalidTransition,
    MarketDataUnavailable,
    StorageError,
)
from engine.graph.runner import GraphResult, cap_trace, run_graph
from engine.ledger import LedgerError
from engine.market.history import HistoryBudget, container_cache
from engine.market.snapshot import MarketSnapshot
from engine.market.types import (
    HistoryWindow,
    Market,
    MarketDataProvider,
    MarketEvent,
    MarketQuery,
    MarketSource,
    OrderBook,
    PriceHistory,
)
from engine.models.alerts import Alert
from engine.models.execution import ExecutionLog, NodeTrace, RunStatus, execution_id_for
from engine.models.history import SYSTEM_ACTOR, EventType, StrategyEvent, event_id_for
from engine.models.strategy import ALLOWED, Action, Strategy, StrategyStatus, allowed_actions
from engine.models.trading import Account, Side, Trade
from engine.nodes.base import RunContext
from engine.services import risk
from engine.services.alerts import AlertPorts, send_alerts
from engine.services.watchlists import RunWatchlists, apply_staged, graph_watchlist_refs, move_statuses
from engine.settings import Settings, get_settings
from engine.storage.alert_state import AlertState, AlertStateRepository
from engine.storage.dynamo import THROTTLING_CODES, StorageClients, get_clients
from engine.storage.portfolios import AccountRepository
from engine.storage.risk import RiskRepository
from engine.storage.runs import (
    AUTO_PAUSE_REASON,
    CommitResult,
    CommitTooLarge,
    Completion,
    GuardSet,
    ManualStats,
    RunCommit,
    RunRepository,
)
from engine.storage.strategies import StrategyRepository
from engine.storage.watchlists import WatchlistRepository

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The whole log item must stay far below DynamoDB's 400 KB; the runner's own budget is per graph.
LOG_TRACE_BUDGET_BYTES = 120_000
MAX_BROKER_DECISIONS = 100
ERROR_MESSAGE_CHARS = 500
MARKET_DATA_UNAVAILABLE = MarketDataUnavailable.code
# how the market client says a call ran out of time (as opposed to an error answer)
_TIMEOUT_HINTS = ("deadline exceeded", "timed out", "no time left")

Outcome = Literal["committed", "duplicate", "claim_lost", "commit_failed", "not_claimed"]


@dataclass(frozen=True)
class RunSlot:
    """What a run is for: its slot (manual runs: the request time), its key and how it was triggered."""

    scheduled_for: datetime
    key: str
    trigger: Literal["schedule", "manual"]
    missed_slots: int = 0  # older unrun slots, recorded in one `skipped` log
    first_missed: datetime | None = None  # the first of them (the strategy's due_at)

    @classmethod
    def scheduled(cls, slot: datetime, *, missed: int = 0, first_missed: datetime | None = None) -> RunSlot:
        return cls(slot, iso(slot), "schedule", missed, first_missed if missed else None)

    @classmethod
    def manual(cls, now: datetime) -> RunSlot:
        # a key no scheduled slot can have, so a manual run never collides with the cron's trade ids
        return cls(now, f"manual:{iso(now)}", "manual")


@dataclass
class RunOutcome:
    """What happened to one run, for the tick's counts and the per-run log line."""

    strategy_id: str
    slot: RunSlot
    outcome: Outcome
    log: ExecutionLog | None = None
    auto_paused: bool = False
    trades: list[Trade] = field(default_factory=list)
    error: str | None = None
    pause_reason: str | None = None  # why it paused itself (auto_paused)

    @property
    def status(self) -> RunStatus | None:
        return self.log.status if self.log is not None else None


class SlotMarkets(MarketSource, Protocol):
    """What one run reads the market through: the tick's snapshot (RunMarkets) or a backtest's past."""

    def prefetch(self, market_ids: Iterable[str]) -> list[Market]: ...


class HasBroker(Protocol):
    """What deciding a run needs of its Engine: the broker (a backtest passes its own fill model's)."""

    broker: PaperBroker


class RunMarkets:
    """The tick's snapshot seen by one run: every provider call is bounded by this run's own deadline."""

    def __init__(self, snapshot: MarketSnapshot, deadline: Deadline, *, history_budget: int = 100) -> None:
        self._snapshot = snapshot
        self._deadline = deadline
        self.history_budget = HistoryBudget(history_budget)

    @property
    def fetched_at(self) -> datetime:
        return self._snapshot.fetched_at

    def query(self, query: MarketQuery) -> list[Market]:
        return self._snapshot.query(query, deadline=self._deadline)

    def market(self, market_id: str) -> Market | None:
        return self._snapshot.market(market_id, deadline=self._deadline)

    def book(self, token_id: str) -> OrderBook | None:
        return self._snapshot.book(token_id, deadline=self._deadline)

    def prefetch(self, market_ids: Iterable[str]) -> list[Market]:
        return self._snapshot.prefetch(market_ids, deadline=self._deadline)

    def price_history(self, token_id: str, window: HistoryWindow) -> PriceHistory | None:
        if not self.history_budget.allow((token_id, window)):
            return None  # over the run's budget: the signal skips the market and says so
        return self._snapshot.price_history(token_id, window, deadline=self._deadline)

    def events(self, *, slug: str | None = None, tag_slug: str | None = None) -> list[MarketEvent]:
        return self._snapshot.events(slug=slug, tag_slug=tag_slug, deadline=self._deadline)


@dataclass
class Engine:
    """The run's collaborators: storage repositories, the broker, settings. One per invocation is enough."""

    settings: Settings
    clients: StorageClients
    broker: PaperBroker = field(default_factory=PaperBroker)
    alerts: AlertPorts | None = None  # where NOTIFY's alerts go once a run commits; None: nowhere

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Engine:
        settings = settings or get_settings()
        alerts: AlertPorts | None = None
        if settings.user_notifications_topic_arn or settings.webhook_queue_url:
            from engine.storage.messaging import Messaging

            alerts = Messaging(settings)
        return cls(settings=settings, clients=get_clients(settings), alerts=alerts)

    @property
    def strategies(self) -> StrategyRepository:
        return StrategyRepository(self.clients)

    @property
    def accounts(self) -> AccountRepository:
        return AccountRepository(self.clients)

    @property
    def runs(self) -> RunRepository:
        return RunRepository(self.clients)

    @property
    def alert_state(self) -> AlertStateRepository:
        return AlertStateRepository(self.clients)

    @property
    def risk(self) -> RiskRepository:
        return RiskRepository(self.clients)

    def snapshot(self, provider: MarketDataProvider, *, now: datetime, deadline: Deadline) -> MarketSnapshot:
        cache = container_cache()
        cache.ttl_seconds = self.settings.history_cache_ttl_seconds
        return MarketSnapshot(
            provider,
            fetched_at=now,
            max_markets=self.settings.market_snapshot_size,
            deadline=deadline,
            history_cache=cache,
        )


def is_throttling(exc: StorageError) -> bool:
    details = exc.details if isinstance(exc.details, dict) else {}
    return details.get("aws_code") in THROTTLING_CODES or "reasons" in details


def with_retries(call: Callable[[], T], *, deadline: Deadline, attempts: int = 4) -> T:
    """`call()` again after a storage error that says "busy" (throttling), while the deadline allows.

    botocore retries throttling itself; this is the second line for what still gets through, so one
    throttled request does not cost a strategy its slot.
    """
    pause = 0.05
    for attempt in range(attempts):
        try:
            return call()
        except CommitTooLarge:
            raise
        except StorageError as exc:
            if attempt == attempts - 1 or not is_throttling(exc) or deadline.remaining() <= pause:
                raise
        time.sleep(pause)
        pause *= 2
    raise AssertionError("unreachable")  # pragma: no cover


# ------------------------------------------------------------------------------------------------ a run


@dataclass
class _Decided:
    """A run's result before it is committed."""

    graph: GraphResult
    status: RunStatus
    error_code: str | None
    error_message: str | None
    counts_as_failure: bool | None
    trades: list[Trade]
    account_after: Account
    broker_trace: NodeTrace
    marks: dict[str, Any] | None
    settled_at: datetime | None = None  # when its resolved holdings were settled against the tick's markets
    risk_state_changed: bool = False  # the orchestrator's risk memory moved: the account is written
    pause_reason: str | None = None  # a risk rule pauses the strategy (auto:max_drawdown)
    alerts: list[Alert] = field(default_factory=list)
    alert_seen: dict[str, frozenset[str]] | None = None  # the NOTIFY nodes' new sets; None: unchanged
    alert_state_version: int = 0
    guard: risk.Guarded | None = None  # the shared limits as read at order time (issue 14)


def _opening_account(strategy: Strategy) -> Account:
    bankroll = strategy.paper_bankroll_usd or Decimal(0)
    return Account(
        strategy_id=strategy.strategy_id,
        epoch=strategy.portfolio_epoch,
        bankroll_usd=bankroll,
        cash_usd=bankroll,
        deployment_id=strategy.deployment_id,
    )


def _classify(graph: GraphResult, deadline: Deadline) -> tuple[RunStatus, bool | None]:
    """(status, counts toward auto-pause). A market data outage is not the strategy's fault (DESIGN 3)."""
    if graph.status == "completed":
        return RunStatus.COMPLETED, False
    if graph.error_code == MARKET_DATA_UNAVAILABLE:
        # the snapshot hanging past the deadline is still an outage: timeout, but it does not count
        # (a run that got the tick's cached failure was cut by the same deadline as the run that fetched)
        timed_out = deadline.expired() or any(h in (graph.error_message or "") for h in _TIMEOUT_HINTS)
        return (RunStatus.TIMEOUT if timed_out else RunStatus.FAILED), None
    if graph.status == "timeout":
        return RunStatus.TIMEOUT, True
    return RunStatus.FAILED, True


def _decide(
    engine: HasBroker,
    strategy: Strategy,
    *,
    account: Account,
    slot: RunSlot,
    markets: SlotMarkets,
    deadline: Deadline,
    now: datetime,
    alert_state: AlertState | None = None,
    watchlists: RunWatchlists | None = None,
) -> _Decided:
    sid = strategy.strategy_id
    execution_id = execution_id_for(sid, slot.key, "run")
    decisions: list[dict[str, Any]] = []
    trades: list[Trade] = []
    settled_at: datetime | None = None
    # Settle what has resolved first: the cash comes back before the orchestrator sizes new entries.
    if account.positions:
        try:
            held = markets.prefetch(h.market_id for h in account.positions.values())
            settled = engine.broker.settle(account, {m.market_id: m for m in held}, strategy_id=sid, now=now)
            trades += settled.trades
            account = settled.account
            settled_at = now
            decisions += [{"action": "settle", **d} for d in settled.decisions]
        except MarketDataUnavailable as exc:
            # the tick's settlement pass tries again; the run itself goes on
            decisions.append({"action": "settle", "status": "skipped", "reason": exc.message[:200]})
    ctx = RunContext(
        strategy_id=sid,
        slot=slot.scheduled_for,
        slot_key=slot.key,
        markets=markets,
        account=account,
        bankroll_usd=account.bankroll_usd,
        deadline=deadline,
        timezone=strategy.timezone,
        risk_state=dict(account.risk_state or {}),
        alert_seen=alert_state.seen if alert_state is not None else {},
        watchlists=watchlists,
    )
    graph = run_graph(strategy.node_graph, ctx)
    status, counts = _classify(graph, deadline)
    risk_state_changed, pause_reason = False, None
    if graph.status == "completed":
        remembered = {k: v for k, v in ctx.risk_state.items() if k != "pause_reason"}
        if remembered and remembered != (account.risk_state or {}):
            account = account.model_copy(update={"risk_state": remembered})
            risk_state_changed = True
        pause_reason = ctx.risk_state.get("pause_reason")
    guarded: risk.Guarded | None = None
    # a backtest's engine has no shared limits (issue 15: backtests never touch them)
    shared: RiskRepository | None = getattr(engine, "risk", None)
    if graph.status == "completed" and graph.orders:
        orders = graph.orders
        if shared is not None:
            # shared limits across the owner's strategies (issue 14): entries past one are cut or blocked
            guarded = risk.guard_orders(strategy, graph.orders, markets, now=now, risk=shared)
            decisions += guarded.decisions
            orders = guarded.orders
        filled = engine.broker.fill(
            orders,
            account,
            markets,
            strategy_id=sid,
            slot_key=slot.key,
            now=now,
            execution_id=execution_id,
        )
        trades += filled.trades
        account = filled.account
        decisions += [{"action": "fill", **d} for d in filled.decisions]
    marks = None
    if account.positions:
        try:
            marks = engine.broker.marks(account, markets)
        except MarketDataUnavailable:
            marks = None  # the previous marks stay; the portfolio values at cost until the next run
    broker_trace = NodeTrace(
        node_id="broker",
        type="BROKER",
        received=len(graph.orders),
        kept=len(trades),
        decisions=decisions[:MAX_BROKER_DECISIONS],
        truncated=len(decisions) > MAX_BROKER_DECISIONS,
    )
    return _Decided(
        graph=graph,
        status=status,
        error_code=graph.error_code,
        error_message=(graph.error_message or "")[:ERROR_MESSAGE_CHARS] or None,
        counts_as_failure=counts,
        trades=trades,
        account_after=account,
        broker_trace=broker_trace,
        marks=marks,
        settled_at=settled_at,
        risk_state_changed=risk_state_changed,
        pause_reason=pause_reason,
        alerts=graph.alerts,
        alert_seen=_new_alert_seen(strategy, alert_state, graph.alerts),
        alert_state_version=alert_state.version if alert_state is not None else 0,
        guard=guarded,
    )


# A backtest replays each past slot through exactly this decision (engine.backtest).
decide_run = _decide


def _has_notify(strategy: Strategy) -> bool:
    return any(node.type == "NOTIFY" for node in strategy.node_graph.nodes)


def _new_alert_seen(
    strategy: Strategy, state: AlertState | None, alerts: list[Alert]
) -> dict[str, frozenset[str]] | None:
    """The `on: new` nodes' sets after this run, or None when nothing changed (no write needed)."""
    if state is None:
        return None
    nodes = {node.id for node in strategy.node_graph.nodes}
    seen = {node_id: ids for node_id, ids in state.seen.items() if node_id in nodes}
    for alert in alerts:
        if alert.on == "new":
            seen[alert.node_id] = alert.seen
    return None if seen == dict(state.seen) else seen


# What the owner reads when the engine itself failed: the exception's text is for our log only.
CRASH_MESSAGE = "the run failed on our side; quote the execution id if you report it"


def _crashed(account: Account) -> _Decided:
    message = CRASH_MESSAGE
    return _Decided(
        graph=GraphResult(status="failed", error_code="internal_error", error_message=message),
        status=RunStatus.FAILED,
        error_code="internal_error",
        error_message=message,
        counts_as_failure=True,
        trades=[],
        account_after=account,
        broker_trace=NodeTrace(node_id="broker", type="BROKER"),
        marks=None,
    )


def _logs(
    strategy: Strategy, slot: RunSlot, decided: _Decided, *, now: datetime, ms: int
) -> list[ExecutionLog]:
    sid = strategy.strategy_id
    trace = cap_trace([*decided.graph.trace, decided.broker_trace], LOG_TRACE_BUDGET_BYTES)
    logs = [
        ExecutionLog(
            execution_id=execution_id_for(sid, slot.key, "run"),
            strategy_id=sid,
            status=decided.status,
            scheduled_for=slot.scheduled_for,
            trigger=slot.trigger,
            executed_at=now,
            execution_time_ms=ms,
            nodes_executed=decided.graph.nodes_executed,
            trades_created=len(decided.trades),
            graph_version=strategy.graph_version,
            deployment_id=strategy.deployment_id,
            error_code=decided.error_code,
            error_message=decided.error_message,
            trace=trace,
            truncated=any(t.truncated for t in trace),
        )
    ]
    if slot.missed_slots:
        logs.append(
            ExecutionLog(
                execution_id=execution_id_for(sid, slot.key, "skipped"),
                strategy_id=sid,
                status=RunStatus.SKIPPED,
                scheduled_for=slot.first_missed or slot.scheduled_for,
                trigger="schedule",
                executed_at=now,
                graph_version=strategy.graph_version,
                deployment_id=strategy.deployment_id,
                missed_slots=slot.missed_slots,
            )
        )
    return logs


def _failed_commit(commit: RunCommit, code: str, message: str) -> RunCommit:
    """The same run, trading nothing and logged failed (it could not be written as decided)."""
    run_log = commit.logs[0].model_copy(
        update={"status": RunStatus.FAILED, "error_code": code, "error_message": message, "trades_created": 0}
    )
    completion = commit.completion
    events = list(commit.events)
    if completion is not None:
        completion.status = RunStatus.FAILED
        completion.counts_as_failure = True
        if completion.auto_pauses and not any(e.type is EventType.AUTO_PAUSED for e in events):
            events.append(_auto_paused_event(run_log, at=completion.executed_at))
    elif commit.manual is not None:
        commit.manual.status = RunStatus.FAILED
    return RunCommit(
        strategy_id=commit.strategy_id,
        logs=[run_log, *commit.logs[1:]],
        completion=completion,
        manual=commit.manual,
        deployment_id=commit.deployment_id,
        events=events,
    )


def _auto_paused_event(log: ExecutionLog, *, at: datetime) -> StrategyEvent:
    """The timeline entry of an auto-pause, written in the same transaction as the pause itself."""
    return StrategyEvent(
        event_id=event_id_for(log.strategy_id, log.execution_id, "auto_paused"),
        strategy_id=log.strategy_id,
        type=EventType.AUTO_PAUSED,
        at=at,
        actor=SYSTEM_ACTOR,
        from_status=StrategyStatus.RUNNING.value,
        to_status=StrategyStatus.PAUSED.value,
        reason=AUTO_PAUSE_REASON,
        graph_version=log.graph_version,
        deployment_id=log.deployment_id,
        execution_id=log.execution_id,
    )


def execute(
    engine: Engine,
    strategy: Strategy,
    *,
    slot: RunSlot,
    snapshot: MarketSnapshot,
    deadline: Deadline,
    now: datetime,
    claim_token: str | None = None,
) -> RunOutcome:
    """Run `strategy` for `slot` and commit it. Scheduled runs pass their `claim_token`; manual runs None.

    Raises StrategyNotFound (a manual run's strategy went away) and StorageError only for manual runs; a
    scheduled run reports a failed commit in its outcome and keeps its claim, so a later tick retakes it.
    """
    sid = strategy.strategy_id
    started = time.monotonic()
    markets = RunMarkets(snapshot, deadline, history_budget=engine.settings.history_requests_per_run)
    account_before = with_retries(lambda: engine.accounts.get(sid), deadline=deadline)
    alert_state = _read_alert_state(engine, strategy, deadline)
    for attempt in range(2):
        account = account_before if account_before is not None else _opening_account(strategy)
        watchlists = _run_watchlists(engine, strategy, now)
        try:
            decided = _decide(
                engine,
                strategy,
                account=account,
                slot=slot,
                markets=markets,
                deadline=deadline,
                now=now,
                alert_state=alert_state,
                watchlists=watchlists,
            )
        except Exception as exc:
            # an engine bug in one strategy's run is that run's failure: logged, counted, never the tick's
            # the exception's text and stack go to our log under the execution id, never to the owner's log
            logger.exception(
                "run failed inside the engine",
                extra={
                    "strategy_id": sid,
                    "execution_id": execution_id_for(sid, slot.key, "run"),
                    "error": type(exc).__name__,
                },
            )
            decided = _crashed(account)
        ms = int((time.monotonic() - started) * 1000)
        commit = _commit_for(strategy, slot, decided, account_before, now=now, ms=ms, claim_token=claim_token)
        commit.exposure = risk.commit_exposure(
            strategy,
            account_before,
            commit.account_after,
            state=decided.guard.state if decided.guard is not None else None,
            risk=engine.risk,
        )
        commit.unguarded_entries = strategy.account_guard is None and any(
            t.side is Side.BUY for t in commit.trades
        )
        try:
            result = _commit(engine, commit, deadline)
        except AccountConflict as exc:
            if attempt == 1:
                return _commit_failed(strategy, slot, commit, claim_token, "the account kept changing")
            if isinstance(exc, GuardSet):
                # limits were set (or the kill switch turned on) after the run read its strategy: its
                # entries are decided again under them, as if it had read the mark
                strategy = strategy.model_copy(update={"account_guard": exc.guard})
            # a manual run (or a settlement) wrote first: decide again once on the account as it is now
            account_before = with_retries(lambda: engine.accounts.get(sid), deadline=deadline)
            alert_state = _read_alert_state(engine, strategy, deadline)
            continue
        except ClaimLost:
            return RunOutcome(sid, slot, "claim_lost", log=commit.logs[0])
        except StorageError as exc:
            if claim_token is None:
                raise
            return _commit_failed(strategy, slot, commit, claim_token, exc.message)
        outcome: Outcome = "committed" if result.ok else "duplicate"
        if result.ok:
            _send_alerts(engine, strategy, slot, commit, decided.alerts, now=now)
        if result.ok and watchlists is not None:
            _after_commit(engine, strategy, commit, watchlists, now=now)
        return RunOutcome(
            sid,
            slot,
            outcome,
            log=commit.logs[0],
            auto_paused=result.auto_paused,
            trades=commit.trades,
            pause_reason=commit.completion.pause_reason if result.auto_paused and commit.completion else None,
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _read_alert_state(engine: Engine, strategy: Strategy, deadline: Deadline) -> AlertState | None:
    if not _has_notify(strategy):
        return None  # a graph without NOTIFY pays no extra read
    return with_retries(lambda: engine.alert_state.get(strategy.strategy_id), deadline=deadline)


def _send_alerts(
    engine: Engine,
    strategy: Strategy,
    slot: RunSlot,
    commit: RunCommit,
    alerts: list[Alert],
    *,
    now: datetime,
) -> None:
    # after the commit only, and only for a run that completed as decided (a commit that fell back to a
    # failed log told nothing, and wrote no alert state)
    if engine.alerts is None or not alerts or commit.logs[0].status is not RunStatus.COMPLETED:
        return
    send_alerts(
        engine.alerts,
        alerts,
        strategy,
        execution_id=commit.logs[0].execution_id,
        scheduled_for=slot.scheduled_for,
        now=now,
    )


def _run_watchlists(engine: Engine, strategy: Strategy, now: datetime) -> RunWatchlists | None:
    """The owner's lists for a graph that names one (never anyone else's); None for the others."""
    if not graph_watchlist_refs(strategy.node_graph):
        return None
    return RunWatchlists(owner=strategy.created_by, repo=WatchlistRepository(engine.clients), now=now)


def _after_commit(
    engine: Engine, strategy: Strategy, commit: RunCommit, watchlists: RunWatchlists, *, now: datetime
) -> None:
    """Outside the run's transaction, once it is committed: the WATCHLIST writes it staged, and the item
    statuses of the markets it entered or left. Both idempotent; a failure here never fails the run."""
    try:
        apply_staged(
            watchlists.staged,
            owner=strategy.created_by,
            execution_id=commit.logs[0].execution_id,
            now=now,
            repo=watchlists.repo,
        )
        move_statuses(
            strategy.node_graph, commit.trades, owner=strategy.created_by, now=now, repo=watchlists.repo
        )
    except StorageError as exc:
        logger.warning(
            "watchlist updates after the run failed",
            extra={"strategy_id": strategy.strategy_id, "error": exc.message},
        )


def _commit_for(
    strategy: Strategy,
    slot: RunSlot,
    decided: _Decided,
    account_before: Account | None,
    *,
    now: datetime,
    ms: int,
    claim_token: str | None,
) -> RunCommit:
    commit = RunCommit(
        strategy_id=strategy.strategy_id,
        trades=decided.trades,
        account_before=account_before,
        account_after=decided.account_after if decided.trades or decided.risk_state_changed else None,
        logs=_logs(strategy, slot, decided, now=now, ms=ms),
        marks=decided.marks,
        marked_at=now if decided.marks is not None else None,
        settled_at=decided.settled_at,
        alert_seen=decided.alert_seen,
        alert_state_version=decided.alert_state_version,
        deployment_id=strategy.deployment_id,
    )
    execution_id = commit.logs[0].execution_id
    if claim_token is None:
        commit.manual = ManualStats(execution_ms=ms, status=decided.status, executed_at=now)
        commit.events.append(
            StrategyEvent(
                event_id=event_id_for(strategy.strategy_id, execution_id),
                strategy_id=strategy.strategy_id,
                type=EventType.RUN_NOW,
                at=now,
                actor=strategy.created_by,  # only the owner can run it now
                from_status=strategy.status.value,
                to_status=strategy.status.value,
                reason=decided.status.value,
                graph_version=strategy.graph_version,
                deployment_id=strategy.deployment_id,
                execution_id=execution_id,
            )
        )
    else:
        cron = strategy.schedule_cron or schedule.FREQUENCIES.get(strategy.frequency or "", "")
        commit.completion = Completion(
            claim_token=claim_token,
            execution_ms=ms,
            status=decided.status,
            executed_at=now,
            next_due_at=schedule.next_slot(cron, strategy.timezone, slot.scheduled_for),
            counts_as_failure=decided.counts_as_failure,
            read_consecutive_failures=strategy.consecutive_failures,
            max_consecutive_failures=strategy.max_consecutive_failures,
            risk_pause_reason=decided.pause_reason,
        )
        if commit.completion.auto_pauses:
            # in the same transaction as the pause itself: the timeline cannot miss or invent it
            log = commit.logs[0].model_copy(update={"deployment_id": strategy.deployment_id})
            commit.events.append(_auto_paused_event(log, at=now))
    return commit


def _commit(engine: Engine, commit: RunCommit, deadline: Deadline) -> CommitResult:
    try:
        return with_retries(lambda: engine.runs.commit_run(commit), deadline=deadline)
    except (CommitTooLarge, LedgerError) as exc:
        # the run cannot be written as decided: record it failed, trading nothing (it counts: the graph
        # asked for more than one transaction can hold)
        logger.warning("run not committable", extra={"strategy_id": commit.strategy_id, "error": str(exc)})
        code = "too_many_trades" if isinstance(exc, CommitTooLarge) else "ledger_refused"
        failed = _failed_commit(commit, code, str(exc)[:ERROR_MESSAGE_CHARS])
        commit.trades, commit.logs = failed.trades, failed.logs
        commit.account_after, commit.marks, commit.alert_seen = None, None, None
        return with_retries(lambda: engine.runs.commit_run(failed), deadline=deadline)


def _commit_failed(
    strategy: Strategy, slot: RunSlot, commit: RunCommit, claim_token: str | None, why: str
) -> RunOutcome:
    # The claim is kept on purpose: it expires after its lease and a later tick takes the slot again.
    logger.error(
        "run not committed",
        extra={"strategy_id": strategy.strategy_id, "scheduled_for": iso(slot.scheduled_for), "error": why},
    )
    return RunOutcome(strategy.strategy_id, slot, "commit_failed", log=commit.logs[0], error=why)


# --------------------------------------------------------------------------------------------- manual


def run_manual(
    strategy_id: str,
    *,
    owner: str,
    now: datetime,
    deadline: Deadline,
    provider: MarketDataProvider | None = None,
    engine: Engine | None = None,
) -> ExecutionLog:
    """Run the owner's strategy once now (POST /run), through the same path as the cron.

    Slot key `manual:<now ISO>`, trigger `manual`, scheduled_for = now. StrategyNotFound for a missing or
    foreign strategy; InvalidTransition for a DRAFT (run is allowed from DEPLOYED, RUNNING, PAUSED,
    STOPPED); RateLimited within the cooldown after the previous manual run. Never touches `due_at` or
    `consecutive_failures`. `provider` None: Polymarket from settings.
    """
    engine = engine or Engine.from_settings()
    strategy = engine.strategies.get(strategy_id, owner=owner)
    if Action.RUN not in ALLOWED[strategy.status]:
        raise InvalidTransition(
            f"not allowed while the strategy is {strategy.status.value}",
            details={"status": strategy.status.value, "allowed": allowed_actions(strategy.status)},
        )
    # the cooldown is taken before any market data is fetched: a refused run costs one write
    engine.strategies.start_manual_run(
        strategy_id, owner=owner, now=now, cooldown_seconds=engine.settings.manual_run_cooldown_seconds
    )
    if provider is None:
        from engine.market.polymarket import client_from_settings

        provider = client_from_settings(engine.settings)
    snapshot = engine.snapshot(provider, now=now, deadline=deadline)
    outcome = execute(
        engine, strategy, slot=RunSlot.manual(now), snapshot=snapshot, deadline=deadline, now=now
    )
    assert outcome.log is not None
    return outcome.log


__all__ = [
    "Engine",
    "RunMarkets",
    "RunOutcome",
    "RunSlot",
    "SlotMarkets",
    "decide_run",
    "execute",
    "is_throttling",
    "run_manual",
    "with_retries",
]
