"""Trades table: the paper ledger (ordered by the `by_seq` index) and the per-strategy `~marks` item."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from engine.clock import parse_iso
from engine.models.trading import Trade
from engine.storage.dynamo import StorageClients, from_item, get_clients, map_error, to_item
from engine.storage.pages import Page
from engine.storage.query import Expr, query_all, signed_page_query

MARKS_ID = "~marks"
BY_SEQ = "by_seq"
BY_DEPLOYMENT = "by_deployment"  # GSI (deployment_id, seq_key): a deployment's trades in ledger order
MAX_SEQ = 9_999_999_999


def seq_key(epoch: int, seq: int) -> str:
    return f"{epoch:06d}#{seq:010d}"


def trade_from_item(item: Mapping[str, Any]) -> Trade:
    values = from_item(item)
    values.pop("seq_key", None)
    return Trade.model_validate(values)


class TradeRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        self.clients = clients or get_clients()
        self.db = self.clients.dynamodb
        self.settings = self.clients.settings
        self.table = self.settings.trades_table

    def item_for(self, trade: Trade) -> dict[str, Any]:
        values = trade.model_dump(mode="python")
        values["seq_key"] = seq_key(trade.epoch, trade.seq)
        return to_item(values)

    def marks_item(
        self, strategy_id: str, marks: Mapping[str, Mapping[str, Any]], marked_at: datetime
    ) -> dict[str, Any]:
        """The `~marks` item: no `seq_key`, so it is never in `by_seq` and never listed as a trade."""
        return to_item(
            {
                "strategy_id": strategy_id,
                "trade_id": MARKS_ID,
                "marked_at": marked_at,
                "marks": {token: dict(mark) for token, mark in marks.items()},
            }
        )

    def list(
        self,
        strategy_id: str,
        *,
        limit: int,
        next_token: str | None,
        scope: str,
        deployment_id: str | None = None,
    ) -> Page[Trade]:
        """Trades newest first (ledger order, newest epoch first). `scope` names the caller (the owner).

        With `deployment_id` (checked by the caller to be this strategy's): that deployment's trades only,
        read through the `by_deployment` index, never a filter over the whole ledger."""
        expr = Expr()
        index, partition, value = BY_SEQ, "strategy_id", strategy_id
        if deployment_id is not None:
            index, partition, value = BY_DEPLOYMENT, "deployment_id", deployment_id
        params = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": f"{expr.name(partition)} = {expr.value(value)}",
            "ScanIndexForward": False,
            **expr.kwargs(),
        }
        keys: tuple[str, ...] = ("strategy_id", "trade_id", "seq_key")
        if deployment_id is not None:
            keys = (*keys, "deployment_id")
        items, token = signed_page_query(
            self.db,
            params,
            settings=self.settings,
            scope=f"trades|{scope}|{strategy_id}|{deployment_id or ''}",
            bound=(partition, value),
            next_token=next_token,
            limit=limit,
            key_attributes=keys,
            filtered=False,
            what="list trades",
        )
        return Page(items=[trade_from_item(i) for i in items], next_token=token)

    def count_by_deployment(self, deployment_id: str) -> int:
        """How many trades a deployment made (a COUNT query on `by_deployment`)."""
        expr = Expr()
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": BY_DEPLOYMENT,
            "KeyConditionExpression": f"{expr.name('deployment_id')} = {expr.value(deployment_id)}",
            "Select": "COUNT",
            **expr.kwargs(),
        }
        count = 0
        while True:
            try:
                response = self.db.query(**request)
            except ClientError as exc:
                raise map_error(exc, what="count trades") from exc
            count += int(response.get("Count", 0))
            if not response.get("LastEvaluatedKey"):
                return count
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _range(self, strategy_id: str, low: str, high: str, limit: int | None) -> builtins.list[Trade]:
        expr = Expr()
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": BY_SEQ,
            "KeyConditionExpression": (
                f"{expr.name('strategy_id')} = {expr.value(strategy_id)} "
                f"AND {expr.name('seq_key')} BETWEEN {expr.value(low)} AND {expr.value(high)}"
            ),
            "ScanIndexForward": True,
            **expr.kwargs(),
        }
        if limit is None:
            return [trade_from_item(i) for i in query_all(self.db, request, what="read ledger")]
        trades: builtins.list[Trade] = []
        while len(trades) < limit:
            request["Limit"] = limit - len(trades)
            try:
                response = self.db.query(**request)
            except ClientError as exc:
                raise map_error(exc, what="read ledger") from exc
            trades.extend(trade_from_item(i) for i in response.get("Items", []))
            if not response.get("LastEvaluatedKey"):
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return trades

    def after_seq(
        self, strategy_id: str, *, epoch: int, after_seq: int, limit: int = 1000
    ) -> builtins.list[Trade]:
        """Trades of `epoch` with seq > after_seq, in seq order, at most `limit`."""
        return self._range(strategy_id, seq_key(epoch, after_seq + 1), seq_key(epoch, MAX_SEQ), limit)

    def ledger(self, strategy_id: str, *, epoch: int) -> builtins.list[Trade]:
        """Every trade of `epoch`, in seq order."""
        return self._range(strategy_id, seq_key(epoch, 1), seq_key(epoch, MAX_SEQ), None)

    def get_marks(self, strategy_id: str) -> dict[str, Any] | None:
        """{"marked_at": datetime, "marks": {token_id: {"price": Decimal, "status": str}}} or None."""
        try:
            response = self.db.get_item(
                TableName=self.table,
                Key={"strategy_id": {"S": strategy_id}, "trade_id": {"S": MARKS_ID}},
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise map_error(exc, what="read marks") from exc
        if "Item" not in response:
            return None
        values = from_item(response["Item"])
        return {"marked_at": parse_iso(values["marked_at"]), "marks": values.get("marks", {})}
