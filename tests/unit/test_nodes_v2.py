"""Strategy language v2 nodes: PRICE_SIGNAL, BOOK_SIGNAL, LOGIC, FILTER groups/ops/sort, DATA_SOURCE keys."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from engine.market.types import BookLevel, MarketEvent, OrderBook, PriceHistory, PricePoint
from engine.models.trading import Account, Holding
from engine.nodes.base import EXCLUDE, INCLUDE
from engine.nodes.data_source import DataSource, DataSourceConfig
from engine.nodes.filter import Filter, FilterConfig
from engine.nodes.logic import Logic, LogicConfig
from engine.nodes.signals import BookSignal, BookSignalConfig, PriceSignal, PriceSignalConfig
from tests.support.markets import SLOT, InMemoryMarkets, make_context, make_market

D = Decimal


def history(token: str, *prices: str, simulated: bool = False) -> PriceHistory:
    return PriceHistory(token, tuple(PricePoint(t=i * 3600, p=D(p)) for i, p in enumerate(prices)), simulated)


# --- PRICE_SIGNAL ----------------------------------------------------------------------------------------


def test_price_signal_writes_the_change_and_keeps_markets_past_the_threshold() -> None:
    # Given two markets: one rose 0.40 -> 0.50 over 2 hours, one fell 0.60 -> 0.55; one has no history
    up, down, blind = make_market("up"), make_market("down"), make_market("blind")
    source = InMemoryMarkets(
        [up, down, blind],
        histories={
            "up-yes": history("up-yes", "0.40", "0.45", "0.50"),
            "down-yes": history("down-yes", "0.6", "0.6", "0.55"),
        },
    )
    ctx = make_context([up, down, blind])
    ctx.markets = source
    cfg = PriceSignalConfig.model_validate(
        {"indicator": "change", "output_field": "mom", "lookback_hours": 2, "keep_above": 0.05}
    )

    # When the signal runs
    output = PriceSignal().run(cfg, [up, down, blind], ctx)

    # Then both values are written, only the riser is kept, the blind market is skipped with a reason
    assert ctx.annotation("up", "mom") == D("0.1") and ctx.annotation("down", "mom") == D("-0.05")
    assert [m.market_id for m in output.markets] == ["up"]
    summary = output.decisions[0]
    assert summary["skipped_by"] == {"history_unavailable": 1} and summary["kept"] == 1
    assert {"market_id": "blind", "skipped": "history_unavailable"} in output.decisions
    # And one 6h window (the smallest covering 2 hours) was asked per token
    assert {w.interval for _, w in source.history_requests} == {"6h"}


def test_price_signal_rsi_and_simulated_warning() -> None:
    # Given a simulated hourly history with changes +1c, -1c, +2c
    market = make_market("a")
    ctx = make_context([market])
    ctx.markets = InMemoryMarkets(
        [market], histories={"a-yes": history("a-yes", "0.10", "0.11", "0.10", "0.12", simulated=True)}
    )
    cfg = PriceSignalConfig.model_validate({"indicator": "rsi", "output_field": "rsi2", "periods": 2})

    # When RSI(2) is computed
    output = PriceSignal().run(cfg, [market], ctx)

    # Then it is 100 - 100/6 to 6 places, and the run warns that the data was simulated
    assert ctx.annotation("a", "rsi2") == (D(100) - D(100) / D(6)).quantize(D("0.000001"))
    assert output.markets == [market] and ctx.warnings and "simulated" in ctx.warnings[0]


def test_price_signal_budget_and_caps_skip_markets_never_fail() -> None:
    # Given three markets and a signal capped at two
    markets = [make_market(str(i)) for i in range(3)]
    ctx = make_context(markets)
    cfg = PriceSignalConfig.model_validate({"indicator": "zscore", "output_field": "z", "max_markets": 2})
    # When it runs with no histories at all
    output = PriceSignal().run(cfg, markets, ctx)
    # Then nothing is kept, and each market says why
    assert output.markets == [] and output.decisions[0]["skipped_by"] == {
        "history_unavailable": 2,
        "over_max_markets": 1,
    }


@pytest.mark.parametrize(
    "config",
    [
        {"indicator": "change", "output_field": "volume"},  # a market field
        {"indicator": "change", "output_field": "Bad Name"},
        {"indicator": "ema_cross", "output_field": "x", "fast": 30, "slow": 10},
        {"indicator": "change", "output_field": "x", "keep_above": 2, "keep_below": 1},
        {"indicator": "macd", "output_field": "x"},
    ],
)
def test_price_signal_config_errors(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PriceSignalConfig.model_validate(config)


# --- BOOK_SIGNAL -----------------------------------------------------------------------------------------


def test_book_signal_writes_the_spread_from_the_ticks_book() -> None:
    # Given a market whose YES book is 0.40 / 0.44 and one without a book
    a, b = make_market("a"), make_market("b")
    book = OrderBook("a-yes", "c", (BookLevel(D("0.40"), D(100)),), (BookLevel(D("0.44"), D(50)),), 0, "h")
    ctx = make_context([a, b])
    ctx.markets = InMemoryMarkets([a, b], books={"a-yes": book})
    cfg = BookSignalConfig.model_validate({"metric": "spread", "output_field": "spr", "keep_below": 0.05})
    # When it runs
    output = BookSignal().run(cfg, [a, b], ctx)
    # Then a carries spread 0.04 and is kept; b is skipped for want of a book
    assert ctx.annotation("a", "spr") == D("0.04") and output.markets == [a]
    assert output.decisions[0]["skipped_by"] == {"book_unavailable": 1}


# --- LOGIC -----------------------------------------------------------------------------------------------


def test_logic_and_or_not_over_inputs_seen_apart() -> None:
    a, b, c = make_market("a"), make_market("b"), make_market("c")
    ctx = make_context([a, b, c])
    logic = Logic()

    def ids(op: str, groups: dict[str, list[list[Any]]]) -> list[str]:
        out = logic.run_apart(LogicConfig(op=op), groups, ctx)  # type: ignore[arg-type]
        return [m.market_id for m in out.markets]

    # Given inputs {a, b} and {b, c}
    # Then and = {b}, or = {a, b, c}, not({a,b,c} minus {b}) = {a, c}
    assert ids("and", {INCLUDE: [[a, b], [b, c]]}) == ["b"]
    assert ids("or", {INCLUDE: [[a, b], [b, c]]}) == ["a", "b", "c"]
    assert ids("not", {INCLUDE: [[a, b, c]], EXCLUDE: [[b]]}) == ["a", "c"]


# --- FILTER v2 -------------------------------------------------------------------------------------------


def run_filter(config: dict[str, Any], markets: list[Any], ctx: Any = None) -> list[str]:
    ctx = ctx or make_context(markets)
    output = Filter().run(FilterConfig.model_validate(config), markets, ctx)
    return [m.market_id for m in output.markets]


def test_any_all_groups_and_not_in_and_is_null() -> None:
    markets = [
        make_market("cheap", yes_price="0.1", category="Sports"),
        make_market("mid", yes_price="0.5", category="Politics"),
        make_market("nocat", yes_price="0.9", category=None),
    ]
    # any: price < 0.2 or category == politics
    cfg = {
        "conditions": [
            {
                "any": [
                    {"field": "yes_price", "op": "<", "value": 0.2},
                    {"field": "category", "op": "==", "value": "politics"},
                ]
            }
        ]
    }
    assert run_filter(cfg, markets) == ["cheap", "mid"]
    # all inside any
    nested = {
        "conditions": [
            {
                "any": [
                    {
                        "all": [
                            {"field": "yes_price", "op": ">", "value": 0.4},
                            {"field": "category", "op": "is_null"},
                        ]
                    }
                ]
            }
        ]
    }
    assert run_filter(nested, markets) == ["nocat"]
    assert run_filter(
        {"conditions": [{"field": "category", "op": "not_in", "value": ["sports"]}]}, markets
    ) == ["mid"]
    assert run_filter({"conditions": [{"field": "category", "op": "is_null", "value": False}]}, markets) == [
        "cheap",
        "mid",
    ]


def test_in_top_pct_and_sort_with_limit() -> None:
    markets = [make_market(str(i), volume_24h=1000 * i) for i in range(1, 11)]  # 1,000 .. 10,000
    # top 20% of 10 markets by volume_24h = the 2 largest
    assert run_filter(
        {"conditions": [{"field": "volume_24h", "op": "in_top_pct", "value": 20}]}, markets
    ) == ["9", "10"]
    # sort ascending, keep 3
    assert run_filter({"sort": {"field": "volume_24h", "descending": False}, "limit": 3}, markets) == [
        "1",
        "2",
        "3",
    ]


def test_filter_reads_annotated_fields_and_new_market_fields() -> None:
    a = make_market("a", neg_risk=True, event_title="Fed decision")
    b = make_market("b", neg_risk=False)
    ctx = make_context([a, b])
    ctx.annotate("a", "mom", D("0.2"))
    ctx.annotate("b", "mom", D("-0.1"))
    assert run_filter({"conditions": [{"field": "mom", "op": ">", "value": 0}]}, [a, b], ctx) == ["a"]
    assert run_filter({"conditions": [{"field": "neg_risk", "op": "==", "value": True}]}, [a, b], ctx) == [
        "a"
    ]
    assert run_filter(
        {"conditions": [{"field": "event_title", "op": "contains", "value": "fed"}]}, [a, b], ctx
    ) == ["a"]
    assert run_filter({"sort": {"field": "mom"}, "limit": 1}, [b, a], ctx) == ["a"]


# --- DATA_SOURCE v2 --------------------------------------------------------------------------------------


def test_data_source_narrows_by_closing_window_and_liquidity() -> None:
    soon = make_market("soon", end_date=SLOT + timedelta(hours=10), liquidity=9000)
    thin = make_market("thin", end_date=SLOT + timedelta(hours=10), liquidity=100)
    late = make_market("late", end_date=SLOT + timedelta(days=60), liquidity=9000)
    ctx = make_context([soon, thin, late])
    cfg = DataSourceConfig.model_validate({"end_within_hours": 24, "min_liquidity": 1000})
    assert [m.market_id for m in DataSource().run(cfg, [], ctx).markets] == ["soon"]


def test_data_source_resolves_tags_and_event_slugs_through_events() -> None:
    # Given a market without tags that belongs to an event tagged `fed-rates`
    untagged = make_market("u", tags=(), category=None)
    other = make_market("o", tags=(), category=None)
    event = MarketEvent("e1", "fed-decision", "Fed decision", ("fed-rates",), (untagged,))
    ctx = make_context([untagged, other])
    ctx.markets = InMemoryMarkets([untagged, other], events=[event])
    # When sourced by tag and by event slug / Then the event's market comes through
    by_tag = DataSource().run(DataSourceConfig(tag="fed-rates"), [], ctx)
    by_slug = DataSource().run(DataSourceConfig(event_slug="fed-decision"), [], ctx)
    assert [m.market_id for m in by_tag.markets] == ["u"] and [m.market_id for m in by_slug.markets] == ["u"]


def test_data_source_positions_are_the_markets_held() -> None:
    held, free = make_market("held"), make_market("free")
    holding = Holding(
        token_id="held-yes",
        market_id="held",
        outcome="YES",
        outcome_label="Yes",
        shares=D(10),
        cost_usd=D(4),
        opened_at=SLOT,
    )
    account = Account(
        strategy_id="s-1", bankroll_usd=D(1000), cash_usd=D(996), positions={"held-yes": holding}
    )
    ctx = make_context([held, free], account=account)
    out = DataSource().run(DataSourceConfig(source="positions"), [], ctx)
    assert [m.market_id for m in out.markets] == ["held"]
