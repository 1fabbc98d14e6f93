"""Node graph checks on save and on deploy (DESIGN 5); every problem names the node or edge and why."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from engine.errors import ValidationFailed
from engine.models.strategy import MAX_EDGES, MAX_NODES, Edge, Node, NodeGraph
from engine.nodes.base import NodeType
from engine.nodes.registry import get_node_type, node_type_names

ROOT = "node_graph"  # the graph's key in request bodies, so `loc` paths point into what the client sent
MAX_DETAILS = 50  # a hostile graph cannot make the error answer huge

Detail = dict[str, Any]


def _detail(loc: Sequence[str | int], msg: str) -> Detail:
    return {"loc": [ROOT, *loc], "msg": msg}


def _fail(details: list[Detail]) -> ValidationFailed:
    details = details[:MAX_DETAILS]
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return ValidationFailed(f"invalid node graph: {details[0]['msg']}{more}", details=details)


def _parse(graph: NodeGraph | dict[str, Any]) -> NodeGraph:
    if isinstance(graph, NodeGraph):
        parsed = graph
    elif isinstance(graph, dict):
        # Reject oversized graphs before pydantic looks at every node (a 10,000-node body must be cheap).
        for key, limit in (("nodes", MAX_NODES), ("edges", MAX_EDGES)):
            items = graph.get(key)
            if isinstance(items, list) and len(items) > limit:
                raise _fail([_detail([key], f"at most {limit} {key} are allowed, got {len(items)}")])
        try:
            parsed = NodeGraph.model_validate(graph)
        except ValidationError as exc:
            raise _fail([_detail(list(e["loc"]), e["msg"]) for e in exc.errors()]) from None
    else:
        raise _fail([_detail([], "must be an object with `nodes` and `edges`")])
    for key, items, limit in (("nodes", parsed.nodes, MAX_NODES), ("edges", parsed.edges, MAX_EDGES)):
        if len(items) > limit:
            raise _fail([_detail([key], f"at most {limit} {key} are allowed, got {len(items)}")])
    return parsed


def topological_order(nodes: Sequence[Node], edges: Sequence[Edge]) -> tuple[list[int], list[int]]:
    """(node indices in Kahn order, ties broken by listed order; indices left over because of a cycle).

    Edges must join existing, uniquely named nodes.
    """
    index = {node.id: i for i, node in enumerate(nodes)}
    successors: list[set[int]] = [set() for _ in nodes]
    for edge in edges:
        successors[index[edge.source]].add(index[edge.target])
    indegree = [0] * len(nodes)
    for targets in successors:
        for target in targets:
            indegree[target] += 1
    ready = [i for i, degree in enumerate(indegree) if degree == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        current = heapq.heappop(ready)
        order.append(current)
        for target in successors[current]:
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(ready, target)
    done = set(order)
    return order, [i for i in range(len(nodes)) if i not in done]


def _a_cycle(nodes: Sequence[Node], edges: Sequence[Edge], left: list[int]) -> list[str]:
    """Node ids of one cycle among the nodes Kahn could not order, in edge direction, first repeated last."""
    ids = {nodes[i].id for i in left}
    predecessor: dict[str, str] = {}
    for edge in edges:
        if edge.source in ids and edge.target in ids:
            predecessor.setdefault(edge.target, edge.source)
    # Every leftover node has a leftover predecessor, so walking back must revisit a node: a cycle.
    path: list[str] = []
    seen: dict[str, int] = {}
    current = nodes[left[0]].id
    while current not in seen:
        seen[current] = len(path)
        path.append(current)
        current = predecessor[current]
    loop = path[seen[current] :]
    loop.reverse()
    return [*loop, loop[0]]


def _check_edges(graph: NodeGraph) -> list[Detail]:
    details: list[Detail] = []
    first_index: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        if node.id in first_index:
            details.append(
                _detail(
                    ["nodes", i, "id"], f"duplicate node id '{node.id}' (also node {first_index[node.id]})"
                )
            )
        else:
            first_index[node.id] = i
    for j, edge in enumerate(graph.edges):
        for end in ("source", "target"):
            name = getattr(edge, end)
            if name not in first_index:
                details.append(
                    _detail(["edges", j, end], f"edge {j} {end} '{name}' is not a node of the graph")
                )
        if edge.source == edge.target:
            details.append(_detail(["edges", j], f"edge {j} joins node '{edge.source}' to itself"))
    if details:
        return details
    _, left = topological_order(graph.nodes, graph.edges)
    if left:
        cycle = _a_cycle(graph.nodes, graph.edges, left)
        closing = next(
            j for j, e in enumerate(graph.edges) if e.source == cycle[-2] and e.target == cycle[-1]
        )
        details.append(_detail(["edges", closing], f"the graph has a cycle: {' -> '.join(cycle)}"))
    return details


def _check_types_and_configs(graph: NodeGraph) -> tuple[list[Detail], list[NodeType | None]]:
    details: list[Detail] = []
    types: list[NodeType | None] = []
    known = node_type_names()
    for i, node in enumerate(graph.nodes):
        if node.type not in known:
            types.append(None)
            details.append(
                _detail(
                    ["nodes", i, "type"],
                    f"node '{node.id}': unknown type '{node.type}' (known: {', '.join(known)})",
                )
            )
            continue
        node_type = get_node_type(node.type)
        types.append(node_type)
        try:
            node_type.config_model.model_validate(node.config)
        except ValidationError as exc:
            for error in exc.errors():
                details.append(
                    _detail(["nodes", i, "config", *error["loc"]], f"node '{node.id}': {error['msg']}")
                )
    return details, types


def _is_sink(node_type: NodeType) -> bool:
    """ORCHESTRATOR decides orders (`is_sink`); NOTIFY (and later WATCHLIST) are sinks by category."""
    return node_type.is_sink or getattr(node_type, "category", None) == "sink"


def _check_deployable(graph: NodeGraph, types: list[NodeType]) -> list[Detail]:
    details: list[Detail] = []
    position = {node.id: i for i, node in enumerate(graph.nodes)}
    sources = [i for i, t in enumerate(types) if t.is_source]
    sinks = [i for i, t in enumerate(types) if _is_sink(t)]
    orchestrators = [i for i, t in enumerate(types) if t.is_sink]
    for j, edge in enumerate(graph.edges):
        target, source = position[edge.target], position[edge.source]
        if types[target].is_source:
            details.append(
                _detail(
                    ["edges", j, "target"],
                    f"node '{edge.target}' ({graph.nodes[target].type}) takes no inputs",
                )
            )
        if _is_sink(types[source]):
            details.append(
                _detail(
                    ["edges", j, "source"],
                    f"node '{edge.source}' ({graph.nodes[source].type}) has no outputs",
                )
            )
    if not sources:
        details.append(_detail(["nodes"], "deploying needs a DATA_SOURCE node"))
    if not sinks:
        details.append(_detail(["nodes"], "deploying needs a sink node (an ORCHESTRATOR or a NOTIFY)"))
    if len(orchestrators) > 1:
        names = ", ".join(f"'{graph.nodes[i].id}'" for i in orchestrators)
        details.append(
            _detail(
                ["nodes", orchestrators[1]],
                f"deploying needs exactly one ORCHESTRATOR, found {len(orchestrators)}: {names}",
            )
        )
    if details:
        return details
    successors: dict[str, list[str]] = {}
    for edge in graph.edges:
        successors.setdefault(edge.source, []).append(edge.target)
    reached: set[str] = set()
    frontier = [graph.nodes[i].id for i in sources]
    while frontier:
        current = frontier.pop()
        if current not in reached:
            reached.add(current)
            frontier.extend(successors.get(current, []))
    for i in sinks:
        sink = graph.nodes[i]
        if sink.id not in reached:
            details.append(
                _detail(["nodes", i], f"node '{sink.id}' ({sink.type}) is not reached from any DATA_SOURCE")
            )
    return details


def is_alert_graph(graph: NodeGraph) -> bool:
    """A graph with sinks and no ORCHESTRATOR: an alert strategy (DESIGN 5), which never trades and
    deploys without a bankroll. The graph is assumed valid (known types)."""
    types = [get_node_type(node.type) for node in graph.nodes]
    return any(_is_sink(t) for t in types) and not any(t.is_sink for t in types)


def validate_graph(graph: NodeGraph | dict[str, Any], *, for_deploy: bool = False) -> NodeGraph:
    """The graph parsed, or ValidationFailed whose details say what is wrong where.

    On save: structure, unique ids, edges between existing nodes, no self-loop or cycle, known types, valid
    configs, at most 50 nodes and 100 edges. On deploy also: a DATA_SOURCE that reaches every sink, at least
    one sink (ORCHESTRATOR or NOTIFY), at most one ORCHESTRATOR, no edge into a source and none out of a sink.
    """
    parsed = _parse(graph)
    details = _check_edges(parsed)
    type_details, types = _check_types_and_configs(parsed)
    details += type_details
    if details:
        raise _fail(details)
    if for_deploy:
        known_types = [t for t in types if t is not None]
        deploy_details = _check_deployable(parsed, known_types)
        if deploy_details:
            raise _fail(deploy_details)
    return parsed
