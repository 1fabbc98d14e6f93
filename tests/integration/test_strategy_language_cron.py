"""The 12-node sample graph (every node category) through the cron path on the recorded data: it trades, its
risk memory is kept in the account, and a drawdown past its limit pauses it (auto:max_drawdown) and notifies
the owner once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.models.strategy import NodeGraph, StrategyStatus
from engine.nodes.base import category_of
from engine.nodes.registry import get_node_type
from engine.storage.portfolios import AccountRepository
from engine.storage.strategies import StrategyRepository
from tests.integration.test_executor_exactly_once import logs_and_trades
from tests.integration.test_executor_failures import drain, subscribe_queue
from tests.support.builders import make_strategy
from tests.support.lambda_context import handler_stack

SAMPLE = Path(__file__).resolve().parents[2] / "local" / "samples" / "signals_kelly.json"


def sample_graph(*, max_drawdown_pct: float | None = None) -> NodeGraph:
    graph = json.loads(SAMPLE.read_text())["node_graph"]
    if max_drawdown_pct is not None:  # Kelly stakes are small: a test-sized limit makes a crash reach it
        orc = next(n for n in graph["nodes"] if n["type"] == "ORCHESTRATOR")
        orc["config"]["risk"]["max_drawdown_pause_pct"] = max_drawdown_pct
    return NodeGraph.model_validate(graph)


def test_the_twelve_node_graph_uses_every_category() -> None:
    graph = sample_graph()
    assert len(graph.nodes) == 12
    categories = {category_of(get_node_type(node.type)) for node in graph.nodes}
    assert categories == {"source", "filter", "signal", "logic", "sink"}


def test_twelve_node_graph_trades_through_the_cron_path_and_pauses_on_drawdown() -> None:
    # the recorded markets are live-like at the wall clock (the server serves prices and histories then)
    t0 = datetime.now(UTC).replace(second=0, microsecond=0)
    with handler_stack() as stack:
        # Given the sample strategy (drawdown limit 3%), RUNNING, due now, and a subscriber to the owner inbox
        strategy = make_strategy(
            status=StrategyStatus.RUNNING,
            due_at=t0,
            node_graph=sample_graph(max_drawdown_pct=3),
            owner="owner-12",
            created_at=t0,
        )
        StrategyRepository().put_many([strategy])
        inbox = subscribe_queue(stack)

        # When the first tick runs it
        stack.cron(t0 + timedelta(seconds=2))

        # Then the run completed through all 12 nodes and bought YES sized by half Kelly (<= 100 each)
        logs, trades = logs_and_trades(stack)
        assert len(logs) == 1, logs
        log = logs[0]
        assert (log["status"], log["nodes_executed"]) == ("completed", 12)
        assert {node["node_id"] for node in log["trace"]} >= {n.id for n in sample_graph().nodes}
        buys = [t for t in trades if t["side"] == "BUY"]
        assert buys and all(t["outcome"] == "YES" for t in buys)
        assert all(float(t["notional_usd"]) <= 100 for t in buys)
        account = AccountRepository().get(strategy.strategy_id)
        assert account is not None and account.risk_state is not None
        peak = account.risk_state["peak_equity"]

        # When every held market's YES price collapses and the next tick runs
        for holding in account.positions.values():
            stack.server.set_price(holding.market_id, "0.02")
        stack.cron(t0 + timedelta(minutes=1, seconds=2))

        # Then the strategy paused itself for max drawdown (equity fell over 3% from its peak: the stop losses
        # sold in the same run), kept its peak, and its owner was told once
        stored = StrategyRepository().find(strategy.strategy_id)
        assert stored is not None
        assert stored.status is StrategyStatus.PAUSED and stored.pause_reason == "auto:max_drawdown"
        after = AccountRepository().get(strategy.strategy_id)
        assert after is not None and after.risk_state is not None and after.risk_state["peak_equity"] == peak
        notes: list[dict[str, Any]] = [json.loads(n["Message"]) for n in drain(stack, inbox)]
        assert [(n["pause_reason"], n["owner"]) for n in notes] == [("auto:max_drawdown", "owner-12")]
