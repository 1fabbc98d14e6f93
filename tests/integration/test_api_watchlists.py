"""Watchlists through the control API on the recorded Polymarket server: lists and items scoped to their
owner, the limits race-free, 503 when markets cannot be resolved, 409 deleting a list a deployed strategy
reads, graphs naming only their owner's lists, and a watchlist filled by an alert strategy and read by a
trading one that trades only the list's markets and moves its items' statuses."""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.errors import QuotaExceeded
from engine.models.watchlist import MarketSnapshotInfo, Watchlist, WatchlistItem
from engine.services import watchlists as watchlist_service
from engine.services.watchlists import RunWatchlists
from engine.storage.watchlists import WatchlistRepository
from functions.control_api import app as app_module
from local.polymarket_server import RecordedPolymarketServer
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import EXAMPLE_GRAPH
from tests.support.http import DEPLOY_BODY, Api, unique_users
from tests.support.polymarket import recorded_polymarket
from tests.support.serial_moto import serial_moto

# an alert strategy (its only sink is WATCHLIST) never trades: it deploys without a bankroll (DESIGN 4)
ALERT_DEPLOY_BODY = {k: v for k, v in DEPLOY_BODY.items() if k != "paper_bankroll_usd"}


@pytest.fixture(scope="module")
def market() -> Iterator[RecordedPolymarketServer]:
    with recorded_polymarket() as server:
        yield server


@pytest.fixture(scope="module")
def stack(market: RecordedPolymarketServer) -> Iterator[AwsEnv]:
    keys = ("POLYMARKET_GAMMA_URL", "POLYMARKET_CLOB_URL", "HTTP_TIMEOUT_SECONDS")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(
        {"POLYMARKET_GAMMA_URL": market.url, "POLYMARKET_CLOB_URL": market.url, "HTTP_TIMEOUT_SECONDS": "1"}
    )
    try:
        with moto_stack() as aws:
            yield aws
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def api(stack: AwsEnv, market: RecordedPolymarketServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setattr(app_module, "utc_now", Clock())
    user, other = unique_users()
    yield Api(stack, app_module.lambda_handler, user=user, other=other)
    market.set_fault(None)


def _ok(answer: Any, status: int = 200) -> Any:
    assert answer.status == status, answer.body
    return answer.body


def _new_list(api: Api, name: str = "Undecided", sub: str | None = None) -> str:
    return str(_ok(api("POST", "/watchlists", body={"name": name}, sub=sub or api.user), 201)["watchlist_id"])


def _some_market_ids(market: RecordedPolymarketServer, count: int) -> list[str]:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{market.url}/markets?closed=false&limit={count}") as answer:
        return [str(m["id"]) for m in json.loads(answer.read())][:count]


def test_a_list_and_its_items_are_the_owners_with_a_snapshot_at_add_time(
    api: Api, market: RecordedPolymarketServer
) -> None:
    # Given a new list
    wid = _new_list(api)
    ids = _some_market_ids(market, 2)

    # When two markets are added with a reason, one of them again, and one taken off
    added = _ok(
        api("POST", f"/watchlists/{wid}/items", body={"market_ids": ids, "reason": "watch", "ttl_hours": 24})
    )
    again = _ok(api("POST", f"/watchlists/{wid}/items", body={"market_ids": ids[:1]}))
    _ok(api("DELETE", f"/watchlists/{wid}/items/{ids[1]}"), 204)

    # Then each item kept who, when, why and the market as it was; the list counts what is on it
    assert [i["market_id"] for i in added["items"]] == ids and again["items"] == []
    item = added["items"][0]
    assert (item["added_by"], item["reason"], item["status"]) == ("user", "watch", "watching")
    assert item["snapshot"]["question"] and item["snapshot"]["yes_price"] is not None
    assert item["expires_at"] is not None
    listed = _ok(api("GET", f"/watchlists/{wid}/items"))["items"]
    assert [i["market_id"] for i in listed] == ids[:1]
    assert _ok(api("GET", f"/watchlists/{wid}"))["items_count"] == 1
    assert wid in [w["watchlist_id"] for w in _ok(api("GET", "/watchlists"))["items"]]
    renamed = _ok(api("PATCH", f"/watchlists/{wid}", body={"name": "Renamed", "description": "d"}))
    assert (renamed["name"], renamed["description"]) == ("Renamed", "d")


def test_markets_of_an_event_are_added_by_its_slug(api: Api) -> None:
    # Given a list
    wid = _new_list(api)

    # When an event's slug is given
    added = _ok(
        api(
            "POST",
            f"/watchlists/{wid}/items",
            body={"event_slugs": ["microstrategy-sell-any-bitcoin-in-2025"]},
        )
    )

    # Then its markets are on the list, each saying which event brought it
    assert added["items"] and {i["event_slug"] for i in added["items"]} == {
        "microstrategy-sell-any-bitcoin-in-2025"
    }


def test_every_watchlist_route_answers_404_to_another_user(
    api: Api, market: RecordedPolymarketServer
) -> None:
    # Given the user's list with an item
    wid = _new_list(api)
    ids = _some_market_ids(market, 1)
    _ok(api("POST", f"/watchlists/{wid}/items", body={"market_ids": ids}))
    before = api.snapshot()

    # When another user tries every route on it
    other = api.other
    answers = [
        api("GET", f"/watchlists/{wid}", sub=other),
        api("PATCH", f"/watchlists/{wid}", sub=other, body={"name": "mine"}),
        api("DELETE", f"/watchlists/{wid}", sub=other),
        api("POST", f"/watchlists/{wid}/items", sub=other, body={"market_ids": ids}),
        api("GET", f"/watchlists/{wid}/items", sub=other),
        api("DELETE", f"/watchlists/{wid}/items/{ids[0]}", sub=other),
    ]

    # Then each is 404, and nothing changed
    assert {(a.status, a.error_code) for a in answers} == {(404, "not_found")}
    assert api.snapshot() == before
    assert wid not in [w["watchlist_id"] for w in _ok(api("GET", "/watchlists", sub=other))["items"]]


def test_adding_answers_503_when_the_market_source_cannot_be_reached(
    api: Api, market: RecordedPolymarketServer
) -> None:
    # Given a list and a market API answering 500
    wid = _new_list(api)
    market.set_fault("error500")

    # When markets are added
    answer = api("POST", f"/watchlists/{wid}/items", body={"market_ids": ["12345"]})

    # Then the answer is 503 market_data_unavailable and nothing was added
    market.set_fault(None)
    assert (answer.status, answer.error_code) == (503, "market_data_unavailable")
    assert _ok(api("GET", f"/watchlists/{wid}/items"))["items"] == []


def test_an_unknown_market_is_a_validation_error_naming_it(api: Api) -> None:
    wid = _new_list(api)
    answer = api("POST", f"/watchlists/{wid}/items", body={"market_ids": ["no-such-market"]})
    assert (answer.status, answer.error_code) == (422, "validation_error")
    assert answer.body["error"]["details"][0]["loc"] == ["body", "market_ids", 0]


def test_the_list_and_item_limits_answer_429(
    api: Api, market: RecordedPolymarketServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given limits of 2 lists a user and 2 items a list
    monkeypatch.setattr(watchlist_service, "MAX_LISTS_PER_USER", 2)
    monkeypatch.setattr(watchlist_service, "MAX_ITEMS_PER_LIST", 2)
    wid = _new_list(api)
    _new_list(api)
    ids = _some_market_ids(market, 3)

    # When a third list is created and three markets added
    third = api("POST", "/watchlists", body={"name": "third"})
    over = api("POST", f"/watchlists/{wid}/items", body={"market_ids": ids})

    # Then both are 429 quota_exceeded, and the first two markets stayed
    assert (third.status, third.error_code) == (429, "quota_exceeded")
    assert (over.status, over.error_code) == (429, "quota_exceeded")
    assert _ok(api("GET", f"/watchlists/{wid}"))["items_count"] == 2


def test_the_limits_hold_under_racing_writers(stack: AwsEnv) -> None:
    # Given a user with 2 lists of a limit of 3, and a list with 1 item of a limit of 3
    repo = WatchlistRepository()
    owner = f"racer-{unique_users()[0]}"
    now = datetime.now(UTC)
    for n in range(2):
        repo.create(_watchlist(owner, f"w{n}", now), max_lists=3)
    created: list[bool] = []

    def create(n: int) -> None:
        try:
            repo.create(_watchlist(owner, f"race{n}", now), max_lists=3)
            created.append(True)
        except QuotaExceeded:
            created.append(False)

    # When 8 writers race to create a list, one request at a time in moto
    with serial_moto():
        threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    # Then exactly one got in
    assert created.count(True) == 1
    assert len(repo.list_by_owner(owner, limit=100, next_token=None).items) == 3


def _watchlist(owner: str, wid: str, now: datetime) -> Watchlist:
    return Watchlist(watchlist_id=wid, owner=owner, name=wid, created_at=now, updated_at=now)


def _reader_graph(wid: str) -> dict[str, Any]:
    graph = copy.deepcopy(EXAMPLE_GRAPH)
    graph["nodes"][0]["config"] = {"source": "watchlist", "watchlist_id": wid}
    graph["nodes"][2]["config"]["max_positions"] = 10
    return graph


def _alert_graph(wid: str) -> dict[str, Any]:
    graph = copy.deepcopy(EXAMPLE_GRAPH)
    graph["nodes"][2] = {
        "id": "alert",
        "type": "WATCHLIST",
        "config": {"action": "add", "watchlist_id": wid, "reason": "liquid and undecided", "ttl_hours": 48},
    }
    graph["edges"][1] = {"source": "flt", "target": "alert"}
    return graph


def test_a_graph_may_name_only_its_owners_lists(api: Api) -> None:
    # Given a list of another user
    foreign = _new_list(api, sub=api.other)

    # When a strategy naming it is created, or a graph naming an unknown list is patched in
    created = api("POST", "/strategies", body={"strategy_name": "x", "node_graph": _reader_graph(foreign)})
    sid = api.create()
    patched = api("PATCH", f"/strategies/{sid}", body={"node_graph": _alert_graph("w_unknown")})

    # Then both are 422 with a loc ending in watchlist_id
    for answer in (created, patched):
        assert (answer.status, answer.error_code) == (422, "validation_error"), answer.body
        assert answer.body["error"]["details"][0]["loc"][-1] == "watchlist_id"


def test_deleting_a_list_a_deployed_strategy_reads_is_409_naming_it(api: Api) -> None:
    # Given a list read by a deployed strategy
    wid = _new_list(api)
    sid = api.create(graph=_reader_graph(wid))
    _ok(api("POST", f"/strategies/{sid}/deploy", body=DEPLOY_BODY))

    # When the list is deleted
    answer = api("DELETE", f"/watchlists/{wid}")

    # Then it is 409 conflict naming the strategy, and the list stays
    assert (answer.status, answer.error_code) == (409, "conflict")
    assert answer.body["error"]["details"] == {"strategies": [sid]}
    _ok(api("GET", f"/watchlists/{wid}"))
    # and once the strategy is gone, the list can go
    _ok(api("DELETE", f"/strategies/{sid}"), 204)
    _ok(api("DELETE", f"/watchlists/{wid}"), 204)
    assert api("GET", f"/watchlists/{wid}").status == 404


def test_an_alert_strategy_fills_a_list_and_a_trading_one_trades_only_its_markets(api: Api) -> None:
    # Given a list filled by an alert strategy (DATA_SOURCE -> FILTER -> WATCHLIST) run now
    wid = _new_list(api)
    alert = api.create(graph=_alert_graph(wid))
    _ok(api("POST", f"/strategies/{alert}/deploy", body=ALERT_DEPLOY_BODY))
    alert_run = _ok(api("POST", f"/strategies/{alert}/run"))
    items = _ok(api("GET", f"/watchlists/{wid}/items", query={"limit": "100"}))["items"]
    assert items and {i["added_by"] for i in items} == {alert_run["execution_id"]}
    assert {i["reason"] for i in items} == {"liquid and undecided"}
    trace = {node["node_id"]: node for node in alert_run["trace"]}
    assert trace["alert"]["decisions"][0]["staged"] == len(items)
    # and one market taken off again, so the list is a strict subset of what the filter passes
    dropped = items[-1]["market_id"]
    _ok(api("DELETE", f"/watchlists/{wid}/items/{dropped}"), 204)
    listed = {i["market_id"] for i in items} - {dropped}

    # When a trading strategy reading the list runs now
    trader = api.create(graph=_reader_graph(wid))
    _ok(api("POST", f"/strategies/{trader}/deploy", body=DEPLOY_BODY))
    run = _ok(api("POST", f"/strategies/{trader}/run"))

    # Then it traded only the list's markets, and those items moved to `entered`
    trades = _ok(api("GET", f"/strategies/{trader}/trades", query={"limit": "100"}))["items"]
    assert run["trades_created"] > 0 and {t["market_id"] for t in trades} <= listed
    after = {
        i["market_id"]: i["status"]
        for i in _ok(api("GET", f"/watchlists/{wid}/items", query={"limit": "100"}))["items"]
    }
    entered = {t["market_id"] for t in trades}
    assert all(after[m] == "entered" for m in entered)
    assert all(status == "watching" for m, status in after.items() if m not in entered)


def test_an_alert_strategy_skips_markets_beyond_the_limit_and_says_so(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a list that takes 2 items
    monkeypatch.setattr(watchlist_service, "MAX_ITEMS_PER_LIST", 2)
    wid = _new_list(api)
    alert = api.create(graph=_alert_graph(wid))
    _ok(api("POST", f"/strategies/{alert}/deploy", body=ALERT_DEPLOY_BODY))

    # When the alert strategy runs on more markets than that
    run = _ok(api("POST", f"/strategies/{alert}/run"))

    # Then 2 were added and the trace says how many were skipped over the limit
    decision = {node["node_id"]: node for node in run["trace"]}["alert"]["decisions"][0]
    assert decision["staged"] == 2 and decision["skipped_over_limit"] > 0
    assert _ok(api("GET", f"/watchlists/{wid}"))["items_count"] == 2


def test_item_limit_holds_under_racing_writers(stack: AwsEnv) -> None:
    # Given a list of a limit of 3 holding 2 items
    repo = WatchlistRepository()
    owner = f"racer-{unique_users()[0]}"
    now = datetime.now(UTC)
    repo.create(_watchlist(owner, "items-race", now), max_lists=50)
    for n in range(2):
        assert repo.add_item(_item("items-race", f"m{n}", now), owner=owner, max_items=3)
    added: list[bool] = []

    def add(n: int) -> None:
        try:
            added.append(repo.add_item(_item("items-race", f"r{n}", now), owner=owner, max_items=3))
        except QuotaExceeded:
            added.append(False)

    # When 8 writers race to add a different market each
    with serial_moto():
        threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    # Then exactly one got in, and the count says 3
    assert added.count(True) == 1
    assert repo.get("items-race", owner=owner).items_count == 3
    assert len(repo.all_items("items-race")) == 3


def _item(wid: str, market_id: str, now: datetime) -> WatchlistItem:
    return WatchlistItem(
        watchlist_id=wid,
        market_id=market_id,
        added_at=now,
        added_by="user",
        snapshot=MarketSnapshotInfo(question="?"),
    )


def test_a_run_never_reads_another_users_list(stack: AwsEnv) -> None:
    # Given bob's list with a market on it
    repo = WatchlistRepository()
    now = datetime.now(UTC)
    bob = f"bob-{unique_users()[0]}"
    repo.create(_watchlist(bob, "bobs-list", now), max_lists=50)
    repo.add_item(_item("bobs-list", "m1", now), owner=bob, max_items=10)

    # When a run of another owner's strategy reads it by id
    theirs = RunWatchlists(owner="mallory", repo=repo, now=now)

    # Then it reads nothing, and has no room to write; bob's own run sees the market
    assert theirs.live_market_ids("bobs-list") == [] and theirs.room("bobs-list") == 0
    assert RunWatchlists(owner=bob, repo=repo, now=now).live_market_ids("bobs-list") == ["m1"]


def test_deploying_a_draft_whose_list_is_gone_is_422_naming_watchlist_id(api: Api) -> None:
    # Given a draft reading a list that was deleted after the draft was saved (no deployed reader)
    wid = _new_list(api)
    sid = api.create(graph=_reader_graph(wid))
    _ok(api("DELETE", f"/watchlists/{wid}"), 204)

    # When the draft is deployed
    answer = api("POST", f"/strategies/{sid}/deploy", body=DEPLOY_BODY)

    # Then it is refused with the stored graph's path
    assert (answer.status, answer.error_code) == (422, "validation_error")
    assert answer.body["error"]["details"][0]["loc"] == ["node_graph", "nodes", 0, "config", "watchlist_id"]
