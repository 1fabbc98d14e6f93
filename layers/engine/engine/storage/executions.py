"""ExecutionLogs table: one item per run (and per `skipped` record), newest first, expiring by TTL."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from engine.models.execution import ExecutionLog
from engine.storage.dynamo import (
    StorageClients,
    from_item,
    get_clients,
    map_error,
    plain_numbers,
    time_key,
    to_item,
)
from engine.storage.pages import Page
from engine.storage.query import Expr, signed_page_query

STORAGE_ONLY = ("log_key", "expires_at")


def log_key(log: ExecutionLog) -> str:
    # scheduled_for first: the sort key orders logs by slot, and `since` is a key condition
    return f"{time_key(log.scheduled_for)}#{log.execution_id}"


def filtered_scope(base: str, *, status: str | None, since: datetime | None) -> str:
    """The list's token scope with its filters in it (`limit` stays free)."""
    return f"{base}|status={status or ''}|since={time_key(since) if since is not None else ''}"


def log_from_item(item: Mapping[str, Any]) -> ExecutionLog:
    values = from_item(item)
    for attribute in STORAGE_ONLY:
        values.pop(attribute, None)
    # logs carry no money; trace decisions are free-form JSON that must keep ints and floats
    return ExecutionLog.model_validate(plain_numbers(values))


class ExecutionLogRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        self.clients = clients or get_clients()
        self.db = self.clients.dynamodb
        self.settings = self.clients.settings
        self.table = self.settings.executions_table

    def item_for(self, log: ExecutionLog) -> dict[str, Any]:
        """The typed item, with `log_key` and the TTL `expires_at` (epoch seconds)."""
        values = log.model_dump(mode="python")
        values["log_key"] = log_key(log)
        expires = log.executed_at + timedelta(days=self.settings.execution_log_ttl_days)
        values["expires_at"] = int(expires.timestamp())
        return to_item(values)

    def put(self, log: ExecutionLog) -> None:
        try:
            self.db.put_item(TableName=self.table, Item=self.item_for(log))
        except ClientError as exc:
            raise map_error(exc, what="write execution log") from exc

    def list(
        self,
        strategy_id: str,
        *,
        limit: int,
        next_token: str | None,
        status: str | None = None,
        since: datetime | None = None,
        scope: str,
    ) -> Page[ExecutionLog]:
        """Logs newest first; `since` bounds the key, `status` filters without leaving pages short.

        `scope` names the caller (the owner); the token is bound to it, to this strategy's logs and to the
        filters (`status`, `since`); `limit` may change from page to page.
        """
        expr = Expr()
        condition = f"{expr.name('strategy_id')} = {expr.value(strategy_id)}"
        if since is not None:
            condition += f" AND {expr.name('log_key')} >= {expr.value(time_key(since))}"
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
        }
        if status is not None:
            params["FilterExpression"] = f"{expr.name('status')} = {expr.value(status)}"
        params.update(expr.kwargs())
        items, token = signed_page_query(
            self.db,
            params,
            settings=self.settings,
            # the filters are part of the scope: a token reused with other ones fails its signature, instead
            # of starting a query outside its key range (DynamoDB refuses that) or skipping items silently
            scope=filtered_scope(f"executions|{scope}|{strategy_id}", status=status, since=since),
            bound=("strategy_id", strategy_id),
            next_token=next_token,
            limit=limit,
            key_attributes=("strategy_id", "log_key"),
            filtered=status is not None,
            what="list execution logs",
        )
        return Page(items=[log_from_item(i) for i in items], next_token=token)
