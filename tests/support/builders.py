"""Small builders of domain objects for tests: a valid default for every field, overrides by keyword."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from engine.models.execution import ExecutionLog, NodeTrace, RunStatus, execution_id_for
from engine.models.strategy import NodeGraph, Strategy, StrategyStatus
from engine.models.trading import Account, Fill, Side, Trade, TradeReason, trade_id_for

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

EXAMPLE_GRAPH: dict[str, Any] = {
    "nodes": [
        {
            "id": "src",
            "type": "DATA_SOURCE",
            "config": {"source": "polymarket", "active_only": True, "limit": 200},
        },
        {
            "id": "flt",
            "type": "FILTER",
            "config": {
                "conditions": [
                    {"field": "volume", "op": ">=", "value": 10000},
                    {"field": "yes_price", "op": "between", "value": [0.2, 0.8]},
                ]
            },
        },
        {
            "id": "orc",
            "type": "ORCHESTRATOR",
            "config": {
                "outcome": "YES",
                "position_size_usd": 100,
                "max_positions": 5,
                "take_profit_pct": 20,
                "stop_loss_pct": 15,
                # the recorded markets (February 2026) are past their end dates at T0: allowed, so these
                # tests keep proving the run path; the end-date rule has its own tests (test_orchestrator)
                "allow_entries_past_end_date": True,
            },
        },
    ],
    "edges": [{"source": "src", "target": "flt"}, {"source": "flt", "target": "orc"}],
}


# A short backtest (5 hourly slots, no market needed) of a two-node graph: what the backtest quota and
# dead-letter tests start, at a `now` after the recorded February 2026 week.
BACKTEST_NOW = datetime(2026, 2, 8, 12, 0, tzinfo=UTC)
SHORT_BACKTEST: dict[str, Any] = {
    "start": "2026-02-01T00:00:00Z",
    "end": "2026-02-01T05:00:00Z",
    "frequency": "1h",
    "paper_bankroll_usd": 1000,
}
TWO_NODE_GRAPH: dict[str, Any] = {
    "nodes": [
        {
            "id": "src",
            "type": "DATA_SOURCE",
            "config": {"order_by": "end_date", "limit": 10, "active_only": True},
        },
        {"id": "orc", "type": "ORCHESTRATOR", "config": {"outcome": "YES", "position_size_usd": 10}},
    ],
    "edges": [{"source": "src", "target": "orc"}],
}


def make_strategy(
    *,
    owner: str = "user-1",
    status: StrategyStatus = StrategyStatus.DRAFT,
    created_at: datetime = T0,
    due_at: datetime | None = None,
    **overrides: Any,
) -> Strategy:
    """A strategy; RUNNING ones are deployed on `* * * * *` and due at `due_at` (default: created_at)."""
    running = status is StrategyStatus.RUNNING
    values: dict[str, Any] = {
        "strategy_id": str(uuid.uuid4()),
        "strategy_name": "Momentum",
        "node_graph": NodeGraph.model_validate(EXAMPLE_GRAPH),
        "status": status,
        "created_by": owner,
        "created_at": created_at,
        "updated_at": created_at,
    }
    if status is not StrategyStatus.DRAFT:
        values.update(
            execution_mode="SCHEDULED",
            schedule_cron="* * * * *",
            frequency="1m",
            paper_bankroll_usd=Decimal(1000),
        )
    if running:
        values.update(is_active=True, due_at=due_at or created_at, next_execution_at=due_at or created_at)
    values.update(overrides)
    return Strategy(**values)


def make_trade(
    strategy_id: str,
    *,
    seq: int = 1,
    epoch: int = 0,
    slot_key: str = "2026-11-24T12:00:00Z",
    market_id: str = "m1",
    side: Side = Side.BUY,
    shares: Decimal = Decimal(100),
    price: Decimal = Decimal("0.5"),
    fee_usd: Decimal = Decimal("0.25"),
    created_at: datetime = T0,
    **overrides: Any,
) -> Trade:
    values: dict[str, Any] = {
        "trade_id": trade_id_for(strategy_id, slot_key, market_id, "YES", side.value),
        "strategy_id": strategy_id,
        "seq": seq,
        "epoch": epoch,
        "market_id": market_id,
        "token_id": f"tok-{market_id}-yes",
        "outcome": "YES",
        "outcome_label": "Yes",
        "question": f"Will {market_id} happen?",
        "side": side,
        "shares": shares,
        "price": price,
        "fee_usd": fee_usd,
        "notional_usd": shares * price,
        "created_at": created_at,
        "reason": TradeReason.ENTRY if side is Side.BUY else TradeReason.TAKE_PROFIT,
        "fill": Fill(
            levels=1,
            vwap=price,
            best_price=price,
            slippage_bps=Decimal(0),
            book_timestamp=1_764_000_000_000,
            book_hash="h",
        )
        if side is not Side.SETTLE
        else None,
        "slot_key": slot_key,
    }
    values.update(overrides)
    return Trade(**values)


def make_account(
    strategy_id: str, *, bankroll: Decimal = Decimal(1000), cash: Decimal | None = None, **overrides: Any
) -> Account:
    values: dict[str, Any] = {
        "strategy_id": strategy_id,
        "bankroll_usd": bankroll,
        "cash_usd": bankroll if cash is None else cash,
    }
    values.update(overrides)
    return Account(**values)


def make_log(
    strategy_id: str,
    *,
    scheduled_for: datetime = T0,
    status: RunStatus = RunStatus.COMPLETED,
    trigger: str = "schedule",
    executed_at: datetime | None = None,
    kind: str = "run",
    **overrides: Any,
) -> ExecutionLog:
    values: dict[str, Any] = {
        "execution_id": execution_id_for(strategy_id, scheduled_for.isoformat(), kind),
        "strategy_id": strategy_id,
        "status": status,
        "scheduled_for": scheduled_for,
        "trigger": trigger,
        "executed_at": executed_at or scheduled_for,
        "execution_time_ms": 120,
        "nodes_executed": 3,
        "trace": [
            NodeTrace(
                node_id="flt",
                type="FILTER",
                received=10,
                kept=2,
                decisions=[{"market_id": "m1", "kept": True, "yes_price": 0.42}],
            )
        ],
    }
    values.update(overrides)
    return ExecutionLog(**values)
