"""Shared limits across a user's strategies, enforced at order time inside every run, and the kill switch
(issue 14). Backtests never come here: only runs of strategies marked `account_guard` do.

At order time a run reads the limits, the kill switch, the exposure counters of the markets and events it
wants to enter and the day's P&L in one BatchGetItem; it cuts or blocks entries that would pass a limit
(its trace says which); its commit then adds the exposure it really took to the counters inside the run's
own TransactWriteItems, each increase conditioned on staying within its cap, so two strategies racing for
the last dollar of a cap can never both pass. Sells and settlements release exposure in the same way.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from engine.clock import to_utc
from engine.errors import Conflict, StorageError
from engine.market.types import Market
from engine.models.risk import KillMode, KillSwitch, RiskLimits, RiskSettings
from engine.models.strategy import Strategy
from engine.models.trading import Account, Order
from engine.money import ZERO, usd
from engine.storage.risk import (
    EVENT_PREFIX,
    MARKET_PREFIX,
    TOTAL_SK,
    GuardState,
    RiskRepository,
)

CENT = Decimal("0.01")
logger = logging.getLogger(__name__)


class MarketLookup(Protocol):
    def market(self, market_id: str) -> Market | None: ...


class AccountReader(Protocol):
    def get(self, strategy_id: str) -> Account | None: ...


def local_day(now: datetime, timezone: str) -> str:
    """The day `now` falls on in the limits' timezone (the daily loss stop's boundary)."""
    return to_utc(now).astimezone(ZoneInfo(timezone)).date().isoformat()


# -- the settings ------------------------------------------------------------------------------------------


def get_settings(owner: str, *, risk: RiskRepository) -> RiskSettings:
    limits, kill, updated_at = risk.get_settings(owner)
    return RiskSettings(limits=limits or RiskLimits(), updated_at=updated_at, kill_switch=kill)


def put_limits(owner: str, limits: RiskLimits, *, now: datetime, risk: RiskRepository) -> RiskSettings:
    """Store the limits, mark every strategy of the owner guarded (or unguarded when no limit is set and the
    kill switch is off), then recount the exposure counters from their accounts. Marking first means every
    commit from then on moves the counters (an unguarded run in flight decides again: GuardSet), and the
    recount, conditioned on each counter's version, loses none of them."""
    _, kill, _ = risk.get_settings(owner)
    risk.put_limits(owner, limits, now=now)
    guarded = limits.any_set or kill is not None
    strategy_ids = risk.owner_strategy_ids(owner)
    risk.set_guard(strategy_ids, limits.timezone if guarded else None)
    if guarded:
        risk.recount_exposure(owner, strategy_ids)
    return RiskSettings(limits=limits, updated_at=now, kill_switch=kill)


def guard_for(owner: str, *, risk: RiskRepository) -> str | None:
    """The `account_guard` a new strategy of the owner gets: the limits' timezone while any is set or the
    kill switch is on, else None."""
    limits, kill, _ = risk.get_settings(owner)
    if (limits is not None and limits.any_set) or kill is not None:
        return (limits or RiskLimits()).timezone
    return None


# -- at order time -----------------------------------------------------------------------------------------


@dataclass
class Guarded:
    """The orders a run may place after the shared limits, what the limits did, and what was read."""

    orders: list[Order]
    decisions: list[dict[str, Any]]
    state: GuardState | None
    owner: str


def _fee_rate(market: Market | None) -> Decimal:
    if market is None or not market.fees_enabled or market.fee_schedule is None:
        return ZERO
    return market.fee_schedule.rate


def guard_orders(
    strategy: Strategy, orders: Sequence[Order], markets: MarketLookup, *, now: datetime, risk: RiskRepository
) -> Guarded:
    """Cut or block entries past a shared limit. Exits always pass. Reads nothing when there is no entry."""
    owner = strategy.created_by
    buys = [o for o in orders if o.side == "BUY"]
    if strategy.account_guard is None or not buys:
        return Guarded(orders=list(orders), decisions=[], state=None, owner=owner)
    events: dict[str, str | None] = {}
    for market_id in {o.market_id for o in buys}:
        market = markets.market(market_id)
        events[market_id] = market.event_id if market is not None else None
    state = risk.read_guard(
        owner,
        markets=events,
        events=[e for e in events.values() if e],
        day=local_day(now, strategy.account_guard),
    )
    limits = state.limits or RiskLimits()
    decisions: list[dict[str, Any]] = []
    blocked_all: str | None = None
    if state.kill is not None:
        blocked_all = "kill_switch"
    elif limits.daily_loss_stop_usd is not None and -state.day_pnl_usd >= limits.daily_loss_stop_usd:
        blocked_all = "daily_loss_stop_usd"
    pending_total = ZERO
    pending_market: dict[str, Decimal] = defaultdict(lambda: ZERO)
    pending_event: dict[str, Decimal] = defaultdict(lambda: ZERO)
    kept: list[Order] = []
    for order in orders:
        if order.side != "BUY":
            kept.append(order)
            continue
        requested = order.usd or ZERO
        if blocked_all is not None:
            decisions.append(_limit_decision(order, "blocked", blocked_all, requested, ZERO))
            continue
        event = events.get(order.market_id)
        rooms: list[tuple[str, Decimal]] = []
        if limits.max_total_exposure_usd is not None:
            rooms.append(
                ("max_total_exposure_usd", limits.max_total_exposure_usd - state.total_usd - pending_total)
            )
        if limits.max_market_exposure_usd is not None:
            used = state.by_market.get(order.market_id, ZERO) + pending_market[order.market_id]
            rooms.append(("max_market_exposure_usd", limits.max_market_exposure_usd - used))
        if limits.max_event_exposure_usd is not None and event:
            used = state.by_event.get(event, ZERO) + pending_event[event]
            rooms.append(("max_event_exposure_usd", limits.max_event_exposure_usd - used))
        rate = _fee_rate(markets.market(order.market_id))
        allowed = requested
        binding: str | None = None
        for name, room in rooms:
            # the fee is at most usd x rate, so usd x (1 + rate) of cost basis stays within the room
            fits = (room / (1 + rate)).quantize(CENT, rounding=ROUND_DOWN) if room > ZERO else ZERO
            if fits < allowed:
                allowed, binding = fits, name
        if binding is not None and allowed < CENT:
            decisions.append(_limit_decision(order, "blocked", binding, requested, ZERO))
            continue
        placed = order
        if binding is not None:
            decisions.append(_limit_decision(order, "cut", binding, requested, allowed))
            placed = order.model_copy(update={"usd": allowed})
        cost = allowed * (1 + rate)
        pending_total += cost
        pending_market[order.market_id] += cost
        if event:
            pending_event[event] += cost
        kept.append(placed)
    return Guarded(orders=kept, decisions=decisions, state=state, owner=owner)


def _limit_decision(
    order: Order, status: str, limit: str, requested: Decimal, allowed: Decimal
) -> dict[str, Any]:
    return {
        "action": "limit",
        "status": status,
        "limit": limit,
        "market_id": order.market_id,
        "token_id": order.token_id,
        "requested_usd": str(usd(requested)),
        "allowed_usd": str(usd(allowed)),
    }


def _cost_by(account: Account | None) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    by_market: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_event: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for holding in account.positions.values() if account is not None else ():
        by_market[holding.market_id] += holding.cost_usd
        if holding.event_id:
            by_event[holding.event_id] += holding.cost_usd
    return by_market, by_event


def exposure_items(
    owner: str,
    before: Account | None,
    after: Account,
    *,
    limits: RiskLimits | None,
    risk: RiskRepository,
) -> list[dict[str, Any]]:
    """The transaction Updates moving the owner's counters by what the run changed (cost basis after
    minus before, per market, event and in total); increases are conditioned on the caps."""
    market_before, event_before = _cost_by(before)
    market_after, event_after = _cost_by(after)
    limits = limits or RiskLimits()
    items: list[dict[str, Any]] = []
    total = ZERO
    for market in sorted(set(market_before) | set(market_after)):
        delta = market_after.get(market, ZERO) - market_before.get(market, ZERO)
        total += delta
        if delta:
            items.append(
                risk.exposure_item(owner, MARKET_PREFIX + market, delta, limits.max_market_exposure_usd)
            )
    for event in sorted(set(event_before) | set(event_after)):
        delta = event_after.get(event, ZERO) - event_before.get(event, ZERO)
        if delta:
            items.append(
                risk.exposure_item(owner, EVENT_PREFIX + event, delta, limits.max_event_exposure_usd)
            )
    if total:
        items.append(risk.exposure_item(owner, TOTAL_SK, total, limits.max_total_exposure_usd))
    return items


def commit_exposure(
    strategy: Strategy | None,
    before: Account | None,
    after: Account | None,
    *,
    state: GuardState | None,
    risk: RiskRepository,
) -> list[dict[str, Any]]:
    """The counter Updates a commit that writes `after` over `before` carries: the one way exposure is taken
    and released, by runs (entries, sells, the settlements they make first) and by the tick's settlement
    pass alike. Inside the commit's transaction, whose trade ids and account version make a retried or
    repeated commit apply nothing, so a release happens exactly once. None for a strategy outside the
    shared limits (not guarded, or gone) or a commit that writes no account."""
    if strategy is None or strategy.account_guard is None or after is None:
        return []
    limits = state.limits if state is not None else None
    return exposure_items(strategy.created_by, before, after, limits=limits, risk=risk)


def release_deleted(
    strategy: Strategy, *, accounts: AccountReader, risk: RiskRepository, attempts: int = 5
) -> None:
    """A guarded strategy deleted with open positions: its account goes with the release of their exposure,
    in one transaction conditioned on the account version read, so the release happens once (a retry finds
    no account). Nothing to read for an unguarded strategy. Best effort: the strategy is gone already and
    its data goes anyway; what could not be released stays counted until limits are set again."""
    if strategy.account_guard is None:
        return
    try:
        for _ in range(attempts):
            account = accounts.get(strategy.strategy_id)
            if account is None or not account.positions:
                return
            emptied = account.model_copy(update={"positions": {}})
            items = exposure_items(strategy.created_by, account, emptied, limits=None, risk=risk)
            if risk.drop_account(strategy.strategy_id, version=account.version, exposure=items):
                return
    except StorageError as exc:
        logger.warning(
            "exposure of a deleted strategy not released",
            extra={"strategy_id": strategy.strategy_id, "error": exc.message},
        )
        return
    logger.warning("exposure of a deleted strategy not released: its account kept changing")


# -- the kill switch ---------------------------------------------------------------------------------------


class StrategyPauser(Protocol):
    """What the kill switch needs of the strategy use cases (passed in, so this module stays storage-only)."""

    def pause_running(self, owner: str, *, reason: str, now: datetime) -> list[str]: ...

    def resume_paused(
        self, owner: str, strategy_ids: Iterable[str], *, reason: str, now: datetime
    ) -> list[str]: ...


KILL_PAUSE_REASON = "kill_switch"


def engage_kill_switch(
    owner: str, mode: KillMode, *, now: datetime, reason: str, risk: RiskRepository, pauser: StrategyPauser
) -> KillSwitch:
    """Turn the switch on (409 `conflict` when it already is); `halt` pauses every running strategy."""
    kill = KillSwitch(mode=mode, since=now, reason=reason)
    if not risk.set_kill(owner, kill):
        raise Conflict("the kill switch is already on; release it first", details={"kill_switch": "on"})
    limits, _, _ = risk.get_settings(owner)
    risk.set_guard(risk.owner_strategy_ids(owner), (limits or RiskLimits()).timezone)
    if mode == "halt":
        paused = pauser.pause_running(owner, reason=KILL_PAUSE_REASON, now=now)
        risk.update_kill_paused(owner, paused)
        kill = kill.model_copy(update={"paused_strategy_ids": paused})
    return kill


def release_kill_switch(
    owner: str, *, now: datetime, risk: RiskRepository, pauser: StrategyPauser
) -> list[str]:
    """Turn the switch off and resume only what it paused (and is still paused by it); the ids resumed."""
    kill = risk.clear_kill(owner)
    if kill is None:
        return []
    limits, _, _ = risk.get_settings(owner)
    if limits is None or not limits.any_set:
        risk.set_guard(risk.owner_strategy_ids(owner), None)
    return pauser.resume_paused(owner, kill.paused_strategy_ids, reason=KILL_PAUSE_REASON, now=now)


DRAWDOWN_REASON = "auto:max_drawdown"


class Notifier(Protocol):
    def publish(self, message: str, *, subject: str, attributes: dict[str, str]) -> str: ...


def on_pnl_moved(
    owner: str,
    timezone: str,
    at: datetime,
    pnl: Decimal,
    flow: Decimal,
    *,
    risk: RiskRepository,
    pauser: StrategyPauser,
    notifier: Notifier | None,
) -> KillSwitch | None:
    """Book a strategy's P&L move for the owner's limits: the day's P&L, the time-weighted index, and the
    drawdown limit, which halts every strategy (kill switch, reason auto:max_drawdown) and notifies the
    owner once. The switch when this move tripped it, else None."""
    if pnl:
        risk.add_day_pnl(owner, local_day(at, timezone), pnl)
    index, peak = risk.fold_twr(owner, pnl=pnl, flow=flow, at=at)
    limits, kill, _ = risk.get_settings(owner)
    if limits is None or limits.max_drawdown_pct is None or kill is not None or peak <= ZERO:
        return None
    drawdown_pct = (peak - index) / peak * 100
    if drawdown_pct < limits.max_drawdown_pct:
        return None
    try:
        tripped = engage_kill_switch(owner, "halt", now=at, reason=DRAWDOWN_REASON, risk=risk, pauser=pauser)
    except Conflict:
        return None  # another sync tripped it first
    if notifier is not None:
        message = json.dumps(
            {
                "event": "kill_switch",
                "owner": owner,
                "reason": DRAWDOWN_REASON,
                "drawdown_pct": str(usd(drawdown_pct)),
                "max_drawdown_pct": str(limits.max_drawdown_pct),
                "paused_strategy_ids": tripped.paused_strategy_ids,
                "at": tripped.since.isoformat().replace("+00:00", "Z"),
            },
            sort_keys=True,
        )
        try:
            notifier.publish(message, subject="Autopilot halted your strategies", attributes={"owner": owner})
        except StorageError:
            logger.error("kill switch notification not published", extra={"owner": owner})
    return tripped


def kill_switch_on(owner: str, *, risk: RiskRepository) -> KillSwitch | None:
    _, kill, _ = risk.get_settings(owner)
    return kill


__all__ = [
    "KILL_PAUSE_REASON",
    "Guarded",
    "commit_exposure",
    "engage_kill_switch",
    "exposure_items",
    "get_settings",
    "guard_orders",
    "kill_switch_on",
    "local_day",
    "put_limits",
    "release_deleted",
    "release_kill_switch",
]
