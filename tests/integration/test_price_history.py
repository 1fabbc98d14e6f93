"""Price history and events through the real client and the recorded server: windows, sharing, caching."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.clock import Deadline
from engine.errors import MarketDataUnavailable
from engine.market.history import HistoryCache
from engine.market.polymarket import parse_price_history
from engine.market.snapshot import MarketSnapshot
from engine.market.types import HistoryWindow, PriceHistory
from engine.services.execution import RunMarkets
from local.polymarket_server import RecordedPolymarketServer
from tests.support.polymarket import client_for

MSTR_YES = "111128191581505463501777127559667396812474366956707382672202929745167742497287"
NOW = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[RecordedPolymarketServer]:
    with RecordedPolymarketServer(host="127.0.0.1", port=0, clock=lambda: NOW) as running:
        yield running


def _open_token(server: RecordedPolymarketServer) -> tuple[str, Decimal]:
    client = client_for(server)
    for market in client.list_markets(active_only=True, max_markets=50, deadline=Deadline(5)):
        yes = market.yes
        if yes is not None and yes.price is not None and Decimal("0.1") < yes.price < Decimal("0.9"):
            return yes.token_id, yes.price
    raise AssertionError("no open market with a mid-range price")


def test_recorded_series_is_parsed_into_typed_points_oldest_first(server: RecordedPolymarketServer) -> None:
    # Given the token whose hourly series was recorded
    client = client_for(server)

    # When the client asks for its last hour
    history = client.get_price_history(MSTR_YES, HistoryWindow(interval="1h"), deadline=Deadline(5))

    # Then it gets the recorded points (62, one time repeated) as Decimals, in time order, not simulated
    assert len(history.points) == 61 and not history.simulated
    assert [p.t for p in history.points] == sorted(p.t for p in history.points)
    assert history.points[-1].t == 1770480499 and history.points[-1].p == Decimal("0.225")


def test_start_and_end_cut_the_recorded_series_and_fidelity_thins_it(
    server: RecordedPolymarketServer,
) -> None:
    # Given a two-hour window inside the recorded day
    client = client_for(server)
    window = HistoryWindow(start_ts=1770470000, end_ts=1770477200, fidelity=10)

    # When the client asks for it
    history = client.get_price_history(MSTR_YES, window, deadline=Deadline(5))

    # Then every point is inside the window, at most one per 10 minutes
    times = [p.t for p in history.points]
    assert times and all(1770470000 <= t <= 1770477200 for t in times)
    assert len({t // 600 for t in times}) == len(times) <= 13


def test_other_tokens_get_a_simulated_series_ending_at_the_served_price(
    server: RecordedPolymarketServer,
) -> None:
    # Given an open market's token with no recording
    token, price = _open_token(server)
    client = client_for(server)

    # When its last day is asked for twice, and an overlapping window once
    day = client.get_price_history(token, HistoryWindow(interval="1d", fidelity=60), deadline=Deadline(5))
    again = client.get_price_history(token, HistoryWindow(interval="1d", fidelity=60), deadline=Deadline(5))
    now = int(NOW.timestamp())
    hours = client.get_price_history(
        token, HistoryWindow(start_ts=now - 6 * 3600, end_ts=now, fidelity=60), deadline=Deadline(5)
    )

    # Then it is labelled simulated, ends at the price served now, repeats, and overlapping windows agree
    assert day.simulated and day == again
    assert day.points[-1].t == now and day.points[-1].p == price.quantize(Decimal("0.0001"))
    assert 24 <= len(day.points) <= 26
    assert all(Decimal(0) < p.p < Decimal(1) for p in day.points)
    shared = {p.t: p.p for p in day.points}
    assert all(shared[p.t] == p.p for p in hours.points if p.t in shared)


def test_simulated_series_follows_a_moved_price(server: RecordedPolymarketServer) -> None:
    # Given a token whose market the test moves to 0.7
    token, _ = _open_token(server)
    server.set_price(token, "0.7")

    # When its history is asked for
    history = client_for(server).get_price_history(token, HistoryWindow(interval="6h"), deadline=Deadline(5))

    # Then the series ends at 0.7
    assert history.points[-1].p == Decimal("0.7")


def test_unknown_token_has_an_empty_history_and_a_bad_request_is_unavailable(
    server: RecordedPolymarketServer,
) -> None:
    client = client_for(server)
    # Given a token nobody knows, When asked, Then the history is empty
    assert client.get_price_history("123", HistoryWindow(interval="1h"), deadline=Deadline(5)).points == ()
    # Given the server failing, When asked, Then the client says the data is unavailable
    server.set_fault("error500", path="/prices-history")
    with pytest.raises(MarketDataUnavailable):
        client.get_price_history(MSTR_YES, HistoryWindow(interval="1h"), deadline=Deadline(5))


def test_history_window_is_an_interval_or_a_range() -> None:
    # Given windows that mix or lack both forms, When built, Then they are refused
    with pytest.raises(ValueError):
        HistoryWindow(interval="1h", start_ts=1, end_ts=2)
    with pytest.raises(ValueError):
        HistoryWindow()
    with pytest.raises(ValueError):
        HistoryWindow(start_ts=5, end_ts=1)
    # And a range sends startTs/endTs
    assert HistoryWindow(start_ts=1, end_ts=2, fidelity=5).params() == [
        ("startTs", "1"),
        ("endTs", "2"),
        ("fidelity", "5"),
    ]


def test_parse_drops_points_without_time_or_valid_price() -> None:
    # Given a body with a duplicate time, a missing price and an out-of-range price
    body = {
        "history": [{"t": 3, "p": 0.5}, {"t": 1, "p": "0.25"}, {"t": 2}, {"t": 4, "p": 7}, {"t": 3, "p": 0.6}]
    }

    # When parsed
    history = parse_price_history("tok", body)

    # Then the valid points remain, sorted, the later duplicate winning
    assert [(p.t, p.p) for p in history.points] == [(1, Decimal("0.25")), (3, Decimal("0.6"))]


def test_events_by_tag_and_slug_carry_their_markets(server: RecordedPolymarketServer) -> None:
    # Given the recorded events
    client = client_for(server)

    # When the client asks for the events tagged `fed-rates`, and for one event by slug
    tagged = client.get_events(tag_slug="fed-rates", closed=None, deadline=Deadline(5))
    by_slug = client.get_events(slug="kraken-ipo-in-2025", closed=None, deadline=Deadline(5))

    # Then it gets the Fed event with its 4 markets, each knowing its event; and the Kraken event
    assert [e.event_id for e in tagged] == ["67284"]
    assert len(tagged[0].markets) == 4 and "fed-rates" in tagged[0].tags
    assert {m.event_id for m in tagged[0].markets} == {"67284"}
    assert all(m.event_title == tagged[0].title for m in tagged[0].markets)
    assert [e.slug for e in by_slug] == ["kraken-ipo-in-2025"]


def _snapshot(server: RecordedPolymarketServer, cache: HistoryCache | None) -> MarketSnapshot:
    return MarketSnapshot(
        client_for(server, retries=0),
        fetched_at=NOW,
        max_markets=1000,
        deadline=Deadline(10),
        history_cache=cache,
    )


def test_one_request_per_token_and_window_per_invocation_shared_by_every_run(
    server: RecordedPolymarketServer,
) -> None:
    # Given one invocation's snapshot and 100 runs asking for 5 tokens' daily history from 8 threads
    snapshot = _snapshot(server, HistoryCache())
    tokens = [MSTR_YES, *(_open_tokens(server, 4))]
    server.reset_counters()
    day = HistoryWindow(interval="1d", fidelity=60)

    # When every run asks for every token
    def run(_: int) -> list[PriceHistory | None]:
        markets = RunMarkets(snapshot, Deadline(10), history_budget=10)
        return [markets.price_history(token, day) for token in tokens]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(run, range(100)))

    # Then the server saw exactly one request per token, and every run got the same histories
    assert server.request_count("/prices-history") == len(tokens) == snapshot.history_fetches
    assert all(answer == answers[0] for answer in answers) and all(h is not None for h in answers[0])


def test_the_container_cache_serves_the_next_invocation_until_its_ttl(
    server: RecordedPolymarketServer,
) -> None:
    # Given a container cache with a 60 s TTL on a clock the test moves
    clock = [0.0]
    cache = HistoryCache(ttl_seconds=60, clock=lambda: clock[0])
    window = HistoryWindow(interval="1h")
    _snapshot(server, cache).price_history(MSTR_YES, window)
    server.reset_counters()

    # When a second invocation asks 30 s later, and a third 61 s later
    clock[0] = 30.0
    second = _snapshot(server, cache).price_history(MSTR_YES, window)
    requests_at_30s = server.request_count("/prices-history")
    clock[0] = 61.0
    _snapshot(server, cache).price_history(MSTR_YES, window)

    # Then the second was answered from the cache, the third fetched again
    assert second is not None and requests_at_30s == 0
    assert server.request_count("/prices-history") == 1


def test_a_failed_history_is_none_once_per_invocation_and_retried_by_the_next(
    server: RecordedPolymarketServer,
) -> None:
    # Given the history endpoint failing
    cache = HistoryCache()
    server.set_fault("error500", path="/prices-history")
    snapshot = _snapshot(server, cache)

    # When two runs ask for it, then a later invocation after the fault clears
    first = snapshot.price_history(MSTR_YES, HistoryWindow(interval="1h"))
    again = snapshot.price_history(MSTR_YES, HistoryWindow(interval="1h"))
    failed_requests = server.request_count("/prices-history")
    server.set_fault(None)
    later = _snapshot(server, cache).price_history(MSTR_YES, HistoryWindow(interval="1h"))

    # Then both runs got None from one request, and the failure was not cached for the next invocation
    assert first is None and again is None and failed_requests == 1
    assert later is not None and len(later.points) == 61


def test_the_run_budget_counts_distinct_histories(server: RecordedPolymarketServer) -> None:
    # Given a run allowed 2 histories
    markets = RunMarkets(_snapshot(server, None), Deadline(10), history_budget=2)
    tokens = _open_tokens(server, 3)
    window = HistoryWindow(interval="1d")

    # When it asks for 3 tokens, and the first again
    answers = [markets.price_history(token, window) for token in tokens]
    repeat = markets.price_history(tokens[0], window)

    # Then the third is refused (None) and asking again for an allowed one is free
    assert answers[0] is not None and answers[1] is not None and answers[2] is None
    assert repeat == answers[0] and markets.history_budget.used == 2


def test_snapshot_events_are_fetched_once(server: RecordedPolymarketServer) -> None:
    # Given a snapshot
    snapshot = _snapshot(server, None)
    server.reset_counters()

    # When two runs ask for the open events tagged `fed-rates`
    first = snapshot.events(tag_slug="fed-rates")
    second = snapshot.events(tag_slug="fed-rates")

    # Then one request answered both
    assert first == second and server.request_count("/events") == 1 and snapshot.events_fetches == 1


def _open_tokens(server: RecordedPolymarketServer, count: int) -> list[str]:
    client = client_for(server)
    markets = client.list_markets(active_only=True, max_markets=100, deadline=Deadline(5))
    return [m.yes.token_id for m in markets if m.yes is not None][:count]
