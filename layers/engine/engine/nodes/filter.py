"""FILTER: keeps the markets that meet every condition (DESIGN 5), and says why the others were dropped.

Numeric fields compare as Decimal. Text fields (`category`, `question`, `event_*`) compare case-insensitively
with every op, not only `contains`, so "Sports" == "sports". A market whose field is missing fails every
condition except `is_null`. Conditions may nest `any` / `all` groups; a field name that is not a market field
is a field a signal node annotated earlier in the graph (graph validation checks that one does). `sort` and
`limit` rank the kept markets and keep the first ones.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from engine.market.types import Market
from engine.models.base import Model
from engine.nodes.base import INCLUDE, Category, NodeOutput, RunContext
from engine.nodes.registry import register

NUMERIC_FIELDS = (
    "volume",
    "volume_24h",
    "liquidity",
    "yes_price",
    "no_price",
    "spread",
    "hours_to_close",
    "best_bid",
    "best_ask",
    "last_trade_price",
    "price_change_1h",
    "price_change_24h",
    "price_change_7d",
)
TEXT_FIELDS = frozenset({"category", "question", "event_id", "event_title", "event_slug"})
BOOL_FIELDS = frozenset({"neg_risk"})
MARKET_FIELDS = frozenset(NUMERIC_FIELDS) | TEXT_FIELDS | BOOL_FIELDS
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
FilterOp = Literal[
    ">", ">=", "<", "<=", "==", "!=", "between", "in", "not_in", "contains", "is_null", "in_top_pct"
]

ORDER_OPS = frozenset({">", ">=", "<", "<="})
MAX_IN_VALUES = 100
MAX_DEPTH = 3
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}

Value = Decimal | str | bool | tuple[Decimal, Decimal] | tuple[Decimal, ...] | tuple[str, ...]
Actual = Decimal | str | bool | None


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


def _check_field(value: str) -> str:
    if value in MARKET_FIELDS or FIELD_NAME.match(value):
        return value
    known = ", ".join([*NUMERIC_FIELDS, *sorted(TEXT_FIELDS), *sorted(BOOL_FIELDS)])
    raise ValueError(f"Input should be a market field ({known}) or a field a signal node writes")


class Condition(Model):
    """A rule on one field (`field`, `op`, `value`), or a group: `any` (one holds) or `all` (every one)."""

    model_config = ConfigDict(extra="forbid")

    field: str | None = Field(
        default=None,
        description="A market field, or the name of a field a signal node annotated upstream.",
        examples=["volume_24h", "yes_price", "momentum_1d"],
    )
    op: FilterOp | None = Field(default=None, description="How the field is compared with `value`.")
    value: Any = Field(
        default=None,
        description="A number, a text, [low, high] for `between`, a list for `in`/`not_in`, true/false for "
        "`is_null` (default true), a percentage 0-100 for `in_top_pct`.",
    )
    any: list[Condition] | None = Field(
        default=None, min_length=1, max_length=20, description="Holds if one holds."
    )
    all: list[Condition] | None = Field(
        default=None, min_length=1, max_length=20, description="Holds if all hold."
    )

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str | None) -> str | None:
        return None if value is None else _check_field(value)

    @field_validator("value")
    @classmethod
    def _value_fits_field_and_op(cls, raw: Any, info: ValidationInfo) -> Value | None:
        field, op = info.data.get("field"), info.data.get("op")
        if field is None or op is None:  # already reported on their own keys, or a group
            return raw  # type: ignore[no-any-return]
        if op == "is_null":
            if raw is None:
                return True
            if not isinstance(raw, bool):
                raise ValueError("'is_null' takes true or false")
            return raw
        if raw is None:
            raise ValueError("Field required")
        text = field in TEXT_FIELDS
        if field in BOOL_FIELDS:
            if op not in ("==", "!="):
                raise ValueError(f"'{field}' is true or false: use == or !=")
            if not isinstance(raw, bool):
                raise ValueError(f"'{field}' compares with true or false, got {raw!r}")
            return raw
        if op in ORDER_OPS or op in ("between", "in_top_pct"):
            if text:
                raise ValueError(f"op '{op}' applies to numeric fields, not '{field}'")
            if op == "between":
                if not isinstance(raw, list | tuple) or len(raw) != 2:
                    raise ValueError("'between' takes a list of two numbers [low, high]")
                low, high = _number(raw[0]), _number(raw[1])
                if low > high:
                    raise ValueError(f"'between' needs low <= high, got [{low}, {high}]")
                return (low, high)
            number = _number(raw)
            if op == "in_top_pct" and not Decimal(0) < number <= Decimal(100):
                raise ValueError("'in_top_pct' takes a percentage above 0 and at most 100")
            return number
        if op == "contains":
            if not text:
                raise ValueError(f"op 'contains' applies to text fields (category, question), not '{field}'")
            return _text(raw)
        if op in ("in", "not_in"):
            if not isinstance(raw, list | tuple) or not raw or len(raw) > MAX_IN_VALUES:
                raise ValueError(f"'{op}' takes a list of 1 to {MAX_IN_VALUES} values")
            return tuple(_text(v) for v in raw) if text else tuple(_number(v) for v in raw)
        return _text(raw) if text else _number(raw)  # == and !=

    @model_validator(mode="after")
    def _a_rule_or_a_group(self) -> Condition:
        groups = (self.any is not None) + (self.all is not None)
        if groups:
            if groups > 1 or self.field is not None or self.op is not None or self.value is not None:
                raise ValueError("a group has exactly one of `any` or `all`, and no field, op or value")
            if _depth(self) > MAX_DEPTH:
                raise ValueError(f"groups nest at most {MAX_DEPTH} deep")
        elif self.field is None or self.op is None:
            raise ValueError("a condition needs `field` and `op` (and `value`), or is an `any`/`all` group")
        return self

    @property
    def members(self) -> list[Condition]:
        return self.any if self.any is not None else self.all or []

    def fields(self) -> Iterable[str]:
        if self.field is not None:
            yield self.field
        for member in self.members:
            yield from member.fields()

    def describe(self) -> str:
        if self.any is not None or self.all is not None:
            word = "any" if self.any is not None else "all"
            return f"{word}(" + "; ".join(m.describe() for m in self.members) + ")"
        value = self.value
        if isinstance(value, tuple):
            shown = "[" + ", ".join(str(v) for v in value) + "]"
        elif isinstance(value, bool):
            shown = "true" if value else "false"
        else:
            shown = repr(value) if isinstance(value, str) else str(value)
        return f"{self.field} {self.op} {shown}"


def _depth(condition: Condition) -> int:
    return 1 + max((_depth(m) for m in condition.members), default=0) if condition.members else 0


class SortBy(Model):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="A numeric market field or an annotated field.")
    descending: bool = Field(default=True, description="Largest first (markets without the value come last).")

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str) -> str:
        if value in TEXT_FIELDS or value in BOOL_FIELDS:
            raise ValueError(f"sort by a numeric field, not '{value}'")
        return _check_field(value)


class FilterConfig(Model):
    model_config = ConfigDict(extra="forbid")

    conditions: list[Condition] = Field(
        default_factory=list, max_length=50, description="Every one must hold (a group counts as one)."
    )
    sort: SortBy | None = Field(default=None, description="Rank the kept markets by a field.")
    limit: int | None = Field(
        default=None, ge=1, le=1000, description="Keep at most this many (after `sort`)."
    )

    @model_validator(mode="after")
    def _something_to_do(self) -> FilterConfig:
        if not self.conditions and self.sort is None and self.limit is None:
            raise ValueError("give at least 1 condition, or a `sort` / `limit`")
        return self

    def fields(self) -> set[str]:
        names = {name for condition in self.conditions for name in condition.fields()}
        if self.sort is not None:
            names.add(self.sort.field)
        return names


def field_value(market: Market, field: str, ctx: RunContext) -> Actual:
    """The market's value for a filter field; `hours_to_close` counts from the run's slot. A name that is not
    a market field is read from the run's annotations (what signal nodes wrote)."""
    if field == "hours_to_close":
        return market.hours_to_close(ctx.slot)
    if field == "yes_price":
        return market.yes_price
    if field == "no_price":
        return market.no_price
    if field in MARKET_FIELDS:
        value: Actual = getattr(market, field)
        return value
    annotated = ctx.annotation(market.market_id, field)
    if isinstance(annotated, float):
        return Decimal(repr(annotated)) if math.isfinite(annotated) else None
    return annotated if isinstance(annotated, Decimal | str | bool) else None


def holds(condition: Condition, actual: Actual, *, top: Decimal | None = None) -> bool:
    """Whether a market's value meets the condition; a missing value never does (not even `!=`), except for
    `is_null`. `top` is the threshold an `in_top_pct` condition computed over the node's input."""
    op, expected = condition.op, condition.value
    if op == "is_null":
        return (actual is None) is (expected is None or bool(expected))  # `value` defaults to true
    if actual is None:
        return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        if not (isinstance(expected, bool) and isinstance(actual, bool)):
            return False
        return (actual == expected) if op == "==" else (actual != expected)
    if isinstance(actual, str):
        actual = actual.casefold()
    elif isinstance(expected, str) or (isinstance(expected, tuple) and isinstance(expected[0], str)):
        return False  # a text value against a numeric field: config validation prevents this
    if op == "contains":
        return isinstance(actual, str) and expected in actual
    if op == "in":
        return actual in expected
    if op == "not_in":
        return actual not in expected
    if op == "between":
        return bool(expected[0] <= actual <= expected[1])
    if op == "in_top_pct":
        return top is not None and isinstance(actual, Decimal) and actual >= top
    return bool(_COMPARE[op or "=="](actual, expected))


def _shown(actual: Actual) -> str | None:
    if isinstance(actual, bool):
        return "true" if actual else "false"
    if isinstance(actual, Decimal):
        # Plain notation, at most 4 decimals: "5000", "0.95", "23.9833" (hours), never "5E+3".
        return format(actual.quantize(Decimal("0.0001")).normalize(), "f")
    return actual


def _leaves(conditions: Iterable[Condition]) -> Iterable[Condition]:
    for condition in conditions:
        if condition.field is not None:
            yield condition
        yield from _leaves(condition.members)


def _top_thresholds(config: FilterConfig, inputs: list[Market], ctx: RunContext) -> dict[int, Decimal | None]:
    """For each `in_top_pct` condition, the smallest value still in the top pct of the input markets that
    have the field (ceil of the count; ties at the threshold are kept)."""
    thresholds: dict[int, Decimal | None] = {}
    for condition in _leaves(config.conditions):
        if condition.op != "in_top_pct" or condition.field is None:
            continue
        values = sorted(
            (v for m in inputs if isinstance(v := field_value(m, condition.field, ctx), Decimal)),
            reverse=True,
        )
        count = math.ceil(len(values) * condition.value / Decimal(100))
        thresholds[id(condition)] = values[count - 1] if values and count > 0 else None
    return thresholds


def _failed(
    condition: Condition, market: Market, ctx: RunContext, tops: dict[int, Decimal | None]
) -> tuple[Condition, Actual] | None:
    """None when the condition holds, else the leaf that failed (a group: itself) and the value seen."""
    if condition.field is not None:
        actual = field_value(market, condition.field, ctx)
        return None if holds(condition, actual, top=tops.get(id(condition))) else (condition, actual)
    if condition.any is not None:  # short-circuit: the first member that holds decides
        if any(_failed(member, market, ctx, tops) is None for member in condition.members):
            return None
        return (condition, None)
    for member in condition.members:
        failed = _failed(member, market, ctx, tops)
        if failed is not None:
            return failed
    return None


@register
class Filter:
    type_name: ClassVar[str] = "FILTER"
    config_model: ClassVar[type[BaseModel]] = FilterConfig
    is_source: ClassVar[bool] = False
    is_sink: ClassVar[bool] = False
    category: ClassVar[Category] = "filter"
    title: ClassVar[str] = "Filter"
    description: ClassVar[str] = (
        "Keeps the markets that meet every condition (conditions may nest `any`/`all` groups) and says why "
        "the others were dropped; optionally sorts the kept markets by a field and keeps the first `limit`."
    )
    inputs: ClassVar[tuple[int, int | None]] = (1, None)
    handles: ClassVar[tuple[str, ...]] = (INCLUDE,)
    example: ClassVar[dict[str, Any]] = {
        "conditions": [
            {"field": "volume_24h", "op": ">=", "value": 10000},
            {
                "any": [
                    {"field": "yes_price", "op": "between", "value": [0.2, 0.8]},
                    {"field": "category", "op": "in", "value": ["Politics", "Crypto"]},
                ]
            },
        ],
        "sort": {"field": "volume_24h", "descending": True},
        "limit": 20,
    }

    def run(self, config: FilterConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        kept: list[Market] = []
        dropped: list[dict[str, Any]] = []
        dropped_by: dict[str, int] = {}
        tops = _top_thresholds(config, inputs, ctx)
        rules: dict[int, str] = {}  # each rule's text, made once per run (not once per dropped market)

        def rule_of(condition: Condition) -> str:
            text = rules.get(id(condition))
            if text is None:
                text = rules[id(condition)] = condition.describe()
            return text

        for market in inputs:
            for condition in config.conditions:
                failed = _failed(condition, market, ctx, tops)
                if failed is not None:
                    rule_condition, actual = failed
                    rule = rule_of(condition) if rule_condition.field is None else rule_of(rule_condition)
                    dropped_by[rule] = dropped_by.get(rule, 0) + 1
                    line: dict[str, Any] = {"market_id": market.market_id, "dropped": rule}
                    if rule_condition.field is not None:
                        line["was"] = "missing" if actual is None else _shown(actual)
                    dropped.append(line)
                    break
            else:
                kept.append(market)
        # The summary comes first so it survives when the trace caps the per-market lines.
        summary: dict[str, Any] = {"received": len(inputs), "kept": len(kept), "dropped_by": dropped_by}
        if config.sort is not None or config.limit is not None:
            kept = self._ranked(config, kept, ctx)
            summary["kept"] = len(kept)
            summary["passed_conditions"] = len(inputs) - len(dropped)
        return NodeOutput(markets=kept, decisions=[summary, *dropped])

    @staticmethod
    def _ranked(config: FilterConfig, markets: list[Market], ctx: RunContext) -> list[Market]:
        if config.sort is not None:
            sort = config.sort
            present: list[tuple[Decimal, Market]] = []
            missing: list[Market] = []
            for market in markets:
                value = field_value(market, sort.field, ctx)
                if isinstance(value, Decimal):
                    present.append((value, market))
                else:
                    missing.append(market)
            present.sort(key=lambda pair: pair[0], reverse=sort.descending)  # stable: ties keep input order
            markets = [m for _, m in present] + missing
        return markets[: config.limit] if config.limit is not None else markets
