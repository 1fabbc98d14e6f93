"""The ledger arithmetic: the one place where a trade moves cash and shares.

The account (what the orchestrator trades against), the portfolio read model and the repair tool all apply
trades with `apply_trade`, so the portfolio equals a replay of the ledger by construction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from engine.models.trading import Account, Holding, Side, Trade
from engine.money import ZERO, usd


class LedgerError(ValueError):
    """A trade that cannot be applied: it would make cash negative or sell shares that are not held."""


@dataclass(frozen=True)
class ClosedPosition:
    """One round trip (entry to the last share sold or settled): what Freqtrade calls a trade."""

    token_id: str
    market_id: str
    outcome: str
    question: str
    opened_at: datetime
    closed_at: datetime
    shares: Decimal  # shares bought over the position's life
    cost_usd: Decimal  # cash paid for them (notional + fees)
    proceeds_usd: Decimal  # cash received (notional - fees)
    pnl_usd: Decimal
    entry_price: Decimal  # volume-weighted price paid per share, fees included
    exit_reason: str
    settled_price: Decimal | None  # the resolution price for SETTLE exits
    entry_notional_usd: Decimal | None = None  # notional paid for the shares bought, fees excluded

    @property
    def pnl_ratio(self) -> Decimal:
        return self.pnl_usd / self.cost_usd if self.cost_usd else ZERO

    @property
    def entry_price_per_share(self) -> Decimal:
        """The price paid per share, fees excluded when the ledger tracked the notional (it does for every
        position opened since it started to), else fees included: the forecast the entry expressed."""
        if self.entry_notional_usd is not None and self.shares > ZERO:
            return self.entry_notional_usd / self.shares
        return self.entry_price


RECENT_CLOSED_KEPT = 50  # closed positions kept in full for display; the aggregates below cover them all


@dataclass
class ClosedStats:
    """Running aggregates over every closed position, so the performance metrics stay exact while the
    stored state stays bounded (one DynamoDB item is limited to 400 KB; a busy strategy closes thousands)."""

    count: int = 0
    winners: int = 0  # pnl > 0
    losers: int = 0  # pnl < 0 (the rest are draws)
    gross_profit_usd: Decimal = ZERO
    gross_loss_usd: Decimal = ZERO  # a positive amount
    pnl_usd: Decimal = ZERO
    holding_seconds: Decimal = ZERO
    best: ClosedPosition | None = None  # by pnl / cost; the first of equals is kept
    worst: ClosedPosition | None = None
    brier_sum: Decimal = ZERO  # over positions closed by settlement
    brier_count: int = 0
    # sum of pnl^2 for SQN's spread; None for a state stored before it was kept (SQN is then unknown)
    pnl_squares_usd: Decimal | None = ZERO

    def add(self, closed: ClosedPosition) -> None:
        self.count += 1
        self.pnl_usd += closed.pnl_usd
        if self.pnl_squares_usd is not None:
            self.pnl_squares_usd += closed.pnl_usd * closed.pnl_usd
        if closed.pnl_usd > ZERO:
            self.winners += 1
            self.gross_profit_usd += closed.pnl_usd
        elif closed.pnl_usd < ZERO:
            self.losers += 1
            self.gross_loss_usd -= closed.pnl_usd
        delta = closed.closed_at - closed.opened_at
        self.holding_seconds += Decimal(delta.days * 86_400 + delta.seconds) + Decimal(
            delta.microseconds
        ) / Decimal(1_000_000)
        if self.best is None or closed.pnl_ratio > self.best.pnl_ratio:
            self.best = closed
        if self.worst is None or closed.pnl_ratio < self.worst.pnl_ratio:
            self.worst = closed
        if closed.settled_price is not None:
            self.brier_sum += (closed.entry_price_per_share - closed.settled_price) ** 2
            self.brier_count += 1


@dataclass
class LedgerState:
    bankroll_usd: Decimal
    cash_usd: Decimal
    positions: dict[str, Holding] = field(default_factory=dict)
    realized_pnl_usd: Decimal = ZERO
    fees_paid_usd: Decimal = ZERO
    wins: int = 0
    losses: int = 0
    applied_seq: int = 0
    trades_count: int = 0
    closed: list[ClosedPosition] = field(default_factory=list)  # the most recent RECENT_CLOSED_KEPT
    closed_stats: ClosedStats = field(default_factory=ClosedStats)  # over every closed position
    settled_markets: set[str] = field(default_factory=set)
    last_trade_at: datetime | None = None

    @classmethod
    def opening(cls, bankroll_usd: Decimal) -> LedgerState:
        return cls(bankroll_usd=bankroll_usd, cash_usd=bankroll_usd)


def apply_to_positions(
    cash: Decimal, positions: dict[str, Holding], trade: Trade
) -> tuple[Decimal, Holding | None]:
    """Apply one trade to cash and holdings (mutating `positions`); returns the new cash and, when the
    trade closed a position, the holding as it was just before it closed (with the realized P&L booked)."""
    cash = usd(cash + trade.cash_delta)
    if cash < ZERO:
        raise LedgerError(f"trade {trade.trade_id} would take cash to {cash}")
    holding = positions.get(trade.token_id)
    if trade.side is Side.BUY:
        cost = usd(trade.notional_usd + trade.fee_usd)
        if holding is None:
            positions[trade.token_id] = Holding(
                token_id=trade.token_id,
                market_id=trade.market_id,
                outcome=trade.outcome,
                outcome_label=trade.outcome_label,
                question=trade.question,
                shares=trade.shares,
                cost_usd=cost,
                opened_at=trade.created_at,
                bought_shares=trade.shares,
                bought_cost_usd=cost,
                bought_notional_usd=trade.notional_usd,
                event_id=trade.event_id,
                tags=list(trade.tags),
            )
        else:
            holding.shares += trade.shares
            holding.cost_usd = usd(holding.cost_usd + cost)
            holding.bought_shares += trade.shares
            holding.bought_cost_usd = usd(holding.bought_cost_usd + cost)
            if holding.bought_notional_usd is not None:
                holding.bought_notional_usd += trade.notional_usd
        return cash, None
    # SELL or SETTLE
    if holding is None or trade.shares > holding.shares:
        held = holding.shares if holding else ZERO
        raise LedgerError(
            f"trade {trade.trade_id} sells {trade.shares} shares of {trade.token_id}; held {held}"
        )
    released = usd(holding.cost_usd * trade.shares / holding.shares)
    proceeds = usd(trade.notional_usd - trade.fee_usd)
    holding.realized_pnl_usd = usd(holding.realized_pnl_usd + proceeds - released)
    holding.shares -= trade.shares
    holding.cost_usd = usd(holding.cost_usd - released)
    if holding.shares == ZERO:
        del positions[trade.token_id]
        return cash, holding
    return cash, None


def apply_trade(state: LedgerState, trade: Trade) -> None:
    """Apply one trade to a ledger state (mutating it). Raises LedgerError and leaves the state unchanged
    when the trade cannot be applied."""
    before = {k: v.model_copy() for k, v in state.positions.items()}
    try:
        cash, closed = apply_to_positions(state.cash_usd, state.positions, trade)
    except LedgerError:
        state.positions = before
        raise
    previous_realized = before[trade.token_id].realized_pnl_usd if trade.token_id in before else ZERO
    if trade.side is not Side.BUY:
        holding_after = state.positions.get(trade.token_id)
        realized_now = (
            closed.realized_pnl_usd if closed else holding_after.realized_pnl_usd if holding_after else ZERO
        )
        state.realized_pnl_usd = usd(state.realized_pnl_usd + realized_now - previous_realized)
    state.cash_usd = cash
    state.fees_paid_usd = usd(state.fees_paid_usd + trade.fee_usd)
    state.applied_seq = max(state.applied_seq, trade.seq)
    state.trades_count += 1
    state.last_trade_at = trade.created_at
    if trade.side is Side.SETTLE:
        state.settled_markets.add(trade.market_id)
    if closed is not None:
        if closed.realized_pnl_usd > ZERO:
            state.wins += 1
        else:
            state.losses += 1
        record = ClosedPosition(
            token_id=closed.token_id,
            market_id=closed.market_id,
            outcome=closed.outcome,
            question=closed.question,
            opened_at=closed.opened_at,
            closed_at=trade.created_at,
            shares=closed.bought_shares,
            cost_usd=closed.bought_cost_usd,
            proceeds_usd=usd(closed.bought_cost_usd + closed.realized_pnl_usd),
            pnl_usd=closed.realized_pnl_usd,
            entry_price=(closed.bought_cost_usd / closed.bought_shares) if closed.bought_shares else ZERO,
            exit_reason=trade.reason.value,
            settled_price=trade.price if trade.side is Side.SETTLE else None,
            entry_notional_usd=closed.bought_notional_usd,
        )
        state.closed_stats.add(record)
        state.closed.append(record)
        del state.closed[:-RECENT_CLOSED_KEPT]


def replay(bankroll_usd: Decimal, trades: Iterable[Trade]) -> LedgerState:
    """The ledger state after applying `trades` in seq order from the bankroll."""
    state = LedgerState.opening(bankroll_usd)
    for trade in sorted(trades, key=lambda t: t.seq):
        apply_trade(state, trade)
    return state


def apply_to_account(account: Account, trades: Iterable[Trade]) -> Account:
    """A new account with `trades` applied (the input is not changed). Raises LedgerError."""
    positions = {k: v.model_copy() for k, v in account.positions.items()}
    cash = account.cash_usd
    seq = account.trade_seq
    for trade in trades:
        cash, _ = apply_to_positions(cash, positions, trade)
        seq = max(seq, trade.seq)
    return account.model_copy(update={"cash_usd": cash, "positions": positions, "trade_seq": seq})
