"""A strategy's history: deployment records, kept graph versions and the activity timeline (DESIGN 2)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from engine.models.base import DomainModel, Money, UtcDatetime
from engine.models.strategy import Node, NodeGraph

SYSTEM_ACTOR = "system"


class DeploymentSummary(DomainModel):
    """The figures of a deployment when a later deploy replaced it (its portfolio at that moment)."""

    equity_usd: Money
    total_pnl_usd: Money
    roi_pct: Money
    trades: int
    win_rate: Money | None = None


class Deployment(DomainModel):
    """One deploy of a strategy: its settings, which graphs ran while it was live, and how it ended."""

    deployment_id: str
    strategy_id: str
    trading_mode: Literal["paper", "live"] = "paper"
    paper_bankroll_usd: Money | None = None  # none for an alert strategy (it never trades)
    frequency: str | None = None
    schedule_cron: str
    timezone: str = "UTC"
    auto_start: bool = False
    max_consecutive_failures: int = 3
    deployed_at: UtcDatetime
    deployed_by: str
    graph_versions: list[int] = Field(default_factory=list)
    ended_at: UtcDatetime | None = None
    final_summary: DeploymentSummary | None = None


def new_deployment_id(now: datetime) -> str:
    """Ids sort by deploy time (the list is newest first by id) and never collide."""
    return f"d_{now.strftime('%Y%m%dT%H%M%S%f')}_{uuid.uuid4().hex[:8]}"


class GraphVersion(DomainModel):
    """One kept node graph: the strategy's `graph_version` n and what changed from n - 1."""

    strategy_id: str
    graph_version: int = Field(ge=1)
    node_graph: NodeGraph
    created_at: UtcDatetime
    created_by: str
    summary: str
    restored_from: int | None = None


class EventType(StrEnum):
    CREATED = "created"
    GRAPH_CHANGED = "graph_changed"
    DEPLOYED = "deployed"
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    STOPPED = "stopped"
    RUN_NOW = "run_now"
    AUTO_PAUSED = "auto_paused"
    RESTORED = "restored"


class StrategyEvent(DomainModel):
    """One entry of the activity timeline: who did what, when, from which status to which, and why."""

    event_id: str
    strategy_id: str
    type: EventType
    at: UtcDatetime
    actor: str  # the user's sub, or "system" for what the engine does by itself
    from_status: str | None = None
    to_status: str | None = None
    reason: str | None = None
    graph_version: int | None = None
    deployment_id: str | None = None
    execution_id: str | None = None


def event_id_for(strategy_id: str, *parts: str) -> str:
    """Deterministic where the cause is (a run's auto-pause written again by a retry is the same event)."""
    raw = "|".join((strategy_id, *parts))
    return "e_" + hashlib.sha256(raw.encode()).hexdigest()[:24]


def new_event_id() -> str:
    return "e_" + uuid.uuid4().hex[:24]


def _node_index(graph: NodeGraph) -> dict[str, Node]:
    return {node.id: node for node in graph.nodes}


def _edges(graph: NodeGraph) -> set[tuple[str, str]]:
    return {(e.source, e.target) for e in graph.edges}


def summarize_change(before: NodeGraph | None, after: NodeGraph) -> str:
    """A short line: nodes added, removed, configs changed, edges changed (or `initial graph`)."""
    if before is None:
        return f"initial graph: {len(after.nodes)} nodes, {len(after.edges)} edges"
    old, new = _node_index(before), _node_index(after)
    added = sorted(new.keys() - old.keys())
    removed = sorted(old.keys() - new.keys())
    configs = sorted(n for n in new.keys() & old.keys() if _plain(new[n].config) != _plain(old[n].config))
    retyped = sorted(n for n in new.keys() & old.keys() if new[n].type != old[n].type)
    parts = []
    if added:
        parts.append("nodes added: " + ", ".join(added))
    if removed:
        parts.append("nodes removed: " + ", ".join(removed))
    if retyped:
        parts.append("types changed: " + ", ".join(retyped))
    if configs:
        parts.append("configs changed: " + ", ".join(configs))
    old_edges, new_edges = _edges(before), _edges(after)
    if old_edges != new_edges:
        parts.append(f"edges: +{len(new_edges - old_edges)} -{len(old_edges - new_edges)}")
    summary = "; ".join(parts) or "layout or labels changed"
    return summary[:500]


def _plain(value: Any) -> Any:
    """Configs compare as parsed JSON: 10 and 10.0 and Decimal("10") are the same number."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value)).normalize()
    return value


__all__ = [
    "SYSTEM_ACTOR",
    "Deployment",
    "DeploymentSummary",
    "EventType",
    "GraphVersion",
    "StrategyEvent",
    "event_id_for",
    "new_deployment_id",
    "new_event_id",
    "summarize_change",
]
