"""Backtests table: one partition per backtest (its record, checkpoint, trades, slot logs, equity chunks) and
one per token for the price history cache. Nothing here touches the live tables (INTERNALS "Backtests").

Keys: `pk` = `B#<backtest_id>` with `sk` = `META` | `CKPT` | `T#<seq:08d>` | `X#<slot>` | `EQ#<first slot
index:06d>`; `pk` = `H#<token_id>` with `sk` = `W#<window epoch>#F<fidelity>` for cached history windows.
Free-form documents (spec, graph, result) are stored as JSON strings: no float or Decimal conversions.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engine.backtest.history import CachedWindow, WindowKey
from engine.backtest.run import Checkpoint, SlotRecord
from engine.clock import iso, parse_iso
from engine.errors import Conflict, DomainError
from engine.market.types import PricePoint
from engine.models.portfolio import EquityPoint
from engine.models.trading import Trade
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
from engine.storage.query import Expr, batch_write, delete_partition, query_all, signed_page_query

ACTIVE_STATUSES = ("queued", "running")
FINISHED_STATUSES = ("completed", "failed", "cancelled")
MAX_CACHE_ITEM_BYTES = 300_000  # a window that would not fit well under DynamoDB's 400 KB is not cached


class BacktestNotFound(DomainError):
    code = "backtest_not_found"


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

    def create(self, record: Mapping[str, Any], checkpoint: Checkpoint) -> None:
        """The META item (with its index attributes) and the opening checkpoint, together."""
        backtest_id = record["backtest_id"]
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
        try:
            self.db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": to_item(meta),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self.table, "Item": to_item(ckpt)}},
                ]
            )
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, what="create backtest") from exc

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
        expr = Expr()
        sets = ", ".join(f"{expr.name(k)} = {expr.value(v)}" for k, v in values.items() if v is not None)
        removes = [expr.name(k) for k, v in values.items() if v is None]
        update = f"SET {sets}" + (f" REMOVE {', '.join(removes)}" if removes else "")
        condition = "attribute_exists(pk)"
        if only_if_status:
            options = ", ".join(expr.value(s) for s in only_if_status)
            condition += f" AND {expr.name('status')} IN ({options})"
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

    def active_count(self, owner: str) -> int:
        """Queued or running backtests of one user (the `by_owner` index, filtered on status)."""
        expr = Expr()
        options = ", ".join(expr.value(s) for s in ACTIVE_STATUSES)
        params = {
            "TableName": self.table,
            "IndexName": "by_owner",
            "KeyConditionExpression": f"{expr.name('owner')} = {expr.value(owner)}",
            "FilterExpression": f"{expr.name('status')} IN ({options})",
            "Select": "COUNT",
            **expr.kwargs(),
        }
        total = 0
        try:
            while True:
                answer = self.db.query(**params)
                total += int(answer.get("Count", 0))
                if not answer.get("LastEvaluatedKey"):
                    return total
                params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, what="count backtests") from exc

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
        nothing and stops)."""
        ids = self.ids_for_strategy(strategy_id)
        for backtest_id in ids:
            self.delete(backtest_id)
        return len(ids)

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
        found: dict[WindowKey, CachedWindow] = {}
        by_key = {json.dumps(self._key(k), sort_keys=True): k for k in keys}
        pending = [self._key(k) for k in keys]
        try:
            while pending:
                batch, pending = pending[:100], pending[100:]
                request = {
                    self.table: {"Keys": batch, "ProjectionExpression": "pk, sk, points, complete_until"}
                }
                while request:
                    self.reads += 1
                    answer = self.db.batch_get_item(RequestItems=request)
                    for item in answer.get("Responses", {}).get(self.table, []):
                        key = by_key[json.dumps({"pk": item["pk"], "sk": item["sk"]}, sort_keys=True)]
                        found[key] = CachedWindow(
                            _decode(item["points"]["B"]), int(item["complete_until"]["N"])
                        )
                    request = answer.get("UnprocessedKeys") or {}
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, what="read history cache") from exc
        return found

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


def _decode(blob: bytes) -> list[PricePoint]:
    text = zlib.decompress(blob).decode()
    if not text:
        return []
    points = []
    for line in text.split("\n"):
        t, p = line.split(",")
        points.append(PricePoint(int(t), Decimal(p)))
    return points


def record_times(record: Mapping[str, Any]) -> dict[str, datetime | None]:
    return {
        k: parse_iso(record[k]) if record.get(k) else None
        for k in ("created_at", "updated_at", "completed_at")
    }
