"""The recorded Polymarket server: what it serves, its synthetic books, and its controls."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import urllib3

from engine.market.polymarket import parse_book, parse_market
from local.polymarket_server import DEFAULT_DATA_DIR, RecordedPolymarketServer
from tests.support.polymarket import recorded_polymarket

FED_NO = "48458075019957098166340475646923389496510427632693703161736892736757168972646"
MSTR_YES = "111128191581505463501777127559667396812474366956707382672202929745167742497287"
REPO = Path(__file__).resolve().parents[2]
HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=5))


@pytest.fixture
def server() -> Iterator[RecordedPolymarketServer]:
    with recorded_polymarket() as running:
        yield running


def get(server: RecordedPolymarketServer, path: str) -> tuple[int, Any]:
    response = HTTP.request("GET", server.url + path)
    return response.status, json.loads(response.data)


def open_market_with_quotes(server: RecordedPolymarketServer) -> dict[str, Any]:
    _, markets = get(server, "/markets?closed=false&order=volumeNum&ascending=false&limit=1")
    market: dict[str, Any] = markets[0]
    assert market.get("bestBid") is not None and market.get("bestAsk") is not None
    return market


def test_markets_page_with_limit_and_offset(server: RecordedPolymarketServer) -> None:
    # Given the open markets in one page
    _, whole = get(server, "/markets?closed=false&limit=500")

    # When they are read in pages of 30
    paged: list[dict[str, Any]] = []
    for offset in range(0, len(whole) + 30, 30):
        _, page = get(server, f"/markets?closed=false&limit=30&offset={offset}")
        paged.extend(page)

    # Then the pages add up to the whole, all open
    assert [m["id"] for m in paged] == [m["id"] for m in whole]
    assert whole and all(m["closed"] is False for m in whole)


@pytest.mark.parametrize("order", ["volumeNum", "volume24hr", "liquidityNum", "endDate"])
@pytest.mark.parametrize("ascending", ["true", "false"])
def test_markets_order_by_each_field_with_missing_values_last(
    server: RecordedPolymarketServer, order: str, ascending: str
) -> None:
    # Given / When every market ordered by a field
    _, markets = get(server, f"/markets?order={order}&ascending={ascending}&limit=500")

    # Then those with the field are ordered, those without come last
    values = [m.get(order) for m in markets]
    present = [v for v in values if v is not None]
    assert values[: len(present)] == present
    assert present == sorted(present, reverse=ascending == "false")


def test_markets_by_repeated_id_and_by_path(server: RecordedPolymarketServer) -> None:
    # Given / When markets asked by id, twice over
    _, by_ids = get(server, "/markets?id=1669969&id=12&id=nope")
    status, one = get(server, "/markets/1669969")
    missing, _ = get(server, "/markets/nope")

    # Then
    assert [m["id"] for m in by_ids] == ["1669969", "12"]
    assert status == 200 and one["id"] == "1669969" and missing == 404


def test_event_markets_are_served_with_their_event_and_tags(server: RecordedPolymarketServer) -> None:
    # Given / When markets and events by tag slug
    _, markets = get(server, "/markets?tag_slug=microstrategy&limit=500")
    _, events = get(server, "/events?tag_slug=microstrategy")

    # Then the event's nested markets are markets too, carrying their event and its tags
    assert [e["id"] for e in events] == ["16167"]
    assert {m["id"] for m in markets} == {m["id"] for m in events[0]["markets"]}
    parsed = parse_market(markets[0])
    assert "MicroStrategy" in parsed.tags


def test_a_recorded_book_is_served_unchanged(server: RecordedPolymarketServer) -> None:
    # Given the recorded book of the Fed No token
    recorded = next(
        b
        for b in json.loads((DEFAULT_DATA_DIR / "clob_books_sample.json").read_text())
        if b["asset_id"] == FED_NO
    )

    # When / Then
    assert get(server, f"/book?token_id={FED_NO}") == (200, recorded)


def test_a_synthetic_book_is_deterministic_on_the_tick_grid_in_api_order(
    server: RecordedPolymarketServer,
) -> None:
    # Given an open market without a recorded book
    market = open_market_with_quotes(server)
    yes, no = json.loads(market["clobTokenIds"])
    tick = Decimal(str(market["orderPriceMinTickSize"]))

    # When its books are asked for twice
    _, first = get(server, f"/book?token_id={yes}")
    _, again = get(server, f"/book?token_id={yes}")
    _, no_book = get(server, f"/book?token_id={no}")

    # Then the same levels come back, with a synthetic hash, best levels last at the market's quotes
    assert (first["bids"], first["asks"], first["hash"]) == (again["bids"], again["asks"], again["hash"])
    book = parse_book(first)
    assert book.synthetic and "synthetic" not in first
    assert [lvl.price for lvl in book.bids] == sorted(lvl.price for lvl in book.bids)
    assert [lvl.price for lvl in book.asks] == sorted((lvl.price for lvl in book.asks), reverse=True)
    assert all(lvl.price % tick == 0 and lvl.size > 0 for lvl in book.bids + book.asks)
    assert book.best_bid is not None and book.best_bid.price == Decimal(str(market["bestBid"]))
    assert book.best_ask is not None and book.best_ask.price == Decimal(str(market["bestAsk"]))
    # the second outcome mirrors the first
    no_parsed = parse_book(no_book)
    assert no_parsed.best_ask is not None and no_parsed.best_ask.price == 1 - book.best_bid.price


def test_unknown_and_closed_tokens_have_no_book(server: RecordedPolymarketServer) -> None:
    # Given a token nobody knows and a token of a resolved market
    _, closed = get(server, "/markets/1237864")
    closed_token = json.loads(closed["clobTokenIds"])[0]

    # When / Then both answer 404 like the CLOB
    assert get(server, "/book?token_id=123")[0] == 404
    assert get(server, f"/book?token_id={closed_token}")[0] == 404
    assert get(server, "/book")[0] == 400


def test_set_price_moves_the_market_and_its_books(server: RecordedPolymarketServer) -> None:
    # Given the Fed market, which has a recorded book for its No token
    _, before = get(server, f"/book?token_id={FED_NO}")
    assert not parse_book(before).synthetic

    # When its YES price is set to 0.30 through its No token
    server.set_price(FED_NO, "0.30")

    # Then prices, quotes and books follow
    _, market = get(server, "/markets/654412")
    parsed = parse_market(market)
    assert (parsed.yes_price, parsed.no_price) == (Decimal("0.3"), Decimal("0.7"))
    _, yes_mid = get(server, f"/midpoint?token_id={parsed.outcomes[0].token_id}")
    _, no_book = get(server, f"/book?token_id={FED_NO}")
    assert Decimal(yes_mid["mid"]) == Decimal("0.3")
    moved = parse_book(no_book)
    assert moved.synthetic and moved.mid == Decimal("0.7")


def test_resolve_closes_the_market_with_final_prices(server: RecordedPolymarketServer) -> None:
    # Given an open market
    market = open_market_with_quotes(server)

    # When it resolves to its second outcome, and another splits
    server.resolve(market["id"], 1)
    server.resolve("1669969", "split")

    # Then Gamma reports them resolved and their books are gone
    won = parse_market(get(server, f"/markets/{market['id']}")[1])
    split = parse_market(get(server, "/markets/1669969")[1])
    assert won.closed
    assert won.resolution_prices() == {
        won.outcomes[0].token_id: Decimal(0),
        won.outcomes[1].token_id: Decimal(1),
    }
    split_prices = split.resolution_prices()
    assert split_prices is not None and set(split_prices.values()) == {Decimal("0.5")}
    assert get(server, f"/book?token_id={won.outcomes[0].token_id}")[0] == 404


def test_controls_never_touch_the_files_on_disk(server: RecordedPolymarketServer) -> None:
    # Given the data files' digests
    def digests() -> dict[str, str]:
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(DEFAULT_DATA_DIR.iterdir())
        }

    before = digests()

    # When markets are moved and resolved
    server.set_price("1669969", "0.42")
    server.resolve("654412", 0)

    # Then the files are unchanged
    assert digests() == before


def test_faults_answer_garbage_or_500_for_a_count_then_clear(server: RecordedPolymarketServer) -> None:
    # Given one garbage answer then one 500 on /markets only
    server.set_fault("garbage", count=1, path="/markets")

    # When / Then
    garbage = HTTP.request("GET", server.url + "/markets?limit=1")
    with pytest.raises(json.JSONDecodeError):
        json.loads(garbage.data)
    assert garbage.status == 200
    server.set_fault("error500", count=1)
    assert get(server, "/markets?limit=1")[0] == 500
    assert get(server, "/markets?limit=1")[0] == 200
    assert server.request_count("/markets") == 3


def test_stop_releases_a_hanging_request_quickly() -> None:
    # Given a server hanging a request
    server = RecordedPolymarketServer().start()
    server.set_fault("hang")
    slow = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=0.2))
    with pytest.raises(urllib3.exceptions.TimeoutError):
        slow.request("GET", server.url + "/markets")

    # When it stops
    started = time.monotonic()
    server.stop()

    # Then it stopped at once
    assert time.monotonic() - started < 1.0


def test_prices_and_history_answer_from_books_and_recordings(server: RecordedPolymarketServer) -> None:
    # Given / When
    _, buy = get(server, f"/price?token_id={FED_NO}&side=BUY")
    _, sell = get(server, f"/price?token_id={FED_NO}&side=SELL")
    _, mid = get(server, f"/midpoint?token_id={FED_NO}")
    _, hourly = get(server, f"/prices-history?market={MSTR_YES}&interval=1h")
    _, unknown = get(server, "/prices-history?market=123&interval=1h")

    # Then
    assert (buy, sell, mid) == ({"price": "0.994"}, {"price": "0.995"}, {"mid": "0.9945"})
    assert len(hourly["history"]) == 62 and unknown == {"history": []}


def test_the_module_runs_as_a_command() -> None:
    # Given the entry point started on a free port
    process = subprocess.Popen(
        [sys.executable, "-m", "local.polymarket_server", "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": f"{REPO}:{REPO / 'layers' / 'engine'}", "PATH": "/usr/bin:/bin"},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[-1]

        # When it is asked for a market
        response = HTTP.request("GET", url + "/markets/1669969")

        # Then it answers from the recording
        assert url.startswith("http://127.0.0.1:") and json.loads(response.data)["id"] == "1669969"
    finally:
        process.terminate()
        process.wait(timeout=5)
