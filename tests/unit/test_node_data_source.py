"""DATA_SOURCE: its config keys and defaults (DESIGN 5), and the query it asks of the tick's snapshot."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from engine.errors import MarketDataUnavailable
from engine.market.types import Market, MarketQuery
from engine.nodes.data_source import DataSource, DataSourceConfig
from tests.support.markets import InMemoryMarkets, make_context, make_market


def config(**values: Any) -> DataSourceConfig:
    return DataSourceConfig.model_validate(values)


def test_defaults_are_polymarket_active_200_by_volume_descending() -> None:
    # Given an empty config / When parsed / Then DESIGN 5's defaults apply
    parsed = config()
    assert (
        parsed.source,
        parsed.active_only,
        parsed.limit,
        parsed.tag,
        parsed.order_by,
        parsed.ascending,
    ) == (
        "polymarket",
        True,
        200,
        None,
        "volume",
        False,
    )


@pytest.mark.parametrize(
    ("values", "loc"),
    [
        ({"limit": 0}, ("limit",)),
        ({"limit": 1001}, ("limit",)),
        ({"source": "kalshi"}, ("source",)),
        ({"order_by": "price"}, ("order_by",)),
        ({"max_markets": 10}, ("max_markets",)),
        ({"tag": ""}, ("tag",)),
    ],
)
def test_invalid_or_unknown_keys_are_rejected(values: dict[str, Any], loc: tuple[str, ...]) -> None:
    # Given a config outside DESIGN 5 / When parsed / Then the key is named
    with pytest.raises(ValidationError) as info:
        config(**values)
    assert [e["loc"] for e in info.value.errors()] == [loc]


@pytest.mark.parametrize("limit", [1, 1000])
def test_limit_bounds_are_accepted(limit: int) -> None:
    assert config(limit=limit).limit == limit


def test_asks_the_snapshot_with_its_config_and_passes_markets_on() -> None:
    # Given a snapshot of three markets
    markets = [make_market("a", volume=10), make_market("b", volume=30), make_market("c", volume=20)]
    ctx = make_context(markets)
    # When the node runs with a limit of 2, ordered by volume
    output = DataSource().run(config(limit=2), [], ctx)
    # Then it asked for exactly that, and passes on the two largest
    assert isinstance(ctx.markets, InMemoryMarkets)
    assert ctx.markets.queries == [
        MarketQuery(active_only=True, limit=2, tag=None, order_by="volume", ascending=False)
    ]
    assert [m.market_id for m in output.markets] == ["b", "c"]
    assert output.orders == []
    assert output.decisions[0]["markets"] == 2


def test_tag_order_and_inactive_markets_are_forwarded_to_the_query() -> None:
    # Given sports and politics markets, one of them closed
    markets = [
        make_market("s1", tags=("sports",), end_date=None),
        make_market("s2", tags=("sports",), closed=True),
        make_market("p1", tags=("politics",)),
    ]
    ctx = make_context(markets)
    # When asked for sports, all markets, by end date ascending
    output = DataSource().run(
        config(tag="sports", active_only=False, order_by="end_date", ascending=True), [], ctx
    )
    # Then the query carried those settings and the closed sports market came through
    assert isinstance(ctx.markets, InMemoryMarkets)
    assert ctx.markets.queries[0] == MarketQuery(
        active_only=False, limit=200, tag="sports", order_by="end_date", ascending=True
    )
    assert {m.market_id for m in output.markets} == {"s1", "s2"}


def test_market_data_outage_propagates() -> None:
    # Given a snapshot that cannot be had
    class Down(InMemoryMarkets):
        def query(self, query: MarketQuery) -> list[Market]:
            raise MarketDataUnavailable("gamma: HTTP 503")

    ctx = make_context()
    ctx.markets = Down([])
    # When the node runs / Then the outage is not hidden
    with pytest.raises(MarketDataUnavailable, match="503"):
        DataSource().run(config(), [], ctx)


def test_money_fields_of_markets_are_untouched() -> None:
    # Given a market with exact decimal volume / When passed through / Then it is the same object
    market = make_market("a", volume=Decimal("12345.678"))
    output = DataSource().run(config(), [], make_context([market]))
    assert output.markets[0] is market
