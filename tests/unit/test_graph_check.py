"""POST /strategies/validate's engine side: save and deploy checks as {node_id, loc, code, message, level};
LOGIC handles through the runner."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.errors import ValidationFailed
from engine.graph.runner import run_graph
from engine.graph.validate import check_graph, validate_graph
from engine.models.strategy import NodeGraph
from tests.support.builders import EXAMPLE_GRAPH
from tests.support.markets import make_context, make_market


def node(node_id: str, node_type: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "config": config or {}}


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    return {"source": source, "target": target, **({"target_handle": handle} if handle else {})}


ORC = node("orc", "ORCHESTRATOR", {"outcome": "YES", "position_size_usd": 10})
SIG = node("sig", "PRICE_SIGNAL", {"indicator": "change", "output_field": "mom"})


def codes(report: Any) -> list[tuple[str, str]]:
    return [(e["code"], e["level"]) for e in report.errors]


def test_the_v1_example_is_valid_and_deployable_without_findings() -> None:
    report = check_graph(copy.deepcopy(EXAMPLE_GRAPH))
    assert (report.valid, report.deployable, report.errors) == (True, True, [])


def test_a_body_that_is_not_a_graph_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        check_graph({"nodes": "nope"})


def test_structure_errors_make_it_invalid_with_codes_and_node_ids() -> None:
    graph = {"nodes": [node("a", "DATA_SOURCE"), node("b", "MAGIC")], "edges": [edge("a", "zz")]}
    report = check_graph(graph)
    assert not report.valid and not report.deployable
    assert codes(report) == [("unknown_node", "error"), ("unknown_type", "error")]
    assert report.errors[1]["node_id"] == "b" and report.errors[1]["loc"] == [
        "node_graph",
        "nodes",
        1,
        "type",
    ]


def test_annotated_fields_are_unique_and_must_be_written_upstream() -> None:
    # Given two signals writing `mom`
    dup = {
        "nodes": [node("src", "DATA_SOURCE"), SIG, {**SIG, "id": "sig2"}, ORC],
        "edges": [edge("src", "sig"), edge("sig", "sig2"), edge("sig2", "orc")],
    }
    assert codes(check_graph(dup)) == [("duplicate_field", "error")]
    # Given a filter reading a field nobody writes
    unknown = {
        "nodes": [
            node("src", "DATA_SOURCE"),
            node("f", "FILTER", {"conditions": [{"field": "price", "op": ">", "value": 1}]}),
            ORC,
        ],
        "edges": [edge("src", "f"), edge("f", "orc")],
    }
    report = check_graph(unknown)
    assert not report.valid and codes(report) == [("unknown_field", "error")]
    # Which the save route refuses too
    with pytest.raises(ValidationFailed, match="unknown field 'price'"):
        validate_graph(unknown)


def test_deploy_checks_sinks_orchestrators_and_handles() -> None:
    # Given two orchestrators, and a FILTER edge into an `exclude` handle it does not have
    graph = {
        "nodes": [node("src", "DATA_SOURCE"), ORC, {**ORC, "id": "orc2"}],
        "edges": [edge("src", "orc"), edge("src", "orc2")],
    }
    report = check_graph(graph)
    assert report.valid and not report.deployable and codes(report) == [("too_many_orchestrators", "error")]
    bad_handle = {
        "nodes": [node("src", "DATA_SOURCE"), ORC],
        "edges": [edge("src", "orc", "exclude")],
    }
    assert codes(check_graph(bad_handle)) == [("invalid_handle", "error")]


def test_unused_nodes_are_warnings() -> None:
    graph = {
        "nodes": [node("src", "DATA_SOURCE"), ORC, node("f", "FILTER", {"limit": 3})],
        "edges": [edge("src", "orc"), edge("src", "f")],
    }
    report = check_graph(graph)
    assert report.valid and report.deployable and codes(report) == [("unused_node", "warning")]


def test_logic_not_through_the_runner_uses_edge_handles() -> None:
    # Given all markets, minus those a filter picks (volume_24h >= 5000) on the exclude handle
    markets = [make_market("a", volume_24h=1000), make_market("b", volume_24h=9000)]
    graph = NodeGraph.model_validate(
        {
            "nodes": [
                node("src", "DATA_SOURCE"),
                node("big", "FILTER", {"conditions": [{"field": "volume_24h", "op": ">=", "value": 5000}]}),
                node("not", "LOGIC", {"op": "not"}),
                ORC,
            ],
            "edges": [
                edge("src", "not"),
                edge("src", "big"),
                edge("big", "not", "exclude"),
                edge("not", "orc"),
            ],
        }
    )
    assert check_graph(graph).deployable
    # When run
    result = run_graph(graph, make_context(markets))
    # Then only the small market reached the orchestrator
    assert result.status == "completed"
    assert [o.market_id for o in result.orders] == ["a"]
    logic_trace = next(t for t in result.trace if t.node_id == "not")
    assert logic_trace.received == 2 and logic_trace.kept == 1
