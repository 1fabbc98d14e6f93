"""Strategy use cases behind the control API: create, read, change, deploy, state changes, and the views.

Every function takes the owner (the caller), the time and the stores as parameters and speaks only in domain
terms: it raises the errors of engine.errors and never knows it is behind HTTP. The state table of DESIGN 3
is `ALLOWED`; each write is one conditional update, so the check and the change cannot be split by a race.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine import schedule
from engine.drawdown import RunningDrawdown
from engine.errors import (
    Conflict,
    DeploymentNotFound,
    ExecutionNotFound,
    InvalidTransition,
    LiveTradingUnavailable,
    PreconditionFailed,
    ValidationFailed,
)
from engine.graph.validate import is_alert_graph, validate_graph
from engine.ledger import LedgerState
from engine.models.execution import ExecutionLog
from engine.models.history import (
    Deployment,
    DeploymentSummary,
    EventType,
    GraphVersion,
    StrategyEvent,
    new_deployment_id,
    new_event_id,
    summarize_change,
)
from engine.models.portfolio import Portfolio
from engine.models.strategy import (
    ALLOWED,
    Action,
    DeployConfig,
    ExecutionMode,
    NodeGraph,
    PauseReason,
    Strategy,
    StrategyStatus,
    allowed_actions,
)
from engine.models.trading import Trade
from engine.money import ZERO
from engine.performance import Performance, compute_performance
from engine.services import risk
from engine.services.curves import read_curve, read_curve_and_daily
from engine.services.portfolio_sync import state_from_item
from engine.services.watchlists import check_graph_watchlists
from engine.storage.account_view import AccountViewRepository
from engine.storage.dynamo import StorageClients, get_clients
from engine.storage.executions import ExecutionLogRepository
from engine.storage.history import HistoryRepository
from engine.storage.pages import Page
from engine.storage.portfolios import (
    DRAWDOWN_ATTRIBUTE,
    AccountRepository,
    PortfolioRepository,
    fresh_portfolio,
)
from engine.storage.risk import RiskRepository
from engine.storage.strategies import StrategyRepository
from engine.storage.trades import TradeRepository
from engine.storage.watchlists import WatchlistRepository

NEXT_SLOTS = 5
# A write conditioned on the version we read loses to a concurrent writer; re-reading and deciding again a
# few times covers honest races without looping forever on a hot item.
WRITE_ATTEMPTS = 3
PATCHABLE = ("strategy_name", "strategy_description", "node_graph")
USER_PAUSE = PauseReason.USER


def statuses_allowing(action: Action) -> frozenset[StrategyStatus]:
    """The statuses from which `action` is allowed (a column of DESIGN 3's table)."""
    return frozenset(status for status, actions in ALLOWED.items() if action in actions)


def ensure_allowed(strategy: Strategy, action: Action) -> None:
    """InvalidTransition, carrying the current status and the actions it allows, unless `action` is one."""
    if action not in ALLOWED[strategy.status]:
        raise InvalidTransition(
            f"cannot {action.value} a strategy that is {strategy.status.value}",
            details={"status": strategy.status.value, "allowed": allowed_actions(strategy.status)},
        )


@dataclass(frozen=True)
class Stores:
    """The repositories the use cases work on (one set of clients; tests pass their own)."""

    strategies: StrategyRepository
    executions: ExecutionLogRepository
    trades: TradeRepository
    accounts: AccountRepository
    portfolios: PortfolioRepository
    history: HistoryRepository
    watchlists: WatchlistRepository

    @classmethod
    def default(cls, clients: StorageClients | None = None) -> Stores:
        clients = clients or get_clients()
        return cls(
            strategies=StrategyRepository(clients),
            executions=ExecutionLogRepository(clients),
            trades=TradeRepository(clients),
            accounts=AccountRepository(clients),
            portfolios=PortfolioRepository(clients),
            history=HistoryRepository(clients),
            watchlists=WatchlistRepository(clients),
        )


@dataclass(frozen=True)
class StrategyView:
    """One strategy as GET shows it: the strategy and its next slots (UTC)."""

    strategy: Strategy
    next_slots: list[datetime] = field(default_factory=list)


# -- create, read ------------------------------------------------------------------------------------------


def create_strategy(
    *,
    owner: str,
    name: str,
    node_graph: Any,
    description: str | None = None,
    strategy_type: str | None = None,
    now: datetime,
    quota: int,
    stores: Stores,
) -> Strategy:
    """A new DRAFT strategy; ValidationFailed for a graph that cannot be saved, QuotaExceeded at the quota.

    The quota holds under races: the owner's counter goes up in the same transaction as the put, only
    while below the quota (engine.storage.quota).
    """
    graph = validate_graph(node_graph)
    check_graph_watchlists(graph, owner=owner, repo=stores.watchlists)
    strategy = Strategy(
        strategy_id=str(uuid.uuid4()),
        strategy_name=name,
        strategy_description=description,
        strategy_type=strategy_type,
        node_graph=graph,
        created_by=owner,
        created_at=now,
        updated_at=now,
        account_guard=risk.guard_for(owner, risk=RiskRepository(stores.strategies.clients)),
    )
    first = GraphVersion(
        strategy_id=strategy.strategy_id,
        graph_version=strategy.graph_version,
        node_graph=graph,
        created_at=now,
        created_by=owner,
        summary=summarize_change(None, graph),
    )
    created = _event(strategy, EventType.CREATED, actor=owner, at=now, to_status=strategy.status)
    stores.strategies.create(
        strategy, quota=quota, also=[stores.history.put_version(first), stores.history.put_event(created)]
    )
    return strategy


def _event(
    strategy: Strategy,
    type_: EventType,
    *,
    actor: str,
    at: datetime,
    from_status: StrategyStatus | None = None,
    to_status: StrategyStatus | None = None,
    reason: str | None = None,
    graph_version: int | None = None,
    deployment_id: str | None = None,
) -> StrategyEvent:
    return StrategyEvent(
        event_id=new_event_id(),
        strategy_id=strategy.strategy_id,
        type=type_,
        at=at,
        actor=actor,
        from_status=from_status.value if from_status is not None else None,
        to_status=to_status.value if to_status is not None else None,
        reason=reason,
        graph_version=graph_version if graph_version is not None else strategy.graph_version,
        deployment_id=deployment_id if deployment_id is not None else strategy.deployment_id,
    )


def upcoming_slots(strategy: Strategy, *, now: datetime, count: int = NEXT_SLOTS) -> list[datetime]:
    """The next `count` slots: from `due_at` while RUNNING (the one the scheduler will take first, even if
    it is a moment overdue), else the slots a start now would use; none before the first deploy."""
    if strategy.schedule_cron is None:
        return []
    if strategy.status is StrategyStatus.RUNNING and strategy.due_at is not None:
        rest = schedule.next_slots(strategy.schedule_cron, strategy.timezone, strategy.due_at, count - 1)
        return [strategy.due_at, *rest]
    return schedule.next_slots(strategy.schedule_cron, strategy.timezone, now, count)


def get_strategy(strategy_id: str, *, owner: str, now: datetime, stores: Stores) -> StrategyView:
    """The owner's strategy with its next slots; P&L and positions come from the portfolio read model."""
    strategy = stores.strategies.get(strategy_id, owner=owner)
    portfolio = stores.portfolios.get_portfolio(strategy_id)
    if portfolio is not None and strategy.paper_bankroll_usd is not None:
        # the read model is the one truth for P&L (DESIGN 2: paper_pnl_usd = portfolio total_pnl_usd)
        strategy.paper_pnl_usd = portfolio.total_pnl_usd
        strategy.paper_positions_count = portfolio.open_positions_count
    return StrategyView(strategy=strategy, next_slots=upcoming_slots(strategy, now=now))


def list_strategies(owner: str, *, limit: int, next_token: str | None, stores: Stores) -> Page[Strategy]:
    """The owner's strategies, newest first; InvalidNextToken for a token that is not this list's."""
    return stores.strategies.list_by_owner(owner, limit=limit, next_token=next_token)


# -- change, delete ----------------------------------------------------------------------------------------


def _check_version(strategy: Strategy, expected_version: int | None) -> None:
    if expected_version is not None and strategy.version != expected_version:
        raise PreconditionFailed(
            f"the strategy is at version {strategy.version}, not {expected_version}",
            details={"version": strategy.version},
        )


def patch_strategy(
    strategy_id: str,
    *,
    owner: str,
    changes: Mapping[str, Any],
    expected_version: int | None,
    now: datetime,
    stores: Stores,
    restored_from: int | None = None,
) -> Strategy:
    """Change name, description or graph. A different graph bumps `graph_version`; runs read the strategy
    when they start, so the change applies from the next run. Nothing to change: the strategy as it is.

    A graph change keeps the new graph as a version, lands in the live deployment's `graph_versions` and on
    the timeline, all in the same transaction as the strategy update (`restored_from`: a restore of that
    version, so the timeline says `restored`)."""
    unknown = sorted(set(changes) - set(PATCHABLE))
    if unknown:
        raise ValidationFailed(
            f"cannot change {', '.join(unknown)}",
            details=[{"loc": [k], "msg": "not patchable"} for k in unknown],
        )
    graph = validate_graph(changes["node_graph"]) if "node_graph" in changes else None
    if graph is not None:
        check_graph_watchlists(graph, owner=owner, repo=stores.watchlists)
    allowed = statuses_allowing(Action.PATCH)
    for _ in range(WRITE_ATTEMPTS):
        current = stores.strategies.get(strategy_id, owner=owner)
        _check_version(current, expected_version)
        ensure_allowed(current, Action.PATCH)
        to_set: dict[str, Any] = {}
        for name in ("strategy_name", "strategy_description"):
            if name in changes and changes[name] != getattr(current, name):
                to_set[name] = changes[name]
        also: list[dict[str, Any]] = []
        if graph is not None and graph.model_dump() != current.node_graph.model_dump():
            number = current.graph_version + 1
            to_set["node_graph"] = graph
            to_set["graph_version"] = number
            also = _graph_change_items(
                current, graph, number, owner=owner, now=now, stores=stores, restored_from=restored_from
            )
        if not to_set:
            return current
        try:
            return stores.strategies.update(
                strategy_id,
                owner=owner,
                expected_version=current.version,
                allowed_status=allowed,
                set_fields=to_set,
                now=now,
                also=also,
            )
        except PreconditionFailed:
            if expected_version is not None:
                raise
            # someone else changed it between our read and write: decide again on the fresh item
    raise Conflict("the strategy keeps changing; try again")


def _graph_change_items(
    current: Strategy,
    graph: NodeGraph,
    number: int,
    *,
    owner: str,
    now: datetime,
    stores: Stores,
    restored_from: int | None,
) -> list[dict[str, Any]]:
    """The history a graph change writes with the strategy update: the version, the timeline entry, and
    the number appended to the live deployment (a running strategy takes it from its next slot)."""
    version = GraphVersion(
        strategy_id=current.strategy_id,
        graph_version=number,
        node_graph=graph,
        created_at=now,
        created_by=owner,
        summary=(f"restored from version {restored_from}; " if restored_from else "")
        + summarize_change(current.node_graph, graph),
        restored_from=restored_from,
    )
    event = _event(
        current,
        EventType.RESTORED if restored_from else EventType.GRAPH_CHANGED,
        actor=owner,
        at=now,
        from_status=current.status,
        to_status=current.status,
        reason=f"version {restored_from}" if restored_from else None,
        graph_version=number,
    )
    items = [stores.history.put_version(version), stores.history.put_event(event)]
    if current.deployment_id is not None:
        items.append(stores.history.append_graph_version(current.strategy_id, current.deployment_id, number))
    return items


def delete_strategy(strategy_id: str, *, owner: str, stores: Stores, now: datetime | None = None) -> None:
    """Delete the strategy (not while RUNNING), then its trades, logs, account, portfolio and equity.
    With `now`, its money leaves the account-wide view at that hour (a flow, never a loss)."""
    current = stores.strategies.get(strategy_id, owner=owner)
    ensure_allowed(current, Action.DELETE)
    stores.strategies.delete(strategy_id, owner=owner, allowed_status=statuses_allowing(Action.DELETE))
    if now is not None:
        AccountViewRepository(stores.portfolios.clients).record_deletion(owner, strategy_id, at=now)
    # its open positions leave the owner's shared exposure counters with the account (issue 14)
    risk.release_deleted(current, accounts=stores.accounts, risk=RiskRepository(stores.strategies.clients))
    # the strategy item is gone first, so nothing schedules or shows it while its data is being removed
    stores.strategies.purge_strategy_data(strategy_id)
    # its backtests go with it (DESIGN 9)
    from engine.storage.backtests import BacktestRepository

    BacktestRepository(stores.strategies.clients).delete_for_strategy(strategy_id)


# -- deploy and state changes ------------------------------------------------------------------------------


def deploy_strategy(
    strategy_id: str,
    *,
    owner: str,
    config: DeployConfig,
    expected_version: int | None,
    now: datetime,
    stores: Stores,
) -> Strategy:
    """Deploy (or redeploy) on a schedule with a paper bankroll (DESIGN 3, 4).

    Checks, in order: the owner's strategy (StrategyNotFound), If-Match (PreconditionFailed), the state table
    (InvalidTransition), live trading (LiveTradingUnavailable), a deployable graph (ValidationFailed), and a
    bankroll change while positions are open (Conflict). With no open positions the deploy opens a fresh
    account and portfolio in a new epoch with the bankroll as cash; with open positions (same bankroll)
    they carry on. `auto_start` puts the strategy on the first slot strictly after `now`.
    """
    for _ in range(WRITE_ATTEMPTS):
        current = stores.strategies.get(strategy_id, owner=owner)
        _check_version(current, expected_version)
        ensure_allowed(current, Action.DEPLOY)
        if config.trading_mode == "live":
            raise LiveTradingUnavailable("live trading is not available yet; deploy with trading_mode paper")
        alert = is_alert_graph(validate_graph(current.node_graph, for_deploy=True))
        _check_bankroll(config, alert=alert)
        # a list deleted (or never the owner's) since the graph was saved: refused before it could run
        check_graph_watchlists(current.node_graph, owner=owner, repo=stores.watchlists)
        account = stores.accounts.get(strategy_id)
        open_positions = len(account.positions) if account is not None else 0
        if open_positions and alert:
            raise Conflict(
                "an alert strategy cannot hold positions: wait until the open ones are closed or settled",
                details={"open_positions_count": open_positions},
            )
        if open_positions and current.paper_bankroll_usd != config.paper_bankroll_usd:
            raise Conflict(
                "the bankroll cannot change while positions are open",
                details={
                    "open_positions_count": open_positions,
                    "paper_bankroll_usd": current.paper_bankroll_usd,
                },
            )
        fresh = not open_positions
        epoch = current.portfolio_epoch
        if fresh and account is not None:
            # a new epoch, so trades and settlements of the old portfolio never count in the new one
            epoch = max(account.epoch, current.portfolio_epoch) + 1
        to_set: dict[str, Any] = {
            "trading_mode": config.trading_mode,
            "paper_bankroll_usd": config.paper_bankroll_usd,
            "schedule_cron": config.cron,
            "frequency": config.frequency,
            "timezone": config.timezone,
            "max_consecutive_failures": config.max_consecutive_failures,
            "execution_mode": ExecutionMode.SCHEDULED,
            "consecutive_failures": 0,
            "pause_reason": None,
            "portfolio_epoch": epoch,
        }
        deployment = Deployment(
            deployment_id=new_deployment_id(now),
            strategy_id=strategy_id,
            trading_mode=config.trading_mode,
            paper_bankroll_usd=config.paper_bankroll_usd,
            frequency=config.frequency,
            schedule_cron=config.cron,
            timezone=config.timezone,
            auto_start=config.auto_start,
            max_consecutive_failures=config.max_consecutive_failures,
            deployed_at=now,
            deployed_by=owner,
            graph_versions=[current.graph_version],
        )
        to_set["deployment_id"] = deployment.deployment_id
        also = [stores.history.put_deployment(deployment)]
        if current.deployment_id is not None:
            summary = _final_summary(current, stores)
            also.append(
                stores.history.end_deployment(
                    strategy_id, current.deployment_id, ended_at=now, summary=summary
                )
            )
        if fresh:
            to_set.update(paper_pnl_usd=ZERO, paper_positions_count=0, sparkline=[], sparkline_at=None)
        if config.auto_start:
            to_set.update(
                status=StrategyStatus.RUNNING,
                due_at=schedule.next_slot(config.cron, config.timezone, now),
            )
        else:
            to_set["status"] = StrategyStatus.DEPLOYED
        deployed_event = _event(
            current,
            EventType.DEPLOYED,
            actor=owner,
            at=now,
            from_status=current.status,
            to_status=to_set["status"],
            reason="redeploy" if current.deployment_id is not None else None,
            deployment_id=deployment.deployment_id,
        )
        also.append(stores.history.put_event(deployed_event))
        try:
            deployed = stores.strategies.update(
                strategy_id,
                owner=owner,
                expected_version=current.version,
                allowed_status=statuses_allowing(Action.DEPLOY),
                set_fields=to_set,
                now=now,
                also=also,
            )
        except PreconditionFailed:
            if expected_version is not None:
                raise
            continue
        if fresh and config.paper_bankroll_usd is not None:
            # After the strategy update: had it lost a race, nothing would be reset. A run cannot slip in
            # between: the first slot is strictly after now, and the account's version keeps counting.
            stores.accounts.open(
                strategy_id,
                bankroll=config.paper_bankroll_usd,
                epoch=epoch,
                now=now,
                deployment_id=deployment.deployment_id,
            )
            stores.portfolios.reset(strategy_id, bankroll=config.paper_bankroll_usd, epoch=epoch, now=now)
        else:
            # the open positions carry on: their next trades and settlements belong to this deployment
            stores.accounts.follow_deployment(strategy_id, deployment.deployment_id)
        return deployed
    raise Conflict("the strategy keeps changing; try again")


def _check_bankroll(config: DeployConfig, *, alert: bool) -> None:
    """A trading strategy needs a bankroll; an alert strategy (NOTIFY sinks only) never trades, has none."""
    if alert and config.paper_bankroll_usd is not None:
        raise ValidationFailed(
            "an alert strategy (its only sinks are NOTIFY) never trades: leave out paper_bankroll_usd",
            details=[{"loc": ["paper_bankroll_usd"], "msg": "not allowed for an alert strategy"}],
        )
    if not alert and config.paper_bankroll_usd is None:
        raise ValidationFailed(
            "paper_bankroll_usd is required: the strategy's graph trades (it has an ORCHESTRATOR)",
            details=[{"loc": ["body", "paper_bankroll_usd"], "msg": "Field required"}],
        )


def _final_summary(strategy: Strategy, stores: Stores) -> DeploymentSummary:
    """The ending deployment's figures: its portfolio at this moment and the trades it made."""
    portfolio = stores.portfolios.get_portfolio(strategy.strategy_id)
    if portfolio is None:
        bankroll = strategy.paper_bankroll_usd or ZERO
        portfolio = fresh_portfolio(strategy.strategy_id, bankroll, strategy.updated_at)
    trades = (
        stores.trades.count_by_deployment(strategy.deployment_id) if strategy.deployment_id is not None else 0
    )
    return DeploymentSummary(
        equity_usd=portfolio.equity_usd,
        total_pnl_usd=portfolio.total_pnl_usd,
        roi_pct=portfolio.roi_pct,
        trades=trades,
        win_rate=portfolio.win_rate,
    )


_EVENT_OF: dict[Action, EventType] = {
    Action.START: EventType.STARTED,
    Action.PAUSE: EventType.PAUSED,
    Action.RESUME: EventType.RESUMED,
    Action.STOP: EventType.STOPPED,
}


def _transition_fields(action: Action, strategy: Strategy, now: datetime) -> dict[str, Any]:
    if action in (Action.START, Action.RESUME):
        assert strategy.schedule_cron is not None  # only deployed strategies may start or resume
        return {
            "status": StrategyStatus.RUNNING,
            # the next slot strictly after now: no burst of the slots missed while not running
            "due_at": schedule.next_slot(strategy.schedule_cron, strategy.timezone, now),
            "consecutive_failures": 0,
            "pause_reason": None,
        }
    if action is Action.PAUSE:
        return {"status": StrategyStatus.PAUSED, "pause_reason": USER_PAUSE}
    if action is Action.STOP:
        return {"status": StrategyStatus.STOPPED, "pause_reason": None}
    raise ValueError(f"{action.value} is not a state change")


def change_state(strategy_id: str, action: Action, *, owner: str, now: datetime, stores: Stores) -> Strategy:
    """start, resume, pause or stop, by the state table; InvalidTransition when the status does not allow it.

    Pause and stop keep positions; the strategy leaves the due index (and any claim in flight lands nothing).
    """
    allowed = statuses_allowing(action)
    for _ in range(WRITE_ATTEMPTS):
        current = stores.strategies.get(strategy_id, owner=owner)
        ensure_allowed(current, action)
        fields = _transition_fields(action, current, now)
        event = _event(
            current,
            _EVENT_OF[action],
            actor=owner,
            at=now,
            from_status=current.status,
            to_status=fields["status"],
            reason=fields.get("pause_reason"),
        )
        try:
            # conditioned on the version read: the slot comes from the schedule we read
            return stores.strategies.update(
                strategy_id,
                owner=owner,
                expected_version=current.version,
                allowed_status=allowed,
                set_fields=fields,
                now=now,
                also=[stores.history.put_event(event)],
            )
        except PreconditionFailed:
            continue
    raise Conflict("the strategy keeps changing; try again")


# -- views -------------------------------------------------------------------------------------------------


def list_executions(
    strategy_id: str,
    *,
    owner: str,
    limit: int,
    next_token: str | None,
    status: str | None,
    since: datetime | None,
    stores: Stores,
    deployment_id: str | None = None,
) -> Page[ExecutionLog]:
    """The strategy's execution logs newest first, optionally by status, from `since` on, and of one of
    its deployments (DeploymentNotFound when it is not this strategy's)."""
    stores.strategies.get(strategy_id, owner=owner)
    _ensure_deployment(strategy_id, deployment_id, stores)
    return stores.executions.list(
        strategy_id,
        limit=limit,
        next_token=next_token,
        status=status,
        since=since,
        scope=owner,
        deployment_id=deployment_id,
    )


def get_execution(strategy_id: str, execution_id: str, *, owner: str, stores: Stores) -> ExecutionLog:
    """One execution log of the owner's strategy, with its trace; ExecutionNotFound for an unknown id."""
    stores.strategies.get(strategy_id, owner=owner)
    log = stores.executions.get(strategy_id, execution_id)
    if log is None:
        raise ExecutionNotFound("execution not found")
    return log


def list_trades(
    strategy_id: str,
    *,
    owner: str,
    limit: int,
    next_token: str | None,
    stores: Stores,
    deployment_id: str | None = None,
) -> Page[Trade]:
    """The strategy's paper trades newest first, optionally of one of its deployments."""
    stores.strategies.get(strategy_id, owner=owner)
    _ensure_deployment(strategy_id, deployment_id, stores)
    return stores.trades.list(
        strategy_id, limit=limit, next_token=next_token, scope=owner, deployment_id=deployment_id
    )


def _ensure_deployment(strategy_id: str, deployment_id: str | None, stores: Stores) -> None:
    if deployment_id is not None and stores.history.get_deployment(strategy_id, deployment_id) is None:
        raise DeploymentNotFound("deployment not found")


def _portfolio_record(strategy: Strategy, stores: Stores) -> tuple[Portfolio, dict[str, Any] | None]:
    """(the portfolio, the stored ledger state or None); Conflict before the first deploy."""
    portfolio, state, _ = _portfolio_item(strategy, stores)
    return portfolio, state


def _portfolio_item(
    strategy: Strategy, stores: Stores
) -> tuple[Portfolio, dict[str, Any] | None, dict[str, Any]]:
    """(the portfolio, the stored ledger state or None, the whole PORTFOLIO item or {})."""
    bankroll = strategy.paper_bankroll_usd
    if bankroll is None:
        if strategy.status is not StrategyStatus.DRAFT:
            # deployed without a bankroll: an alert strategy, which never trades (DESIGN 5)
            raise Conflict(
                "an alert strategy never trades, so it has no portfolio or performance",
                details={"status": strategy.status.value, "alert_strategy": True},
            )
        raise Conflict(
            "the strategy has no portfolio until it is deployed",
            details={"status": strategy.status.value},
        )
    record = stores.portfolios.get_record(strategy.strategy_id)
    if record is None or "portfolio" not in record:
        # deployed, and the read model not written yet: the opening portfolio is the truth
        return fresh_portfolio(strategy.strategy_id, bankroll, strategy.updated_at), None, record or {}
    state = record.get("state")
    return Portfolio.model_validate(record["portfolio"]), state if isinstance(state, dict) else None, record


def get_portfolio(strategy_id: str, *, owner: str, stores: Stores) -> Portfolio:
    """The portfolio read model; a deployed strategy with no trades yet shows its opening portfolio."""
    strategy = stores.strategies.get(strategy_id, owner=owner)
    portfolio, _ = _portfolio_record(strategy, stores)
    return portfolio


def get_performance(strategy_id: str, *, owner: str, now: datetime, stores: Stores) -> Performance:
    """Metrics from the stored ledger state and the equity curve (minute, hourly, daily points by age)."""
    strategy = stores.strategies.get(strategy_id, owner=owner)
    portfolio, state_item, record = _portfolio_item(strategy, stores)
    state = (
        state_from_item(state_item) if state_item is not None else LedgerState.opening(portfolio.bankroll_usd)
    )
    running = RunningDrawdown.from_item(record.get(DRAWDOWN_ATTRIBUTE))
    if running:
        curve, daily = read_curve_and_daily(
            stores.portfolios, strategy_id, daily_since=running.started_at, now=now
        )
    else:
        curve, daily = read_curve(stores.portfolios, strategy_id, now=now), []
    return compute_performance(
        state,
        curve,
        bankroll=portfolio.bankroll_usd,
        open_positions=portfolio.positions,
        running=running,
        daily=daily,
        now=now,
    )


__all__ = [
    "Stores",
    "StrategyView",
    "change_state",
    "create_strategy",
    "delete_strategy",
    "deploy_strategy",
    "ensure_allowed",
    "get_performance",
    "get_portfolio",
    "get_strategy",
    "list_executions",
    "list_strategies",
    "list_trades",
    "patch_strategy",
    "statuses_allowing",
    "upcoming_slots",
]
