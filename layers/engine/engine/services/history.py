"""A strategy's history behind the control API: deployment records, graph versions (and their restore) and
the activity timeline. Every read is scoped to the strategy's owner first (StrategyNotFound otherwise)."""

from __future__ import annotations

from datetime import datetime

from engine.errors import DeploymentNotFound, VersionNotFound
from engine.models.history import Deployment, GraphVersion, StrategyEvent
from engine.models.strategy import Strategy
from engine.services.strategies import Stores, patch_strategy
from engine.storage.pages import Page


def list_deployments(
    strategy_id: str, *, owner: str, limit: int, next_token: str | None, stores: Stores
) -> Page[Deployment]:
    """The strategy's deployments, newest first."""
    stores.strategies.get(strategy_id, owner=owner)
    return stores.history.list_deployments(strategy_id, scope=owner, limit=limit, next_token=next_token)


def get_deployment(strategy_id: str, deployment_id: str, *, owner: str, stores: Stores) -> Deployment:
    stores.strategies.get(strategy_id, owner=owner)
    deployment = stores.history.get_deployment(strategy_id, deployment_id)
    if deployment is None:
        raise DeploymentNotFound("deployment not found")
    return deployment


def list_versions(
    strategy_id: str, *, owner: str, limit: int, next_token: str | None, stores: Stores
) -> tuple[Strategy, Page[GraphVersion]]:
    """The strategy (to mark its current version) and its kept graph versions, newest first."""
    strategy = stores.strategies.get(strategy_id, owner=owner)
    page = stores.history.list_versions(strategy_id, scope=owner, limit=limit, next_token=next_token)
    return strategy, page


def get_version(
    strategy_id: str, graph_version: int, *, owner: str, stores: Stores
) -> tuple[Strategy, GraphVersion]:
    strategy = stores.strategies.get(strategy_id, owner=owner)
    version = stores.history.get_version(strategy_id, graph_version)
    if version is None:
        raise VersionNotFound(f"graph version {graph_version} not found")
    return strategy, version


def restore_version(
    strategy_id: str,
    graph_version: int,
    *,
    owner: str,
    expected_version: int | None,
    now: datetime,
    stores: Stores,
) -> Strategy:
    """Make version n's graph current again, as a new version (the history only grows). It goes through the
    PATCH path, so the state table, If-Match, the live deployment's `graph_versions` and the timeline
    (`restored`) behave exactly as for an edit; restoring the graph that is current changes nothing."""
    _, version = get_version(strategy_id, graph_version, owner=owner, stores=stores)
    return patch_strategy(
        strategy_id,
        owner=owner,
        changes={"node_graph": version.node_graph.model_dump(mode="json")},
        expected_version=expected_version,
        now=now,
        stores=stores,
        restored_from=graph_version,
    )


def list_events(
    strategy_id: str, *, owner: str, limit: int, next_token: str | None, stores: Stores
) -> Page[StrategyEvent]:
    """The activity timeline, newest first."""
    stores.strategies.get(strategy_id, owner=owner)
    return stores.history.list_events(strategy_id, scope=owner, limit=limit, next_token=next_token)


__all__ = [
    "get_deployment",
    "get_version",
    "list_deployments",
    "list_events",
    "list_versions",
    "restore_version",
]
