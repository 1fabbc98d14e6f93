"""The account-wide view of one user's strategies (issue 14): per-strategy summaries kept by the stream."""

from __future__ import annotations

from pydantic import Field

from engine.models.base import DomainModel, Money, UtcDatetime


class StrategySummary(DomainModel):
    """One strategy's figures as the account view sums them (written by the stream after each sync)."""

    strategy_id: str
    strategy_name: str = ""
    trading_mode: str = "paper"
    epoch: int = 0
    bankroll_usd: Money
    equity_usd: Money
    cash_usd: Money
    realized_pnl_usd: Money
    unrealized_pnl_usd: Money
    total_pnl_usd: Money
    open_positions_count: int = 0
    # cost basis of open positions by market, event and tag (a position counts once under each of its tags)
    exposure_by_market: dict[str, Money] = Field(default_factory=dict)
    exposure_by_event: dict[str, Money] = Field(default_factory=dict)
    exposure_by_tag: dict[str, Money] = Field(default_factory=dict)
    market_questions: dict[str, str] = Field(default_factory=dict)
    as_of: UtcDatetime


class ExposureLine(DomainModel):
    key: str
    label: str | None = None
    exposure_usd: Money


class Exposure(DomainModel):
    total_usd: Money
    by_market: list[ExposureLine] = Field(default_factory=list)
    by_event: list[ExposureLine] = Field(default_factory=list)
    by_tag: list[ExposureLine] = Field(default_factory=list)


class StrategyShare(DomainModel):
    strategy_id: str
    strategy_name: str
    bankroll_usd: Money
    equity_usd: Money
    total_pnl_usd: Money
    share: Money  # of the mode's equity, 0..1


class ModePortfolio(DomainModel):
    """Every strategy of one trading mode together."""

    strategies_count: int
    bankroll_usd: Money
    equity_usd: Money
    cash_usd: Money
    realized_pnl_usd: Money
    unrealized_pnl_usd: Money
    total_pnl_usd: Money
    open_positions_count: int
    exposure: Exposure
    strategies: list[StrategyShare] = Field(default_factory=list)


class AccountPortfolio(DomainModel):
    """GET /portfolio: paper and live apart."""

    paper: ModePortfolio
    live: ModePortfolio
    updated_at: UtcDatetime | None = None


class AccountCurvePoint(DomainModel):
    at: UtcDatetime
    equity_usd: Money  # the sum of the strategies' latest equity at that hour
    flow_usd: Money  # money that entered (+) or left (-) during the hour: deploys, redeploys, deletions
    twr_index: Money  # time-weighted growth of 1 since the first point


class AccountPerformance(DomainModel):
    """GET /portfolio/performance: the combined hourly curve and its time-weighted metrics (paper)."""

    equity_usd: Money
    time_weighted_return: Money | None  # twr_index - 1
    max_drawdown_relative: Money  # of the time-weighted index
    max_drawdown_start: UtcDatetime | None
    max_drawdown_end: UtcDatetime | None
    trading_days: int
    sharpe: Money | None
    sortino: Money | None
    calmar: Money | None
    cagr: Money | None
    equity_curve: list[AccountCurvePoint] = Field(default_factory=list)
