"""Graph checks on save and deploy (DESIGN 5): each problem names the node or edge and why."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from engine.errors import ValidationFailed
from engine.graph.validate import validate_graph
from engine.market.types import Market
from engine.models.strategy import NodeGraph
from engine.nodes import registry
from engine.nodes.base import NodeOutput, RunContext
from tests.support.builders import EXAMPLE_GRAPH

EXAMPLE: dict[str, Any] = EXAMPLE_GRAPH  # DESIGN 5's example, as every test uses it


class SinkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = 1


class FakeSink:
    """A test-only order-deciding node type, so these tests do not depend on the orchestrator's rules."""

    type_name: ClassVar[str] = "TEST_SINK"
    config_model: ClassVar[type[BaseModel]] = SinkConfig
    is_source: ClassVar[bool] = False
    is_sink: ClassVar[bool] = True

    def run(self, config: SinkConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        return NodeOutput()


@pytest.fixture(autouse=True)
def _test_sink() -> Iterator[None]:
    registry.register(FakeSink)
    yield
    registry.unregister("TEST_SINK")


def graph(nodes: list[tuple[str, str, dict[str, Any]]], edges: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "nodes": [{"id": i, "type": t, "config": c} for i, t, c in nodes],
        "edges": [{"source": s, "target": t} for s, t in edges],
    }


SRC = ("src", "DATA_SOURCE", {})
FLT = ("flt", "FILTER", {"conditions": [{"field": "volume", "op": ">", "value": 1}]})
SINK = ("out", "TEST_SINK", {})


def details_of(value: Any, *, for_deploy: bool = False) -> list[dict[str, Any]]:
    with pytest.raises(ValidationFailed) as info:
        validate_graph(value, for_deploy=for_deploy)
    assert info.value.code == "validation_error"
    details: list[dict[str, Any]] = info.value.details
    return details


def test_design_example_is_accepted_on_save_and_deploy() -> None:
    # Given DESIGN 5's example graph
    # When validated for deploy
    parsed = validate_graph(copy.deepcopy(EXAMPLE), for_deploy=True)
    # Then it parses, nodes and configs as given
    assert [n.id for n in parsed.nodes] == ["src", "flt", "orc"]
    assert parsed.nodes[1].config == EXAMPLE["nodes"][1]["config"]


def test_extra_node_keys_are_kept() -> None:
    # Given a node with a builder's position and label
    value = graph([SRC, SINK], [("src", "out")])
    value["nodes"][0].update(position={"x": 10, "y": 20}, label="Markets")
    # When validated / Then the extra keys are still there
    parsed = validate_graph(value)
    assert parsed.nodes[0].model_dump()["position"] == {"x": 10, "y": 20}
    assert parsed.nodes[0].model_dump()["label"] == "Markets"


def test_a_parsed_nodegraph_is_accepted_too() -> None:
    parsed = NodeGraph.model_validate(graph([SRC, FLT, SINK], [("src", "flt"), ("flt", "out")]))
    assert validate_graph(parsed, for_deploy=True) is parsed


@pytest.mark.parametrize(
    ("value", "loc"),
    [
        ({"edges": []}, ["node_graph", "nodes"]),
        ({"nodes": "x"}, ["node_graph", "nodes"]),
        ({"nodes": [{"type": "FILTER"}]}, ["node_graph", "nodes", 0, "id"]),
        ({"nodes": [], "extra": 1}, ["node_graph", "extra"]),
        (
            {"nodes": [{"id": "a", "type": "DATA_SOURCE"}], "edges": [{"source": "a"}]},
            ["node_graph", "edges", 0, "target"],
        ),
        ([1, 2], ["node_graph"]),
    ],
)
def test_structure_errors_point_at_the_key(value: Any, loc: list[Any]) -> None:
    # Given a body that is not a graph / When validated / Then the path names the key
    assert loc in [d["loc"] for d in details_of(value)]


def test_duplicate_ids_name_both_nodes() -> None:
    # Given two nodes with id "src"
    details = details_of(graph([SRC, FLT, ("src", "FILTER", FLT[2])], [("src", "flt")]))
    # Then the second is named, with the first's index
    assert details == [
        {"loc": ["node_graph", "nodes", 2, "id"], "msg": "duplicate node id 'src' (also node 0)"}
    ]


def test_edges_must_join_existing_nodes() -> None:
    details = details_of(graph([SRC, FLT], [("src", "flt"), ("src", "ghost")]))
    assert details == [
        {
            "loc": ["node_graph", "edges", 1, "target"],
            "msg": "edge 1 target 'ghost' is not a node of the graph",
        }
    ]


def test_self_loop_is_rejected() -> None:
    details = details_of(graph([SRC, FLT], [("src", "flt"), ("flt", "flt")]))
    assert details == [{"loc": ["node_graph", "edges", 1], "msg": "edge 1 joins node 'flt' to itself"}]


def test_cycle_is_rejected_naming_its_nodes() -> None:
    # Given src -> a -> b -> c -> a
    f = FLT[2]
    value = graph(
        [SRC, ("a", "FILTER", f), ("b", "FILTER", f), ("c", "FILTER", f)],
        [("src", "a"), ("a", "b"), ("b", "c"), ("c", "a")],
    )
    # When validated
    details = details_of(value)
    # Then the cycle is spelled out, on the edge that closes it
    assert len(details) == 1
    assert details[0]["msg"].startswith("the graph has a cycle: ")
    cycle = details[0]["msg"].removeprefix("the graph has a cycle: ").split(" -> ")
    assert set(cycle) == {"a", "b", "c"} and cycle[0] == cycle[-1] and len(cycle) == 4
    closing = value["edges"][details[0]["loc"][2]]
    assert (closing["source"], closing["target"]) == (cycle[-2], cycle[-1])


def test_unknown_type_is_named() -> None:
    details = details_of(graph([SRC, ("x", "MAGIC", {})], [("src", "x")]))
    assert details[0]["loc"] == ["node_graph", "nodes", 1, "type"]
    assert details[0]["msg"].startswith("node 'x': unknown type 'MAGIC' (known: ")
    assert "DATA_SOURCE" in details[0]["msg"]


def test_config_errors_carry_the_config_key_path() -> None:
    # Given a bad DATA_SOURCE limit, an unknown key, and a bad FILTER value
    bad_filter = {
        "conditions": [
            {"field": "volume", "op": ">", "value": 1},
            {"field": "spread", "op": "between", "value": [2, 1]},
        ]
    }
    value = graph(
        [("src", "DATA_SOURCE", {"limit": 5000, "colour": "red"}), ("flt", "FILTER", bad_filter), SINK],
        [("src", "flt"), ("flt", "out")],
    )
    # When validated
    details = details_of(value)
    # Then each error points into the node's config and names the node
    assert [d["loc"] for d in details] == [
        ["node_graph", "nodes", 0, "config", "limit"],
        ["node_graph", "nodes", 0, "config", "colour"],
        ["node_graph", "nodes", 1, "config", "conditions", 1, "value"],
    ]
    assert all(d["msg"].startswith(f"node '{'src' if d['loc'][2] == 0 else 'flt'}': ") for d in details)


def test_at_most_50_nodes_and_100_edges() -> None:
    # Given 51 nodes, and 101 edges
    many_nodes = graph([("src", "DATA_SOURCE", {})] + [(f"f{i}", "FILTER", FLT[2]) for i in range(50)], [])
    many_edges = graph([SRC, FLT], [("src", "flt")] * 101)
    # When validated / Then the limits are named
    assert details_of(many_nodes) == [
        {"loc": ["node_graph", "nodes"], "msg": "at most 50 nodes are allowed, got 51"}
    ]
    assert details_of(many_edges) == [
        {"loc": ["node_graph", "edges"], "msg": "at most 100 edges are allowed, got 101"}
    ]


def test_fifty_nodes_and_a_hundred_edges_are_accepted() -> None:
    f = FLT[2]
    nodes = [SRC] + [(f"f{i}", "FILTER", f) for i in range(48)] + [SINK]
    chain = ["src", *[f"f{i}" for i in range(48)], "out"]
    edges = list(itertools.pairwise(chain))  # 49 edges
    edges += [("src", f"f{i}") for i in range(1, 48)] + [
        ("f0", "out"),
        ("f1", "out"),
        ("f2", "out"),
        ("f3", "out"),
    ]
    assert len(nodes) == 50 and len(edges) == 100
    assert len(validate_graph(graph(nodes, edges), for_deploy=True).edges) == 100


def test_a_ten_thousand_node_graph_is_rejected_fast() -> None:
    # Given a hostile 10,000-node body
    value = graph([(f"n{i}", "FILTER", {"conditions": "nope"}) for i in range(10_000)], [])
    # When validated
    started = time.perf_counter()
    details = details_of(value)
    # Then it is rejected on size alone, in well under a tenth of a second
    assert time.perf_counter() - started < 0.1
    assert details == [{"loc": ["node_graph", "nodes"], "msg": "at most 50 nodes are allowed, got 10000"}]


def test_save_does_not_need_an_orchestrator() -> None:
    # Given a draft with only a data source / When saved / Then it is fine
    assert len(validate_graph(graph([SRC], [])).nodes) == 1


def test_deploy_needs_a_data_source_and_an_orchestrator() -> None:
    assert details_of(graph([FLT, SINK], [("flt", "out")]), for_deploy=True) == [
        {"loc": ["node_graph", "nodes"], "msg": "deploying needs a DATA_SOURCE node"}
    ]
    assert details_of(graph([SRC, FLT], [("src", "flt")]), for_deploy=True) == [
        # v2: alert strategies deploy with a NOTIFY sink alone, so the rule is "a sink"
        {
            "loc": ["node_graph", "nodes"],
            "msg": "deploying needs a sink: an ORCHESTRATOR (or an alert sink such as NOTIFY)",
        }
    ]


def test_deploy_allows_at_most_one_orchestrator() -> None:
    value = graph([SRC, SINK, ("out2", "TEST_SINK", {})], [("src", "out"), ("src", "out2")])
    assert details_of(value, for_deploy=True) == [
        {
            "loc": ["node_graph", "nodes", 2],
            "msg": "deploying allows at most one ORCHESTRATOR, found 2: 'out', 'out2'",
        }
    ]


def test_deploy_needs_the_orchestrator_reached_from_a_data_source() -> None:
    # Given a data source that feeds a filter, and an orchestrator fed by nothing
    value = graph([SRC, FLT, SINK], [("src", "flt")])
    assert details_of(value, for_deploy=True) == [
        {
            "loc": ["node_graph", "nodes", 2],
            "msg": "node 'out' (TEST_SINK) is not reached from any DATA_SOURCE",
        }
    ]


def test_deploy_rejects_inputs_to_a_data_source_and_outputs_from_an_orchestrator() -> None:
    # Given src -> out -> flt and flt -> src2 (a second source with an input)
    value = graph(
        [SRC, SINK, FLT, ("src2", "DATA_SOURCE", {})], [("src", "out"), ("out", "flt"), ("flt", "src2")]
    )
    # When validated for deploy / Then both edges are named
    assert details_of(value, for_deploy=True) == [
        {"loc": ["node_graph", "edges", 1, "source"], "msg": "node 'out' (TEST_SINK) has no outputs"},
        {"loc": ["node_graph", "edges", 2, "target"], "msg": "node 'src2' (DATA_SOURCE) takes no inputs"},
    ]
    # And the same graph is fine to save as a draft
    assert len(validate_graph(value).nodes) == 4


def test_error_message_summarises_the_details() -> None:
    with pytest.raises(ValidationFailed) as info:
        validate_graph(graph([SRC, ("x", "MAGIC", {}), ("y", "MAGIC", {})], []))
    assert info.value.message.startswith("invalid node graph: node 'x': unknown type 'MAGIC'")
    assert info.value.message.endswith("(and 1 more)")


def test_registry_refuses_a_type_whose_config_accepts_unknown_keys() -> None:
    # Given a node type whose config model would silently accept typos
    class LaxConfig(BaseModel):
        limit: int = 1

    class Lax:
        type_name: ClassVar[str] = "TEST_LAX"
        config_model: ClassVar[type[BaseModel]] = LaxConfig
        is_source: ClassVar[bool] = False
        is_sink: ClassVar[bool] = False

        def run(self, config: LaxConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
            return NodeOutput()

    # When registered / Then it is refused, and stays unknown
    with pytest.raises(TypeError, match="extra='forbid'"):
        registry.register(Lax)
    assert "TEST_LAX" not in registry.node_type_names()


def test_registry_knows_the_builtin_types_and_names_them_for_unknown_ones() -> None:
    # Given the built-in registry / When asked / Then the three DESIGN 5 types are there
    assert {"DATA_SOURCE", "FILTER", "ORCHESTRATOR"} <= set(registry.node_type_names())
    assert registry.get_node_type("FILTER").type_name == "FILTER"
    with pytest.raises(KeyError, match="unknown node type 'NOPE'"):
        registry.get_node_type("NOPE")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_layout_viewport_coordinate_must_be_finite(bad: float) -> None:
    # Given a graph whose canvas viewport is not a finite point (the engine is also called without HTTP)
    value = graph([SRC, SINK], [("src", "out")])
    value["layout"] = {"viewport": {"x": 0, "y": bad, "zoom": 1}}
    # When validated / Then the path names the coordinate
    assert ["node_graph", "layout", "viewport", "y"] in [d["loc"] for d in details_of(value)]


def test_a_layout_is_kept_as_given_and_absent_stays_absent() -> None:
    # Given one graph with a layout carrying a key of its own, one without
    laid_out = graph([SRC, SINK], [("src", "out")])
    laid_out["layout"] = {"viewport": {"x": 12.5, "y": -4, "zoom": 0.8}, "x_panel": "wide"}
    plain = graph([SRC, SINK], [("src", "out")])
    # When validated / Then each dumps back to what it was, as parsed JSON
    assert validate_graph(copy.deepcopy(laid_out)).model_dump(mode="json") == laid_out
    assert "layout" not in validate_graph(plain).model_dump(mode="json")
