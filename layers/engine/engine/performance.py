"""Performance metrics of a strategy with Freqtrade's formulas, plus two that prediction markets need.

Freqtrade counts a closed position as a trade (a round trip); `ClosedPosition` is exactly that. Wins have a
positive P&L, losses a negative one and draws none, as in Freqtrade; the portfolio's `losses` (the ledger's
count) includes the draws, so the two win rates are the same number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from itertools import pairwise

from pydantic import Field

from engine.clock import to_utc
from engine.drawdown import Drop, RunningDrawdown
from engine.ledger import ClosedPosition, ClosedStats, LedgerState
from engine.models.base import DomainModel, Money, UtcDatetime
from engine.models.portfolio import EquityPoint, PortfolioPosition
from engine.money import ZERO, usd
from engine.portfolio import RATIO_PLACES, ratio

HUNDRED = Decimal(100)


class TradeSummary(DomainModel):
    """One closed position, as shown for the best and the worst trade."""

    token_id: str
    market_id: str
    question: str
    outcome: str
    opened_at: UtcDatetime
    closed_at: UtcDatetime
    cost_usd: Money
    pnl_usd: Money
    pnl_pct: Money  # pnl / cost x 100
    exit_reason: str


class CurvePoint(DomainModel):
    at: UtcDatetime
    equity_usd: Money
    realized_equity_usd: Money | None = None  # bankroll + realized P&L (None on points older than it)


class Performance(DomainModel):
    """GET /strategies/{id}/performance: the equity curve and the metrics. Ratios are 0..1, `_pct` are %."""

    bankroll_usd: Money
    equity_usd: Money
    total_profit_usd: Money  # equity - bankroll (realized and unrealized)
    total_profit_pct: Money
    closed_profit_usd: Money  # P&L of the closed positions only
    closed_profit_pct: Money
    ledger_trades_count: int  # BUY, SELL and SETTLE trades applied
    closed_trades_count: int
    open_positions_count: int
    wins: int
    losses: int
    draws: int
    win_rate: Money | None  # wins / closed trades
    profit_factor: Money | None  # gross profit / gross loss; None without a loss
    avg_win_usd: Money
    avg_loss_usd: Money  # a positive amount
    expectancy_usd: Money  # win_rate x avg_win - loss_rate x avg_loss
    expectancy_ratio: Money | None  # (1 + avg_win / avg_loss) x win_rate - 1; None without a loss
    max_drawdown_usd: Money
    max_drawdown_relative: Money  # drop / peak equity
    max_drawdown_start: UtcDatetime | None  # the peak
    max_drawdown_end: UtcDatetime | None  # the trough
    max_drawdown_peak_usd: Money | None
    max_drawdown_trough_usd: Money | None
    # the drop that was largest relative to its peak (Freqtrade's `relative=True`); it may differ from the
    # largest absolute drop above
    max_relative_drawdown: Money = ZERO
    max_relative_drawdown_usd: Money = ZERO
    max_relative_drawdown_start: UtcDatetime | None = None
    max_relative_drawdown_end: UtcDatetime | None = None
    # from the daily closes (UTC) since deploy, Freqtrade's balance-based formulas, 365 days a year (DESIGN
    # "Metrics"); None with fewer than two days or no spread
    trading_days: int = 0
    sharpe: Money | None = None
    sortino: Money | None = None
    calmar: Money | None = None
    cagr: Money | None = None  # a ratio: 0.5 is +50 % a year
    sqn: Money | None = None  # per closed trade
    avg_holding_seconds: int | None
    best_trade: TradeSummary | None
    worst_trade: TradeSummary | None
    fees_paid_usd: Money
    capital_locked_awaiting_resolution_usd: Money  # cost of positions whose market closed, unresolved
    capital_locked_open_usd: Money  # cost of every open position
    brier_score: Money | None  # entry prices against resolved outcomes; None when nothing resolved
    resolved_positions_count: int
    equity_curve: list[CurvePoint] = Field(default_factory=list)


SQRT_365 = Decimal(365).sqrt()
# Ratios can be huge (CAGR over two days); they are rounded with room for every digit.
_WIDE = Context(prec=120)


def _rounded(value: Decimal) -> Decimal:
    return value.quantize(RATIO_PLACES, rounding=ROUND_HALF_EVEN, context=_WIDE)


@dataclass(frozen=True)
class DailyRatios:
    """Sharpe, Sortino, Calmar and CAGR of one series of daily returns (None where undefined)."""

    days: int
    sharpe: Decimal | None
    sortino: Decimal | None
    calmar: Decimal | None
    cagr: Decimal | None


def _pstd(values: Sequence[Decimal]) -> Decimal:
    """Population standard deviation (numpy's np.std, ddof=0, as Freqtrade's calculate_sharpe uses)."""
    mean = sum(values, ZERO) / len(values)
    return (sum(((v - mean) ** 2 for v in values), ZERO) / len(values)).sqrt()


def daily_ratios(returns: Sequence[Decimal], *, growth: Decimal, relative_drawdown: Decimal) -> DailyRatios:
    """Freqtrade's calculate_sharpe / calculate_sortino / calculate_calmar / calculate_cagr on daily returns.

    `returns`: one per UTC day (balance-based for a strategy: the day's equity change / bankroll;
    time-weighted for the account). `growth`: final equity / starting equity. `relative_drawdown`: the
    relative size of the largest absolute drop (what Freqtrade's calculate_calmar divides by).
      mean = sum(returns) / days
      sharpe = mean / std(returns) x sqrt(365)
      sortino = mean / std(negative returns) x sqrt(365)
      calmar = mean x 100 / relative_drawdown x sqrt(365)
      cagr = growth ^ (365 / days) - 1
    """
    days = len(returns)
    if days < 2:
        return DailyRatios(days=days, sharpe=None, sortino=None, calmar=None, cagr=None)
    mean = sum(returns, ZERO) / days
    spread = _pstd(returns)
    downside = [r for r in returns if r < ZERO]
    down_spread = _pstd(downside) if downside else ZERO
    return DailyRatios(
        days=days,
        sharpe=_rounded(mean / spread * SQRT_365) if spread else None,
        sortino=_rounded(mean / down_spread * SQRT_365) if down_spread else None,
        calmar=_rounded(mean * HUNDRED / relative_drawdown * SQRT_365) if relative_drawdown else None,
        cagr=_rounded(growth ** (Decimal(365) / days) - 1) if growth > ZERO else None,
    )


def daily_closes(
    points: Iterable[EquityPoint], *, start: tuple[datetime, Decimal], now: datetime
) -> list[Decimal]:
    """The equity at the end of each UTC day from the start's day to now's (the last point at or before
    the day's end; a day with no point keeps the previous close), preceded by the starting equity."""
    start_at, start_equity = start
    first_day = to_utc(start_at).date()
    last_day = to_utc(now).date()
    by_day: dict[date, Decimal] = {}
    for point in sorted(points, key=lambda p: p.at):
        day = to_utc(point.at).date()
        if point.at >= start_at and first_day <= day <= last_day:
            by_day[day] = point.equity_usd
    closes = [start_equity]
    day = first_day
    while day <= last_day:
        closes.append(by_day.get(day, closes[-1]))
        day += timedelta(days=1)
    return closes


def balance_returns(closes: Sequence[Decimal], *, bankroll: Decimal) -> list[Decimal]:
    """Each day's equity change over the starting balance (Freqtrade's `profit_abs / starting_balance`)."""
    if not bankroll:
        return []
    return [(today - yesterday) / bankroll for yesterday, today in pairwise(closes)]


def sqn(stats: ClosedStats, *, bankroll: Decimal) -> Decimal | None:
    """Freqtrade's calculate_sqn: sqrt(trades) x mean(pnl / bankroll) / std(pnl / bankroll, ddof=1), from the
    ledger's running sums, so it covers every closed trade."""
    n = stats.count
    if n < 2 or not bankroll or stats.pnl_squares_usd is None:
        return None
    total = stats.pnl_usd / bankroll
    squares = stats.pnl_squares_usd / (bankroll * bankroll)
    variance = (squares - total * total / n) / (n - 1)
    if variance <= ZERO:
        return None
    return _rounded(Decimal(n).sqrt() * (total / n) / variance.sqrt())


@dataclass(frozen=True)
class Drawdown:
    """The largest peak-to-trough drop of an equity curve (Freqtrade's `calculate_max_drawdown`)."""

    drop_usd: Decimal
    relative: Decimal
    peak: EquityPoint | None
    trough: EquityPoint | None


def max_drawdown(curve: Sequence[EquityPoint]) -> Drawdown:
    """The largest drop from a running peak. Ties keep the earliest peak and the earliest trough, as pandas'
    idxmax/idxmin do in Freqtrade. A curve that never falls has no drawdown (zero, no dates)."""
    best = Drawdown(drop_usd=ZERO, relative=ZERO, peak=None, trough=None)
    peak: EquityPoint | None = None
    for point in sorted(curve, key=lambda p: p.at):
        if peak is None or point.equity_usd > peak.equity_usd:
            peak = point
        drop = peak.equity_usd - point.equity_usd
        if drop > best.drop_usd:
            relative = drop / peak.equity_usd if peak.equity_usd > ZERO else ZERO
            best = Drawdown(drop_usd=drop, relative=relative, peak=peak, trough=point)
    return best


def max_relative_drawdown(curve: Sequence[EquityPoint]) -> Drawdown:
    """The drop that is largest relative to its running peak (Freqtrade's `relative=True`)."""
    best = Drawdown(drop_usd=ZERO, relative=ZERO, peak=None, trough=None)
    peak: EquityPoint | None = None
    for point in sorted(curve, key=lambda p: p.at):
        if peak is None or point.equity_usd > peak.equity_usd:
            peak = point
        drop = peak.equity_usd - point.equity_usd
        relative = drop / peak.equity_usd if peak.equity_usd > ZERO else ZERO
        if drop > ZERO and relative > best.relative:
            best = Drawdown(drop_usd=drop, relative=relative, peak=peak, trough=point)
    return best


def _as_drawdown(drop: Drop | None) -> Drawdown:
    if drop is None:
        return Drawdown(drop_usd=ZERO, relative=ZERO, peak=None, trough=None)
    zero = ZERO
    return Drawdown(
        drop_usd=drop.drop_usd,
        relative=drop.relative,
        peak=EquityPoint(at=drop.peak_at, equity_usd=drop.peak_usd, cash_usd=zero, positions_value_usd=zero),
        trough=EquityPoint(
            at=drop.trough_at, equity_usd=drop.trough_usd, cash_usd=zero, positions_value_usd=zero
        ),
    )


def entry_price_per_share(closed: ClosedPosition) -> Decimal:
    """The price paid per share (ClosedPosition.entry_price_per_share: fees excluded when known)."""
    return closed.entry_price_per_share


def brier_score(closed: Sequence[ClosedPosition]) -> tuple[Decimal | None, int]:
    """Mean of (entry price - outcome)^2 over positions closed by settlement, with the settled price (1, 0,
    or 0.5 for a split) as the outcome; and how many positions it covers."""
    resolved = [c for c in closed if c.settled_price is not None]
    if not resolved:
        return None, 0
    total = sum(
        ((entry_price_per_share(c) - c.settled_price) ** 2 for c in resolved if c.settled_price is not None),
        ZERO,
    )
    return ratio(total / len(resolved)), len(resolved)


def _summary(closed: ClosedPosition) -> TradeSummary:
    return TradeSummary(
        token_id=closed.token_id,
        market_id=closed.market_id,
        question=closed.question,
        outcome=closed.outcome,
        opened_at=closed.opened_at,
        closed_at=closed.closed_at,
        cost_usd=closed.cost_usd,
        pnl_usd=closed.pnl_usd,
        pnl_pct=ratio(_pnl_ratio(closed) * HUNDRED),
        exit_reason=closed.exit_reason,
    )


def _pnl_ratio(closed: ClosedPosition) -> Decimal:
    return closed.pnl_ratio


def _pct_of(amount: Decimal, bankroll: Decimal) -> Decimal:
    return ratio(amount / bankroll * HUNDRED) if bankroll else ZERO


def compute_performance(
    state: LedgerState,
    curve: Sequence[EquityPoint],
    *,
    bankroll: Decimal,
    open_positions: Sequence[PortfolioPosition],
    running: RunningDrawdown | None = None,
    daily: Sequence[EquityPoint] = (),
    now: datetime | None = None,
) -> Performance:
    """The metrics of GET /performance from the ledger state, the equity curve (oldest first) and the open
    positions as the portfolio values them.

    `running`: the exact running drawdown kept by the stream (else the drawdown of `curve`); `daily`: the
    daily tier's points, with `now`, for the daily ratios (none without them)."""
    # Every closed-position metric comes from the ledger's running aggregates, so it covers all of them
    # while the stored state keeps only the most recent ones in full.
    stats = state.closed_stats
    closed = stats.count
    gross_profit = stats.gross_profit_usd
    gross_loss = stats.gross_loss_usd
    avg_win = gross_profit / stats.winners if stats.winners else ZERO
    avg_loss = gross_loss / stats.losers if stats.losers else ZERO
    win_rate = Decimal(stats.winners) / closed if closed else ZERO
    loss_rate = Decimal(stats.losers) / closed if closed else ZERO

    equity = usd(state.cash_usd + sum((p.value_usd for p in open_positions), ZERO))
    total_profit = usd(equity - bankroll)
    closed_profit = usd(stats.pnl_usd)
    drawdown = max_drawdown(curve)
    largest_relative = drawdown
    if running is not None:
        drawdown = _as_drawdown(running.largest_absolute)
        largest_relative = _as_drawdown(running.largest_relative)
    elif curve:
        largest_relative = max_relative_drawdown(curve)
    ratios = DailyRatios(days=0, sharpe=None, sortino=None, calmar=None, cagr=None)
    if running is not None and now is not None:
        closes = daily_closes(daily, start=(running.started_at, running.start_usd), now=now)
        ratios = daily_ratios(
            balance_returns(closes, bankroll=bankroll),
            growth=closes[-1] / bankroll if bankroll else ZERO,
            relative_drawdown=drawdown.relative,
        )
    brier = ratio(stats.brier_sum / stats.brier_count) if stats.brier_count else None
    resolved_count = stats.brier_count
    holding = (
        (stats.holding_seconds / closed).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) if closed else None
    )
    return Performance(
        bankroll_usd=bankroll,
        equity_usd=equity,
        total_profit_usd=total_profit,
        total_profit_pct=_pct_of(total_profit, bankroll),
        closed_profit_usd=closed_profit,
        closed_profit_pct=_pct_of(closed_profit, bankroll),
        ledger_trades_count=state.trades_count,
        closed_trades_count=closed,
        open_positions_count=len(open_positions),
        wins=stats.winners,
        losses=stats.losers,
        draws=closed - stats.winners - stats.losers,
        win_rate=ratio(win_rate) if closed else None,
        profit_factor=ratio(gross_profit / gross_loss) if gross_loss else None,
        avg_win_usd=usd(avg_win),
        avg_loss_usd=usd(avg_loss),
        expectancy_usd=usd(win_rate * avg_win - loss_rate * avg_loss),
        expectancy_ratio=ratio((1 + avg_win / avg_loss) * win_rate - 1) if avg_loss else None,
        max_drawdown_usd=usd(drawdown.drop_usd),
        max_drawdown_relative=ratio(drawdown.relative),
        max_drawdown_start=drawdown.peak.at if drawdown.peak else None,
        max_drawdown_end=drawdown.trough.at if drawdown.trough else None,
        max_drawdown_peak_usd=drawdown.peak.equity_usd if drawdown.peak else None,
        max_drawdown_trough_usd=drawdown.trough.equity_usd if drawdown.trough else None,
        max_relative_drawdown=ratio(largest_relative.relative),
        max_relative_drawdown_usd=usd(largest_relative.drop_usd),
        max_relative_drawdown_start=largest_relative.peak.at if largest_relative.peak else None,
        max_relative_drawdown_end=largest_relative.trough.at if largest_relative.trough else None,
        trading_days=ratios.days,
        sharpe=ratios.sharpe,
        sortino=ratios.sortino,
        calmar=ratios.calmar,
        cagr=ratios.cagr,
        sqn=sqn(stats, bankroll=bankroll),
        avg_holding_seconds=int(holding) if holding is not None else None,
        best_trade=_summary(stats.best) if stats.best else None,
        worst_trade=_summary(stats.worst) if stats.worst else None,
        fees_paid_usd=state.fees_paid_usd,
        capital_locked_awaiting_resolution_usd=usd(
            sum((p.cost_usd for p in open_positions if p.status == "awaiting_resolution"), ZERO)
        ),
        capital_locked_open_usd=usd(sum((p.cost_usd for p in open_positions), ZERO)),
        brier_score=brier,
        resolved_positions_count=resolved_count,
        equity_curve=[
            CurvePoint(at=p.at, equity_usd=p.equity_usd, realized_equity_usd=p.realized_equity_usd)
            for p in sorted(curve, key=lambda p: p.at)
        ],
    )
