"""Orders, fills, paper trades and the per-strategy account (DESIGN 2, 6)."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from engine.models.base import DomainModel, FrozenModel, Money, UtcDatetime

OutcomeSide = Literal["YES", "NO"]


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    SETTLE = "SETTLE"


class TradeReason(StrEnum):
    ENTRY = "entry"
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    TIME_EXIT = "time_exit"
    RESOLUTION = "resolution"


class Order(FrozenModel):
    """What the orchestrator decides: buy `usd` worth, or sell `shares`, of one outcome token."""

    market_id: str
    token_id: str
    outcome: OutcomeSide
    outcome_label: str
    question: str
    side: Literal["BUY", "SELL"]
    reason: TradeReason
    usd: Money | None = None  # BUY: cash to spend (before fees)
    shares: Money | None = None  # SELL: shares to sell
    end_date: UtcDatetime | None = None


class Fill(FrozenModel):
    """How a BUY or SELL was priced: what book, which levels, how far from the best price."""

    levels: int
    vwap: Money
    best_price: Money
    slippage_bps: Money
    book_timestamp: int  # the book's own `timestamp` (ms since epoch)
    book_hash: str
    synthetic_book: bool = False


class Trade(DomainModel):
    trade_id: str
    strategy_id: str
    seq: int = Field(ge=1)  # per-strategy ledger position, contiguous from 1 within an epoch
    epoch: int = 0  # portfolio epoch: a fresh redeploy starts a new one
    market_id: str
    token_id: str
    outcome: OutcomeSide
    outcome_label: str
    question: str = ""
    side: Side
    shares: Money
    price: Money
    fee_usd: Money
    notional_usd: Money
    created_at: UtcDatetime
    reason: TradeReason
    fill: Fill | None = None
    slot_key: str = ""
    execution_id: str | None = None
    deployment_id: str | None = None
    # the market's event and first tags at entry, for account-wide exposure (issue 14)
    event_id: str | None = None
    tags: list[str] = Field(default_factory=list)

    @property
    def cash_delta(self) -> Decimal:
        """BUY costs notional + fee; SELL and SETTLE bring notional - fee."""
        if self.side is Side.BUY:
            return -(self.notional_usd + self.fee_usd)
        return self.notional_usd - self.fee_usd


def trade_id_for(strategy_id: str, slot_key: str, market_id: str, outcome: str, side: str) -> str:
    """Deterministic: a retried run of the same slot produces the same ids, so it cannot trade twice."""
    raw = "|".join((strategy_id, slot_key, market_id, outcome, side))
    return "t_" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def settlement_trade_id(strategy_id: str, market_id: str, outcome: str, epoch: int = 0) -> str:
    """Settlement ids use strategy, market and outcome only, so a market settles once."""
    raw = "|".join((strategy_id, "settle", market_id, outcome, str(epoch)))
    return "s_" + hashlib.sha256(raw.encode()).hexdigest()[:32]


class Holding(DomainModel):
    """Shares of one outcome token held by a strategy; `cost_usd` is the cash paid (notional + fees)."""

    token_id: str
    market_id: str
    outcome: OutcomeSide
    outcome_label: str
    question: str = ""
    shares: Money
    cost_usd: Money
    opened_at: UtcDatetime
    end_date: UtcDatetime | None = None
    realized_pnl_usd: Money = Decimal(0)  # booked so far by partial sells of this position
    bought_shares: Money = Decimal(0)
    bought_cost_usd: Money = Decimal(0)
    # notional paid (fees excluded), so the entry price per share can be told apart from fees;
    # None on holdings stored before this was tracked
    bought_notional_usd: Money | None = None
    event_id: str | None = None  # from the opening trade (account-wide exposure by event and tag)
    tags: list[str] = Field(default_factory=list)

    @property
    def avg_price(self) -> Decimal:
        return self.cost_usd / self.shares if self.shares else Decimal(0)


class Account(DomainModel):
    """The per-strategy paper account the orchestrator trades against (never stale: written with trades)."""

    strategy_id: str
    epoch: int = 0
    bankroll_usd: Money
    cash_usd: Money
    positions: dict[str, Holding] = Field(default_factory=dict)  # by token_id
    trade_seq: int = 0  # number of trades in this epoch (the last trade's seq)
    deployment_id: str | None = None  # the deployment its trades belong to (settlements take it from here)
    version: int = 0  # optimistic concurrency counter of the stored item
    # what the orchestrator's risk rules remember between runs (equity peak, day start, exits); only
    # strategies using those rules have it, so v1 account items are unchanged
    risk_state: dict[str, Any] | None = None

    def holding_for_market(self, market_id: str) -> Holding | None:
        for holding in self.positions.values():
            if holding.market_id == market_id:
                return holding
        return None
