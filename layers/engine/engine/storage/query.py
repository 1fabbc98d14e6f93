"""Internal helpers: expression placeholders, paged queries that fill pages exactly, batched deletes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engine.errors import InvalidNextToken, StorageError
from engine.settings import Settings
from engine.storage.dynamo import map_error, to_value
from engine.storage.tokens import encode_next_token, scoped_key_matches, signing_keys, verify_next_token

BATCH_SIZE = 25  # BatchWriteItem's limit
BATCH_GET_KEYS = 100  # BatchGetItem's limit
BATCH_ATTEMPTS = 8
FILTER_SCAN_BUDGET = 2000  # items a filtered page may read before it answers short, with a token
# A page's items, as typed JSON, stay under this: Lambda answers at most 6 MB, and the API's JSON of an item
# is never larger than its typed JSON here (which escapes as the API does and adds the type wrappers).
PAGE_BYTES = 5 * 1024 * 1024


def item_bytes(item: Mapping[str, Any]) -> int:
    """An upper bound of the item's size in an answer: its typed JSON, ASCII-escaped."""
    return len(json.dumps(item, separators=(",", ":"), default=str))


class Expr:
    """Placeholders for names and values, so reserved words (`status`) and odd names never bite."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._by_name: dict[str, str] = {}

    def name(self, attribute: str) -> str:
        if attribute not in self._by_name:
            placeholder = f"#n{len(self._by_name)}"
            self._by_name[attribute] = placeholder
            self.names[placeholder] = attribute
        return self._by_name[attribute]

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = to_value(value)
        return placeholder

    def kwargs(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.names:
            result["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            result["ExpressionAttributeValues"] = dict(self.values)
        return result


def key_of(item: Mapping[str, Any], attributes: Collection[str]) -> dict[str, Any]:
    """The typed key of a raw item (table key plus the index key when paging an index)."""
    return {a: item[a] for a in attributes}


def page_query(
    client: Any,
    params: Mapping[str, Any],
    *,
    limit: int,
    start_key: Mapping[str, Any] | None,
    key_attributes: Collection[str],
    filtered: bool,
    what: str,
    max_bytes: int | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Up to `limit` raw items and the key to continue after, or None when the list is exhausted.

    Reads one item past the page so the last page never carries a token to an empty page. A filter is
    applied after DynamoDB's Limit, so filtered reads loop until the page is full, within a read budget:
    past it the page answers short with a token (as DynamoDB itself does). With `max_bytes`, a page whose
    items would pass it (`item_bytes`) ends early with a token; it always holds at least one item.
    """
    items: list[dict[str, Any]] = []
    used = 0
    scanned = 0
    start = dict(start_key) if start_key else None
    while True:
        request = dict(params)
        request["Limit"] = min(1000, (limit + 1) * 4) if filtered else limit + 1 - len(items)
        if start:
            request["ExclusiveStartKey"] = start
        try:
            response = client.query(**request)
        except ClientError as exc:
            raise map_error(exc, what=what) from exc
        scanned += int(response.get("ScannedCount", 0))
        for item in response.get("Items", []):
            if max_bytes is not None and len(items) < limit:
                used += item_bytes(item)
                if items and used > max_bytes:
                    return items, key_of(items[-1], key_attributes)
            items.append(item)
            if len(items) > limit:
                return items[:limit], key_of(items[limit - 1], key_attributes)
        start = response.get("LastEvaluatedKey")
        if not start:
            return items, None
        if scanned >= FILTER_SCAN_BUDGET:
            return items, start


def query_all(client: Any, params: Mapping[str, Any], *, what: str) -> list[dict[str, Any]]:
    """Every item a query matches, following LastEvaluatedKey."""
    items: list[dict[str, Any]] = []
    request = dict(params)
    while True:
        try:
            response = client.query(**request)
        except ClientError as exc:
            raise map_error(exc, what=what) from exc
        items.extend(response.get("Items", []))
        last = response.get("LastEvaluatedKey")
        if not last:
            return items
        request["ExclusiveStartKey"] = last


def batch_get(
    client: Any,
    table: str,
    keys: Sequence[dict[str, Any]],
    *,
    consistent: bool,
    what: str,
    projection: str | None = None,
    on_request: Callable[[], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """BatchGetItem in chunks of 100 keys, asking again for the unprocessed ones; the raw items found.
    `projection` names the attributes wanted; `on_request` is called before each request (a read counter)."""
    for start in range(0, len(keys), BATCH_GET_KEYS):
        pending = list(keys[start : start + BATCH_GET_KEYS])
        while pending:
            request: dict[str, Any] = {"Keys": pending, "ConsistentRead": consistent}
            if projection is not None:
                request["ProjectionExpression"] = projection
            if on_request is not None:
                on_request()
            try:
                response = client.batch_get_item(RequestItems={table: request})
            except (ClientError, BotoCoreError) as exc:
                raise map_error(exc, what=what) from exc
            yield from response.get("Responses", {}).get(table, [])
            pending = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])


def batch_write(client: Any, table: str, requests: Iterable[dict[str, Any]], *, what: str) -> None:
    """BatchWriteItem in chunks of 25, retrying unprocessed items with a short backoff."""
    chunk: list[dict[str, Any]] = []
    for request in requests:
        chunk.append(request)
        if len(chunk) == BATCH_SIZE:
            _write_chunk(client, table, chunk, what=what)
            chunk = []
    if chunk:
        _write_chunk(client, table, chunk, what=what)


def _write_chunk(client: Any, table: str, chunk: list[dict[str, Any]], *, what: str) -> None:
    pending: dict[str, Any] = {table: chunk}
    for attempt in range(BATCH_ATTEMPTS):
        try:
            response = client.batch_write_item(RequestItems=pending)
        except ClientError as exc:
            raise map_error(exc, what=what) from exc
        pending = response.get("UnprocessedItems") or {}
        if not pending:
            return
        time.sleep(min(1.0, 0.05 * 2**attempt))  # unprocessed items mean throttling: back off
    raise StorageError(f"{what}: storage is busy, try again", details={"unprocessed": len(pending[table])})


def delete_partition(client: Any, table: str, *, partition: str, value: str, sort_key: str, what: str) -> int:
    """Delete every item of one partition (keys only are read). Returns how many went."""
    expr = Expr()
    params = {
        "TableName": table,
        "KeyConditionExpression": f"{expr.name(partition)} = {expr.value(value)}",
        "ProjectionExpression": f"{expr.name(partition)}, {expr.name(sort_key)}",
        **expr.kwargs(),
    }
    keys = [key_of(item, (partition, sort_key)) for item in query_all(client, params, what=what)]
    batch_write(client, table, ({"DeleteRequest": {"Key": key}} for key in keys), what=what)
    return len(keys)


def signed_page_query(
    client: Any,
    params: Mapping[str, Any],
    *,
    settings: Settings,
    scope: str,
    bound: tuple[str, str],
    next_token: str | None,
    limit: int,
    key_attributes: Collection[str],
    filtered: bool,
    what: str,
) -> tuple[list[dict[str, Any]], str | None]:
    """`page_query` behind an opaque next_token: signed for `scope` (the caller and the list) and bound to
    the partition it pages (`bound` = (key attribute, value)), so a token cannot be replayed on another
    user's or strategy's list. Raises InvalidNextToken for a malformed, tampered or foreign token."""
    keys = signing_keys(settings)
    start = None
    if next_token is not None:
        start = verify_next_token(next_token, scope=scope, keys=keys)
        attribute, value = bound
        if not scoped_key_matches(start, attribute, value):
            raise InvalidNextToken("next_token is not valid for this list")
    items, last = page_query(
        client,
        params,
        limit=limit,
        start_key=start,
        key_attributes=key_attributes,
        filtered=filtered,
        what=what,
        max_bytes=PAGE_BYTES,
    )
    return items, encode_next_token(last, scope=scope, key=keys.current()) if last else None
