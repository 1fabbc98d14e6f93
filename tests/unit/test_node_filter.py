"""FILTER: condition fields, ops and value types (DESIGN 5), checked at config time, applied to markets."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from engine.market.types import Market
from engine.nodes.filter import Filter, FilterConfig
from tests.support.markets import SLOT, make_context, make_market


def config(*conditions: tuple[str, str, Any]) -> FilterConfig:
    return FilterConfig.model_validate(
        {"conditions": [{"field": f, "op": o, "value": v} for f, o, v in conditions]}
    )


def kept(markets: list[Market], *conditions: tuple[str, str, Any]) -> list[str]:
    output = Filter().run(config(*conditions), markets, make_context(markets))
    return [m.market_id for m in output.markets]


# --- config validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "loc", "message"),
    [
        (("volume", ">=", "lots"), ("conditions", 0, "value"), "expected a number"),
        (("volume", ">=", True), ("conditions", 0, "value"), "expected a number"),
        (("volume", ">=", "NaN"), ("conditions", 0, "value"), "finite"),
        (("yes_price", "between", [0.8, 0.2]), ("conditions", 0, "value"), "low <= high"),
        (("yes_price", "between", [0.2]), ("conditions", 0, "value"), "list of two numbers"),
        (("yes_price", "between", 0.5), ("conditions", 0, "value"), "list of two numbers"),
        (("category", "in", "Sports"), ("conditions", 0, "value"), "'in' takes a list"),
        (("category", "in", []), ("conditions", 0, "value"), "'in' takes a list"),
        (("category", "in", ["Sports", 3]), ("conditions", 0, "value"), "non-empty string"),
        (("volume", "contains", "1"), ("conditions", 0, "value"), "applies to text fields"),
        (("question", ">", "m"), ("conditions", 0, "value"), "applies to numeric fields"),
        (("category", "between", ["a", "b"]), ("conditions", 0, "value"), "applies to numeric fields"),
        (("question", "contains", ""), ("conditions", 0, "value"), "non-empty string"),
        # v2: a bare name may be a signal's annotated field (graph validation checks it); not any text
        (("Price!", ">", 1), ("conditions", 0, "field"), "Input should be"),
        (("volume", "=~", 1), ("conditions", 0, "op"), "Input should be"),
    ],
)
def test_value_type_is_checked_against_field_and_op(
    condition: tuple[str, str, Any], loc: tuple[Any, ...], message: str
) -> None:
    # Given a condition whose value does not fit its field and op
    # When the config is parsed
    with pytest.raises(ValidationError) as info:
        config(condition)
    # Then the error points at the condition's key and says why
    errors = info.value.errors()
    assert [e["loc"] for e in errors] == [loc]
    assert message in errors[0]["msg"]


def test_unknown_keys_and_empty_conditions_are_rejected() -> None:
    # Given extra keys, or no conditions / When parsed / Then each is rejected
    with pytest.raises(ValidationError, match="Extra inputs"):
        FilterConfig.model_validate({"conditions": [{"field": "volume", "op": ">", "value": 1, "note": "x"}]})
    with pytest.raises(ValidationError, match="at least 1"):
        FilterConfig.model_validate({"conditions": []})
    with pytest.raises(ValidationError, match="Extra inputs"):
        FilterConfig.model_validate({"conditions": [{"field": "volume", "op": ">", "value": 1}], "any": True})


def test_numbers_arrive_as_exact_decimals() -> None:
    # Given floats, ints and numeric strings / When parsed / Then values are Decimals without float noise
    parsed = config(("yes_price", "between", [0.2, "0.8"]), ("volume", ">=", 10000), ("spread", "<", "0.05"))
    assert parsed.conditions[0].value == (Decimal("0.2"), Decimal("0.8"))
    assert parsed.conditions[1].value == Decimal(10000)
    assert parsed.conditions[2].value == Decimal("0.05")


# --- applying conditions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        (">", 20_000, ["c"]),
        (">=", 20_000, ["b", "c"]),
        ("<", 20_000, ["a"]),
        ("<=", 20_000, ["a", "b"]),
        ("==", 20_000, ["b"]),
        ("!=", 20_000, ["a", "c"]),
        ("between", [10_000, 20_000], ["a", "b"]),
        ("in", [10_000, 30_000], ["a", "c"]),
    ],
)
def test_numeric_ops(op: str, value: Any, expected: list[str]) -> None:
    # Given markets with volume 10k, 20k, 30k
    markets = [
        make_market("a", volume=10_000),
        make_market("b", volume=20_000),
        make_market("c", volume=30_000),
    ]
    # When filtered / Then the ops behave as written, `between` inclusive at both ends
    assert kept(markets, ("volume", op, value)) == expected


def test_every_numeric_field_reads_the_right_market_value() -> None:
    # Given one market whose numeric fields all differ
    market = make_market(
        "a",
        volume=100,
        volume_24h=24,
        liquidity=50,
        yes_price="0.3",
        no_price="0.7",
        spread="0.02",
        end_date=SLOT + timedelta(hours=10),
    )
    # When each field is tested for its own value / Then each holds
    for field, value in [
        ("volume", 100),
        ("volume_24h", 24),
        ("liquidity", 50),
        ("yes_price", 0.3),
        ("no_price", 0.7),
        ("spread", 0.02),
        ("hours_to_close", 10),
    ]:
        assert kept([market], (field, "==", value)) == ["a"], field


def test_hours_to_close_counts_from_the_runs_slot() -> None:
    # Given markets closing in 2 and 48 hours after the slot
    markets = [
        make_market("soon", end_date=SLOT + timedelta(hours=2)),
        make_market("later", end_date=SLOT + timedelta(hours=48)),
    ]
    # When keeping markets with more than 24 hours to close / Then only the later one stays
    assert kept(markets, ("hours_to_close", ">", 24)) == ["later"]


def test_text_ops_are_case_insensitive() -> None:
    # Given markets in different categories and questions
    markets = [
        make_market("a", category="Sports", question="Will the Lakers win?"),
        make_market("b", category="Politics", question="Will the Senate pass the bill?"),
    ]
    # When filtered by text / Then case does not matter
    assert kept(markets, ("question", "contains", "lakers")) == ["a"]
    assert kept(markets, ("category", "==", "sports")) == ["a"]
    assert kept(markets, ("category", "!=", "SPORTS")) == ["b"]
    assert kept(markets, ("category", "in", ["crypto", "POLITICS"])) == ["b"]


def test_a_missing_field_fails_every_condition_even_not_equal() -> None:
    # Given markets without a category, end date, spread or prices
    market = make_market("bare", category=None, end_date=None, spread=None, yes_price=None)
    # When any condition on a missing field is applied / Then the market is dropped
    for condition in [
        ("category", "!=", "Sports"),
        ("hours_to_close", ">", -1000),
        ("spread", "<", 1),
        ("yes_price", "!=", 0.5),
        ("no_price", ">=", 0),
    ]:
        assert kept([market], condition) == [], condition


def test_all_conditions_must_hold() -> None:
    # Given DESIGN 5's example conditions and three markets
    markets = [
        make_market("good", volume=15_000, yes_price="0.5"),
        make_market("thin", volume=5_000, yes_price="0.5"),
        make_market("sure", volume=15_000, yes_price="0.95"),
    ]
    # When filtered / Then only the market meeting both stays
    assert kept(markets, ("volume", ">=", 10000), ("yes_price", "between", [0.2, 0.8])) == ["good"]


def test_decisions_say_why_markets_were_dropped() -> None:
    # Given three markets, two of which fail different conditions
    markets = [
        make_market("good", volume=15_000, yes_price="0.5"),
        make_market("thin", volume=5_000, yes_price="0.5"),
        make_market("sure", volume=15_000, yes_price="0.95"),
    ]
    cfg = config(("volume", ">=", 10000), ("yes_price", "between", [0.2, 0.8]))
    # When filtered
    output = Filter().run(cfg, markets, make_context(markets))
    # Then a summary comes first, then one line per dropped market naming the failed rule and the value
    summary, *drops = output.decisions
    assert summary == {
        "received": 3,
        "kept": 1,
        "dropped_by": {"volume >= 10000": 1, "yes_price between [0.2, 0.8]": 1},
    }
    assert drops == [
        {"market_id": "thin", "dropped": "volume >= 10000", "was": "5000"},
        {"market_id": "sure", "dropped": "yes_price between [0.2, 0.8]", "was": "0.95"},
    ]


def test_missing_values_are_reported_as_missing() -> None:
    market = make_market("bare", category=None)
    output = Filter().run(config(("category", "==", "Sports")), [market], make_context([market]))
    assert output.decisions[1] == {"market_id": "bare", "dropped": "category == 'sports'", "was": "missing"}


def test_order_of_kept_markets_is_the_input_order() -> None:
    markets = [make_market(str(i), volume=1000 * i) for i in range(10)]
    assert kept(markets, ("volume", ">", 4500)) == ["5", "6", "7", "8", "9"]
