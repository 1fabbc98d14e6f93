"""Replaying past slots through the live run path: the same graph runner, nodes, broker, ledger and metrics.

Each slot is decided by `services.execution.decide_run` with `now` = the slot and the market seen through a
`SlotView` of the past. The state carried from one slot to the next is the account alone (a checkpoint), so a
period can be cut into chunks and resumed anywhere: the same slots from the same checkpoint give the same
trades with the same ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import Field

from engine.backtest.source import HistoricalUniverse
from engine.broker import PaperBroker
from engine.clock import Deadline, iso
from engine.ledger import LedgerState, replay
from engine.models.base import DomainModel, Money, UtcDatetime
from engine.models.portfolio import EquityPoint
from engine.models.strategy import NodeGraph, Strategy
from engine.models.trading import Account, Trade
from engine.money import ZERO, usd
from engine.performance import Performance, compute_performance
from engine.portfolio import Mark, build_portfolio
from engine.services.execution import RunSlot, decide_run

SLOT_DEADLINE_SECONDS = 60.0


class MarkOut(DomainModel):
    price: Money
    status: str


class Checkpoint(DomainModel):
    """Where a backtest stands: the account after `slots_done` slots and the marks of its holdings."""

    account: Account
    slots_done: int = 0
    marks: dict[str, MarkOut] = Field(default_factory=dict)
    last_slot: UtcDatetime | None = None

    @classmethod
    def opening(cls, backtest_id: str, bankroll: Decimal) -> Checkpoint:
        return cls(
            account=Account(strategy_id=backtest_id, bankroll_usd=bankroll, cash_usd=bankroll), marks={}
        )


class SlotRecord(DomainModel):
    """One slot's execution, as GET /backtests/{id}/executions lists it."""

    scheduled_for: UtcDatetime
    status: str
    nodes_executed: int
    trades_created: int
    error_code: str | None = None
    error_message: str | None = None


@dataclass
class ChunkResult:
    checkpoint: Checkpoint
    trades: list[Trade] = field(default_factory=list)
    curve: list[EquityPoint] = field(default_factory=list)
    executions: list[SlotRecord] = field(default_factory=list)  # slots that traded or did not complete
    failed_slots: int = 0


@dataclass
class _Broker:
    broker: PaperBroker


def backtest_strategy(backtest_id: str, graph: NodeGraph, *, owner: str, at: datetime) -> Strategy:
    """The strategy a backtest runs: its own id, so trade ids never collide with the live strategy's."""
    return Strategy(
        strategy_id=backtest_id,
        strategy_name="backtest",
        node_graph=graph,
        created_by=owner,
        created_at=at,
        updated_at=at,
    )


def equity_of(account: Account, marks: Mapping[str, MarkOut]) -> Decimal:
    """Cash plus each holding at its mark (at cost until it has one), as the portfolio values it."""
    value = account.cash_usd
    for token_id, holding in account.positions.items():
        mark = marks.get(token_id)
        value += usd(holding.shares * mark.price) if mark is not None else holding.cost_usd
    return usd(value)


def run_slots(
    strategy: Strategy,
    universe: HistoricalUniverse,
    slots: Sequence[datetime],
    checkpoint: Checkpoint,
    *,
    broker: PaperBroker | None = None,
) -> ChunkResult:
    """Run `slots` in order from `checkpoint`; the result carries the checkpoint after the last of them."""
    engine = _Broker(broker or PaperBroker())
    account = checkpoint.account
    marks = dict(checkpoint.marks)
    result = ChunkResult(checkpoint=checkpoint)
    for slot in slots:
        view = universe.at(slot)
        decided = decide_run(
            engine,
            strategy,
            account=account,
            slot=RunSlot.scheduled(slot),
            markets=view,
            deadline=Deadline(SLOT_DEADLINE_SECONDS),
            now=slot,
        )
        account = decided.account_after
        result.trades.extend(decided.trades)
        if decided.marks is not None:
            marks = {t: MarkOut(price=m["price"], status=m["status"]) for t, m in decided.marks.items()}
        marks = {t: m for t, m in marks.items() if t in account.positions}
        equity = equity_of(account, marks)
        result.curve.append(
            EquityPoint(
                at=slot,
                equity_usd=equity,
                cash_usd=account.cash_usd,
                positions_value_usd=usd(equity - account.cash_usd),
            )
        )
        status = decided.status.value
        if status != "completed":
            result.failed_slots += 1
        if decided.trades or status != "completed":
            result.executions.append(
                SlotRecord(
                    scheduled_for=slot,
                    status=status,
                    nodes_executed=decided.graph.nodes_executed,
                    trades_created=len(decided.trades),
                    error_code=decided.error_code,
                    error_message=decided.error_message,
                )
            )
    result.checkpoint = Checkpoint(
        account=account,
        slots_done=checkpoint.slots_done + len(slots),
        marks=marks,
        last_slot=slots[-1] if slots else checkpoint.last_slot,
    )
    return result


def performance_of(
    backtest_id: str,
    bankroll: Decimal,
    trades: Iterable[Trade],
    curve: Sequence[EquityPoint],
    checkpoint: Checkpoint,
    *,
    at: datetime,
) -> tuple[Performance, LedgerState]:
    """The performance document of a live strategy, from the backtest's ledger, curve and last marks."""
    state = replay(bankroll, trades)
    marks = {
        t: Mark(
            price=m.price,
            status="awaiting_resolution" if m.status == "awaiting_resolution" else "open",
            at=at,
        )
        for t, m in checkpoint.marks.items()
    }
    portfolio = build_portfolio(state, strategy_id=backtest_id, marks=marks, updated_at=at)
    performance = compute_performance(state, curve, bankroll=bankroll, open_positions=portfolio.positions)
    return performance, state


def ledger_summary(trades: Sequence[Trade]) -> list[dict[str, Any]]:
    """Trades reduced to what identifies them (tests compare chunked and unchunked ledgers with it)."""
    return [
        {
            "trade_id": t.trade_id,
            "seq": t.seq,
            "side": t.side.value,
            "shares": str(t.shares),
            "price": str(t.price),
            "at": iso(t.created_at),
        }
        for t in trades
    ]


__all__ = [
    "ZERO",
    "Checkpoint",
    "ChunkResult",
    "SlotRecord",
    "backtest_strategy",
    "equity_of",
    "ledger_summary",
    "performance_of",
    "run_slots",
]
