"""A strategy's history items: deployment records, kept graph versions and timeline events.

They live in the per-strategy partition of the Portfolios table (`strategy_id`, `sk`) beside the account and
the read model: `DEP#<deployment_id>`, `VER#<graph_version:06d>`, `EVT#<at>#<event_id>`. So a strategy's
DELETE purge (one partition) removes them with everything else, the state changes that write them can put
them in the same transaction as the strategy update, and no function needs a new table or permission.
The writers here return TransactWriteItems entries; the use cases put them in their transactions.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from engine.models.history import Deployment, DeploymentSummary, GraphVersion, StrategyEvent
from engine.storage.dynamo import (
    StorageClients,
    from_item,
    get_clients,
    map_error,
    plain_numbers,
    storable,
    time_key,
    to_item,
    to_value,
)
from engine.storage.pages import Page
from engine.storage.query import Expr, signed_page_query

DEPLOYMENT_PREFIX = "DEP#"
VERSION_PREFIX = "VER#"
EVENT_PREFIX = "EVT#"


def deployment_sk(deployment_id: str) -> str:
    return DEPLOYMENT_PREFIX + deployment_id


def version_sk(graph_version: int) -> str:
    return f"{VERSION_PREFIX}{graph_version:06d}"


def event_sk(event: StrategyEvent) -> str:
    return f"{EVENT_PREFIX}{time_key(event.at)}#{event.event_id}"


def _values(item: Mapping[str, Any]) -> dict[str, Any]:
    values = from_item(item)
    values.pop("sk", None)
    return values


def deployment_from_item(item: Mapping[str, Any]) -> Deployment:
    values = _values(item)
    values["graph_versions"] = [int(v) for v in values.get("graph_versions", [])]
    return Deployment.model_validate(values)


def version_from_item(item: Mapping[str, Any]) -> GraphVersion:
    values = _values(item)
    values["node_graph"] = plain_numbers(values.get("node_graph"))
    return GraphVersion.model_validate(values)


def event_from_item(item: Mapping[str, Any]) -> StrategyEvent:
    return StrategyEvent.model_validate(_values(item))


class HistoryRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        self.clients = clients or get_clients()
        self.db = self.clients.dynamodb
        self.settings = self.clients.settings
        self.table = self.settings.portfolios_table

    # -- transaction entries --------------------------------------------------------------------------

    def put_deployment(self, deployment: Deployment) -> dict[str, Any]:
        item = to_item(
            {**deployment.model_dump(mode="python"), "sk": deployment_sk(deployment.deployment_id)}
        )
        return {
            "Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(sk)"}
        }

    def end_deployment(
        self, strategy_id: str, deployment_id: str, *, ended_at: datetime, summary: DeploymentSummary
    ) -> dict[str, Any]:
        expr = Expr()
        return {
            "Update": {
                "TableName": self.table,
                "Key": self._key(strategy_id, deployment_sk(deployment_id)),
                "UpdateExpression": (
                    f"SET {expr.name('ended_at')} = {expr.value(ended_at)}, "
                    f"{expr.name('final_summary')} = {expr.value(summary)}"
                ),
                "ConditionExpression": f"attribute_exists({expr.name('sk')})",
                **expr.kwargs(),
            }
        }

    def append_graph_version(
        self, strategy_id: str, deployment_id: str, graph_version: int
    ) -> dict[str, Any]:
        expr = Expr()
        return {
            "Update": {
                "TableName": self.table,
                "Key": self._key(strategy_id, deployment_sk(deployment_id)),
                "UpdateExpression": (
                    f"SET {expr.name('graph_versions')} = list_append({expr.name('graph_versions')}, "
                    f"{expr.value([graph_version])})"
                ),
                # an ended deployment's list is closed: a PATCH racing a redeploy must not extend it
                "ConditionExpression": (
                    f"attribute_exists({expr.name('sk')}) AND attribute_not_exists({expr.name('ended_at')})"
                ),
                **expr.kwargs(),
            }
        }

    def put_version(self, version: GraphVersion) -> dict[str, Any]:
        values = version.model_dump(mode="python")
        item = to_item({**values, "sk": version_sk(version.graph_version)})
        # a graph number is written once: a racing writer of the same number loses the whole transaction
        return {
            "Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(sk)"}
        }

    def put_event(self, event: StrategyEvent) -> dict[str, Any]:
        item = to_item({**event.model_dump(mode="python"), "sk": event_sk(event)})
        return {"Put": {"TableName": self.table, "Item": item}}

    def write_event(self, event: StrategyEvent) -> None:
        """One event on its own (for changes that are not transactional themselves)."""
        try:
            self.db.put_item(**self.put_event(event)["Put"])
        except ClientError as exc:
            raise map_error(exc, what="write event") from exc

    # -- reads ----------------------------------------------------------------------------------------

    def _key(self, strategy_id: str, sk: str) -> dict[str, Any]:
        return {"strategy_id": {"S": strategy_id}, "sk": {"S": sk}}

    def _get(self, strategy_id: str, sk: str, what: str) -> dict[str, Any] | None:
        try:
            response = self.db.get_item(
                TableName=self.table, Key=self._key(strategy_id, sk), ConsistentRead=True
            )
        except ClientError as exc:
            raise map_error(exc, what=what) from exc
        item: dict[str, Any] | None = response.get("Item")
        return item

    def get_deployment(self, strategy_id: str, deployment_id: str) -> Deployment | None:
        item = self._get(strategy_id, deployment_sk(deployment_id), "read deployment")
        return None if item is None else deployment_from_item(item)

    def get_version(self, strategy_id: str, graph_version: int) -> GraphVersion | None:
        item = self._get(strategy_id, version_sk(graph_version), "read graph version")
        return None if item is None else version_from_item(item)

    def _page(
        self, strategy_id: str, prefix: str, *, kind: str, scope: str, limit: int, next_token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        expr = Expr()
        params = {
            "TableName": self.table,
            "KeyConditionExpression": (
                f"{expr.name('strategy_id')} = {expr.value(strategy_id)} "
                f"AND begins_with({expr.name('sk')}, {expr.value(prefix)})"
            ),
            "ScanIndexForward": False,
            **expr.kwargs(),
        }
        return signed_page_query(
            self.db,
            params,
            settings=self.settings,
            scope=f"{kind}|{scope}|{strategy_id}",
            bound=("strategy_id", strategy_id),
            next_token=next_token,
            limit=limit,
            key_attributes=("strategy_id", "sk"),
            filtered=False,
            what=f"list {kind}",
        )

    def list_deployments(
        self, strategy_id: str, *, scope: str, limit: int, next_token: str | None
    ) -> Page[Deployment]:
        """Newest first (deployment ids sort by deploy time)."""
        items, token = self._page(
            strategy_id,
            DEPLOYMENT_PREFIX,
            kind="deployments",
            scope=scope,
            limit=limit,
            next_token=next_token,
        )
        return Page(items=[deployment_from_item(i) for i in items], next_token=token)

    def list_versions(
        self, strategy_id: str, *, scope: str, limit: int, next_token: str | None
    ) -> Page[GraphVersion]:
        """Newest first."""
        items, token = self._page(
            strategy_id, VERSION_PREFIX, kind="versions", scope=scope, limit=limit, next_token=next_token
        )
        return Page(items=[version_from_item(i) for i in items], next_token=token)

    def list_events(
        self, strategy_id: str, *, scope: str, limit: int, next_token: str | None
    ) -> Page[StrategyEvent]:
        """Newest first."""
        items, token = self._page(
            strategy_id, EVENT_PREFIX, kind="events", scope=scope, limit=limit, next_token=next_token
        )
        return Page(items=[event_from_item(i) for i in items], next_token=token)


__all__ = [
    "HistoryRepository",
    "deployment_from_item",
    "deployment_sk",
    "event_from_item",
    "event_sk",
    "storable",
    "to_value",
    "version_from_item",
    "version_sk",
]
