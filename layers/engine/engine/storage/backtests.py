"""Backtests table: one partition per backtest (its record, checkpoint, trades, slot logs, equity chunks) and
one per token for the price history cache. Nothing here touches the live tables (INTERNALS "Backtests").

Keys: `pk` = `B#<backtest_id>` with `sk` = `META` | `CKPT` | `T#<seq:08d>` | `X#<slot>` | `EQ#<first slot
index:06d>`; `pk` = `H#<token_id>` with `sk` = `W#<window epoch>#F<fidelity>` for cached history windows.
Free-form documents (spec, graph, result) are stored as JSON strings: no float or Decimal conversions.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engine.backtest.history import CachedWindow, WindowKey
from engine.backtest.run import Checkpoint, SlotRecord
from engine.clock import iso, parse_iso
from engine.errors import Conflict, DomainError, QuotaExceeded, StorageError
from engine.market.types import PricePoint
from engine.models.portfolio import EquityPoint
from engine.models.trading import Trade
from engine.storage import backtest_quota
from engine.storage.dynamo import (
    StorageClients,
    from_item,
    get_clients,
    map_error,
    time_key,
    to_item,
    to_value,
)
from engine.storage.pages import Page
from engine.storage.query import Expr, batch_get, batch_write, delete_partition, query_all, signed_page_query

ACTIVE_STATUSES = ("queued", "running")
FINISHED_STATUSES = ("completed", "failed", "cancelled")
MAX_CACHE_ITEM_BYTES = 300_000  # a window that would not fit well under DynamoDB's 400 KB is not cached


class BacktestNotFound(DomainError):
    code = "backtest_not_found"


def _over(quota: int) -> QuotaExceeded:
    return QuotaExceeded(f"at most {quota} running backtests per user", details={"quota": quota})


def _pk(backtest_id: str) -> str:
    return f"B#{backtest_id}"


def _s(value: Any) -> dict[str, str]:
    return {"S": value}


class BacktestRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        self.clients = clients or get_clients()
        self.db = self.clients.dynamodb
        self.settings = self.clients.settings
        self.table = self.settings.backtests_table

    # -- the record

    def create(self, record: Mapping[str, Any], checkpoint: Checkpoint, *, quota: int) -> None:
        """The META item (with its index attributes) and the opening checkpoint, counted in the owner's
        running quota, in one transaction (engine.storage.backtest_quota); QuotaExceeded at the quota."""
        backtest_id = str(record["backtest_id"])
        owner = str(record["owner"])
        meta = dict(record)
        meta.update(
            pk=_pk(backtest_id), sk="META", created_key=f"{time_key(record['created_at'])}#{backtest_id}"
        )
        ckpt = {
            "pk": _pk(backtest_id),
            "sk": "CKPT",
            "checkpoint": checkpoint.model_dump_json(),
            "version": 0,
        }
        puts = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item(meta),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {"Put": {"TableName": self.table, "Item": to_item(ckpt)}},
        ]
        for attempt in range(backtest_quota.ATTEMPTS):
            counter = self._counter(owner)
            seed: list[str] | None = None
            if not backtest_quota.is_seeded(counter):
                seed = self.active_ids(owner)
                if len(seed) >= quota:
                    raise _over(quota)
            elif len(backtest_quota.running_ids(counter)) >= quota:
                if not self._free_lost_places(owner, backtest_quota.running_ids(counter)):
                    raise _over(quota)
                continue
            take = backtest_quota.take_op(self.table, owner, backtest_id, quota=quota, seed=seed)
            try:
                self.db.transact_write_items(TransactItems=[take, *puts])
                return
            except ClientError as exc:
                reasons = [*backtest_quota.cancellation_reasons(exc), "", ""]
                if not backtest_quota.cancellation_reasons(exc):
                    raise map_error(exc, what="create backtest") from exc
                if reasons[1] == "ConditionalCheckFailed":
                    raise Conflict("a backtest with this id exists") from exc
                if "TransactionConflict" in reasons:
                    time.sleep(0.02 * (attempt + 1))
                elif reasons[0] != "ConditionalCheckFailed":
                    raise map_error(exc, what="create backtest") from exc
                # the counter changed meanwhile (a racing start or first use): decide again on the fresh one
            except BotoCoreError as exc:
                raise map_error(exc, what="create backtest") from exc
        raise Conflict("the running backtest quota keeps changing; try again")

    def _counter(self, owner: str) -> dict[str, Any] | None:
        try:
            answer = self.db.get_item(
                TableName=self.table, Key=backtest_quota.running_key(owner), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, what="read backtest quota") from exc
        item: dict[str, Any] | None = answer.get("Item")
        return item

    def _free_lost_places(self, owner: str, counted: set[str]) -> bool:
        """Take back the places of counted backtests that no longer run (their partition was removed, or an
        end did not reach the counter); True when one was freed. Safe against racing ends: a backtest that
        left the running statuses never returns to them, and its id was put with its META item."""
        lost = []
        for backtest_id in sorted(counted):
            record = self.find(backtest_id)
            if record is None or record.get("status") not in ACTIVE_STATUSES:
                lost.append(backtest_id)
        if lost:
            self._release(owner, lost)
        return bool(lost)

    def _release(self, owner: str, backtest_ids: Sequence[str]) -> None:
        try:
            self.db.update_item(**backtest_quota.release_op(self.table, owner, backtest_ids)["Update"])
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, what="free backtest quota") from exc

    def end(self, backtest_id: str, *, owner: str, values: Mapping[str, Any]) -> bool:
        """Move a queued or running backtest to a final status (`values` carries it) and give its place in the
        owner's running quota back, in one transaction. False when it was not queued or running any more
        (another path ended it first: the place was given back then, exactly once)."""
        update, condition, expr = self._update_parts(values, only_if_status=ACTIVE_STATUSES)
        status_change = {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": _s(_pk(backtest_id)), "sk": _s("META")},
                "UpdateExpression": update,
                "ConditionExpression": condition,
                **expr.kwargs(),
            }
        }
        release = backtest_quota.release_op(self.table, owner, [backtest_id])
        for attempt in range(backtest_quota.ATTEMPTS):
            try:
                self.db.transact_write_items(TransactItems=[status_change, release])
                return True
            except ClientError as exc:
                reasons = backtest_quota.cancellation_reasons(exc)
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False
                if "TransactionConflict" not in reasons:
                    raise map_error(exc, what="end backtest") from exc
                time.sleep(0.02 * (attempt + 1))
            except BotoCoreError as exc:
                raise map_error(exc, what="end backtest") from exc
        raise StorageError("end backtest: the quota counter stayed busy, try again")

    def find(self, backtest_id: str) -> dict[str, Any] | None:
        try:
            answer = self.db.get_item(
                TableName=self.table, Key={"pk": _s(_pk(backtest_id)), "sk": _s("META")}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, what="read backtest") from exc
        item = answer.get("Item")
        return from_item(item) if item else None

    def get(self, backtest_id: str, *, owner: str) -> dict[str, Any]:
        """The owner's backtest record; BacktestNotFound when missing or someone else's (same answer)."""
        record = self.find(backtest_id)
        if record is None or record.get("owner") != owner:
            raise BacktestNotFound("backtest not found")
        return record

    def update(
        self, backtest_id: str, values: Mapping[str, Any], *, only_if_status: Sequence[str] | None = None
    ) -> bool:
        """SET these attributes (None: REMOVE); with `only_if_status`, only while the status is one of
        them (False if not)."""
        update, condition, expr = self._update_parts(values, only_if_status=only_if_status)
        try:
            self.db.update_item(
                TableName=self.table,
                Key={"pk": _s(_pk(backtest_id)), "sk": _s("META")},
                UpdateExpression=update,
                ConditionExpression=condition,
                **expr.kwargs(),
            )
        except ClientError as exc:
            mapped = map_error(exc, what="update backtest")
            if isinstance(mapped, Conflict):
                return False
            raise mapped from exc
        except BotoCoreError as exc:
            raise map_error(exc, what="update backtest") from exc
        return True

    @staticmethod
    def _update_parts(
        values: Mapping[str, Any], *, only_if_status: Sequence[str] | None
    ) -> tuple[str, str, Expr]:
        expr = Expr()
        sets = ", ".join(f"{expr.name(k)} = {expr.value(v)}" for k, v in values.items() if v is not None)
        removes = [expr.name(k) for k, v in values.items() if v is None]
        update = f"SET {sets}" + (f" REMOVE {', '.join(removes)}" if removes else "")
        condition = "attribute_exists(pk)"
        if only_if_status:
            options = ", ".join(expr.value(s) for s in only_if_status)
            condition += f" AND {expr.name('status')} IN ({options})"
        return update, condition, expr

    def active_ids(self, owner: str) -> list[str]:
        """Queued or running backtests of one user, from the `by_owner` index (a counter's first use)."""
        expr = Expr()
        options = ", ".join(expr.value(s) for s in ACTIVE_STATUSES)
        params = {
            "TableName": self.table,
            "IndexName": "by_owner",
            "KeyConditionExpression": f"{expr.name('owner')} = {expr.value(owner)}",
            "FilterExpression": f"{expr.name('status')} IN ({options})",
            **expr.kwargs(),
        }
        return [
            str(from_item(i)["pk"]).removeprefix("B#")
            for i in query_all(self.db, params, what="list running backtests")
        ]

    def list_for_strategy(
        self, strategy_id: str, *, owner: str, limit: int, next_token: str | None
    ) -> Page[dict[str, Any]]:
        expr = Expr()
        params = {
            "TableName": self.table,
            "IndexName": "by_strategy",
            "KeyConditionExpression": f"{expr.name('strategy_id')} = {expr.value(strategy_id)}",
            "FilterExpression": f"{expr.name('owner')} = {expr.value(owner)}",
            "ScanIndexForward": False,
            **expr.kwargs(),
        }
        items, token = signed_page_query(
            self.db,
            params,
            settings=self.settings,
            scope=f"backtests|{owner}|{strategy_id}",
            bound=("strategy_id", strategy_id),
            next_token=next_token,
            limit=limit,
            key_attributes=("strategy_id", "created_key", "pk", "sk"),
            filtered=True,
            what="list backtests",
        )
        return Page(items=[from_item(i) for i in items], next_token=token)

    def delete(self, backtest_id: str) -> int:
        return delete_partition(
            self.db, self.table, partition="pk", value=_pk(backtest_id), sort_key="sk", what="delete backtest"
        )

    def ids_for_strategy(self, strategy_id: str) -> list[str]:
        expr = Expr()
        params = {
            "TableName": self.table,
            "IndexName": "by_strategy",
            "KeyConditionExpression": f"{expr.name('strategy_id')} = {expr.value(strategy_id)}",
            **expr.kwargs(),
        }
        return [
            str(from_item(i)["pk"]).removeprefix("B#")
            for i in query_all(self.db, params, what="list backtests")
        ]

    def delete_for_strategy(self, strategy_id: str) -> int:
        """Every backtest of a strategy (its deletion takes them along; a running one's next chunk finds
        nothing and stops, and its place in the owner's running quota is given back)."""
        expr = Expr()
        params = {
            "TableName": self.table,
            "IndexName": "by_strategy",
            "KeyConditionExpression": f"{expr.name('strategy_id')} = {expr.value(strategy_id)}",
            **expr.kwargs(),
        }
        records = [from_item(i) for i in query_all(self.db, params, what="list backtests")]
        for record in records:
            backtest_id = str(record["pk"]).removeprefix("B#")
            self.delete(backtest_id)
            if record.get("status") in ACTIVE_STATUSES:
                self._release(str(record["owner"]), [backtest_id])
        return len(records)

    # -- the checkpoint and the chunks

    def checkpoint(self, backtest_id: str) -> tuple[Checkpoint, int]:
        try:
            answer = self.db.get_item(
                TableName=self.table, Key={"pk": _s(_pk(backtest_id)), "sk": _s("CKPT")}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, what="read backtest checkpoint") from exc
        item = from_item(answer["Item"]) if answer.get("Item") else None
        if item is None:
            raise BacktestNotFound("backtest not found")
        return Checkpoint.model_validate_json(item["checkpoint"]), int(item["version"])

    def save_chunk(
        self,
        backtest_id: str,
        *,
        trades: Sequence[Trade],
        executions: Sequence[SlotRecord],
        curve: Sequence[EquityPoint],
        first_index: int,
        checkpoint: Checkpoint,
        read_version: int,
    ) -> bool:
        """Write a chunk's trades, slot logs and equity, then move the checkpoint (if still `read_version`).

        The items are keyed by what they are (a trade by its seq, a log by its slot), so a chunk written again
        after a crash overwrites the same items with the same content: nothing is duplicated. False when the
        checkpoint had already moved (another delivery of the same chunk finished first).
        """
        pk = _pk(backtest_id)
        puts: list[dict[str, Any]] = [
            {"pk": pk, "sk": f"T#{t.seq:08d}", "trade": t.model_dump_json()} for t in trades
        ]
        puts += [
            {"pk": pk, "sk": f"X#{time_key(x.scheduled_for)}", "record": x.model_dump_json()}
            for x in executions
        ]
        if curve:
            points = [[iso(p.at), str(p.equity_usd), str(p.cash_usd)] for p in curve]
            puts.append(
                {"pk": pk, "sk": f"EQ#{first_index:06d}", "points": json.dumps(points, separators=(",", ":"))}
            )
        batch_write(
            self.db, self.table, ({"PutRequest": {"Item": to_item(p)}} for p in puts), what="write chunk"
        )
        try:
            self.db.put_item(
                TableName=self.table,
                Item=to_item(
                    {
                        "pk": pk,
                        "sk": "CKPT",
                        "checkpoint": checkpoint.model_dump_json(),
                        "version": read_version + 1,
                    }
                ),
                ConditionExpression="#v = :v",
                ExpressionAttributeNames={"#v": "version"},
                ExpressionAttributeValues={":v": to_value(read_version)},
            )
        except ClientError as exc:
            mapped = map_error(exc, what="move backtest checkpoint")
            if isinstance(mapped, Conflict):
                return False
            raise mapped from exc
        except BotoCoreError as exc:
            raise map_error(exc, what="move backtest checkpoint") from exc
        return True

    def _prefixed(self, backtest_id: str, prefix: str) -> list[dict[str, Any]]:
        expr = Expr()
        params = {
            "TableName": self.table,
            "KeyConditionExpression": f"{expr.name('pk')} = {expr.value(_pk(backtest_id))} AND "
            f"begins_with({expr.name('sk')}, {expr.value(prefix)})",
            "ConsistentRead": True,
            **expr.kwargs(),
        }
        return [from_item(i) for i in query_all(self.db, params, what="read backtest")]

    def all_trades(self, backtest_id: str) -> list[Trade]:
        return [Trade.model_validate_json(i["trade"]) for i in self._prefixed(backtest_id, "T#")]

    def all_curve(self, backtest_id: str) -> list[EquityPoint]:
        curve: list[EquityPoint] = []
        for item in self._prefixed(backtest_id, "EQ#"):
            for at, equity, cash in json.loads(item["points"]):
                curve.append(
                    EquityPoint(
                        at=parse_iso(at),
                        equity_usd=Decimal(equity),
                        cash_usd=Decimal(cash),
                        positions_value_usd=Decimal(equity) - Decimal(cash),
                    )
                )
        return curve

    def page(
        self,
        backtest_id: str,
        prefix: str,
        *,
        owner: str,
        limit: int,
        next_token: str | None,
        newest_first: bool,
    ) -> Page[dict[str, Any]]:
        expr = Expr()
        params = {
            "TableName": self.table,
            "KeyConditionExpression": f"{expr.name('pk')} = {expr.value(_pk(backtest_id))} AND "
            f"begins_with({expr.name('sk')}, {expr.value(prefix)})",
            "ScanIndexForward": not newest_first,
            **expr.kwargs(),
        }
        items, token = signed_page_query(
            self.db,
            params,
            settings=self.settings,
            scope=f"backtest-{prefix}|{owner}|{backtest_id}",
            bound=("pk", _pk(backtest_id)),
            next_token=next_token,
            limit=limit,
            key_attributes=("pk", "sk"),
            filtered=False,
            what="list backtest items",
        )
        return Page(items=[from_item(i) for i in items], next_token=token)


class HistoryCacheRepository:
    """The price history cache (engine.backtest.history.HistoryCache) in the Backtests table.

    One item per token, window and fidelity: the points as `t,p` lines, zlib-compressed (a 14-day window at
    one-minute fidelity is ~20,000 points, ~40 KB compressed), so items stay well under 400 KB.
    """

    def __init__(self, clients: StorageClients | None = None) -> None:
        self.clients = clients or get_clients()
        self.db = self.clients.dynamodb
        self.table = self.clients.settings.backtests_table
        self.reads = 0
        self.writes = 0

    @staticmethod
    def _key(key: WindowKey) -> dict[str, Any]:
        token_id, window, fidelity = key
        return {"pk": _s(f"H#{token_id}"), "sk": _s(f"W#{window:012d}#F{fidelity}")}

    def get_windows(self, keys: Sequence[WindowKey]) -> dict[WindowKey, CachedWindow]:
        by_key = {json.dumps(self._key(k), sort_keys=True): k for k in keys}
        found: dict[WindowKey, CachedWindow] = {}
        for item in batch_get(
            self.db,
            self.table,
            [self._key(k) for k in keys],
            consistent=False,
            what="read history cache",
            projection="pk, sk, points, complete_until",
            on_request=self._count_read,
        ):
            key = by_key[json.dumps({"pk": item["pk"], "sk": item["sk"]}, sort_keys=True)]
            found[key] = CachedWindow(_decode(item["points"]["B"]), int(item["complete_until"]["N"]))
        return found

    def _count_read(self) -> None:
        self.reads += 1

    def put_windows(self, windows: Mapping[WindowKey, CachedWindow]) -> None:
        """Store fetched windows, 25 to a BatchWriteItem (a window too big for one item is skipped)."""
        items = []
        for key, window in windows.items():
            blob = _encode(window.points)
            if len(blob) > MAX_CACHE_ITEM_BYTES:
                continue
            items.append(
                {
                    **self._key(key),
                    "points": {"B": blob},
                    "count": {"N": str(len(window.points))},
                    "complete_until": {"N": str(window.complete_until)},
                }
            )
        self.writes += len(items)
        batch_write(
            self.db, self.table, ({"PutRequest": {"Item": item}} for item in items), what="cache history"
        )


def _encode(points: Sequence[PricePoint]) -> bytes:
    return zlib.compress("\n".join(f"{p.t},{p.p}" for p in points).encode(), 6)


_new_point = object.__new__
_set_t: Callable[[object, int], None] = getattr(PricePoint, "t").__set__  # noqa: B009 - the slot descriptor
_set_p: Callable[[object, Decimal], None] = getattr(PricePoint, "p").__set__  # noqa: B009


def _decode(blob: bytes) -> list[PricePoint]:
    """The points of `_encode`; equal prices share one Decimal, and each point is built through its slot
    setters (a cached backtest reads hundreds of thousands: the frozen dataclass __init__ was most of it)."""
    text = zlib.decompress(blob).decode()
    if not text:
        return []
    prices: dict[str, Decimal] = {}
    points = []
    for line in text.split("\n"):
        t, _, p = line.partition(",")
        price = prices.get(p)
        if price is None:
            price = prices[p] = Decimal(p)
        point = _new_point(PricePoint)
        _set_t(point, int(t))
        _set_p(point, price)
        points.append(point)
    return points


def record_times(record: Mapping[str, Any]) -> dict[str, datetime | None]:
    return {
        k: parse_iso(record[k]) if record.get(k) else None
        for k in ("created_at", "updated_at", "completed_at")
    }
