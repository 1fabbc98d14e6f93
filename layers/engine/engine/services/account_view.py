"""The account-wide view (issue 14): every strategy of a user together, paper and live apart, from
per-strategy summaries the stream keeps (one Query per read, never every portfolio), the combined hourly
curve with time-weighted returns, and a side-by-side comparison."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

from engine.drawdown import RunningDrawdown
from engine.errors import ValidationFailed
from engine.ledger import LedgerState
from engine.models.account_view import (
    AccountCurvePoint,
    AccountPerformance,
    AccountPortfolio,
    Exposure,
    ExposureLine,
    ModePortfolio,
    StrategyShare,
    StrategySummary,
)
from engine.models.portfolio import EquityPoint, Portfolio
from engine.money import ZERO, usd
from engine.performance import Performance, daily_closes, daily_ratios
from engine.portfolio import ratio
from engine.storage.account_view import AccountViewRepository, HourEntries

COMPARE_MIN = 2
COMPARE_MAX = 10
MODES = ("paper", "live")


# -- kept by the stream ------------------------------------------------------------------------------------


def summarize(
    portfolio: Portfolio, state: LedgerState, *, name: str, trading_mode: str, epoch: int, at: datetime
) -> StrategySummary:
    """A strategy's figures and its exposure (cost basis of open positions) by market, event and tag."""
    by_market: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_event: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_tag: dict[str, Decimal] = defaultdict(lambda: ZERO)
    questions: dict[str, str] = {}
    for holding in state.positions.values():
        by_market[holding.market_id] += holding.cost_usd
        questions[holding.market_id] = holding.question
        if holding.event_id:
            by_event[holding.event_id] += holding.cost_usd
        for tag in holding.tags:
            by_tag[tag] += holding.cost_usd
    return StrategySummary(
        strategy_id=portfolio.strategy_id,
        strategy_name=name,
        trading_mode=trading_mode,
        epoch=epoch,
        bankroll_usd=portfolio.bankroll_usd,
        equity_usd=portfolio.equity_usd,
        cash_usd=portfolio.cash_usd,
        realized_pnl_usd=portfolio.realized_pnl_usd,
        unrealized_pnl_usd=portfolio.unrealized_pnl_usd,
        total_pnl_usd=portfolio.total_pnl_usd,
        open_positions_count=portfolio.open_positions_count,
        exposure_by_market=dict(by_market),
        exposure_by_event=dict(by_event),
        exposure_by_tag=dict(by_tag),
        market_questions=questions,
        as_of=at,
    )


def publish_summary(
    views: AccountViewRepository,
    portfolio: Portfolio,
    state: LedgerState,
    *,
    epoch: int,
    at: datetime,
    on_pnl: Callable[[str, str, datetime, Decimal, Decimal], None] | None = None,
) -> StrategySummary | None:
    """Write the strategy's summary and its entry in the user's hour (both overwrites; a sync older than
    the stored summary writes neither). None when the strategy is gone."""
    header = views.strategy_header(portfolio.strategy_id)
    if header is None:
        return None
    summary = summarize(
        portfolio, state, name=header.name, trading_mode=header.trading_mode, epoch=epoch, at=at
    )
    written, old = views.put_summary(header.owner, summary)
    if written:
        views.record_hour(header.owner, summary)
        if header.guard is not None and on_pnl is not None:
            # for the daily loss stop and the drawdown limit: the P&L moved since the last summary, and the
            # money that came in or left (a new epoch brings its bankroll and takes the old equity)
            same_epoch = old is not None and old.epoch == summary.epoch
            delta = summary.total_pnl_usd - (old.total_pnl_usd if same_epoch and old else ZERO)
            flow = ZERO if same_epoch else summary.bankroll_usd - (old.equity_usd if old else ZERO)
            if delta or flow:
                on_pnl(header.owner, header.guard, at, delta, flow)
    return summary


# -- GET /portfolio ----------------------------------------------------------------------------------------


def _lines(totals: Mapping[str, Decimal], labels: Mapping[str, str] | None = None) -> list[ExposureLine]:
    ordered = sorted(((k, v) for k, v in totals.items() if v > ZERO), key=lambda kv: (-kv[1], kv[0]))
    return [ExposureLine(key=k, label=(labels or {}).get(k), exposure_usd=usd(v)) for k, v in ordered]


def _mode(summaries: Sequence[StrategySummary]) -> ModePortfolio:
    by_market: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_event: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_tag: dict[str, Decimal] = defaultdict(lambda: ZERO)
    questions: dict[str, str] = {}
    for s in summaries:
        for target, source in (
            (by_market, s.exposure_by_market),
            (by_event, s.exposure_by_event),
            (by_tag, s.exposure_by_tag),
        ):
            for key, value in source.items():
                target[key] += value
        questions.update(s.market_questions)
    equity = usd(sum((s.equity_usd for s in summaries), ZERO))
    shares = [
        StrategyShare(
            strategy_id=s.strategy_id,
            strategy_name=s.strategy_name,
            bankroll_usd=s.bankroll_usd,
            equity_usd=s.equity_usd,
            total_pnl_usd=s.total_pnl_usd,
            share=ratio(s.equity_usd / equity) if equity > ZERO else ZERO,
        )
        for s in sorted(summaries, key=lambda s: (-s.equity_usd, s.strategy_id))
    ]
    return ModePortfolio(
        strategies_count=len(summaries),
        bankroll_usd=usd(sum((s.bankroll_usd for s in summaries), ZERO)),
        equity_usd=equity,
        cash_usd=usd(sum((s.cash_usd for s in summaries), ZERO)),
        realized_pnl_usd=usd(sum((s.realized_pnl_usd for s in summaries), ZERO)),
        unrealized_pnl_usd=usd(sum((s.unrealized_pnl_usd for s in summaries), ZERO)),
        total_pnl_usd=usd(sum((s.total_pnl_usd for s in summaries), ZERO)),
        open_positions_count=sum(s.open_positions_count for s in summaries),
        exposure=Exposure(
            total_usd=usd(sum(by_market.values(), ZERO)),
            by_market=_lines(by_market, questions),
            by_event=_lines(by_event),
            by_tag=_lines(by_tag),
        ),
        strategies=shares,
    )


def account_portfolio(owner: str, *, views: AccountViewRepository) -> AccountPortfolio:
    """The caller's strategies together, paper and live apart, from their stored summaries."""
    summaries = views.summaries(owner)
    by_mode: dict[str, list[StrategySummary]] = {mode: [] for mode in MODES}
    for summary in summaries:
        by_mode.setdefault(summary.trading_mode, []).append(summary)
    return AccountPortfolio(
        paper=_mode(by_mode["paper"]),
        live=_mode(by_mode["live"]),
        updated_at=max((s.as_of for s in summaries), default=None),
    )


# -- GET /portfolio/performance ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Held:
    equity: Decimal
    epoch: int


def combined_curve(hours: Iterable[HourEntries]) -> list[AccountCurvePoint]:
    """The hourly sum of every strategy's latest equity, with the hour's flows and the time-weighted index.

    A strategy's first entry, or its first of a new epoch, brings its bankroll in (and takes the old
    epoch's equity out); a deletion takes its last equity out. The hour's return is the change of equity
    not explained by flows: (equity - previous - flow) / (previous + inflow), so none of them is a gain.
    """
    held: dict[str, _Held] = {}
    points: list[AccountCurvePoint] = []
    previous = ZERO
    index = Decimal(1)
    for hour in sorted(hours, key=lambda h: h.hour):
        flow = ZERO
        for strategy_id, entry in sorted(hour.entries.items()):
            if strategy_id in hour.deleted:
                continue
            epoch = int(entry.get("epoch", 0))
            known = held.get(strategy_id)
            if known is None or known.epoch != epoch:
                flow += Decimal(entry["bankroll"]) - (known.equity if known else ZERO)
            held[strategy_id] = _Held(equity=Decimal(entry["equity"]), epoch=epoch)
        for strategy_id in sorted(hour.deleted):
            gone = held.pop(strategy_id, None)
            if gone is not None:
                flow -= gone.equity
        total = sum((h.equity for h in held.values()), ZERO)
        base = previous + max(flow, ZERO)
        if base > ZERO:
            index = index * (1 + (total - previous - flow) / base)
        points.append(
            AccountCurvePoint(at=hour.hour, equity_usd=usd(total), flow_usd=usd(flow), twr_index=index)
        )
        previous = total
    return points


def account_performance(owner: str, *, now: datetime, views: AccountViewRepository) -> AccountPerformance:
    """The combined hourly curve (paper) and its metrics from time-weighted returns."""
    curve = combined_curve(views.hours(owner))
    if not curve:
        return AccountPerformance(
            equity_usd=ZERO,
            time_weighted_return=None,
            max_drawdown_relative=ZERO,
            max_drawdown_start=None,
            max_drawdown_end=None,
            trading_days=0,
            sharpe=None,
            sortino=None,
            calmar=None,
            cagr=None,
        )
    running = RunningDrawdown.opening(Decimal(1), curve[0].at)
    for point in curve:
        running = running.fold(point.twr_index, point.at)
    worst = running.largest_relative
    largest = running.largest_absolute
    index_points = [
        EquityPoint(at=p.at, equity_usd=p.twr_index, cash_usd=ZERO, positions_value_usd=ZERO) for p in curve
    ]
    closes = daily_closes(index_points, start=(curve[0].at, Decimal(1)), now=now)
    returns = [today / yesterday - 1 for yesterday, today in pairwise(closes) if yesterday]
    ratios = daily_ratios(returns, growth=closes[-1], relative_drawdown=largest.relative if largest else ZERO)
    return AccountPerformance(
        equity_usd=curve[-1].equity_usd,
        time_weighted_return=ratio(curve[-1].twr_index - 1),
        max_drawdown_relative=ratio(worst.relative) if worst else ZERO,
        max_drawdown_start=worst.peak_at if worst else None,
        max_drawdown_end=worst.trough_at if worst else None,
        trading_days=ratios.days,
        sharpe=ratios.sharpe,
        sortino=ratios.sortino,
        calmar=ratios.calmar,
        cagr=ratios.cagr,
        equity_curve=[p.model_copy(update={"twr_index": ratio(p.twr_index)}) for p in curve],
    )


# -- GET /strategies/compare -------------------------------------------------------------------------------


def parse_compare_ids(raw: str) -> list[str]:
    """2 to 10 distinct ids, comma-separated; ValidationFailed (422) otherwise."""
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if len(set(ids)) != len(ids) or not COMPARE_MIN <= len(ids) <= COMPARE_MAX:
        raise ValidationFailed(
            f"ids must name {COMPARE_MIN} to {COMPARE_MAX} distinct strategies, comma-separated",
            details=[{"loc": ["query", "ids"], "msg": "2 to 10 distinct ids", "type": "value_error"}],
        )
    return ids


COMPARED_METRICS = (
    "equity_usd",
    "total_profit_usd",
    "total_profit_pct",
    "closed_trades_count",
    "win_rate",
    "profit_factor",
    "expectancy_usd",
    "max_drawdown_usd",
    "max_drawdown_relative",
    "max_relative_drawdown",
    "sharpe",
    "sortino",
    "calmar",
    "cagr",
    "sqn",
    "fees_paid_usd",
)


def compared(performance: Performance) -> dict[str, Any]:
    """The side-by-side metrics and the curve normalized to the bankroll (1 = the bankroll)."""
    bankroll = performance.bankroll_usd
    return {
        "bankroll_usd": bankroll,
        "metrics": {name: getattr(performance, name) for name in COMPARED_METRICS},
        "normalized_curve": [
            {"at": p.at, "value": ratio(p.equity_usd / bankroll) if bankroll else ZERO}
            for p in performance.equity_curve
        ],
    }


__all__ = [
    "account_performance",
    "account_portfolio",
    "combined_curve",
    "compared",
    "parse_compare_ids",
    "publish_summary",
    "summarize",
]
