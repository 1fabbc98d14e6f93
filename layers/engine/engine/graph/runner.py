"""One run of a strategy's node graph: topological order, inputs along edges, per-node trace, deadline."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import BaseModel, ValidationError

from engine.errors import DeadlineExceeded, MarketDataUnavailable
from engine.graph.validate import target_handle, topological_order
from engine.market.types import Market
from engine.models.alerts import Alert
from engine.models.execution import NodeTrace
from engine.models.strategy import Node, NodeGraph
from engine.models.trading import Order
from engine.nodes.base import NodeOutput, NodeType, RunContext, places_orders
from engine.nodes.registry import get_node_type

GraphStatus = Literal["completed", "timeout", "failed"]
MAX_ERROR_CHARS = 500
TRACE_BUDGET_BYTES = 100_000  # DynamoDB items stop at 400 KB; the log carries more than its trace


@dataclass
class GraphResult:
    status: GraphStatus
    orders: list[Order] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)  # NOTIFY's messages, sent once the run commits
    trace: list[NodeTrace] = field(default_factory=list)
    nodes_executed: int = 0
    error_code: str | None = None
    error_message: str | None = None

    @property
    def truncated(self) -> bool:
        return any(t.truncated for t in self.trace)


class _GraphUnusable(Exception):
    """The graph cannot run as stored (unknown type, bad config, cycle): checked again at run time."""


def _union(inputs: list[list[Market]]) -> list[Market]:
    seen: set[str] = set()
    merged: list[Market] = []
    for markets in inputs:
        for market in markets:
            if market.market_id not in seen:
                seen.add(market.market_id)
                merged.append(market)
    return merged


def _prepare(graph: NodeGraph) -> tuple[list[int], list[NodeType], list[BaseModel]]:
    ids = [n.id for n in graph.nodes]
    if len(set(ids)) != len(ids) or any(e.source not in ids or e.target not in ids for e in graph.edges):
        raise _GraphUnusable("the graph has duplicate node ids or edges to missing nodes")
    order, left = topological_order(graph.nodes, graph.edges)
    if left:
        raise _GraphUnusable("the graph has a cycle through " + ", ".join(f"'{ids[i]}'" for i in left))
    types: list[NodeType] = []
    configs: list[BaseModel] = []
    for node in graph.nodes:
        try:
            node_type = get_node_type(node.type)
            configs.append(node_type.config_model.model_validate(node.config))
        except KeyError:
            raise _GraphUnusable(f"node '{node.id}' has unknown type '{node.type}'") from None
        except ValidationError as exc:
            raise _GraphUnusable(
                f"node '{node.id}' has an invalid config ({exc.error_count()} errors)"
            ) from None
        types.append(node_type)
    return order, types, configs


def _trace_for(
    node: Node, node_type: NodeType, inputs: list[Market], output: NodeOutput, *, ms: int, cap: int
) -> NodeTrace:
    received = len(output.markets) if node_type.is_source else len(inputs)
    kept = len(output.orders) if places_orders(node_type) else len(output.markets)
    decisions = output.decisions
    return NodeTrace(
        node_id=node.id,
        type=node.type,
        received=received,
        kept=kept,
        duration_ms=ms,
        decisions=decisions[:cap],
        truncated=len(decisions) > cap,
    )


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_ERROR_CHARS]


def run_graph(graph: NodeGraph, ctx: RunContext, *, max_decisions_per_node: int = 50) -> GraphResult:
    """Run every node in topological order (ties in listed order); the orchestrator's orders are the run's.

    A node gets the union of its inputs' markets (first occurrence order, no duplicate market ids). The
    deadline is checked before each node: once passed, the run ends `timeout` with the trace so far. A node
    failing for want of market data ends the run `failed` with `market_data_unavailable`; any other node
    error ends it `failed` with `node_error` and a message naming the node, never a stack trace.
    """
    try:
        order, types, configs = _prepare(graph)
    except _GraphUnusable as exc:
        return GraphResult(status="failed", error_code="invalid_graph", error_message=str(exc))

    incoming: dict[int, list[tuple[int, str]]] = {i: [] for i in range(len(graph.nodes))}
    index = {n.id: i for i, n in enumerate(graph.nodes)}
    for edge in graph.edges:
        source, target = index[edge.source], index[edge.target]
        pair = (source, target_handle(edge))
        if pair not in incoming[target]:
            incoming[target].append(pair)
    outputs: dict[int, list[Market]] = {}
    result = GraphResult(status="completed")

    for i in order:
        node, node_type = graph.nodes[i], types[i]
        if ctx.deadline.expired():
            return _ended(
                result, "timeout", "timeout", f"deadline passed before node '{node.id}' ({node.type})"
            )
        inputs = [] if node_type.is_source else _union([outputs[p] for p, _ in incoming[i]])
        node_ctx = replace(ctx, node_id=node.id)
        started = time.perf_counter()
        try:
            if getattr(node_type, "sees_inputs_apart", False):
                # LOGIC: each input edge's set apart, grouped by the handle the edge goes into
                groups: dict[str, list[list[Market]]] = {}
                for p, handle in incoming[i]:
                    groups.setdefault(handle, []).append(outputs[p])
                output = node_type.run_apart(configs[i], groups, node_ctx)  # type: ignore[attr-defined]
            else:
                output = node_type.run(configs[i], inputs, node_ctx)
        except MarketDataUnavailable as exc:
            result.trace.append(_failed_trace(node, inputs, started, exc))
            return _ended(result, "failed", "market_data_unavailable", f"node '{node.id}': {exc.message}")
        except DeadlineExceeded as exc:
            result.trace.append(_failed_trace(node, inputs, started, exc))
            return _ended(result, "timeout", "timeout", f"deadline passed in node '{node.id}' ({node.type})")
        except Exception as exc:
            result.trace.append(_failed_trace(node, inputs, started, exc))
            message = f"node '{node.id}' ({node.type}) failed: {_short(exc)}"
            return _ended(result, "failed", "node_error", message)
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        outputs[i] = output.markets
        result.nodes_executed += 1
        result.trace.append(
            _trace_for(node, node_type, inputs, output, ms=elapsed_ms, cap=max_decisions_per_node)
        )
        if places_orders(node_type):
            result.orders.extend(output.orders)
        result.alerts.extend(output.alerts)
    return result


def _failed_trace(node: Node, inputs: list[Market], started: float, exc: BaseException) -> NodeTrace:
    return NodeTrace(
        node_id=node.id,
        type=node.type,
        received=len(inputs),
        duration_ms=int((time.perf_counter() - started) * 1000),
        error=_short(exc),
    )


def _ended(result: GraphResult, status: GraphStatus, code: str, message: str) -> GraphResult:
    result.status = status
    result.error_code = code
    result.error_message = message
    result.orders = []  # a run that did not complete trades nothing
    result.alerts = []  # and tells nothing
    return result


def _size(trace: NodeTrace) -> int:
    return len(trace.model_dump_json().encode())


def cap_trace(trace: list[NodeTrace], max_bytes: int = TRACE_BUDGET_BYTES) -> list[NodeTrace]:
    """The trace made to fit `max_bytes` when serialised, cutting the largest nodes' decisions first.

    A node whose decisions were cut says `truncated: true`. The input is not modified.
    """
    capped = [t.model_copy(deep=True) for t in trace]
    sizes = [_size(t) for t in capped]
    while sum(sizes) + len(capped) + 2 > max_bytes:  # + commas and brackets of the JSON list
        cuttable = [i for i, t in enumerate(capped) if t.decisions or (t.error and len(t.error) > 100)]
        if not cuttable:
            break  # only node headers are left, and at most 50 of them are small
        largest = max(cuttable, key=sizes.__getitem__)
        node = capped[largest]
        if node.decisions:
            node.decisions = node.decisions[: len(node.decisions) // 2]
        elif node.error:
            node.error = node.error[:100]
        node.truncated = True
        sizes[largest] = _size(node)
    return capped
