"""The graph runner: topological order, inputs along edges, orders, per-node trace, deadline, failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from engine.clock import Deadline
from engine.errors import MarketDataUnavailable
from engine.graph.runner import cap_trace, run_graph
from engine.graph.validate import validate_graph
from engine.market.types import Market
from engine.models.execution import NodeTrace
from engine.models.strategy import NodeGraph
from engine.models.trading import Order, TradeReason
from engine.nodes import registry
from engine.nodes.base import NodeOutput, RunContext
from tests.support.builders import EXAMPLE_GRAPH
from tests.support.markets import make_context, make_market


class NodeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = 0
    keep: list[str] | None = None


class ManualDeadline(Deadline):
    """A deadline the test expires at a chosen moment, so timing never makes a test flaky."""

    def __init__(self) -> None:
        super().__init__(3600)
        self.passed = False

    def expired(self) -> bool:
        return self.passed


class _TestNode:
    config_model: ClassVar[type[BaseModel]] = NodeConfig
    is_source: ClassVar[bool] = False
    is_sink: ClassVar[bool] = False


class Keep(_TestNode):
    """Passes on the markets named in `keep` (all when None) and records what it received."""

    type_name: ClassVar[str] = "TEST_KEEP"

    def run(self, config: NodeConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        kept = [m for m in inputs if config.keep is None or m.market_id in config.keep]
        return NodeOutput(markets=kept, decisions=[{"received": [m.market_id for m in inputs]}])


class Sink(_TestNode):
    """Buys $10 of YES in every market it gets."""

    type_name: ClassVar[str] = "TEST_SINK"
    is_sink: ClassVar[bool] = True

    def run(self, config: NodeConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        orders = [
            Order(
                market_id=m.market_id,
                token_id=m.outcomes[0].token_id,
                outcome="YES",
                outcome_label=m.outcomes[0].label,
                question=m.question,
                side="BUY",
                reason=TradeReason.ENTRY,
                usd=Decimal(10),
            )
            for m in inputs
        ]
        return NodeOutput(orders=orders, decisions=[{"buy": m.market_id} for m in inputs])


class Boom(_TestNode):
    type_name: ClassVar[str] = "TEST_BOOM"

    def run(self, config: NodeConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        raise ZeroDivisionError("division by zero")


class Outage(_TestNode):
    type_name: ClassVar[str] = "TEST_OUTAGE"

    def run(self, config: NodeConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        raise MarketDataUnavailable("gamma /markets: HTTP 503 after 3 attempts")


class Chatty(_TestNode):
    """Emits `n` decisions of about 1 KB each."""

    type_name: ClassVar[str] = "TEST_CHATTY"

    def run(self, config: NodeConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        return NodeOutput(markets=inputs, decisions=[{"i": i, "why": "x" * 1000} for i in range(config.n)])


class Expire(_TestNode):
    """Uses up the run's time."""

    type_name: ClassVar[str] = "TEST_EXPIRE"

    def run(self, config: NodeConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        assert isinstance(ctx.deadline, ManualDeadline)
        ctx.deadline.passed = True
        return NodeOutput(markets=inputs)


TEST_TYPES = (Keep, Sink, Boom, Outage, Chatty, Expire)


@pytest.fixture(autouse=True)
def _test_types() -> Iterator[None]:
    for node_type in TEST_TYPES:
        registry.register(node_type)
    yield
    for node_type in TEST_TYPES:
        registry.unregister(node_type.type_name)


MARKETS = [make_market(i, volume=v) for i, v in (("a", 400), ("b", 300), ("c", 200), ("d", 100))]


def graph(nodes: list[tuple[str, str, dict[str, Any]]], edges: list[tuple[str, str]]) -> NodeGraph:
    return NodeGraph.model_validate(
        {
            "nodes": [{"id": i, "type": t, "config": c} for i, t, c in nodes],
            "edges": [{"source": s, "target": t} for s, t in edges],
        }
    )


SRC = ("src", "DATA_SOURCE", {})
SINK = ("out", "TEST_SINK", {})


def test_runs_in_topological_order_whatever_the_listed_order() -> None:
    # Given nodes listed sink first, source last
    g = graph([SINK, ("k", "TEST_KEEP", {}), SRC], [("src", "k"), ("k", "out")])
    # When run
    result = run_graph(g, make_context(MARKETS))
    # Then they ran source, keep, sink, and the run completed
    assert result.status == "completed"
    assert [t.node_id for t in result.trace] == ["src", "k", "out"]
    assert result.nodes_executed == 3
    assert (result.error_code, result.error_message) == (None, None)


def test_independent_nodes_run_in_listed_order() -> None:
    # Given two branches listed k2 before k1
    g = graph(
        [SRC, ("k2", "TEST_KEEP", {}), ("k1", "TEST_KEEP", {}), SINK],
        [("src", "k1"), ("src", "k2"), ("k1", "out"), ("k2", "out")],
    )
    # When run / Then ties are broken by the listed order
    assert [t.node_id for t in run_graph(g, make_context(MARKETS)).trace] == ["src", "k2", "k1", "out"]


def test_a_node_with_several_inputs_gets_their_union_without_duplicates() -> None:
    # Given two branches keeping {c, a} and {b, c} (in market order), both feeding one node
    g = graph(
        [
            SRC,
            ("left", "TEST_KEEP", {"keep": ["a", "c"]}),
            ("right", "TEST_KEEP", {"keep": ["b", "c"]}),
            ("merge", "TEST_KEEP", {}),
            SINK,
        ],
        [("src", "left"), ("src", "right"), ("left", "merge"), ("right", "merge"), ("merge", "out")],
    )
    # When run
    result = run_graph(g, make_context(MARKETS))
    # Then merge received a, c (from left) then b (from right), each once
    merge = next(t for t in result.trace if t.node_id == "merge")
    assert merge.decisions == [{"received": ["a", "c", "b"]}]
    assert (merge.received, merge.kept) == (3, 3)


def test_the_orchestrators_orders_are_the_runs_orders() -> None:
    # Given the real DATA_SOURCE and FILTER in front of a sink
    flt = ("flt", "FILTER", {"conditions": [{"field": "volume", "op": ">=", "value": 250}]})
    g = graph([SRC, flt, SINK], [("src", "flt"), ("flt", "out")])
    # When run
    result = run_graph(g, make_context(MARKETS))
    # Then the orders are the sink's, for the markets the filter kept
    assert [(o.market_id, o.usd) for o in result.orders] == [("a", Decimal(10)), ("b", Decimal(10))]


def test_trace_counts_received_and_kept_per_node() -> None:
    flt = ("flt", "FILTER", {"conditions": [{"field": "volume", "op": ">=", "value": 250}]})
    g = graph([SRC, flt, SINK], [("src", "flt"), ("flt", "out")])
    result = run_graph(g, make_context(MARKETS))
    # Then the source counts what it got, the filter what it kept, the sink its orders
    assert [(t.node_id, t.type, t.received, t.kept) for t in result.trace] == [
        ("src", "DATA_SOURCE", 4, 4),
        ("flt", "FILTER", 4, 2),
        ("out", "TEST_SINK", 2, 2),
    ]
    assert all(isinstance(t.duration_ms, int) and t.duration_ms >= 0 for t in result.trace)
    assert not result.truncated


def test_decisions_are_capped_per_node_and_marked_truncated() -> None:
    # Given a node with 120 decisions
    g = graph([SRC, ("talk", "TEST_CHATTY", {"n": 120}), SINK], [("src", "talk"), ("talk", "out")])
    # When run with a cap of 50
    result = run_graph(g, make_context(MARKETS), max_decisions_per_node=50)
    # Then it keeps the first 50 and says it was cut
    talk = result.trace[1]
    assert len(talk.decisions) == 50 and talk.decisions[0]["i"] == 0
    assert talk.truncated and result.truncated
    assert not result.trace[0].truncated


def test_expired_deadline_before_the_first_node_times_out_with_an_empty_trace() -> None:
    # Given a deadline that has already passed
    deadline = ManualDeadline()
    deadline.passed = True
    # When run
    result = run_graph(graph([SRC, SINK], [("src", "out")]), make_context(MARKETS, deadline=deadline))
    # Then the run is a timeout having run nothing
    assert (result.status, result.error_code, result.nodes_executed, result.trace, result.orders) == (
        "timeout",
        "timeout",
        0,
        [],
        [],
    )
    assert "src" in (result.error_message or "")


def test_deadline_passing_mid_run_stops_cleanly_with_the_trace_so_far() -> None:
    # Given a node that uses up the time before the sink
    g = graph([SRC, ("slow", "TEST_EXPIRE", {}), SINK], [("src", "slow"), ("slow", "out")])
    # When run
    result = run_graph(g, make_context(MARKETS, deadline=ManualDeadline()))
    # Then the sink never ran: timeout, no orders, the trace of the two nodes that did
    assert result.status == "timeout"
    assert [t.node_id for t in result.trace] == ["src", "slow"]
    assert result.nodes_executed == 2
    assert result.orders == []
    assert result.error_message == "deadline passed before node 'out' (TEST_SINK)"


def test_market_data_outage_fails_the_run_with_its_own_code() -> None:
    g = graph([SRC, ("feed", "TEST_OUTAGE", {}), SINK], [("src", "feed"), ("feed", "out")])
    result = run_graph(g, make_context(MARKETS))
    assert (result.status, result.error_code) == ("failed", "market_data_unavailable")
    assert result.error_message == "node 'feed': gamma /markets: HTTP 503 after 3 attempts"
    assert result.trace[-1].node_id == "feed" and result.trace[-1].error is not None
    assert result.nodes_executed == 1 and result.orders == []


def test_outage_in_the_data_source_itself_is_market_data_unavailable() -> None:
    # Given a snapshot that cannot be had
    ctx = make_context(MARKETS)

    def down(query: Any) -> list[Market]:
        raise MarketDataUnavailable("snapshot unavailable")

    ctx.markets.query = down  # type: ignore[method-assign]
    # When run / Then the run fails as market_data_unavailable, which does not count toward auto-pause
    result = run_graph(graph([SRC, SINK], [("src", "out")]), ctx)
    assert (result.status, result.error_code) == ("failed", "market_data_unavailable")


def test_any_other_node_error_fails_the_run_naming_the_node_without_a_stack_trace() -> None:
    g = graph([SRC, ("bad", "TEST_BOOM", {}), SINK], [("src", "bad"), ("bad", "out")])
    result = run_graph(g, make_context(MARKETS))
    assert (result.status, result.error_code) == ("failed", "node_error")
    assert result.error_message == "node 'bad' (TEST_BOOM) failed: ZeroDivisionError: division by zero"
    assert "Traceback" not in json.dumps([t.model_dump(mode="json") for t in result.trace])
    assert [t.node_id for t in result.trace] == ["src", "bad"]


def test_a_graph_that_no_longer_validates_fails_as_invalid_graph() -> None:
    # Given a stored graph whose node type no longer exists
    g = graph([SRC, ("gone", "RETIRED_TYPE", {}), SINK], [("src", "gone"), ("gone", "out")])
    # When run / Then nothing runs and the reason is given
    result = run_graph(g, make_context(MARKETS))
    assert (result.status, result.error_code, result.trace) == ("failed", "invalid_graph", [])
    assert "RETIRED_TYPE" in (result.error_message or "")


def test_a_cycle_at_run_time_fails_as_invalid_graph() -> None:
    g = graph([SRC, ("a", "TEST_KEEP", {}), ("b", "TEST_KEEP", {})], [("src", "a"), ("a", "b"), ("b", "a")])
    result = run_graph(g, make_context(MARKETS))
    assert (result.status, result.error_code) == ("failed", "invalid_graph")
    assert "cycle" in (result.error_message or "")


# --- cap_trace -----------------------------------------------------------------------------------------


def _bytes(trace: list[NodeTrace]) -> int:
    return len(json.dumps([t.model_dump(mode="json") for t in trace], separators=(",", ":")).encode())


def test_cap_trace_leaves_a_small_trace_alone() -> None:
    trace = [NodeTrace(node_id="a", type="FILTER", decisions=[{"i": 1}])]
    assert cap_trace(trace) == trace


def test_cap_trace_fits_the_budget_cutting_the_largest_nodes_first() -> None:
    # Given a trace of ~300 KB: one huge node, one medium, one small
    big = NodeTrace(node_id="big", type="X", decisions=[{"why": "x" * 1000} for _ in range(250)])
    medium = NodeTrace(node_id="medium", type="X", decisions=[{"why": "y" * 1000} for _ in range(50)])
    small = NodeTrace(node_id="small", type="X", decisions=[{"why": "z"}])
    trace = [big, medium, small]
    # When capped to 100 KB
    capped = cap_trace(trace, max_bytes=100_000)
    # Then it fits, the large nodes say they were cut, the small one is whole, the input is untouched
    assert _bytes(capped) <= 100_000
    assert capped[0].truncated and len(capped[0].decisions) < 250
    assert capped[2] == small and not capped[2].truncated
    assert len(trace[0].decisions) == 250 and not trace[0].truncated


def test_cap_trace_of_a_full_run_stays_far_below_dynamodbs_item_limit() -> None:
    # Given the worst a run can produce: 50 nodes, each with 50 decisions of 1 KB (~2.5 MB)
    trace = [NodeTrace(node_id=f"n{i}", type="X", decisions=[{"why": "w" * 1000}] * 50) for i in range(50)]
    # When capped with the default budget / Then it is under 100 KB and every node still has its header
    capped = cap_trace(trace)
    assert _bytes(capped) <= 100_000
    assert [t.node_id for t in capped] == [f"n{i}" for i in range(50)]
    assert all(t.truncated for t in capped)


def test_design_example_graph_trades_with_the_real_nodes() -> None:
    # Given DESIGN 5's example graph, validated for deploy, and three markets of which one passes the filter
    example = validate_graph(EXAMPLE_GRAPH, for_deploy=True)
    markets = [
        make_market("fits", volume=20_000, yes_price="0.5"),
        make_market("thin", volume=5_000, yes_price="0.5"),
        make_market("sure", volume=30_000, yes_price="0.9"),
    ]
    # When it runs with a fresh $1,000 account
    result = run_graph(example, make_context(markets))
    # Then the orchestrator buys YES in the one market that passed, for the configured $100
    assert result.status == "completed"
    assert [(o.market_id, o.outcome, o.side, o.usd) for o in result.orders] == [
        ("fits", "YES", "BUY", Decimal(100))
    ]
    assert [(t.node_id, t.received, t.kept) for t in result.trace] == [
        ("src", 3, 3),
        ("flt", 3, 1),
        ("orc", 1, 1),
    ]
