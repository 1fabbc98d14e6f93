"""Strategies table: CRUD scoped to the owner, the sparse due index, and per-slot claims."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.models.strategy import Strategy, StrategyStatus
from engine.storage.dynamo import StorageClients
from engine.storage.pages import Page


@dataclass(frozen=True)
class DueRef:
    """A strategy the due index says is due, with the `due_at` seen (the claim's condition compares it)."""

    strategy_id: str
    due_at: datetime


def scheduling_fields(status: StrategyStatus, due_at: datetime | None) -> tuple[dict[str, Any], list[str]]:
    """(fields to set, fields to remove) for a status change: RUNNING joins the due index, others leave it."""
    raise NotImplementedError


class StrategyRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        raise NotImplementedError

    def create(self, strategy: Strategy) -> None:
        """Store a new strategy; Conflict when the id exists."""
        raise NotImplementedError

    def put_many(self, strategies: Iterable[Strategy]) -> None:
        """Batch-write strategies without conditions (seeding, benchmarks)."""
        raise NotImplementedError

    def get(self, strategy_id: str, *, owner: str) -> Strategy:
        """The owner's strategy; StrategyNotFound when it is missing or someone else's (same error)."""
        raise NotImplementedError

    def find(self, strategy_id: str) -> Strategy | None:
        """Unscoped read for the executor."""
        raise NotImplementedError

    def list_by_owner(self, owner: str, *, limit: int, next_token: str | None) -> Page[Strategy]:
        """The owner's strategies, newest first."""
        raise NotImplementedError

    def count_by_owner(self, owner: str, *, up_to: int) -> int:
        """How many strategies the owner has, counting no further than `up_to`."""
        raise NotImplementedError

    def update(
        self,
        strategy_id: str,
        *,
        owner: str,
        expected_version: int | None,
        allowed_status: Collection[StrategyStatus] | None,
        set_fields: Mapping[str, Any],
        remove_fields: Collection[str] = (),
        now: datetime,
    ) -> Strategy:
        """One conditional UpdateItem; bumps `version` and `updated_at`; returns the new strategy."""
        raise NotImplementedError

    def delete(
        self, strategy_id: str, *, owner: str, allowed_status: Collection[StrategyStatus] | None
    ) -> None:
        raise NotImplementedError

    def purge_strategy_data(self, strategy_id: str) -> None:
        """Delete the strategy's trades, logs, account, portfolio and equity items (batched)."""
        raise NotImplementedError

    def due_shard_for(self, strategy_id: str) -> str:
        raise NotImplementedError

    def query_due(self, *, now: datetime, limit: int) -> list[DueRef]:
        """Due strategies, oldest first, at most `limit`; every shard queried concurrently."""
        raise NotImplementedError

    def claim(self, ref: DueRef, *, slot: datetime, now: datetime, lease_seconds: int) -> Strategy | None:
        """Take the strategy's slot (INTERNALS step 1); None when someone else holds it or it is not due."""
        raise NotImplementedError
