"""What DynamoDB can store, checked before a write: numbers, nesting depth and item size.

moto stores what real DynamoDB refuses (a 33-level map, a 500 KB item), and boto3's serializer raises a bare
`decimal` error on a number beyond DynamoDB's range, so a client's free-form data (a graph's `position`,
`label`, any extra key) would otherwise turn into a 500. Every item and expression value goes through
`check_storable` on its way out (`dynamo.to_item`, `dynamo.to_value`): one rule, one place, and the error
names the path of the value at fault.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT

from engine.errors import ValidationFailed

MAX_DEPTH = 32  # DynamoDB: nested attributes up to 32 levels deep
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB: an item, names and values, at most 400 KB
NUMBER_RULE = "at most 38 significant digits, magnitude between 1E-130 and 1E+126"
_SMALLEST, _TOO_LARGE = decimal.Decimal("1E-130"), decimal.Decimal("1E+126")
_DECIMAL_ERRORS = (decimal.Inexact, decimal.Rounded, decimal.Overflow, decimal.Underflow, decimal.Clamped)

Loc = tuple[str | int, ...]


class Unstorable(ValidationFailed):
    """A value DynamoDB would refuse; `details` = [{"loc": [...], "msg": ...}] naming where."""


def where(loc: Loc) -> str:
    """`node_graph.nodes[0].position.x` for ("node_graph", "nodes", 0, "position", "x")."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "value"


def _refuse(loc: Loc, msg: str) -> Unstorable:
    return Unstorable(f"{where(loc)}: {msg}", details=[{"loc": list(loc), "msg": msg, "type": "unstorable"}])


def number_size(value: decimal.Decimal) -> int:
    """DynamoDB's size of a number: about one byte per two significant digits, plus one."""
    digits = "".join(map(str, value.as_tuple().digits)).strip("0") or "0"  # no context: nothing rounds
    return (len(digits) + 1) // 2 + 1


def _check_number(value: int | decimal.Decimal, loc: Loc) -> int:
    try:
        stored = DYNAMODB_CONTEXT.create_decimal(value)
    except _DECIMAL_ERRORS as exc:
        raise _refuse(loc, f"{value:.6g} cannot be stored: a number has {NUMBER_RULE}") from exc
    except decimal.InvalidOperation as exc:  # NaN and infinities
        raise _refuse(loc, "not a finite number") from exc
    if not stored.is_finite():
        raise _refuse(loc, "not a finite number")
    # boto3's context allows exponents DynamoDB itself refuses: its documented range is the rule
    if stored and not (_SMALLEST <= stored.copy_abs() < _TOO_LARGE):  # abs() rounds to 28 digits
        raise _refuse(loc, f"{value:.6g} cannot be stored: a number has {NUMBER_RULE}")
    return number_size(stored)


def value_size(value: Any, loc: Loc, depth: int) -> int:
    """Bytes the value takes in DynamoDB (its documented sizing); Unstorable for what it would refuse.

    `depth` counts the containers above the value, the attribute itself being level 1.
    """
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode("utf-8", errors="surrogatepass"))
    if isinstance(value, int | decimal.Decimal):
        return _check_number(value, loc)
    if isinstance(value, float):
        return _check_number(decimal.Decimal(repr(value)), loc)
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, Mapping | Sequence | set | frozenset):
        if depth > MAX_DEPTH:
            raise _refuse(loc, f"nested deeper than the {MAX_DEPTH} levels DynamoDB stores")
        size = 3
        if isinstance(value, Mapping):
            for key, child in value.items():
                name = str(key)
                size += 1 + len(name.encode("utf-8", errors="surrogatepass"))
                size += value_size(child, (*loc, name), depth + 1)
        else:
            for index, child in enumerate(value):
                size += 1 + value_size(child, (*loc, index), depth + 1)
        return size
    return len(str(value).encode("utf-8", errors="surrogatepass"))


def check_storable(values: Mapping[str, Any], *, max_bytes: int = MAX_ITEM_BYTES) -> int:
    """The item's size in bytes; Unstorable naming the path when DynamoDB would refuse it."""
    size = 0
    for name, value in values.items():
        size += len(str(name).encode("utf-8", errors="surrogatepass"))
        size += value_size(value, (str(name),), 1)
    if size > max_bytes:
        biggest = max(values, key=lambda n: value_size(values[n], (n,), 1), default="")
        raise _refuse(
            (biggest,) if biggest else (),
            f"the item would take {size} bytes; DynamoDB stores at most {max_bytes} "
            f"(largest field: {biggest})",
        )
    return size


def check_value(value: Any) -> None:
    """One expression value: its numbers and nesting (its size counts in the item it lands in)."""
    value_size(value, (), 1)
