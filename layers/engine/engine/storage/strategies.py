"""Strategies table: CRUD scoped to the owner, the sparse due index, and per-slot claims."""

from __future__ import annotations

import hashlib
import heapq
import logging
import math
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engine.clock import parse_iso
from engine.errors import Conflict, InvalidTransition, PreconditionFailed, RateLimited, StrategyNotFound
from engine.models.strategy import Strategy, StrategyStatus, allowed_actions
from engine.storage import quota as quota_counter
from engine.storage.dynamo import (
    StorageClients,
    error_code,
    from_item,
    get_clients,
    map_error,
    plain_numbers,
    storable,
    time_key,
    to_item,
)
from engine.storage.limits import check_storable
from engine.storage.pages import Page
from engine.storage.query import Expr, batch_write, delete_partition, signed_page_query

logger = logging.getLogger(__name__)

BY_OWNER = "by_owner"
DUE_INDEX = "due"
# attributes that exist only in storage (index keys); never part of the domain model
STORAGE_ONLY = ("created_key", "due_shard", "manual_run_at")
# fields `update` may not touch: identity, ownership and the counters it maintains itself
PROTECTED = frozenset(
    {"strategy_id", "created_by", "created_at", "version", "updated_at", "avg_execution_time_ms"}
)
SCHEDULING = ("due_at", "next_execution_at")
CLAIM = ("claim_token", "claim_slot", "claim_expires_at")
_UPDATABLE = frozenset(Strategy.model_fields) - PROTECTED


@dataclass(frozen=True)
class DueRef:
    """A strategy the due index says is due, with the `due_at` seen (the claim's condition compares it)."""

    strategy_id: str
    due_at: datetime


DUE_PAGE_SIZE = 250  # index items per due query page (README: sizing the due shards)


def due_shard(strategy_id: str, shards: int) -> str:
    return str(int(hashlib.sha256(strategy_id.encode()).hexdigest()[:8], 16) % shards)


def scheduling_fields(status: StrategyStatus, due_at: datetime | None) -> tuple[dict[str, Any], list[str]]:
    """(fields to set, fields to remove) for a status change: RUNNING joins the due index, others leave it.

    Leaving RUNNING also drops any claim, so a run in flight when the user pauses lands nothing (its
    completion is conditioned on the claim) and cannot put `due_at` back on a paused strategy.
    """
    if status is StrategyStatus.RUNNING:
        if due_at is None:
            raise ValueError("a RUNNING strategy needs its next slot (due_at)")
        return {"status": status, "is_active": True, "due_at": due_at, "next_execution_at": due_at}, []
    return {"status": status, "is_active": False}, [*SCHEDULING, *CLAIM]


def strategy_to_item(strategy: Strategy, *, shards: int) -> dict[str, Any]:
    values = strategy.model_dump(mode="python", exclude={"avg_execution_time_ms"})
    values["created_key"] = f"{time_key(strategy.created_at)}#{strategy.strategy_id}"
    if strategy.status is StrategyStatus.RUNNING and strategy.due_at is not None:
        values["due_shard"] = due_shard(strategy.strategy_id, shards)
    else:
        # the due index is sparse: only RUNNING strategies carry its keys
        values["due_at"] = None
    return to_item(values)


def strategy_from_item(item: Mapping[str, Any]) -> Strategy:
    values = from_item(item)
    for attribute in STORAGE_ONLY:
        values.pop(attribute, None)
    # graph configs are free-form JSON: give them back their ints and floats, not Decimals
    values["node_graph"] = plain_numbers(values.get("node_graph"))
    strategy = Strategy.model_validate(values)
    strategy.avg_execution_time_ms = strategy.derived_avg_ms()
    return strategy


class StrategyRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        self.clients = clients or get_clients()
        self.db = self.clients.dynamodb
        self.settings = self.clients.settings
        self.table = self.settings.strategies_table

    # -- CRUD, scoped to the owner ----------------------------------------------------------------------

    def create(
        self, strategy: Strategy, *, quota: int | None = None, also: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        """Store a new strategy; Conflict when the id exists. `also`: more TransactWriteItems entries
        (its first graph version, its `created` event) written in the same transaction. With `quota`, the
        owner's counter goes up in that transaction too, and QuotaExceeded when it is reached
        (engine.storage.quota)."""
        if quota is not None:
            quota_counter.create_within_quota(
                self.db,
                self.table,
                strategy.created_by,
                strategy_to_item(strategy, shards=self.settings.due_shards),
                quota=quota,
                count_existing=lambda up_to: self.count_by_owner(strategy.created_by, up_to=up_to),
                also=also,
            )
            return
        put = {
            "TableName": self.table,
            "Item": strategy_to_item(strategy, shards=self.settings.due_shards),
            "ConditionExpression": "attribute_not_exists(strategy_id)",
        }
        try:
            if also:
                self.db.transact_write_items(TransactItems=[{"Put": put}, *also])
            else:
                self.db.put_item(**put)
        except ClientError as exc:
            if error_code(exc) in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                raise Conflict("a strategy with this id exists") from exc
            raise map_error(exc, what="create strategy") from exc

    def put_many(self, strategies: Iterable[Strategy]) -> None:
        """Batch-write strategies without conditions (seeding, benchmarks)."""
        shards = self.settings.due_shards
        requests = ({"PutRequest": {"Item": strategy_to_item(s, shards=shards)}} for s in strategies)
        batch_write(self.db, self.table, requests, what="put strategies")

    def _get_item(self, strategy_id: str) -> dict[str, Any] | None:
        try:
            response = self.db.get_item(
                TableName=self.table, Key={"strategy_id": {"S": strategy_id}}, ConsistentRead=True
            )
        except ClientError as exc:
            raise map_error(exc, what="read strategy") from exc
        item: dict[str, Any] | None = response.get("Item")
        return item

    def get(self, strategy_id: str, *, owner: str) -> Strategy:
        """The owner's strategy; StrategyNotFound when it is missing or someone else's (same error)."""
        item = self._get_item(strategy_id)
        if item is None or item.get("created_by", {}).get("S") != owner:
            raise StrategyNotFound("strategy not found")
        return strategy_from_item(item)

    def find(self, strategy_id: str) -> Strategy | None:
        """Unscoped read for the executor."""
        item = self._get_item(strategy_id)
        return None if item is None else strategy_from_item(item)

    def list_by_owner(self, owner: str, *, limit: int, next_token: str | None) -> Page[Strategy]:
        """The owner's strategies, newest first."""
        expr = Expr()
        params = {
            "TableName": self.table,
            "IndexName": BY_OWNER,
            "KeyConditionExpression": f"{expr.name('created_by')} = {expr.value(owner)}",
            "ScanIndexForward": False,
            **expr.kwargs(),
        }
        items, token = signed_page_query(
            self.db,
            params,
            settings=self.settings,
            scope=f"strategies|{owner}",
            bound=("created_by", owner),
            next_token=next_token,
            limit=limit,
            key_attributes=("strategy_id", "created_by", "created_key"),
            filtered=False,
            what="list strategies",
        )
        return Page(items=[strategy_from_item(i) for i in items], next_token=token)

    def count_by_owner(self, owner: str, *, up_to: int) -> int:
        """How many strategies the owner has, counting no further than `up_to`."""
        expr = Expr()
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": BY_OWNER,
            "KeyConditionExpression": f"{expr.name('created_by')} = {expr.value(owner)}",
            "Select": "COUNT",
            **expr.kwargs(),
        }
        count = 0
        while count < up_to:
            request["Limit"] = up_to - count
            try:
                response = self.db.query(**request)
            except ClientError as exc:
                raise map_error(exc, what="count strategies") from exc
            count += int(response.get("Count", 0))
            if not response.get("LastEvaluatedKey"):
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return min(count, up_to)

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
        also: Sequence[Mapping[str, Any]] = (),
    ) -> Strategy:
        """One conditional UpdateItem; bumps `version` and `updated_at`; returns the new strategy.

        StrategyNotFound (missing or not the owner's), PreconditionFailed (version), InvalidTransition
        (status not in `allowed_status`; details carry the current status and its allowed actions).
        Setting `status` RUNNING needs `due_at` (see `scheduling_fields`); any other status leaves the
        due index. A None value removes the attribute. `also`: more TransactWriteItems entries (history
        items) that land with the update or not at all; a failure of one of them is a Conflict.
        """
        to_set = dict(set_fields)
        to_remove = set(remove_fields)
        if "status" in to_set:
            status = StrategyStatus(to_set["status"])
            extra_set, extra_remove = scheduling_fields(status, to_set.get("due_at"))
            to_set = {**extra_set, **to_set}
            to_remove.update(extra_remove)
        for name in to_set.keys() | to_remove:
            if name not in _UPDATABLE:
                raise ValueError(f"strategy field {name!r} cannot be updated")
        to_remove.update(k for k, v in to_set.items() if v is None)
        to_set = {k: v for k, v in to_set.items() if v is not None}
        if to_remove & to_set.keys():
            raise ValueError(f"fields both set and removed: {sorted(to_remove & to_set.keys())}")
        # the due index's partition key follows due_at: both exist or neither
        if "due_at" in to_set:
            to_set["due_shard"] = due_shard(strategy_id, self.settings.due_shards)
        if "due_at" in to_remove:
            to_remove.add("due_shard")

        # what DynamoDB would refuse is the caller's error, named by its path, before anything is written
        check_storable({k: storable(v) for k, v in to_set.items()})
        expr = Expr()
        sets = [f"{expr.name(k)} = {expr.value(storable(v))}" for k, v in to_set.items()]
        sets.append(f"{expr.name('updated_at')} = {expr.value(now)}")
        update = "SET " + ", ".join(sets) + f" ADD {expr.name('version')} {expr.value(1)}"
        if to_remove:
            update += " REMOVE " + ", ".join(expr.name(k) for k in sorted(to_remove))
        condition = self._owner_condition(expr, owner, expected_version, allowed_status)
        if also:
            return self._transact_update(
                strategy_id,
                {
                    "TableName": self.table,
                    "Key": {"strategy_id": {"S": strategy_id}},
                    "UpdateExpression": update,
                    "ConditionExpression": condition,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    **expr.kwargs(),
                },
                also,
                owner=owner,
                expected_version=expected_version,
                allowed_status=allowed_status,
            )
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key={"strategy_id": {"S": strategy_id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **expr.kwargs(),
            )
        except ClientError as exc:
            raise self._condition_error(
                exc, owner, expected_version, allowed_status, "update strategy"
            ) from exc
        return strategy_from_item(response["Attributes"])

    def _transact_update(
        self,
        strategy_id: str,
        update: dict[str, Any],
        also: Sequence[Mapping[str, Any]],
        *,
        owner: str,
        expected_version: int | None,
        allowed_status: Collection[StrategyStatus] | None,
    ) -> Strategy:
        try:
            self.db.transact_write_items(TransactItems=[{"Update": update}, *also])
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise map_error(exc, what="update strategy") from exc
            reasons = exc.response.get("CancellationReasons") or []
            first = reasons[0] if reasons else {}
            if first.get("Code") == "ConditionalCheckFailed":
                raise self._condition_failure(
                    first.get("Item"), owner, expected_version, allowed_status
                ) from exc
            # the strategy passed; a history item did not (a racing writer got there first)
            raise Conflict("the strategy changed meanwhile; try again") from exc
        item = self._get_item(strategy_id)
        if item is None:
            raise StrategyNotFound("strategy not found")
        return strategy_from_item(item)

    def start_manual_run(self, strategy_id: str, *, owner: str, now: datetime, cooldown_seconds: int) -> None:
        """Record a manual run's start unless one started within `cooldown_seconds`: RateLimited (with the
        seconds left) then. One conditional write, so two racing requests cannot both pass; `version` is
        not bumped (the strategy itself did not change)."""
        if cooldown_seconds <= 0:
            return
        expr = Expr()
        at = expr.name("manual_run_at")
        cutoff = expr.value(now - timedelta(seconds=cooldown_seconds))
        owned = f"{expr.name('created_by')} = {expr.value(owner)}"
        condition = (
            f"attribute_exists({expr.name('strategy_id')}) AND {owned}"
            f" AND (attribute_not_exists({at}) OR {at} <= {cutoff})"
        )
        try:
            self.db.update_item(
                TableName=self.table,
                Key={"strategy_id": {"S": strategy_id}},
                UpdateExpression=f"SET {at} = {expr.value(now)}",
                ConditionExpression=condition,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **expr.kwargs(),
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise map_error(exc, what="start manual run") from exc
            old = exc.response.get("Item") or {}
            if old.get("created_by", {}).get("S") != owner:
                raise StrategyNotFound("strategy not found") from exc
            last = parse_iso(old["manual_run_at"]["S"])
            left = (last + timedelta(seconds=cooldown_seconds) - now).total_seconds()
            retry_after = max(1, math.ceil(left))
            raise RateLimited(
                f"this strategy was run less than {cooldown_seconds} s ago; retry in {retry_after} s",
                retry_after=retry_after,
                details={"retry_after_seconds": retry_after},
            ) from exc

    def delete(
        self, strategy_id: str, *, owner: str, allowed_status: Collection[StrategyStatus] | None
    ) -> None:
        """Delete the strategy item (its other data goes with `purge_strategy_data`)."""
        expr = Expr()
        condition = self._owner_condition(expr, owner, None, allowed_status)
        if quota_counter.has_counter(self.db, self.table, owner):
            self._delete_counted(strategy_id, owner, allowed_status, expr, condition)
            return
        try:
            self.db.delete_item(
                TableName=self.table,
                Key={"strategy_id": {"S": strategy_id}},
                ConditionExpression=condition,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **expr.kwargs(),
            )
        except ClientError as exc:
            raise self._condition_error(exc, owner, None, allowed_status, "delete strategy") from exc

    def _delete_counted(
        self,
        strategy_id: str,
        owner: str,
        allowed_status: Collection[StrategyStatus] | None,
        expr: Expr,
        condition: str,
    ) -> None:
        """The delete and the owner's counter -1 in one transaction."""
        delete = {
            "Delete": {
                "TableName": self.table,
                "Key": {"strategy_id": {"S": strategy_id}},
                "ConditionExpression": condition,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                **expr.kwargs(),
            }
        }
        try:
            self.db.transact_write_items(TransactItems=[delete, quota_counter.uncount_op(self.table, owner)])
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if error_code(exc) != "TransactionCanceledException" or not reasons:
                raise map_error(exc, what="delete strategy") from exc
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                failed = ClientError(
                    {"Error": {"Code": "ConditionalCheckFailedException"}, "Item": reasons[0].get("Item")},
                    "DeleteItem",
                )
                raise self._condition_error(failed, owner, None, allowed_status, "delete strategy") from exc
            raise map_error(exc, what="delete strategy") from exc

    def _owner_condition(
        self,
        expr: Expr,
        owner: str,
        expected_version: int | None,
        allowed_status: Collection[StrategyStatus] | None,
    ) -> str:
        parts = [
            f"attribute_exists({expr.name('strategy_id')})",
            f"{expr.name('created_by')} = {expr.value(owner)}",
        ]
        if expected_version is not None:
            parts.append(f"{expr.name('version')} = {expr.value(expected_version)}")
        if allowed_status is not None:
            if not allowed_status:
                raise ValueError("allowed_status is empty: nothing could pass")
            options = ", ".join(expr.value(StrategyStatus(s).value) for s in sorted(allowed_status))
            parts.append(f"{expr.name('status')} IN ({options})")
        return " AND ".join(parts)

    def _condition_error(
        self,
        exc: ClientError,
        owner: str,
        expected_version: int | None,
        allowed_status: Collection[StrategyStatus] | None,
        what: str,
    ) -> Exception:
        """Which part of the condition failed, told from the item as it was (no extra read)."""
        if error_code(exc) != "ConditionalCheckFailedException":
            return map_error(exc, what=what)
        return self._condition_failure(exc.response.get("Item"), owner, expected_version, allowed_status)

    def _condition_failure(
        self,
        old: Mapping[str, Any] | None,
        owner: str,
        expected_version: int | None,
        allowed_status: Collection[StrategyStatus] | None,
    ) -> Exception:
        if not old or old.get("created_by", {}).get("S") != owner:
            return StrategyNotFound("strategy not found")
        values = from_item(old)
        version = int(values.get("version", 0))
        if expected_version is not None and version != expected_version:
            return PreconditionFailed(
                f"the strategy is at version {version}, not {expected_version}", details={"version": version}
            )
        status = StrategyStatus(values["status"])
        if allowed_status is not None and status not in allowed_status:
            return InvalidTransition(
                f"not allowed while the strategy is {status.value}",
                details={"status": status.value, "allowed": allowed_actions(status)},
            )
        return Conflict("the strategy changed meanwhile; try again")

    def purge_strategy_data(self, strategy_id: str) -> None:
        """Delete the strategy's trades, logs, account, portfolio and equity items (batched)."""
        s = self.settings
        delete_partition(
            self.db,
            s.trades_table,
            partition="strategy_id",
            value=strategy_id,
            sort_key="trade_id",
            what="purge",
        )
        delete_partition(
            self.db,
            s.executions_table,
            partition="strategy_id",
            value=strategy_id,
            sort_key="log_key",
            what="purge",
        )
        delete_partition(
            self.db,
            s.portfolios_table,
            partition="strategy_id",
            value=strategy_id,
            sort_key="sk",
            what="purge",
        )

    def sparkline_of(self, strategy_id: str) -> tuple[list[Decimal], datetime | None]:
        """The strategy's sparkline and the hour of its last value (empty when none or no strategy)."""
        expr = Expr()
        try:
            response = self.db.get_item(
                TableName=self.table,
                Key={"strategy_id": {"S": strategy_id}},
                ProjectionExpression=f"{expr.name('sparkline')}, {expr.name('sparkline_at')}",
                ExpressionAttributeNames=expr.kwargs()["ExpressionAttributeNames"],
            )
        except ClientError as exc:
            raise map_error(exc, what="read sparkline") from exc
        values = from_item(response.get("Item") or {})
        at = values.get("sparkline_at")
        return [Decimal(v) for v in values.get("sparkline") or []], (
            datetime.fromisoformat(str(at)) if at else None
        )

    def set_paper_stats(
        self,
        strategy_id: str,
        *,
        pnl_usd: Decimal,
        positions_count: int,
        epoch: int,
        sparkline: tuple[list[Decimal], datetime] | None = None,
    ) -> bool:
        """Copy the portfolio's `total_pnl_usd` and open positions count onto the strategy (the stream does).

        Not a change by the owner: `version` and `updated_at` stay, so an If-Match is never broken by a
        trade. False (and nothing written) when the strategy was deleted, or was redeployed into another
        portfolio epoch meanwhile (its fresh figures must not be overwritten by the old portfolio's).
        """
        expr = Expr()
        update = (
            f"SET {expr.name('paper_pnl_usd')} = {expr.value(pnl_usd)}, "
            f"{expr.name('paper_positions_count')} = {expr.value(positions_count)}"
        )
        if sparkline is not None:
            values, hour = sparkline
            update += (
                f", {expr.name('sparkline')} = {expr.value(values)}, "
                f"{expr.name('sparkline_at')} = {expr.value(hour.isoformat())}"
            )
        condition = (
            f"attribute_exists({expr.name('strategy_id')}) AND "
            f"(attribute_not_exists({expr.name('portfolio_epoch')}) OR "
            f"{expr.name('portfolio_epoch')} = {expr.value(epoch)})"
        )
        try:
            self.db.update_item(
                TableName=self.table,
                Key={"strategy_id": {"S": strategy_id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                **expr.kwargs(),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise map_error(exc, what="copy portfolio figures") from exc
        return True

    # -- scheduling -------------------------------------------------------------------------------------

    # Each due query page is bounded, so no single request (nor its response) grows with the number due: a
    # 10,000-due read is 4 shards x 10 pages in parallel, each page answered well inside the 5 s read timeout.
    due_page_size = DUE_PAGE_SIZE

    def due_shard_for(self, strategy_id: str) -> str:
        return due_shard(strategy_id, self.settings.due_shards)

    def query_due(self, *, now: datetime, limit: int) -> list[DueRef]:
        """Due strategies, oldest first, at most `limit`; every shard queried concurrently."""
        refs, _ = self.query_due_counted(now=now, limit=limit)
        return refs

    def query_due_counted(self, *, now: datetime, limit: int) -> tuple[list[DueRef], int]:
        """`query_due` plus the number of index items DynamoDB read for it (ScannedCount), for benchmarks."""
        if limit <= 0:
            return [], 0
        shards = [str(i) for i in range(self.settings.due_shards)]
        upper = time_key(now)
        with ThreadPoolExecutor(max_workers=min(len(shards), 32)) as pool:
            results = list(pool.map(lambda shard: self._query_shard(shard, upper, limit), shards))
        scanned = sum(count for _, count in results)
        merged = heapq.merge(*(refs for refs, _ in results), key=lambda r: (r.due_at, r.strategy_id))
        return [ref for _, ref in zip(range(limit), merged, strict=False)], scanned

    def _query_shard(self, shard: str, upper: str, limit: int) -> tuple[list[DueRef], int]:
        expr = Expr()
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": (
                f"{expr.name('due_shard')} = {expr.value(shard)} "
                f"AND {expr.name('due_at')} <= {expr.value(upper)}"
            ),
            "ScanIndexForward": True,
            **expr.kwargs(),
        }
        refs: list[DueRef] = []
        scanned = 0
        while len(refs) < limit:
            request["Limit"] = min(self.due_page_size, limit - len(refs))
            try:
                response = self.db.query(**request)
            except (ClientError, BotoCoreError) as exc:  # a timeout too: the tick logs it and returns
                raise map_error(exc, what="query due strategies") from exc
            scanned += int(response.get("ScannedCount", 0))
            for item in response.get("Items", []):
                refs.append(
                    DueRef(strategy_id=item["strategy_id"]["S"], due_at=parse_iso(item["due_at"]["S"]))
                )
            if not response.get("LastEvaluatedKey"):
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return refs, scanned

    def claim(self, ref: DueRef, *, slot: datetime, now: datetime, lease_seconds: int) -> Strategy | None:
        """Take the strategy's slot (INTERNALS step 1); None when someone else holds it or it is not due.

        `due_at` stays as it is, so a claim that is never completed is due again, and a later tick takes
        it over once the lease has passed; the strategy returned carries the new `claim_token`.
        """
        expr = Expr()
        update = (
            f"SET {expr.name('claim_token')} = {expr.value(uuid.uuid4().hex)}, "
            f"{expr.name('claim_slot')} = {expr.value(slot)}, "
            f"{expr.name('claim_expires_at')} = {expr.value(now + timedelta(seconds=lease_seconds))}"
        )
        condition = (
            f"{expr.name('status')} = {expr.value(StrategyStatus.RUNNING.value)} "
            f"AND {expr.name('due_at')} = {expr.value(ref.due_at)} "
            f"AND (attribute_not_exists({expr.name('claim_token')}) "
            f"OR {expr.name('claim_expires_at')} < {expr.value(now)})"
        )
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key={"strategy_id": {"S": ref.strategy_id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ReturnValues="ALL_NEW",
                **expr.kwargs(),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise map_error(exc, what="claim strategy") from exc
        return strategy_from_item(response["Attributes"])
