"""Node graph checks on save and on deploy (DESIGN 5); every problem names the node or edge and why."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from engine.errors import ValidationFailed
from engine.models.strategy import MAX_EDGES, MAX_NODES, Edge, Node, NodeGraph
from engine.nodes.base import EXCLUDE, INCLUDE, NodeType, handles_of, input_range, places_orders
from engine.nodes.filter import MARKET_FIELDS
from engine.nodes.registry import get_node_type, node_type_names

ROOT = "node_graph"  # the graph's key in request bodies, so `loc` paths point into what the client sent
MAX_DETAILS = 50  # a hostile graph cannot make the error answer huge

Detail = dict[str, Any]
Level = Literal["error", "warning"]


@dataclass
class Problem:
    """One finding: where (`loc` inside the graph), what (`code`, `message`), which node, how bad."""

    loc: list[str | int]
    message: str
    code: str
    node_id: str | None = None
    level: Level = "error"

    def detail(self) -> Detail:
        """The `{loc, msg}` detail of a 400 `validation_error` (the save and deploy routes)."""
        return {"loc": [ROOT, *self.loc], "msg": self.message}

    def as_error(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "loc": [ROOT, *self.loc],
            "code": self.code,
            "message": self.message,
            "level": self.level,
        }


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


def target_handle(edge: Edge) -> str:
    """The handle an edge goes into: its optional `target_handle`, `include` when absent (v1 edges)."""
    extra = edge.model_extra or {}
    handle = extra.get("target_handle")
    return handle if isinstance(handle, str) and handle else INCLUDE


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


def _check_edges(graph: NodeGraph) -> list[Problem]:
    problems: list[Problem] = []
    first_index: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        if node.id in first_index:
            problems.append(
                Problem(
                    ["nodes", i, "id"],
                    f"duplicate node id '{node.id}' (also node {first_index[node.id]})",
                    "duplicate_node_id",
                    node.id,
                )
            )
        else:
            first_index[node.id] = i
    for j, edge in enumerate(graph.edges):
        for end in ("source", "target"):
            name = getattr(edge, end)
            if name not in first_index:
                problems.append(
                    Problem(
                        ["edges", j, end],
                        f"edge {j} {end} '{name}' is not a node of the graph",
                        "unknown_node",
                    )
                )
        if edge.source == edge.target:
            problems.append(
                Problem(
                    ["edges", j], f"edge {j} joins node '{edge.source}' to itself", "self_loop", edge.source
                )
            )
    if problems:
        return problems
    _, left = topological_order(graph.nodes, graph.edges)
    if left:
        cycle = _a_cycle(graph.nodes, graph.edges, left)
        closing = next(
            j for j, e in enumerate(graph.edges) if e.source == cycle[-2] and e.target == cycle[-1]
        )
        problems.append(Problem(["edges", closing], f"the graph has a cycle: {' -> '.join(cycle)}", "cycle"))
    return problems


def _check_types_and_configs(graph: NodeGraph) -> tuple[list[Problem], list[NodeType | None], list[Any]]:
    problems: list[Problem] = []
    types: list[NodeType | None] = []
    configs: list[Any] = []
    known = node_type_names()
    for i, node in enumerate(graph.nodes):
        if node.type not in known:
            types.append(None)
            configs.append(None)
            problems.append(
                Problem(
                    ["nodes", i, "type"],
                    f"node '{node.id}': unknown type '{node.type}' (known: {', '.join(known)})",
                    "unknown_type",
                    node.id,
                )
            )
            continue
        node_type = get_node_type(node.type)
        types.append(node_type)
        try:
            configs.append(node_type.config_model.model_validate(node.config))
        except ValidationError as exc:
            configs.append(None)
            for error in exc.errors():
                problems.append(
                    Problem(
                        ["nodes", i, "config", *error["loc"]],
                        f"node '{node.id}': {error['msg']}",
                        "invalid_config",
                        node.id,
                    )
                )
    return problems, types, configs


def _upstream(graph: NodeGraph) -> dict[str, set[str]]:
    """Node id -> ids of every node with a path into it (the graph has no cycle here)."""
    preds: dict[str, set[str]] = {n.id: set() for n in graph.nodes}
    for edge in graph.edges:
        preds[edge.target].add(edge.source)
    order, _ = topological_order(graph.nodes, graph.edges)
    above: dict[str, set[str]] = {}
    for i in order:
        node_id = graph.nodes[i].id
        above[node_id] = set().union(*([{p} | above[p] for p in preds[node_id]] or [set()]))
    return above


def _written(config: Any) -> str | None:
    name = getattr(config, "output_field", None)
    return name if isinstance(name, str) else None


def _read(config: Any) -> set[str]:
    reader = getattr(config, "fields", None)
    names = reader() if callable(reader) else set()
    return {n for n in names if isinstance(n, str) and n not in MARKET_FIELDS}


def _check_handles_and_fields(
    graph: NodeGraph, types: list[NodeType | None], configs: list[Any]
) -> list[Problem]:
    """Save checks of the v2 language: edge handles exist on their target, annotated field names are unique,
    and every field a node reads is a market field or written by a node upstream of it."""
    problems: list[Problem] = []
    position = {node.id: i for i, node in enumerate(graph.nodes)}
    for j, edge in enumerate(graph.edges):
        handle = target_handle(edge)
        node_type = types[position[edge.target]]
        if node_type is not None and handle not in handles_of(node_type):
            allowed = ", ".join(handles_of(node_type))
            problems.append(
                Problem(
                    ["edges", j, "target_handle"],
                    f"node '{edge.target}' ({node_type.type_name}) has no handle '{handle}' "
                    f"(it has: {allowed})",
                    "invalid_handle",
                    edge.target,
                )
            )
    writers: dict[str, str] = {}
    for i, node in enumerate(graph.nodes):
        name = _written(configs[i])
        if name is None:
            continue
        if name in writers:
            problems.append(
                Problem(
                    ["nodes", i, "config", "output_field"],
                    f"node '{node.id}': field '{name}' is already written by node '{writers[name]}'",
                    "duplicate_field",
                    node.id,
                )
            )
        else:
            writers[name] = node.id
    if problems:
        return problems
    above = _upstream(graph)
    for i, node in enumerate(graph.nodes):
        for name in sorted(_read(configs[i])):
            writer = writers.get(name)
            if writer is None:
                problems.append(
                    Problem(
                        ["nodes", i, "config"],
                        f"node '{node.id}': unknown field '{name}' (not a market field, and no signal node "
                        "writes it)",
                        "unknown_field",
                        node.id,
                    )
                )
            elif writer not in above[node.id]:
                problems.append(
                    Problem(
                        ["nodes", i, "config"],
                        f"node '{node.id}' reads field '{name}', but its writer '{writer}' is not "
                        "upstream of it: the value will be missing",
                        "field_not_upstream",
                        node.id,
                        "warning",
                    )
                )
    return problems


def _check_deployable(graph: NodeGraph, types: list[NodeType], configs: list[Any]) -> list[Problem]:
    problems: list[Problem] = []
    position = {node.id: i for i, node in enumerate(graph.nodes)}
    sources = [i for i, t in enumerate(types) if t.is_source]
    sinks = [i for i, t in enumerate(types) if t.is_sink]
    traders = [i for i in sinks if places_orders(types[i])]
    for j, edge in enumerate(graph.edges):
        target, source = position[edge.target], position[edge.source]
        if types[target].is_source:
            problems.append(
                Problem(
                    ["edges", j, "target"],
                    f"node '{edge.target}' ({graph.nodes[target].type}) takes no inputs",
                    "input_to_source",
                    edge.target,
                )
            )
        if types[source].is_sink:
            problems.append(
                Problem(
                    ["edges", j, "source"],
                    f"node '{edge.source}' ({graph.nodes[source].type}) has no outputs",
                    "output_from_sink",
                    edge.source,
                )
            )
    if not sources:
        problems.append(Problem(["nodes"], "deploying needs a DATA_SOURCE node", "no_source"))
    if not sinks:
        problems.append(
            Problem(
                ["nodes"],
                "deploying needs a sink: an ORCHESTRATOR (or an alert sink such as NOTIFY)",
                "no_sink",
            )
        )
    elif len(traders) > 1:
        names = ", ".join(f"'{graph.nodes[i].id}'" for i in traders)
        problems.append(
            Problem(
                ["nodes", traders[1]],
                f"deploying allows at most one ORCHESTRATOR, found {len(traders)}: {names}",
                "too_many_orchestrators",
                graph.nodes[traders[1]].id,
            )
        )
    if problems:
        return problems
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
    unreached = [i for i in sinks if graph.nodes[i].id not in reached]
    level: Level = "warning" if len(unreached) < len(sinks) else "error"
    for i in unreached:
        sink = graph.nodes[i]
        problems.append(
            Problem(
                ["nodes", i],
                f"node '{sink.id}' ({sink.type}) is not reached from any DATA_SOURCE",
                "sink_not_reached",
                sink.id,
                level,
            )
        )
    if _errors(problems):
        return problems
    return problems + _check_input_counts(graph, types, configs)


def _check_input_counts(graph: NodeGraph, types: list[NodeType], configs: list[Any]) -> list[Problem]:
    problems: list[Problem] = []
    counts: dict[str, dict[str, int]] = {n.id: {} for n in graph.nodes}
    for edge in graph.edges:
        handles = counts[edge.target]
        handle = target_handle(edge)
        handles[handle] = handles.get(handle, 0) + 1
    for i, node in enumerate(graph.nodes):
        if types[i].is_source:
            continue
        low, high = input_range(types[i])
        got = sum(counts[node.id].values())
        if got < low or (high is not None and got > high):
            wanted = f"{low}" if high == low else f"at least {low}" if high is None else f"{low} to {high}"
            problems.append(
                Problem(
                    ["nodes", i],
                    f"node '{node.id}' ({node.type}) needs {wanted} input edges, has {got}",
                    "input_count",
                    node.id,
                )
            )
        op = getattr(configs[i], "op", None)
        if node.type == "LOGIC" and op != "not" and counts[node.id].get(EXCLUDE):
            problems.append(
                Problem(
                    ["nodes", i],
                    f"node '{node.id}' (LOGIC '{op}') has edges into its 'exclude' handle: "
                    "only 'not' uses it",
                    "invalid_handle",
                    node.id,
                )
            )
        if node.type == "LOGIC" and op == "not" and not counts[node.id].get(INCLUDE):
            problems.append(
                Problem(
                    ["nodes", i],
                    f"node '{node.id}' (LOGIC 'not') needs an edge into its 'include' handle",
                    "input_count",
                    node.id,
                )
            )
    return problems


def _unused(graph: NodeGraph, types: list[NodeType]) -> list[Problem]:
    """Warnings for nodes that no sink depends on (their work is thrown away)."""
    above = _upstream(graph)
    needed: set[str] = set()
    for i, node in enumerate(graph.nodes):
        if types[i].is_sink:
            needed |= above[node.id] | {node.id}
    return [
        Problem(
            ["nodes", i],
            f"node '{node.id}' ({node.type}) does not lead to any sink",
            "unused_node",
            node.id,
            "warning",
        )
        for i, node in enumerate(graph.nodes)
        if node.id not in needed
    ]


def _errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.level == "error"]


def is_alert_graph(graph: NodeGraph) -> bool:
    """A graph with sinks and no ORCHESTRATOR: an alert strategy (DESIGN 5), which never trades and
    deploys without a bankroll. The graph is assumed valid (known types)."""
    types = [get_node_type(node.type) for node in graph.nodes]
    return any(t.is_sink for t in types) and not any(places_orders(t) for t in types)


def validate_graph(graph: NodeGraph | dict[str, Any], *, for_deploy: bool = False) -> NodeGraph:
    """The graph parsed, or ValidationFailed whose details say what is wrong where.

    On save: structure, unique ids, edges between existing nodes, no self-loop or cycle, known types, valid
    configs, at most 50 nodes and 100 edges, edge handles that exist, unique annotated field names and read
    fields that some node writes. On deploy also: a DATA_SOURCE reaching a sink, at most one ORCHESTRATOR,
    input counts per node type, no edge into a source and none out of a sink.
    """
    parsed = _parse(graph)
    problems = _check_edges(parsed)
    type_problems, types, configs = _check_types_and_configs(parsed)
    problems += type_problems
    if not problems:
        problems += _check_handles_and_fields(parsed, types, configs)
    if _errors(problems):
        raise _fail([p.detail() for p in _errors(problems)])
    if for_deploy:
        known_types = [t for t in types if t is not None]
        deploy_problems = _errors(_check_deployable(parsed, known_types, configs))
        if deploy_problems:
            raise _fail([p.detail() for p in deploy_problems])
    return parsed


@dataclass
class GraphReport:
    """`POST /strategies/validate`'s answer: the save checks (`valid`), the deploy checks (`deployable`)."""

    valid: bool
    deployable: bool
    errors: list[dict[str, Any]]


def check_graph(graph: NodeGraph | dict[str, Any]) -> GraphReport:
    """Every save and deploy problem of a graph, errors and warnings, as `{node_id, loc, code, message,
    level}`; writes nothing. Raises ValidationFailed only for a body that is not a graph at all (not an
    object with a `nodes` list)."""
    if not isinstance(graph, NodeGraph) and not (
        isinstance(graph, dict) and isinstance(graph.get("nodes"), list)
    ):
        raise _fail([_detail([], "must be an object with `nodes` (a list) and `edges`")])
    try:
        parsed = _parse(graph)
    except ValidationFailed as exc:
        details = exc.details if isinstance(exc.details, list) else []
        errors = [
            Problem(list(d["loc"][1:]), str(d["msg"]), "invalid_structure").as_error()
            for d in details[:MAX_DETAILS]
        ]
        return GraphReport(valid=False, deployable=False, errors=errors)
    problems = _check_edges(parsed)
    type_problems, types, configs = _check_types_and_configs(parsed)
    problems += type_problems
    if not problems:
        problems += _check_handles_and_fields(parsed, types, configs)
    valid = not _errors(problems)
    deployable = False
    if valid:
        known_types = [t for t in types if t is not None]
        deploy_problems = _check_deployable(parsed, known_types, configs)
        deployable = not _errors(deploy_problems)
        problems += deploy_problems
        if deployable:
            problems += _unused(parsed, known_types)
    return GraphReport(
        valid=valid, deployable=deployable, errors=[p.as_error() for p in problems[:MAX_DETAILS]]
    )
