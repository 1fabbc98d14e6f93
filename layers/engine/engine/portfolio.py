"""The portfolio read model built from a ledger state and the latest marks, and equity history thinning."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal, NamedTuple

from engine.clock import iso, to_utc
from engine.ledger import LedgerState
from engine.models.portfolio import EquityPoint, Portfolio, PortfolioPosition
from engine.money import ZERO, usd

PositionStatus = Literal["open", "awaiting_resolution"]
EquityTier = Literal["m", "h", "d"]

PRICE_PLACES = Decimal("0.000001")
RATIO_PLACES = Decimal("0.000001")

MINUTE_POINTS_KEPT = timedelta(days=1)
HOURLY_POINTS_KEPT = timedelta(days=31)
EQUITY_KEY_PREFIX = "EQ#"


@dataclass(frozen=True)
class Mark:
    """One held token as the latest run marked it: its mid price, and whether its market awaits resolution."""

    price: Decimal
    status: PositionStatus
    at: datetime


def _price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_PLACES, rounding=ROUND_HALF_EVEN)


def ratio(value: Decimal) -> Decimal:
    """A ratio or percentage rounded for display (money keeps `usd`)."""
    return value.quantize(RATIO_PLACES, rounding=ROUND_HALF_EVEN)


def build_portfolio(
    state: LedgerState, *, strategy_id: str, marks: Mapping[str, Mark], updated_at: datetime
) -> Portfolio:
    """The read model of DESIGN 2 for one strategy: positions valued at their marks, totals and ratios."""
    positions: list[PortfolioPosition] = []
    for holding in sorted(state.positions.values(), key=lambda h: (h.opened_at, h.token_id)):
        avg_price = _price(holding.cost_usd / holding.shares) if holding.shares else ZERO
        mark = marks.get(holding.token_id)
        # A position bought in this run has no mark until the next run; valuing it at what was paid keeps
        # its unrealized P&L at zero instead of inventing a loss of the whole cost.
        mark_price = mark.price if mark is not None else avg_price
        value = usd(holding.shares * mark.price) if mark is not None else holding.cost_usd
        positions.append(
            PortfolioPosition(
                token_id=holding.token_id,
                market_id=holding.market_id,
                question=holding.question,
                outcome=holding.outcome,
                outcome_label=holding.outcome_label,
                shares=holding.shares,
                avg_price=avg_price,
                cost_usd=holding.cost_usd,
                mark_price=mark_price,
                value_usd=value,
                unrealized_pnl_usd=usd(value - holding.cost_usd),
                status=mark.status if mark is not None else "open",
            )
        )
    positions_value = usd(sum((p.value_usd for p in positions), ZERO))
    unrealized = usd(sum((p.unrealized_pnl_usd for p in positions), ZERO))
    equity = usd(state.cash_usd + positions_value)
    total_pnl = usd(equity - state.bankroll_usd)
    decided = state.wins + state.losses
    return Portfolio(
        strategy_id=strategy_id,
        bankroll_usd=state.bankroll_usd,
        cash_usd=state.cash_usd,
        equity_usd=equity,
        positions_value_usd=positions_value,
        realized_pnl_usd=state.realized_pnl_usd,
        unrealized_pnl_usd=unrealized,
        total_pnl_usd=total_pnl,
        roi_pct=ratio(total_pnl / state.bankroll_usd * 100) if state.bankroll_usd else ZERO,
        win_rate=ratio(Decimal(state.wins) / Decimal(decided)) if decided else None,
        wins=state.wins,
        losses=state.losses,
        fees_paid_usd=state.fees_paid_usd,
        open_positions_count=len(positions),
        settled_markets_count=len(state.settled_markets),
        updated_at=updated_at,
        positions=positions,
    )


def equity_point(portfolio: Portfolio, *, at: datetime) -> EquityPoint:
    """The equity history point for a portfolio as of `at`."""
    return EquityPoint(
        at=at,
        equity_usd=portfolio.equity_usd,
        cash_usd=portfolio.cash_usd,
        positions_value_usd=portfolio.positions_value_usd,
        realized_equity_usd=usd(portfolio.bankroll_usd + portfolio.realized_pnl_usd),
    )


def _epoch_seconds(value: datetime) -> int:
    return int(to_utc(value).timestamp())


def equity_point_keys(at: datetime) -> list[tuple[str, int | None]]:
    """The Portfolios sort keys and TTL epoch seconds under which one equity point is written.

    Every point is written to all three tiers. A later point of the same hour (day) overwrites the tier's
    item, so each hourly (daily) item ends as the last point of its hour (day); TTL thins the tiers with age.
    """
    at = to_utc(at)
    minute = at.replace(second=0, microsecond=0)
    hour = minute.replace(minute=0)
    return [
        (f"{EQUITY_KEY_PREFIX}m#{iso(minute)}", _epoch_seconds(at + MINUTE_POINTS_KEPT)),
        (f"{EQUITY_KEY_PREFIX}h#{iso(hour)}", _epoch_seconds(at + HOURLY_POINTS_KEPT)),
        (f"{EQUITY_KEY_PREFIX}d#{at.date().isoformat()}", None),
    ]


def equity_tier(sort_key: str) -> EquityTier:
    """The tier (`m`, `h` or `d`) of an equity point's sort key."""
    tier = sort_key.removeprefix(EQUITY_KEY_PREFIX)[:1]
    if not sort_key.startswith(EQUITY_KEY_PREFIX) or tier not in ("m", "h", "d"):
        raise ValueError(f"not an equity point key: {sort_key!r}")
    return tier  # type: ignore[return-value]


class StoredEquityPoint(NamedTuple):
    """An equity point as read back: its sort key, the point and its TTL (None for daily points)."""

    sort_key: str
    point: EquityPoint
    expires_at: int | None


def select_equity_curve(points: Iterable[StoredEquityPoint], *, now: datetime) -> list[EquityPoint]:
    """One curve for display, oldest first: minute points for the last day, the hourly points for the last
    month, daily points before that. Expired items are dropped here because TTL deletion is lazy (and never
    happens under moto), so a read may still see them."""
    now = to_utc(now)
    now_epoch = _epoch_seconds(now)
    minute_since = now - MINUTE_POINTS_KEPT
    hourly_since = now - HOURLY_POINTS_KEPT
    chosen: dict[datetime, EquityPoint] = {}
    for sort_key, point, expires_at in points:
        if expires_at is not None and expires_at <= now_epoch:
            continue
        at = to_utc(point.at)
        tier = equity_tier(sort_key)
        if at >= minute_since:
            wanted: EquityTier = "m"
        elif at >= hourly_since:
            wanted = "h"
        else:
            wanted = "d"
        if tier == wanted:
            chosen[at] = point
    return [chosen[at] for at in sorted(chosen)]


__all__ = [
    "Mark",
    "PositionStatus",
    "StoredEquityPoint",
    "build_portfolio",
    "equity_point",
    "equity_point_keys",
    "equity_tier",
    "ratio",
    "select_equity_curve",
]
