"""The real Polymarket client against the recorded server on 127.0.0.1: paging, books, retries, deadlines."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.clock import Deadline
from engine.errors import MarketDataUnavailable
from engine.market.polymarket import PolymarketClient, client_from_settings
from engine.settings import get_settings, reset_settings
from local.polymarket_server import RecordedPolymarketServer
from tests.support.polymarket import client_for, recorded_polymarket

FED_NO = "48458075019957098166340475646923389496510427632693703161736892736757168972646"
BTC_5M = "1669969"


@pytest.fixture
def server() -> Iterator[RecordedPolymarketServer]:
    with recorded_polymarket() as running:
        yield running


def test_list_markets_pages_through_every_open_market(server: RecordedPolymarketServer) -> None:
    # Given a client whose page (25) is smaller than the number of open markets
    client = client_for(server, page_size=25)
    everything = client_for(server, page_size=500).list_markets(
        active_only=True, max_markets=1000, deadline=Deadline(5)
    )
    server.reset_counters()

    # When it lists the active markets
    markets = client.list_markets(active_only=True, max_markets=1000, deadline=Deadline(5))

    # Then it got them all, open only, in one request per page, stopping at the short page
    assert len(everything) > 100
    assert [m.market_id for m in markets] == [m.market_id for m in everything]
    assert all(not m.closed for m in markets)
    assert server.request_count("/markets") == math.ceil((len(markets) + 1) / 25)


def test_list_markets_stops_at_max_markets(server: RecordedPolymarketServer) -> None:
    # Given a page of 25
    client = client_for(server, page_size=25)

    # When at most 30 markets are wanted
    markets = client.list_markets(active_only=True, max_markets=30, deadline=Deadline(5))

    # Then exactly 30 came, in two requests
    assert len(markets) == 30
    assert server.request_count("/markets") == 2


def test_list_markets_orders_by_volume_descending(server: RecordedPolymarketServer) -> None:
    # Given the client
    client = client_for(server, page_size=40)

    # When it lists every market, closed ones included
    markets = client.list_markets(active_only=False, max_markets=1000, deadline=Deadline(5))

    # Then the whole feed is there, highest volume first across page boundaries
    assert len(markets) == len(server.market_ids())
    assert any(m.closed for m in markets)
    volumes = [m.volume for m in markets]
    assert volumes == sorted(volumes, reverse=True)


def test_get_markets_fetches_open_and_closed_markets_by_id_in_chunks(
    server: RecordedPolymarketServer,
) -> None:
    # Given a client that asks for at most 2 ids per request
    client = PolymarketClient(server.url, server.url, timeout_seconds=2, ids_per_request=2)
    wanted = [BTC_5M, "1237864", "no-such-market", "681413", BTC_5M]

    # When it fetches them by id
    markets = client.get_markets(wanted, deadline=Deadline(5))

    # Then known ids come back in the order asked, unknown ones are absent, each id asked once
    assert [m.market_id for m in markets] == [BTC_5M, "1237864", "681413"]
    assert markets[1].closed and not markets[0].closed
    assert server.request_count("/markets") == 2


def test_get_markets_with_no_ids_makes_no_request(server: RecordedPolymarketServer) -> None:
    # Given / When
    markets = client_for(server).get_markets([], deadline=Deadline(1))

    # Then
    assert markets == [] and server.request_count() == 0


def test_a_recorded_book_keeps_the_api_order_with_best_levels_last(server: RecordedPolymarketServer) -> None:
    # Given the token with a recorded book
    client = client_for(server)

    # When its book is fetched
    book = client.get_book(FED_NO, deadline=Deadline(2))

    # Then bids rise and asks fall towards the best, which are the last levels
    assert not book.synthetic and book.token_id == FED_NO
    assert [lvl.price for lvl in book.bids] == sorted(lvl.price for lvl in book.bids)
    assert [lvl.price for lvl in book.asks] == sorted((lvl.price for lvl in book.asks), reverse=True)
    assert book.best_bid is not None and book.best_ask is not None
    assert (str(book.best_bid.price), str(book.best_ask.price)) == ("0.994", "0.995")


def test_a_synthetic_book_matches_the_markets_best_bid_and_ask(server: RecordedPolymarketServer) -> None:
    # Given an open market without a recorded book
    client = client_for(server)
    market = client.list_markets(active_only=True, max_markets=1, deadline=Deadline(2))[0]
    assert market.yes is not None and market.best_bid is not None

    # When its YES book is fetched
    book = client.get_book(market.yes.token_id, deadline=Deadline(2))

    # Then it is marked synthetic and its best levels are the market's
    assert book.synthetic and len(book.bids) > 1 and len(book.asks) > 1
    assert book.best_bid is not None and book.best_bid.price == market.best_bid
    assert book.best_ask is not None and book.best_ask.price == market.best_ask


def test_server_errors_are_retried_until_success(server: RecordedPolymarketServer) -> None:
    # Given a CLOB that fails twice with 500
    client = client_for(server, retries=2)
    server.set_fault("error500", count=2, path="/book")

    # When a book is fetched
    book = client.get_book(FED_NO, deadline=Deadline(5))

    # Then the third attempt got it
    assert book.token_id == FED_NO
    assert server.request_count("/book") == 3


def test_rate_limited_answers_are_retried(server: RecordedPolymarketServer) -> None:
    # Given a Gamma API that rate-limits once
    client = client_for(server, retries=1)
    server.set_fault("error429", count=1, path="/markets")

    # When / Then the retry gets the markets
    assert client.get_markets([BTC_5M], deadline=Deadline(5))[0].market_id == BTC_5M
    assert server.request_count("/markets") == 2


def test_no_backoff_sleep_runs_past_the_deadline(server: RecordedPolymarketServer) -> None:
    # Given a failing CLOB and a client whose backoff (2 s) is longer than the time left (0.3 s)
    client = client_for(server, retries=3, backoff_seconds=2)
    server.set_fault("error500", path="/book")
    started = time.monotonic()

    # When / Then it gives up at once instead of sleeping
    with pytest.raises(MarketDataUnavailable, match="HTTP 500; no time left to retry"):
        client.get_book(FED_NO, deadline=Deadline(0.3))
    assert time.monotonic() - started < 0.3 and server.request_count("/book") == 1


def test_retries_are_bounded_and_the_error_says_what_failed(server: RecordedPolymarketServer) -> None:
    # Given a CLOB that always fails
    client = client_for(server, retries=2)
    server.set_fault("error500", path="/book")

    # When / Then the client gives up after three attempts, naming the API, path and status
    with pytest.raises(MarketDataUnavailable, match=r"CLOB GET /book: HTTP 500 \(3 attempts\)"):
        client.get_book(FED_NO, deadline=Deadline(5))
    assert server.request_count("/book") == 3


def test_garbage_is_reported_as_invalid_json(server: RecordedPolymarketServer) -> None:
    # Given a Gamma API answering 200 with invalid JSON
    client = client_for(server)
    server.set_fault("garbage", path="/markets")

    # When / Then
    with pytest.raises(MarketDataUnavailable, match="Gamma GET /markets: invalid JSON"):
        client.list_markets(active_only=True, max_markets=10, deadline=Deadline(2))


def test_a_hanging_api_returns_within_the_deadline(server: RecordedPolymarketServer) -> None:
    # Given an API that never answers, and a client whose own timeout is long
    client = client_for(server, timeout_seconds=10, retries=5)
    server.set_fault("hang")
    started = time.monotonic()

    # When a call is bounded by a 0.5 s deadline
    with pytest.raises(MarketDataUnavailable, match="timed out") as raised:
        client.list_markets(active_only=True, max_markets=10, deadline=Deadline(0.5))

    # Then it gave up in time, with no retry past the deadline
    assert time.monotonic() - started < 1.5
    assert "Gamma GET /markets" in str(raised.value)


def test_a_client_error_is_not_retried(server: RecordedPolymarketServer) -> None:
    # Given a token the CLOB has no book for (404)
    client = client_for(server, retries=3)

    # When / Then it fails at once
    with pytest.raises(MarketDataUnavailable, match="CLOB GET /book: HTTP 404"):
        client.get_book("123", deadline=Deadline(2))
    assert server.request_count("/book") == 1


def test_a_spent_deadline_makes_no_request(server: RecordedPolymarketServer) -> None:
    # Given a deadline already passed
    client = client_for(server)

    # When / Then
    with pytest.raises(MarketDataUnavailable, match="deadline exceeded"):
        client.get_book(FED_NO, deadline=Deadline(0))
    assert server.request_count() == 0


def test_a_refused_connection_is_retried_then_reported() -> None:
    # Given an address where nothing listens any more
    with recorded_polymarket() as stopped:
        url = stopped.url
    client = PolymarketClient(url, url, timeout_seconds=1, retries=1, backoff_seconds=0.01)

    # When / Then
    with pytest.raises(MarketDataUnavailable, match="CLOB GET /book: connection failed"):
        client.get_book(FED_NO, deadline=Deadline(2))


def test_one_client_serves_concurrent_threads(server: RecordedPolymarketServer) -> None:
    # Given one client shared by 8 threads
    client = client_for(server)
    tokens = [FED_NO] * 8

    # When they fetch books at the same time
    with ThreadPoolExecutor(max_workers=8) as pool:
        books = list(pool.map(lambda t: client.get_book(t, deadline=Deadline(5)), tokens))

    # Then every thread got the book
    assert {b.hash for b in books} == {books[0].hash} and len(books) == 8


def test_client_from_settings_uses_the_configured_urls(
    server: RecordedPolymarketServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the environment pointing at the recorded server
    monkeypatch.setenv("POLYMARKET_GAMMA_URL", server.url + "/")
    monkeypatch.setenv("POLYMARKET_CLOB_URL", server.url)
    monkeypatch.setenv("HTTP_TIMEOUT_SECONDS", "1.5")
    reset_settings()

    # When the client is built from the settings
    client = client_from_settings(get_settings())

    # Then it uses them and works
    assert client.gamma_url == server.url and client.timeout_seconds == 1.5
    assert client.get_markets([BTC_5M], deadline=Deadline(2))[0].market_id == BTC_5M
