"""Parsing real recorded Gamma markets and CLOB books: the quirks of DESIGN 6, and resolution."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from engine.market.polymarket import MarketParseError, parse_book, parse_market
from engine.market.types import DEFAULT_MIN_ORDER_SIZE, DEFAULT_TICK_SIZE, FeeSchedule

DATA = Path(__file__).resolve().parents[2] / "local" / "data" / "polymarket"
BTC_UP = "94242206871221370391055736153305071391564432448684801902267396130896523340261"
BTC_5M = "1669969"  # Bitcoin Up or Down 5m: the one market with a feeSchedule (rate 0.25, exponent 2)


@cache
def _markets() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((DATA / "gamma_markets_sample.json").read_text())
    return loaded


def raw_market(market_id: str) -> dict[str, Any]:
    return copy.deepcopy(next(m for m in _markets() if m["id"] == market_id))


def raw_books() -> dict[str, dict[str, Any]]:
    return {b["asset_id"]: b for b in json.loads((DATA / "clob_books_sample.json").read_text())}


def test_every_recorded_market_parses_with_string_token_ids_and_decimal_prices() -> None:
    # Given all 427 recorded Gamma market objects
    raws = _markets()

    # When each is parsed
    markets = [parse_market(raw) for raw in raws]

    # Then every one has its outcomes, exact string token ids and Decimal (or no) prices
    assert len(markets) == 427
    for raw, market in zip(raws, markets, strict=True):
        assert market.market_id == raw["id"]
        assert [t.token_id for t in market.outcomes] == json.loads(raw["clobTokenIds"])
        assert [t.label for t in market.outcomes] == json.loads(raw["outcomes"])
        assert all(isinstance(t.price, Decimal) for t in market.outcomes)
        assert isinstance(market.volume, Decimal)


def test_json_strings_inside_the_json_are_decoded_exactly() -> None:
    # Given the recorded BTC 5-minute market, whose outcomes, prices and token ids are JSON strings
    raw = raw_market(BTC_5M)

    # When it is parsed
    market = parse_market(raw)

    # Then labels, prices and the 77-digit token ids come out exact, YES being the first outcome
    assert [t.label for t in market.outcomes] == ["Up", "Down"]
    assert market.yes_price == Decimal("0.005") and market.no_price == Decimal("0.995")
    assert market.yes is not None
    assert market.yes.token_id == BTC_UP
    assert market.volume == Decimal("61531.93476599994")  # a float in the JSON, without binary noise
    assert market.liquidity == Decimal("19748.9135")
    assert market.tick_size == Decimal("0.001") and market.min_order_size == Decimal(5)


def test_a_v2_market_reads_its_outcome_ids_from_position_ids() -> None:
    # Given a v2-shaped copy of a real market: ids in positionIds (a real array), clobTokenIds stale
    raw = raw_market(BTC_5M)
    real_ids = json.loads(raw["clobTokenIds"])
    raw["version"] = "v2"
    raw["positionIds"] = [int(real_ids[0]), real_ids[1]]  # a big integer and a string: both stay exact
    raw["clobTokenIds"] = '["111", "222"]'

    # When it is parsed
    market = parse_market(raw)

    # Then the outcome ids come from positionIds, as exact strings
    assert [t.token_id for t in market.outcomes] == real_ids


def test_a_v1_market_ignores_position_ids() -> None:
    # Given a real (v1) market that happens to carry a positionIds field
    raw = raw_market(BTC_5M)
    raw["positionIds"] = ["1", "2"]

    # When it is parsed
    market = parse_market(raw)

    # Then its ids still come from clobTokenIds
    assert [t.token_id for t in market.outcomes] == json.loads(raw["clobTokenIds"])


def test_numbers_given_as_strings_or_numbers_become_the_same_decimals() -> None:
    # Given the same market once with numbers and once with every number as a string
    raw = raw_market(BTC_5M)
    as_strings = copy.deepcopy(raw)
    for key in ("volumeNum", "liquidityNum", "volume24hr", "spread", "bestAsk", "orderPriceMinTickSize"):
        as_strings[key] = repr(raw[key])

    # When both are parsed
    numbers, strings = parse_market(raw), parse_market(as_strings)

    # Then they agree exactly
    assert numbers == strings
    assert strings.best_ask == Decimal("0.01") and strings.volume_24h == Decimal("70934.07902500001")


@pytest.mark.parametrize(
    ("field", "check"),
    [
        ("volume24hr", lambda m: m.volume_24h == 0),
        ("liquidityNum", lambda m: isinstance(m.liquidity, Decimal)),
        ("bestBid", lambda m: m.best_bid is None),
        ("endDate", lambda m: m.end_date is None),
        ("feesEnabled", lambda m: not m.fees_enabled and m.fee_schedule is None),
        ("orderMinSize", lambda m: m.min_order_size == DEFAULT_MIN_ORDER_SIZE),
        ("orderPriceMinTickSize", lambda m: m.tick_size == DEFAULT_TICK_SIZE),
        ("acceptingOrders", lambda m: not m.accepting_orders),
        ("umaResolutionStatus", lambda m: m.uma_resolution_status is None),
    ],
)
def test_old_markets_missing_a_field_parse_with_its_default(field: str, check: Any) -> None:
    # Given every recorded market that lacks the field
    lacking = [raw for raw in _markets() if raw.get(field) is None]
    assert lacking, f"the sample has no market without {field}"

    # When they are parsed
    markets = [parse_market(raw) for raw in lacking]

    # Then each takes the documented default
    assert all(check(m) for m in markets)


def test_the_fee_schedule_is_read_only_when_fees_are_enabled() -> None:
    # Given the fee-charging market, a copy with fees disabled and a copy whose schedule has no exponent
    raw = raw_market(BTC_5M)
    disabled = {**raw, "feesEnabled": False}
    no_exponent = {**raw, "feeSchedule": {"rate": "0.02", "takerOnly": True}}

    # When they are parsed
    charged, free, linear = parse_market(raw), parse_market(disabled), parse_market(no_exponent)

    # Then only enabled fees have a schedule, with exponent 1 when absent
    assert charged.fee_schedule == FeeSchedule(rate=Decimal("0.25"), exponent=Decimal(2))
    assert free.fee_schedule is None
    assert linear.fee_schedule == FeeSchedule(rate=Decimal("0.02"), exponent=Decimal(1))


def test_tags_come_from_event_tags_and_category_from_the_event() -> None:
    # Given a market nested in a recorded event, given that event (with its tags) as Gamma's /markets does
    event = json.loads((DATA / "gamma_events_sample.json").read_text())[0]
    raw = copy.deepcopy(event["markets"][0])
    raw.pop("category", None)
    raw["events"] = [{**{k: v for k, v in event.items() if k != "markets"}, "category": "Crypto"}]

    # When it is parsed
    market = parse_market(raw)

    # Then its tags are the event's labels (and distinct slugs), its category the event's
    assert "Finance" in market.tags and "MicroStrategy" in market.tags
    assert "2025-predictions" in market.tags and "finance" not in market.tags  # no case-only repeats
    assert market.category == "Crypto"


def test_a_market_category_of_its_own_wins() -> None:
    # Given a recorded market with its own category
    raw = raw_market("242644")

    # When it is parsed
    market = parse_market(raw)

    # Then that category is kept
    assert market.category == "Sports"


def test_a_resolved_market_settles_at_zero_and_one() -> None:
    # Given a recorded resolved market whose first outcome won
    market = parse_market(raw_market("1237864"))

    # When its resolution prices are asked for
    prices = market.resolution_prices()

    # Then the winner is worth 1 and the loser 0
    assert prices is not None
    assert [prices[t.token_id] for t in market.outcomes] == [Decimal(1), Decimal(0)]


def test_a_split_market_settles_at_one_half_each() -> None:
    # Given the recorded resolved 50/50 market
    market = parse_market(raw_market("681413"))

    # When / Then
    prices = market.resolution_prices()
    assert prices is not None and set(prices.values()) == {Decimal("0.5")}


def test_an_amm_era_market_with_tiny_final_prices_settles_at_zero_and_one() -> None:
    # Given an AMM-era market, closed without a UMA status, with prices like 0.9999997 / 0.0000003
    market = parse_market(raw_market("248101"))

    # When / Then its prices round to 1 and 0
    prices = market.resolution_prices()
    assert market.uma_resolution_status is None
    assert prices is not None
    assert [prices[t.token_id] for t in market.outcomes] == [Decimal(1), Decimal(0)]


def test_a_closed_market_with_zero_prices_is_not_resolved() -> None:
    # Given an old market closed with outcome prices ["0", "0"]
    market = parse_market(raw_market("12"))

    # When / Then it is waiting, not resolved
    assert market.resolution_prices() is None
    assert market.awaiting_resolution()


@pytest.mark.parametrize("market_id", ["507300", "1215065", "253898"])
def test_disputed_or_proposed_markets_await_resolution(market_id: str) -> None:
    # Given an open disputed market, an open proposed one, and a closed proposed one
    market = parse_market(raw_market(market_id))

    # When / Then none settles yet, all wait
    assert market.resolution_prices() is None
    assert market.awaiting_resolution()


def test_an_open_market_is_neither_resolved_nor_awaiting() -> None:
    # Given the open BTC market
    market = parse_market(raw_market(BTC_5M))

    # When / Then
    assert market.resolution_prices() is None and not market.awaiting_resolution()


def test_markets_without_an_id_or_with_broken_outcome_json_are_refused() -> None:
    # Given a market without an id and one whose outcomes string is not JSON
    no_id = {k: v for k, v in raw_market(BTC_5M).items() if k != "id"}
    broken = {**raw_market(BTC_5M), "outcomes": '["Up", "Do'}

    # When / Then both raise MarketParseError
    with pytest.raises(MarketParseError, match="without an id"):
        parse_market(no_id)
    with pytest.raises(MarketParseError, match="not a JSON list"):
        parse_market(broken)


def test_recorded_books_keep_the_api_order_with_the_best_levels_last() -> None:
    # Given the recorded Fed No-token book (117 bids, 5 asks)
    raw = raw_books()["48458075019957098166340475646923389496510427632693703161736892736757168972646"]

    # When it is parsed
    book = parse_book(raw)

    # Then levels keep the API's order: bids ascending, asks descending, best last
    assert len(book.bids) == 117 and len(book.asks) == 5
    assert book.best_bid is not None and book.best_bid.price == Decimal("0.994")
    assert book.best_ask is not None and book.best_ask.price == Decimal("0.995")
    assert book.bids[0].price == Decimal("0.001") and book.asks[0].price == Decimal("0.999")
    assert book.tick_size == Decimal("0.001") and book.min_order_size == Decimal(5)
    assert book.timestamp_ms == 1772318263027 and not book.synthetic


def test_an_old_book_without_tick_or_minimum_size_parses() -> None:
    # Given the 2024 election book, in the older format
    raw = raw_books()["21742633143463906290569050155826241533067272736897614950488156847949938836455"]

    # When it is parsed
    book = parse_book(raw)

    # Then tick and minimum size are unknown, the levels intact
    assert book.tick_size is None and book.min_order_size is None
    assert len(book.bids) == 162 and len(book.asks) == 95


def test_a_book_with_a_synthetic_hash_is_recognised() -> None:
    # Given a book whose hash says the recorded server made it up
    raw = {**raw_books()[next(iter(raw_books()))], "hash": "synthetic-abc"}

    # When / Then
    assert parse_book(raw).synthetic
