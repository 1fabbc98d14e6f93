"""The portfolio stream's use cases over storage: catch a strategy's read model up with its trade ledger
(`sync_strategy`, what every stream record triggers) and rebuild it from the whole ledger
(`rebuild_portfolio`, the repair tool).

A stream record is only a trigger (INTERNALS "Portfolio read model"): the sync reads the stored ledger state,
applies the epoch's trades after its `applied_seq` with the pure `portfolio_sync.catch_up`, and writes the
new state conditioned on the `applied_seq` and epoch it read. However often, late or out of order records
arrive, the stored state is `ledger.replay` of a prefix of the ledger, and after the last record of a
strategy it is the replay of the whole ledger.

Reads go PORTFOLIO item, then account, then ledger. The account is written in the same transaction as the
trades and read consistently, so its `trade_seq` says how far the ledger reached when the sync started:
a catch-up that ends short of it read a lagging index (retry), and a stored state beyond it cannot be true
(the state is rebuilt from the ledger).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from engine.drawdown import RunningDrawdown
from engine.errors import Conflict, StorageError, StrategyNotFound
from engine.ledger import LedgerError, LedgerState, replay
from engine.models.portfolio import Portfolio
from engine.models.trading import Account
from engine.portfolio import Mark, PositionStatus, build_portfolio, equity_point, equity_point_keys
from engine.services.account_view import publish_summary
from engine.services.kill_switch import Pauser
from engine.services.portfolio_sync import catch_up, state_from_item, state_to_item
from engine.services.risk import on_pnl_moved
from engine.services.strategies import Stores
from engine.sparkline import extend_sparkline
from engine.storage.account_view import AccountViewRepository
from engine.storage.dynamo import StorageClients, get_clients
from engine.storage.messaging import Messaging
from engine.storage.portfolios import (
    DRAWDOWN_ATTRIBUTE,
    DRAWDOWN_POINTS_ATTRIBUTE,
    AccountRepository,
    PortfolioRepository,
)
from engine.storage.risk import RiskRepository
from engine.storage.strategies import StrategyRepository
from engine.storage.trades import TradeRepository

logger = logging.getLogger(__name__)

# Lost races and a lagging ledger index both clear up within a read or two; after this many tries the
# record is reported failed and Lambda delivers it again later.
SYNC_ATTEMPTS = 5
LEDGER_PAGE = 500
MARK_STATUSES: frozenset[str] = frozenset({"open", "awaiting_resolution"})


class LedgerBehind(StorageError):
    """The ledger read ended before the account's last trade: the index had not caught up yet."""


@dataclass(frozen=True)
class PortfolioStores:
    """The repositories the stream works on (one set of clients; tests pass their own)."""

    trades: TradeRepository
    accounts: AccountRepository
    portfolios: PortfolioRepository
    strategies: StrategyRepository
    views: AccountViewRepository | None = None  # the account-wide view (issue 14); None: same clients

    @classmethod
    def default(cls, clients: StorageClients | None = None) -> PortfolioStores:
        clients = clients or get_clients()
        return cls(
            trades=TradeRepository(clients),
            accounts=AccountRepository(clients),
            portfolios=PortfolioRepository(clients),
            strategies=StrategyRepository(clients),
        )


@dataclass(frozen=True)
class _Stored:
    """The PORTFOLIO item as read: what the conditional write compares, and the state it holds."""

    exists: bool
    applied_seq: int | None  # None: the item exists but its applied_seq is unreadable
    epoch: int | None
    state_item: dict[str, Any] | None
    portfolio_item: dict[str, Any] | None
    drawdown: RunningDrawdown | None = None
    drawdown_points: int | None = None  # as stored: what the next write is conditioned on

    @classmethod
    def read(cls, portfolios: PortfolioRepository, strategy_id: str) -> _Stored:
        record = portfolios.get_record(strategy_id)
        if record is None:
            return cls(exists=False, applied_seq=0, epoch=None, state_item=None, portfolio_item=None)
        state = record.get("state")
        portfolio = record.get("portfolio")
        return cls(
            exists=True,
            applied_seq=_stored_int(record.get("applied_seq"), default=None),
            epoch=_stored_int(record.get("epoch"), default=None),
            state_item=state if isinstance(state, dict) else None,
            portfolio_item=portfolio if isinstance(portfolio, dict) else None,
            drawdown=RunningDrawdown.from_item(record.get(DRAWDOWN_ATTRIBUTE)),
            drawdown_points=_stored_int(record.get(DRAWDOWN_POINTS_ATTRIBUTE), default=None),
        )

    @property
    def matchable(self) -> bool:
        """Whether the conditional write can name this item's applied_seq and epoch."""
        return not self.exists or (self.applied_seq is not None and self.epoch is not None)


def _stored_int(value: Any, *, default: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return default
    return int(value)


def _usable_state(stored: _Stored, account: Account) -> LedgerState | None:
    """The stored state when it can continue the account's epoch; None when the sync must start over from
    the bankroll (no state yet, a new epoch) or rebuild (a state that cannot be true)."""
    if stored.state_item is None or stored.epoch != account.epoch:
        return None
    try:
        state = state_from_item(stored.state_item)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        logger.warning("unreadable portfolio state; rebuilding", extra={"strategy_id": account.strategy_id})
        logger.debug("state error: %s", exc)
        return None
    if state.bankroll_usd != account.bankroll_usd or state.applied_seq > account.trade_seq:
        # the bankroll only changes with a new epoch, and no state can be ahead of the ledger
        logger.warning(
            "portfolio state does not fit the ledger; rebuilding",
            extra={"strategy_id": account.strategy_id, "applied_seq": state.applied_seq},
        )
        return None
    return state


def _catch_up_from_ledger(
    state: LedgerState, *, strategy_id: str, epoch: int, trades: TradeRepository
) -> LedgerState:
    """`state` with every trade of `epoch` after its applied_seq, read page by page in seq order."""
    while True:
        page = trades.after_seq(strategy_id, epoch=epoch, after_seq=state.applied_seq, limit=LEDGER_PAGE)
        state, applied = catch_up(state, page, epoch=epoch)
        if len(page) < LEDGER_PAGE or not applied:
            return state


def _latest_marks(trades: TradeRepository, strategy_id: str) -> tuple[dict[str, Mark], datetime | None]:
    """The marks of the strategy's latest run as `Mark`s by token, and when they were taken."""
    stored = trades.get_marks(strategy_id)
    if stored is None:
        return {}, None
    marked_at: datetime = stored["marked_at"]
    marks: dict[str, Mark] = {}
    for token_id, mark in dict(stored.get("marks") or {}).items():
        if not isinstance(mark, Mapping) or mark.get("price") is None:
            continue
        status = str(mark.get("status", "open"))
        marks[str(token_id)] = Mark(
            price=Decimal(mark["price"]),
            status=cast(PositionStatus, status if status in MARK_STATUSES else "open"),
            at=marked_at,
        )
    return marks, marked_at


def _as_of(state: LedgerState, marked_at: datetime | None, now: datetime) -> datetime:
    """When the portfolio is as of: its latest trade or mark. Deterministic, so syncing again writes the same
    item and the same equity point; `now` only when there is neither."""
    known = [t for t in (state.last_trade_at, marked_at) if t is not None]
    return max(known) if known else now


def _folded(stored: _Stored, epoch: int, portfolio: Portfolio, at: datetime) -> RunningDrawdown:
    """The running drawdown with this sync's equity point. A point that moves nothing and is not newer than
    the last one folded (a repeated sync) leaves it as it was; a new epoch (redeploy) starts from its
    bankroll."""
    drawdown = stored.drawdown
    if drawdown is None or stored.epoch != epoch:
        drawdown = RunningDrawdown.opening(portfolio.bankroll_usd, at)
    folded = drawdown.fold(portfolio.equity_usd, at)
    same = folded.model_copy(update={"points": drawdown.points, "last_at": drawdown.last_at})
    if at <= drawdown.last_at and same == drawdown:
        return drawdown
    return folded


def _unchanged(
    stored: _Stored, epoch: int, state_item: dict[str, Any], portfolio: Portfolio, drawdown: RunningDrawdown
) -> bool:
    if not stored.exists or stored.epoch != epoch or stored.state_item != state_item:
        return False
    if stored.drawdown != drawdown:
        return False
    if stored.portfolio_item is None:
        return False
    try:
        return Portfolio.model_validate(stored.portfolio_item) == portfolio
    except ValueError:
        return False


def _publish(
    stores: PortfolioStores, portfolio: Portfolio, state: LedgerState, *, epoch: int, at: datetime
) -> None:
    """The equity point and the strategy's copy of the figures: both overwrite, so repeating is harmless."""
    point = equity_point(portfolio, at=at)
    stores.portfolios.put_equity_points(portfolio.strategy_id, equity_point_keys(at), point)
    values, last_hour = stores.strategies.sparkline_of(portfolio.strategy_id)
    copied = stores.strategies.set_paper_stats(
        portfolio.strategy_id,
        pnl_usd=portfolio.total_pnl_usd,
        positions_count=portfolio.open_positions_count,
        epoch=epoch,
        sparkline=extend_sparkline(values, last_hour, portfolio.equity_usd, at),
    )
    if not copied:
        logger.info(
            "strategy gone or redeployed; figures not copied", extra={"strategy_id": portfolio.strategy_id}
        )
        return
    views = stores.views or AccountViewRepository(stores.portfolios.clients)
    clients = stores.portfolios.clients

    def limits_moved(owner: str, timezone: str, when: datetime, pnl: Decimal, flow: Decimal) -> None:
        """The owner has shared limits: book the move (daily loss, time-weighted drawdown; issue 14)."""
        _book_for_limits(clients, owner, timezone, when, pnl=pnl, flow=flow)

    publish_summary(views, portfolio, state, epoch=epoch, at=at, on_pnl=limits_moved)


def _book_for_limits(
    clients: StorageClients, owner: str, timezone: str, at: datetime, *, pnl: Decimal, flow: Decimal
) -> None:
    messaging = Messaging(clients.settings)
    on_pnl_moved(
        owner,
        timezone,
        at,
        pnl,
        flow,
        risk=RiskRepository(clients),
        pauser=Pauser(Stores.default(clients)),
        notifier=messaging if clients.settings.notifications_topic_arn else None,
    )


def _write(
    stores: PortfolioStores,
    stored: _Stored,
    account: Account,
    state: LedgerState,
    *,
    marks: Mapping[str, Mark],
    marked_at: datetime | None,
    now: datetime,
) -> Portfolio | None:
    """Build the read model and write it if nobody wrote since `stored` was read; None on a lost race."""
    strategy_id = account.strategy_id
    at = _as_of(state, marked_at, now)
    portfolio = build_portfolio(state, strategy_id=strategy_id, marks=marks, updated_at=at)
    state_item = state_to_item(state)
    drawdown = _folded(stored, account.epoch, portfolio, at)
    if not _unchanged(stored, account.epoch, state_item, portfolio, drawdown):
        if drawdown.points == stored.drawdown_points:
            drawdown = drawdown.model_copy(update={"points": drawdown.points + 1})  # every write moves it
        written = stores.portfolios.put_state(
            strategy_id,
            state=state_item,
            portfolio=portfolio,
            expected_applied_seq=(stored.applied_seq or 0) if stored.exists else None,
            expected_epoch=stored.epoch,
            epoch=account.epoch,
            applied_seq=state.applied_seq,
            drawdown=drawdown,
            expected_drawdown_points=stored.drawdown_points,
        )
        if not written:
            return None
    _publish(stores, portfolio, state, epoch=account.epoch, at=at)
    return portfolio


def _restart_unmatchable(stores: PortfolioStores, stored: _Stored, account: Account, now: datetime) -> bool:
    """An item whose applied_seq or epoch is unreadable can never pass the conditional write: put a fresh
    one of the account's epoch in its place (as a redeploy does), and tell the caller to read again."""
    if stored.matchable:
        return False
    logger.warning(
        "portfolio item unreadable; starting it afresh", extra={"strategy_id": account.strategy_id}
    )
    stores.portfolios.reset(account.strategy_id, bankroll=account.bankroll_usd, epoch=account.epoch, now=now)
    return True


def _ensure_complete(state: LedgerState, account: Account, *, last_attempt: bool) -> bool:
    """Whether the state reached the account's last trade; LedgerBehind on the last attempt."""
    if state.applied_seq >= account.trade_seq:
        return True
    if last_attempt:
        raise LedgerBehind(
            "the ledger read ends before the account's last trade",
            details={"applied_seq": state.applied_seq, "trade_seq": account.trade_seq},
        )
    return False


def sync_strategy(
    strategy_id: str, *, now: datetime, stores: PortfolioStores | None = None
) -> Portfolio | None:
    """Catch the strategy's portfolio up with its ledger and return it; None when the strategy has no
    account (deleted, or never deployed nor traded): there is nothing to keep.

    Idempotent: with no new trades or marks it writes the same values again (or nothing). A stored state that
    cannot be true (ahead of the ledger, another bankroll, not replayable onto the next trades) is rebuilt
    from the bankroll. Raises LedgerError when the ledger itself cannot be replayed, LedgerBehind or
    Conflict when the reads kept lagging or racing, StorageError when storage fails: the caller reports the
    record and Lambda delivers it again.
    """
    stores = stores or PortfolioStores.default()
    for attempt in range(1, SYNC_ATTEMPTS + 1):
        stored = _Stored.read(stores.portfolios, strategy_id)
        account = stores.accounts.get(strategy_id)
        if account is None:
            return None
        if _restart_unmatchable(stores, stored, account, now):
            continue
        opening = LedgerState.opening(account.bankroll_usd)
        usable = _usable_state(stored, account)
        try:
            state = _catch_up_from_ledger(
                usable or opening, strategy_id=strategy_id, epoch=account.epoch, trades=stores.trades
            )
        except LedgerError:
            if usable is None:
                raise  # already from the bankroll: the ledger itself is broken
            logger.warning(
                "portfolio state does not continue the ledger; rebuilding", extra={"strategy_id": strategy_id}
            )
            state = _catch_up_from_ledger(
                opening, strategy_id=strategy_id, epoch=account.epoch, trades=stores.trades
            )
        if not _ensure_complete(state, account, last_attempt=attempt == SYNC_ATTEMPTS):
            continue
        marks, marked_at = _latest_marks(stores.trades, strategy_id)
        portfolio = _write(stores, stored, account, state, marks=marks, marked_at=marked_at, now=now)
        if portfolio is not None:
            return portfolio
        logger.info("portfolio written meanwhile; reading again", extra={"strategy_id": strategy_id})
    raise Conflict("the portfolio kept changing while it was synced; try again")


def rebuild_portfolio(strategy_id: str, *, now: datetime, stores: PortfolioStores | None = None) -> Portfolio:
    """The repair: replay the whole ledger of the account's epoch from the bankroll and overwrite the stored
    state and read model, whatever they hold. The equity history is kept (the marks it was drawn at are
    gone); one point is added for the rebuilt portfolio.

    Raises StrategyNotFound when the strategy has no account, LedgerError when the ledger cannot be
    replayed, LedgerBehind or Conflict when the reads kept lagging or racing.
    """
    stores = stores or PortfolioStores.default()
    for attempt in range(1, SYNC_ATTEMPTS + 1):
        stored = _Stored.read(stores.portfolios, strategy_id)
        account = stores.accounts.get(strategy_id)
        if account is None:
            raise StrategyNotFound(f"strategy {strategy_id} has no account: nothing to rebuild")
        if _restart_unmatchable(stores, stored, account, now):
            continue
        state = replay(account.bankroll_usd, stores.trades.ledger(strategy_id, epoch=account.epoch))
        if not _ensure_complete(state, account, last_attempt=attempt == SYNC_ATTEMPTS):
            continue
        marks, marked_at = _latest_marks(stores.trades, strategy_id)
        # forget what the item holds, so the write is never skipped as "unchanged": a repair always writes
        forced = dataclasses.replace(stored, state_item=None, portfolio_item=None)
        portfolio = _write(stores, forced, account, state, marks=marks, marked_at=marked_at, now=now)
        if portfolio is not None:
            logger.info(
                "portfolio rebuilt from the ledger",
                extra={"strategy_id": strategy_id, "trades": state.trades_count, "epoch": account.epoch},
            )
            return portfolio
    raise Conflict("the portfolio kept changing while it was rebuilt; try again")


__all__ = [
    "LEDGER_PAGE",
    "SYNC_ATTEMPTS",
    "LedgerBehind",
    "PortfolioStores",
    "rebuild_portfolio",
    "sync_strategy",
]
