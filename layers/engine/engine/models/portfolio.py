"""The portfolio read model kept by the stream (DESIGN 2)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from engine.models.base import DomainModel, Money, UtcDatetime


class PortfolioPosition(DomainModel):
    token_id: str
    market_id: str
    question: str
    outcome: Literal["YES", "NO"]
    outcome_label: str
    shares: Money
    avg_price: Money
    cost_usd: Money
    mark_price: Money | None
    value_usd: Money
    unrealized_pnl_usd: Money
    status: Literal["open", "awaiting_resolution"]


class Portfolio(DomainModel):
    strategy_id: str
    bankroll_usd: Money
    cash_usd: Money
    equity_usd: Money
    positions_value_usd: Money
    realized_pnl_usd: Money
    unrealized_pnl_usd: Money
    total_pnl_usd: Money
    roi_pct: Money
    win_rate: Money | None = None
    wins: int = 0
    losses: int = 0
    fees_paid_usd: Money = Decimal(0)
    open_positions_count: int = 0
    settled_markets_count: int = 0
    updated_at: UtcDatetime | None = None
    positions: list[PortfolioPosition] = Field(default_factory=list)


class EquityPoint(DomainModel):
    at: UtcDatetime
    equity_usd: Money
    cash_usd: Money
    positions_value_usd: Money
    # bankroll + realized P&L: the balance Freqtrade's metrics start from (None on points older than it)
    realized_equity_usd: Money | None = None
