"""ExecutionLogs table: one item per run (and per `skipped` record), newest first, expiring by TTL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.models.execution import ExecutionLog
from engine.storage.dynamo import StorageClients
from engine.storage.pages import Page


class ExecutionLogRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        raise NotImplementedError

    def item_for(self, log: ExecutionLog) -> dict[str, Any]:
        """The typed item, with `log_key` and the TTL `expires_at`."""
        raise NotImplementedError

    def put(self, log: ExecutionLog) -> None:
        raise NotImplementedError

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
        """Logs newest first; `since` bounds the key, `status` filters without leaving pages short."""
        raise NotImplementedError
