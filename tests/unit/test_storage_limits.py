"""DynamoDB's limits checked before a write (engine.storage.limits): numbers, nesting, item size."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from engine.errors import ValidationFailed
from engine.storage.dynamo import to_item, to_value
from engine.storage.limits import MAX_DEPTH, MAX_ITEM_BYTES, Unstorable, check_storable


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels - 1):
        value = {"d": value}
    return value


@pytest.mark.parametrize(
    "number",
    [
        1e200,
        1e-200,
        10**40,
        -(10**40),
        Decimal("1E+126"),
        Decimal("1.234567890123456789012345678901234567891"),
    ],
)
def test_a_number_beyond_dynamodbs_range_is_refused_with_its_path(number: Any) -> None:
    # Given an item holding the number deep inside a free-form map
    item = {"node_graph": {"nodes": [{"position": {"x": number}}]}}

    # When it is made a DynamoDB item
    with pytest.raises(Unstorable) as caught:
        to_item(item)

    # Then the error is a validation error naming the path
    assert isinstance(caught.value, ValidationFailed)
    assert caught.value.details[0]["loc"] == ["node_graph", "nodes", 0, "position", "x"]
    assert caught.value.message.startswith("node_graph.nodes[0].position.x: ")


@pytest.mark.parametrize(
    "number",
    [10**37, 1e125, 1e-129, 0.1, -0.0, 2**63, Decimal("9.9999999999999999999999999999999999999E+125")],
)
def test_a_number_dynamodb_stores_passes(number: Any) -> None:
    # Given / When / Then
    assert to_item({"x": {"n": number}})["x"]["M"]["n"]["N"]


def test_nesting_is_allowed_to_32_levels_and_refused_past_them() -> None:
    # Given attributes nested exactly to the limit and one level past it (the attribute itself is level 1)
    ok, deep = nested(MAX_DEPTH + 1), nested(MAX_DEPTH + 2)  # the leaf string is not a level

    # When / Then
    to_item({"a": ok})
    with pytest.raises(Unstorable, match="nested deeper than the 32 levels"):
        to_item({"a": deep})
    with pytest.raises(Unstorable):
        to_value(deep)


def test_an_item_over_400_kb_is_refused_naming_its_largest_field() -> None:
    # Given an item whose graph labels add up past 400 KB, though each string is small
    labels = [{"label": "é" * 1000} for _ in range(210)]  # 2,000 bytes of UTF-8 each

    # When / Then
    with pytest.raises(Unstorable) as caught:
        to_item({"strategy_id": "s", "node_graph": {"nodes": labels}})
    assert caught.value.details[0]["loc"] == ["node_graph"]
    assert str(MAX_ITEM_BYTES) in caught.value.message


def test_the_size_follows_dynamodbs_sizing() -> None:
    # Given names and values: strings in UTF-8 bytes, numbers by digits, containers 3 bytes + 1 per element
    item = {"ab": "é", "n": Decimal("12345"), "l": [True, None], "m": {"k": "v"}}

    # When
    size = check_storable(item)

    # Then
    assert size == (2 + 2) + (1 + 4) + (1 + 3 + 1 + 1 + 1 + 1) + (1 + 3 + 1 + 1 + 1)
