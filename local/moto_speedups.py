"""Speedups of moto for the local stack and the benchmarks: the same answers, at the cost AWS's own services
have, rather than one that grows with everything moto holds.

- DynamoDB: moto answers every Query from `Table.all_items`, which sorts the whole table (at 10,000 items,
  ~130,000 comparisons of DynamoType: most of a second) before the query looks at its partition and sorts
  its own matches again; a KEYS_ONLY index is answered from whole items (each sized for the 1 MB page limit,
  deep-copied and deserialized once per key attribute), where DynamoDB reads entries of ~100 bytes.
- SQS: moto computes all of a queue's attributes whenever it needs one, and the approximate counts among
  them walk every message: each send (its ContentBasedDeduplication check) and each receive (its retention
  check) costs O(messages), so queueing 10,000 messages costs O(messages^2).

Both are checked against moto's own answers in tests/unit/test_moto_speedups.py. Thread-safe: the query's
candidates are handed to moto through a thread-local, so moto's threaded server needs no extra lock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest.mock import patch

# ----------------------------------------------------------------------------------------- DynamoDB

_query = threading.local()  # (table, candidates) of the query this thread is answering


def unsorted_items(table: Any) -> list[Any]:
    """The table's items in storage order: `Table.all_items` without its sort of the whole table."""
    if not table.range_key_attr:
        return list(table.items.values())
    return [item for partition in table.items.values() for item in partition.values()]


def _candidates(table: Any, hash_key: Any, index_name: str | None, hash_conditions: list[Any]) -> list[Any]:
    """What a query needs to look at: on the table, its one partition; on an index, the items unsorted
    (moto sorts the matches by every index and table key, so their order does not depend on this one); on
    a KEYS_ONLY index, the index entries themselves (the items' key attributes) of the query's hash key."""
    from moto.dynamodb.models.dynamo_type import Item

    if index_name is None:
        if hash_key is None:
            return unsorted_items(table)
        partition = table.items.get(hash_key)
        if partition is None:
            return []
        return list(partition.values()) if table.range_key_attr else [partition]
    items = unsorted_items(table)
    index = next((i for i in table.all_indexes() if i.name == index_name), None)
    if index is None or (index.projection or {}).get("ProjectionType") != "KEYS_ONLY":
        return items
    names = list(dict.fromkeys([*index.table_key_attrs, *(k["AttributeName"] for k in index.schema)]))
    return [
        Item(
            hash_key=item.hash_key,
            range_key=item.range_key,
            attrs={name: item.attrs[name].to_json() for name in names},
        )
        for item in items
        if isinstance(item, Item)
        and all(name in item.attrs for name in names)
        and all(item.attrs.get(name) == value for name, value in hash_conditions)
    ]


@contextmanager
def quick_queries() -> Iterator[None]:
    """While active, a Query looks only at its candidates (`_candidates`): the same items, order and pages."""
    from moto.dynamodb.models.table import Table

    original_query = Table.query
    original_all_items = Table.all_items

    def all_items(self: Any) -> list[Any]:
        answering: tuple[Any, Callable[[], list[Any]]] | None = getattr(_query, "current", None)
        if answering is not None and answering[0] is self:
            return answering[1]()
        return original_all_items(self)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        hash_key = kwargs.get("hash_key", args[0] if args else None)
        index_name = kwargs.get("index_name", args[7] if len(args) > 7 else None)
        conditions = list(kwargs.get("hash_key_conditions") or [])
        previous = getattr(_query, "current", None)
        _query.current = (self, lambda: _candidates(self, hash_key, index_name, conditions))
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _query.current = previous

    with patch.object(Table, "query", query), patch.object(Table, "all_items", all_items):
        yield


_TYPES = frozenset(("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"))


class _NotWire(Exception):
    """A value the shortcut does not know: moto's own serializer takes it."""


def _wire(value: Any, base64: Callable[[Any], str]) -> dict[str, Any]:
    """An AttributeValue as moto's serializer writes it (strings as str, binaries base64, M and L nested)."""
    if not isinstance(value, dict) or len(value) != 1:
        raise _NotWire
    ((kind, inner),) = value.items()
    if kind not in _TYPES:
        raise _NotWire
    if kind in ("S", "N"):
        return {kind: str(inner) if inner not in (None, {}, []) else inner}
    if kind in ("SS", "NS"):
        return {kind: [str(v) if v not in (None, {}, []) else v for v in inner]}
    if kind == "B":
        return {kind: base64(inner)}
    if kind == "BS":
        return {kind: [base64(v) for v in inner]}
    if kind == "M":
        return {kind: {k: _wire(v, base64) for k, v in inner.items()}}
    if kind == "L":
        return {kind: [_wire(v, base64) for v in inner]}
    return {kind: inner}  # NULL, BOOL


@contextmanager
def quick_item_serialization() -> Iterator[None]:
    """moto serializes every attribute value of every item it answers by walking botocore's shape model
    (a dozen calls per value, most of a Query's time for 1,000 items). While active, an AttributeValue is
    written directly in its wire form: the same JSON."""
    from moto.core.serialize import BaseJSONSerializer

    original = BaseJSONSerializer._serialize_type_structure

    def structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue":
            try:
                serialized[self.get_serialized_name(shape, key)] = _wire(value, self._base64)
                return
            except _NotWire:
                pass
        original(self, serialized, value, shape, key)

    with patch.object(BaseJSONSerializer, "_serialize_type_structure", structure):
        yield


# ---------------------------------------------------------------------------------------------- SQS


class _LazyAttributes(Mapping[str, Any]):
    """`Queue.attributes` as moto builds it (same keys, same values), each value computed on access."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue
        names = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:
            names += queue.KMS_ATTRIBUTES
        self._names = names

    def __getitem__(self, name: str) -> Any:
        from moto.core.utils import camelcase_to_underscores

        if name not in self._names:
            raise KeyError(name)
        if name == "RedrivePolicy" and self._queue.redrive_policy:
            return json.dumps(self._queue.redrive_policy)
        value = getattr(self._queue, camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@contextmanager
def quick_queue_attributes() -> Iterator[None]:
    """While active, each of a queue's attributes is computed when read, and the retention check of each
    receive reads the one attribute it needs: the same answers, sends and receives in O(1) of the queue."""
    from moto.core.utils import unix_time
    from moto.sqs.models import Message, Queue, SQSBackend

    def is_valid(self: SQSBackend, queue_name: str, message: Message) -> bool:
        retention: Any = self.get_queue(queue_name).message_retention_period  # type: ignore[attr-defined]
        return bool(int(retention) + message.sent_timestamp / 1000 > unix_time())  # type: ignore[operator]

    with (
        patch.object(Queue, "attributes", property(_LazyAttributes)),
        patch.object(SQSBackend, "is_message_valid_based_on_retention_period", is_valid),
    ):
        yield


@contextmanager
def moto_speedups() -> Iterator[None]:
    """Both: DynamoDB queries and SQS queues at AWS's cost model."""
    with ExitStack() as patches:
        patches.enter_context(quick_queries())
        patches.enter_context(quick_item_serialization())
        patches.enter_context(quick_queue_attributes())
        yield
