"""Decimal money helpers: stored money is Decimal, never float."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.01")
USD_PLACES = Decimal("0.000001")  # stored precision of money (micro-dollars)
SHARE_PLACES = Decimal("0.000001")


def usd(value: Decimal | int | str) -> Decimal:
    """Money rounded to the stored precision (banker's rounding)."""
    return Decimal(value).quantize(USD_PLACES, rounding=ROUND_HALF_EVEN)


def shares_floor(value: Decimal) -> Decimal:
    return value.quantize(SHARE_PLACES, rounding=ROUND_DOWN)


def to_decimal(value: object) -> Decimal:
    """Decimal from an API or storage value without binary float noise (floats go through str)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("bool is not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        return Decimal(value.strip())
    raise TypeError(f"not a number: {value!r}")
