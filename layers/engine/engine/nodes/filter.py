"""FILTER: keeps the markets that meet every condition (DESIGN 5), and says why the others were dropped.

Numeric fields compare as Decimal. Text fields (`category`, `question`) compare case-insensitively with every
op, not only `contains`, so "Sports" == "sports". A market whose field is missing fails the condition.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from engine.market.types import Market
from engine.nodes.base import NodeOutput, RunContext
from engine.nodes.registry import register

FilterField = Literal[
    "volume",
    "volume_24h",
    "liquidity",
    "yes_price",
    "no_price",
    "spread",
    "hours_to_close",
    "category",
    "question",
]
FilterOp = Literal[">", ">=", "<", "<=", "==", "!=", "between", "in", "contains"]

TEXT_FIELDS = frozenset({"category", "question"})
ORDER_OPS = frozenset({">", ">=", "<", "<="})
MAX_IN_VALUES = 100
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}

Value = Decimal | str | tuple[Decimal, Decimal] | tuple[Decimal, ...] | tuple[str, ...]


def _number(raw: Any) -> Decimal:
    # bool is an int in Python; `true` as a price is a mistake, not 1.
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise ValueError(f"expected a number, got {raw!r}")
    try:
        number = Decimal(str(raw)) if not isinstance(raw, Decimal) else raw
    except InvalidOperation:
        raise ValueError(f"expected a number, got {raw!r}") from None
    if not number.is_finite():
        raise ValueError(f"expected a finite number, got {raw!r}")
    return number


def _text(raw: Any) -> str:
    if not isinstance(raw, str) or not raw:
        raise ValueError(f"expected a non-empty string, got {raw!r}")
    return raw.casefold()


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: FilterField
    op: FilterOp
    value: Any

    @field_validator("value")
    @classmethod
    def _value_fits_field_and_op(cls, raw: Any, info: ValidationInfo) -> Value:
        field, op = info.data.get("field"), info.data.get("op")
        if field is None or op is None:  # already reported on their own keys
            return raw  # type: ignore[no-any-return]
        text = field in TEXT_FIELDS
        if op in ORDER_OPS or op == "between":
            if text:
                raise ValueError(f"op '{op}' applies to numeric fields, not '{field}'")
            if op == "between":
                if not isinstance(raw, list | tuple) or len(raw) != 2:
                    raise ValueError("'between' takes a list of two numbers [low, high]")
                low, high = _number(raw[0]), _number(raw[1])
                if low > high:
                    raise ValueError(f"'between' needs low <= high, got [{low}, {high}]")
                return (low, high)
            return _number(raw)
        if op == "contains":
            if not text:
                raise ValueError(f"op 'contains' applies to text fields (category, question), not '{field}'")
            return _text(raw)
        if op == "in":
            if not isinstance(raw, list | tuple) or not raw or len(raw) > MAX_IN_VALUES:
                raise ValueError(f"'in' takes a list of 1 to {MAX_IN_VALUES} values")
            return tuple(_text(v) for v in raw) if text else tuple(_number(v) for v in raw)
        return _text(raw) if text else _number(raw)  # == and !=

    def describe(self) -> str:
        value = self.value
        if isinstance(value, tuple):
            shown = "[" + ", ".join(str(v) for v in value) + "]"
        else:
            shown = repr(value) if isinstance(value, str) else str(value)
        return f"{self.field} {self.op} {shown}"


class FilterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conditions: list[Condition] = Field(min_length=1, max_length=50)


def field_value(market: Market, field: str, ctx: RunContext) -> Decimal | str | None:
    """The market's value for a filter field; `hours_to_close` counts from the run's slot."""
    if field == "hours_to_close":
        return market.hours_to_close(ctx.slot)
    if field == "yes_price":
        return market.yes_price
    if field == "no_price":
        return market.no_price
    if field == "category":
        return market.category
    if field == "question":
        return market.question
    value: Decimal | None = getattr(market, field)
    return value


def holds(condition: Condition, actual: Decimal | str | None) -> bool:
    """Whether a market's value meets the condition; a missing value never does (not even `!=`)."""
    if actual is None:
        return False
    op, expected = condition.op, condition.value
    if isinstance(actual, str):
        actual = actual.casefold()
    elif isinstance(expected, str) or (isinstance(expected, tuple) and isinstance(expected[0], str)):
        return False  # a text value against a numeric field: config validation prevents this
    if op == "contains":
        return isinstance(actual, str) and expected in actual
    if op == "in":
        return actual in expected
    if op == "between":
        return bool(expected[0] <= actual <= expected[1])
    return bool(_COMPARE[op](actual, expected))


def _shown(actual: Decimal | str | None) -> str | None:
    if isinstance(actual, Decimal):
        # Plain notation, at most 4 decimals: "5000", "0.95", "23.9833" (hours), never "5E+3".
        return format(actual.quantize(Decimal("0.0001")).normalize(), "f")
    return actual


@register
class Filter:
    type_name: ClassVar[str] = "FILTER"
    config_model: ClassVar[type[BaseModel]] = FilterConfig
    is_source: ClassVar[bool] = False
    is_sink: ClassVar[bool] = False

    def run(self, config: FilterConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        kept: list[Market] = []
        dropped: list[dict[str, Any]] = []
        dropped_by: dict[str, int] = {}
        for market in inputs:
            for condition in config.conditions:
                actual = field_value(market, condition.field, ctx)
                if not holds(condition, actual):
                    rule = condition.describe()
                    dropped_by[rule] = dropped_by.get(rule, 0) + 1
                    dropped.append(
                        {
                            "market_id": market.market_id,
                            "dropped": rule,
                            "was": "missing" if actual is None else _shown(actual),
                        }
                    )
                    break
            else:
                kept.append(market)
        # The summary comes first so it survives when the trace caps the per-market lines.
        summary = {"received": len(inputs), "kept": len(kept), "dropped_by": dropped_by}
        return NodeOutput(markets=kept, decisions=[summary, *dropped])
