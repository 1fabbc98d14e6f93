"""The NOTIFY nodes' durable state: per strategy, the set of markets each node saw in its last run.

One item per strategy in the Portfolios table (`sk = "ALERTS"`): `seen` maps node id to market ids, and
`version` guards it. It is written in the run's completion transaction (storage.runs), conditioned on the
version the run read, so two runs that overlap (a manual run beside the cron's) cannot both tell the same
market as new: the second one re-reads and decides again, like an account conflict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engine.storage.dynamo import StorageClients, get_clients, map_error
from engine.storage.query import Expr

ALERTS_SK = "ALERTS"


@dataclass(frozen=True)
class AlertState:
    """What the NOTIFY nodes saw last (by node id) and the item's version (0: no item yet)."""

    seen: Mapping[str, frozenset[str]] = field(default_factory=dict)
    version: int = 0


class AlertStateRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        self.clients = clients or get_clients()
        self.db = self.clients.dynamodb
        self.table = self.clients.settings.portfolios_table

    def get(self, strategy_id: str) -> AlertState:
        try:
            response = self.db.get_item(
                TableName=self.table,
                Key={"strategy_id": {"S": strategy_id}, "sk": {"S": ALERTS_SK}},
                ConsistentRead=True,  # the previous set decides what is new: never a stale read
            )
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, what="read alert state") from exc
        item = response.get("Item")
        if item is None:
            return AlertState()
        seen = {
            node_id: frozenset(value.get("SS", [])) if "SS" in value else frozenset()
            for node_id, value in item.get("seen", {}).get("M", {}).items()
        }
        return AlertState(seen=seen, version=int(item["version"]["N"]))

    def put_for_commit(
        self, strategy_id: str, seen: Mapping[str, frozenset[str]], *, read_version: int
    ) -> dict[str, Any]:
        """The transaction item that stores `seen` at `read_version + 1`, if nobody wrote since."""
        expr = Expr()
        if read_version == 0:
            condition = f"attribute_not_exists({expr.name('sk')})"
        else:
            condition = f"{expr.name('version')} = {expr.value(read_version)}"
        # a string set cannot be empty: an empty set is stored as the NULL marker
        values: dict[str, Any] = {
            node_id: {"SS": sorted(ids)} if ids else {"NULL": True} for node_id, ids in seen.items()
        }
        item = {
            "strategy_id": {"S": strategy_id},
            "sk": {"S": ALERTS_SK},
            "seen": {"M": values},
            "version": {"N": str(read_version + 1)},
        }
        return {
            "Put": {
                "TableName": self.table,
                "Item": item,
                "ConditionExpression": condition,
                **expr.kwargs(),
            }
        }


__all__ = ["ALERTS_SK", "AlertState", "AlertStateRepository"]
