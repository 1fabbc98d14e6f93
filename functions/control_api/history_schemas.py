"""Answers of the history routes: deployment records, graph versions and the activity timeline."""

from __future__ import annotations

from pydantic import Field

from engine.models.base import Model, UtcDatetime
from engine.models.history import Deployment, DeploymentSummary, EventType, GraphVersion, StrategyEvent
from engine.models.strategy import NodeGraph


class DeploymentOut(Deployment):
    """One deploy: its settings, the graph versions that ran while it was live, and (once a later deploy
    replaced it) `ended_at` and `final_summary`."""

    final_summary: DeploymentSummary | None = None


class DeploymentListOut(Model):
    items: list[DeploymentOut]
    next_token: str | None = None


class GraphVersionSummaryOut(Model):
    """One kept graph in the list: its number, when and by whom, what changed, and whether it is current."""

    graph_version: int
    created_at: UtcDatetime
    created_by: str
    summary: str
    restored_from: int | None = None
    current: bool = Field(description="true for the strategy's current graph_version")

    @classmethod
    def of(cls, version: GraphVersion, *, current: int) -> GraphVersionSummaryOut:
        values = version.model_dump(include=set(cls.model_fields) - {"current"})
        return cls.model_validate({**values, "current": version.graph_version == current})


class GraphVersionOut(GraphVersionSummaryOut):
    """One kept graph with the graph itself."""

    node_graph: NodeGraph

    @classmethod
    def full(cls, version: GraphVersion, *, current: int) -> GraphVersionOut:
        values = version.model_dump(include=set(cls.model_fields) - {"current"})
        return cls.model_validate({**values, "current": version.graph_version == current})


class GraphVersionListOut(Model):
    items: list[GraphVersionSummaryOut]
    next_token: str | None = None


class StrategyEventOut(Model):
    """One timeline entry: `actor` is the user's sub, or `system` for what the engine did by itself."""

    event_id: str
    type: EventType
    at: UtcDatetime
    actor: str
    from_status: str | None = None
    to_status: str | None = None
    reason: str | None = None
    graph_version: int | None = None
    deployment_id: str | None = None
    execution_id: str | None = None

    @classmethod
    def of(cls, event: StrategyEvent) -> StrategyEventOut:
        return cls.model_validate(event.model_dump(include=set(cls.model_fields)))


class StrategyEventListOut(Model):
    items: list[StrategyEventOut]
    next_token: str | None = None
