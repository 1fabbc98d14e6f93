"""Runs the v1 graphs (the samples, the demo's, the suite's example) on the recorded data at a fixed time and
returns what they decided and filled: orders, trades, the account after. `python -m tests.support.v1_golden`
prints it as JSON; tests/fixtures/v1/golden.json was written by the code before strategy language v2 and the
test compares today's code against it."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.broker import PaperBroker
from engine.clock import Deadline
from engine.graph.runner import run_graph
from engine.market.snapshot import MarketSnapshot
from engine.models.strategy import NodeGraph
from engine.models.trading import Account
from engine.nodes.base import RunContext
from local.polymarket_server import RecordedPolymarketServer
from tests.support.polymarket import client_for

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 2, 7, 12, 50, tzinfo=UTC)


def _graph(
    source: dict[str, Any], conditions: list[dict[str, Any]], orchestrator: dict[str, Any]
) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "src", "type": "DATA_SOURCE", "config": {"source": "polymarket", **source}},
            {"id": "flt", "type": "FILTER", "config": {"conditions": conditions}},
            {"id": "orc", "type": "ORCHESTRATOR", "config": orchestrator},
        ],
        "edges": [{"source": "src", "target": "flt"}, {"source": "flt", "target": "orc"}],
    }


def v1_graphs() -> dict[str, dict[str, Any]]:
    samples = ROOT / "local" / "samples"
    return {
        "design_example": json.loads((samples / "design_example.json").read_text())["node_graph"],
        "cheaper_side": json.loads((samples / "cheaper_side.json").read_text())["node_graph"],
        "demo_scalper": _graph(
            {"limit": 50, "order_by": "volume"},
            [
                {"field": "volume", "op": ">=", "value": 100000},
                {"field": "yes_price", "op": "between", "value": [0.1, 0.9]},
            ],
            {
                "outcome": "YES",
                "position_size_usd": 50,
                "max_positions": 3,
                "take_profit_pct": 8,
                "stop_loss_pct": 8,
            },
        ),
        "demo_hourly": _graph(
            {"limit": 300, "order_by": "end_date", "ascending": True},
            [
                {"field": "yes_price", "op": "between", "value": [0.03, 0.25]},
                {"field": "liquidity", "op": ">=", "value": 1000},
                {"field": "hours_to_close", "op": "<=", "value": 48},
            ],
            {"outcome": "NO", "position_size_pct": 10, "max_positions": 6, "cash_reserve_pct": 20},
        ),
        "tagged": _graph(
            {"tag": "crypto", "limit": 20},
            [{"field": "category", "op": "in", "value": ["crypto", "business"]}],
            {"outcome": "CHEAPER", "position_size_usd": 20, "exit_hours_before_close": 24},
        ),
    }


def run_all() -> dict[str, Any]:
    out: dict[str, Any] = {}
    with RecordedPolymarketServer(host="127.0.0.1", port=0, clock=lambda: AT) as server:
        for name, graph_body in v1_graphs().items():
            # The golden predates issue 11's entry rule (no entry past a market's end date unless the
            # orchestrator allows it): the graphs opt in, so the comparison isolates the v2 language.
            for node in graph_body["nodes"]:
                if node["type"] == "ORCHESTRATOR":
                    node["config"] = {**node["config"], "allow_entries_past_end_date": True}
            graph = NodeGraph.model_validate(graph_body)
            snapshot = MarketSnapshot(
                client_for(server), fetched_at=AT, max_markets=1000, deadline=Deadline(30)
            )
            # a first run opens positions; the second, an hour later, exits or holds them
            account = Account(strategy_id=name, bankroll_usd=Decimal(1000), cash_usd=Decimal(1000))
            runs = []
            for step in range(2):
                at = AT + timedelta(hours=step)
                ctx = RunContext(name, at, f"{name}-{step}", snapshot, account, Decimal(1000), Deadline(30))
                result = run_graph(graph, ctx)
                filled = PaperBroker().fill(
                    result.orders, account, snapshot, strategy_id=name, slot_key=ctx.slot_key, now=at
                )
                account = filled.account
                runs.append(
                    {
                        "status": result.status,
                        "orders": [o.model_dump(mode="json") for o in result.orders],
                        "trades": [
                            {k: v for k, v in t.model_dump(mode="json").items() if k != "fill"}
                            for t in filled.trades
                        ],
                        "orchestrator": next(t.decisions for t in result.trace if t.type == "ORCHESTRATOR"),
                    }
                )
            out[name] = {
                "runs": runs,
                "account": account.model_dump(mode="json", exclude={"risk_state"}),
            }
    return out


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run_all(), indent=1, sort_keys=True, default=str) + "\n")
