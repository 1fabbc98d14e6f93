"""The per-tick market snapshot over the real client and the recorded server: fetch once, cache, outages."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from engine.clock import Deadline
from engine.errors import MarketDataUnavailable
from engine.market.snapshot import MarketSnapshot
from engine.market.types import MarketQuery, OrderBook
from local.polymarket_server import RecordedPolymarketServer
from tests.support.polymarket import client_for, recorded_polymarket

FED_NO = "48458075019957098166340475646923389496510427632693703161736892736757168972646"
TICK = datetime(2026, 2, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[RecordedPolymarketServer]:
    with recorded_polymarket() as running:
        yield running


def snapshot_of(server: RecordedPolymarketServer, *, seconds: float = 10, retries: int = 0) -> MarketSnapshot:
    client = client_for(server, retries=retries, page_size=50)
    return MarketSnapshot(client, fetched_at=TICK, max_markets=1000, deadline=Deadline(seconds))


def test_the_market_list_is_fetched_once_lazily_for_every_query(server: RecordedPolymarketServer) -> None:
    # Given a new snapshot: it has asked nothing yet
    snapshot = snapshot_of(server)
    assert server.request_count() == 0

    # When several strategies query it in different ways
    top = snapshot.query(MarketQuery(limit=5))
    by_liquidity = snapshot.query(MarketQuery(order_by="liquidity", limit=10))
    closing_first = snapshot.query(MarketQuery(order_by="end_date", ascending=True, limit=500))
    snapshot.query(MarketQuery(tag="finance"))
    pages = server.request_count("/markets")

    # Then one list fetch (of a few pages) answered them all, each ordered as asked
    assert snapshot.markets_fetches == 1 and pages == 3
    assert [m.volume for m in top] == sorted((m.volume for m in top), reverse=True)
    assert [m.liquidity for m in by_liquidity] == sorted((m.liquidity for m in by_liquidity), reverse=True)
    dated = [m.end_date for m in closing_first if m.end_date is not None]
    assert dated == sorted(dated)
    assert all(not m.closed for m in closing_first)


def test_end_date_ordering_puts_markets_without_one_last(server: RecordedPolymarketServer) -> None:
    # Given the full list, closed markets included (some old ones have no end date)
    snapshot = snapshot_of(server)

    # When ordered by end date, either way
    ascending = snapshot.query(
        MarketQuery(active_only=False, order_by="end_date", ascending=True, limit=1000)
    )
    descending = snapshot.query(MarketQuery(active_only=False, order_by="end_date", limit=1000))

    # Then undated markets come last both times
    for ordered in (ascending, descending):
        undated = [i for i, m in enumerate(ordered) if m.end_date is None]
        assert undated and undated == list(range(len(ordered) - len(undated), len(ordered)))


def test_a_query_including_closed_markets_fetches_a_second_list_once(
    server: RecordedPolymarketServer,
) -> None:
    # Given a snapshot that already has its active list
    snapshot = snapshot_of(server)
    active = snapshot.query(MarketQuery(limit=1000))

    # When two queries ask for closed markets too
    everything = snapshot.query(MarketQuery(active_only=False, limit=1000))
    snapshot.query(MarketQuery(active_only=False, limit=3))

    # Then one more list was fetched, and it holds closed markets as well
    assert snapshot.markets_fetches == 2
    assert len(everything) > len(active) and any(m.closed for m in everything)


def test_a_tag_query_matches_event_tags_or_category(server: RecordedPolymarketServer) -> None:
    # Given the snapshot
    snapshot = snapshot_of(server)

    # When strategies ask for a tag, in any case
    finance = snapshot.query(MarketQuery(tag="FINANCE", limit=1000))

    # Then only markets carrying it come back
    assert finance
    assert all(
        any(t.casefold() == "finance" for t in m.tags) or (m.category or "").casefold() == "finance"
        for m in finance
    )


def test_a_book_is_fetched_once_when_eight_threads_ask_at_once(server: RecordedPolymarketServer) -> None:
    # Given a slow CLOB (every answer takes 0.2 s) and 8 threads released together
    snapshot = snapshot_of(server)
    server.set_delay(0.2)
    barrier = threading.Barrier(8)

    def ask(_: int) -> OrderBook | None:
        barrier.wait()
        return snapshot.book(FED_NO)

    # When they all ask for the same book
    with ThreadPoolExecutor(max_workers=8) as pool:
        books = list(pool.map(ask, range(8)))

    # Then the CLOB was asked once and every thread got that one book, stamped with the tick
    assert server.request_count("/book") == 1 and snapshot.book_fetches == 1
    assert all(b is not None and b is books[0] for b in books)
    assert books[0] is not None and books[0].fetched_at == TICK


def test_a_failed_book_is_cached_as_none_for_the_tick(server: RecordedPolymarketServer) -> None:
    # Given a CLOB failing once
    snapshot = snapshot_of(server)
    server.set_fault("error500", count=1, path="/book")

    # When the book is asked for twice, the CLOB healthy again the second time
    first = snapshot.book(FED_NO)
    second = snapshot.book(FED_NO)

    # Then both are None and the CLOB was asked once
    assert first is None and second is None
    assert server.request_count("/book") == 1


def test_a_market_list_outage_is_fetched_once_and_fails_every_query(server: RecordedPolymarketServer) -> None:
    # Given a Gamma API failing (the client retries twice)
    snapshot = snapshot_of(server, retries=2)
    server.set_fault("error500", path="/markets")
    with pytest.raises(MarketDataUnavailable, match="HTTP 500"):
        snapshot.query(MarketQuery())
    server.set_fault(None)

    # When later strategies query the same snapshot
    started = time.monotonic()
    for _ in range(5):
        with pytest.raises(MarketDataUnavailable, match="market snapshot unavailable"):
            snapshot.query(MarketQuery(order_by="liquidity"))

    # Then they failed at once, without asking Gamma again
    assert time.monotonic() - started < 0.1
    assert server.request_count("/markets") == 3 and snapshot.markets_fetches == 1


def test_a_hanging_api_fails_the_snapshot_within_its_deadline(server: RecordedPolymarketServer) -> None:
    # Given a Gamma API that never answers and a snapshot with 0.5 s left
    snapshot = snapshot_of(server, seconds=0.5, retries=3)
    server.set_fault("hang")
    started = time.monotonic()

    # When / Then the query fails in time
    with pytest.raises(MarketDataUnavailable, match="timed out"):
        snapshot.query(MarketQuery())
    assert time.monotonic() - started < 1.5


def test_a_sooner_caller_deadline_bounds_a_book_fetch(server: RecordedPolymarketServer) -> None:
    # Given a snapshot with plenty of time and a CLOB that hangs
    snapshot = snapshot_of(server, seconds=30)
    server.set_fault("hang", path="/book")
    started = time.monotonic()

    # When a run asks for a book with 0.3 s left of its own
    book = snapshot.book(FED_NO, deadline=Deadline(0.3))

    # Then it gets None in time
    assert book is None and time.monotonic() - started < 1.0


def test_prefetch_gets_held_markets_in_one_call_and_market_reuses_them(
    server: RecordedPolymarketServer,
) -> None:
    # Given a snapshot and a strategy holding positions in a closed and an open market
    snapshot = snapshot_of(server)

    # When the run prefetches them, then looks them up
    found = snapshot.prefetch(["1237864", "1669969", "no-such-market"])
    closed, open_, unknown = (
        snapshot.market("1237864"),
        snapshot.market("1669969"),
        snapshot.market("no-such-market"),
    )

    # Then one by-id request answered everything, and unknown ids stay unknown
    assert [m.market_id for m in found] == ["1237864", "1669969"]
    assert closed is not None and closed.resolution_prices() is not None
    assert open_ is not None and unknown is None
    assert server.request_count("/markets") == 1 and snapshot.market_id_fetches == 1


def test_market_finds_listed_markets_without_another_request(server: RecordedPolymarketServer) -> None:
    # Given a snapshot whose active list is fetched
    snapshot = snapshot_of(server)
    listed = snapshot.query(MarketQuery(limit=3))
    requests = server.request_count()

    # When a listed market is looked up by id
    market = snapshot.market(listed[0].market_id)

    # Then it came from the list
    assert market == listed[0] and server.request_count() == requests


def test_a_failed_prefetch_is_not_retried_within_the_tick(server: RecordedPolymarketServer) -> None:
    # Given Gamma failing once
    snapshot = snapshot_of(server)
    server.set_fault("error500", count=1, path="/markets")
    with pytest.raises(MarketDataUnavailable):
        snapshot.prefetch(["1237864"])

    # When / Then the same ids fail again without a request
    with pytest.raises(MarketDataUnavailable, match="markets unavailable"):
        snapshot.market("1237864")
    assert server.request_count("/markets") == 1
