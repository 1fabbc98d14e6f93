"""A test-only speedup of moto's queries on KEYS_ONLY indexes, for benchmarks that read thousands of them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def keys_only_index_entries() -> Iterator[None]:
    """moto answers a query on a KEYS_ONLY index from the whole table items: it sizes each one for the 1 MB
    page limit, deep-copies it, and projects it by deserializing the whole item once per key attribute. With
    strategies holding their node graphs, a due query then costs milliseconds per strategy, where DynamoDB
    reads index entries of ~100 bytes (and counts the 1 MB against them). While active, such a query runs
    over the index entries themselves (the items' key attributes): the same items, order and pages come back.
    Use it with `serial_moto` (the table's item list is swapped for the length of one request)."""
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table

    original = Table.query

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[7] if len(args) > 7 else None)
        index = next((i for i in self.all_indexes() if i.name == index_name), None) if index_name else None
        if index is None or (index.projection or {}).get("ProjectionType") != "KEYS_ONLY":
            return original(self, *args, **kwargs)
        names = list(dict.fromkeys([*index.table_key_attrs, *(k["AttributeName"] for k in index.schema)]))
        # the query's own hash condition picks the index partition first, as DynamoDB reads only that one
        wanted = list(kwargs.get("hash_key_conditions") or [])
        items = Table.all_items(self)

        def entries() -> list[Any]:
            return [
                Item(
                    hash_key=item.hash_key,
                    range_key=item.range_key,
                    attrs={name: item.attrs[name].to_json() for name in names},
                )
                for item in items
                if isinstance(item, Item)
                and all(name in item.attrs for name in names)
                and all(item.attrs.get(name) == value for name, value in wanted)
            ]

        self.all_items = entries
        try:
            return original(self, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.query = original  # type: ignore[method-assign]
