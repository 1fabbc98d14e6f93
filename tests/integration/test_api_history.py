"""Deployment records, graph versions and the activity timeline through the control API (issue 13), on the
recorded Polymarket server: a redeploy keeps the old deployment's trades and logs readable and apart, a
PATCH while running lands in the live deployment, versions restore equal as parsed JSON, and the timeline
says who did what."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.control_api import app as app_module
from local.polymarket_server import RecordedPolymarketServer
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import EXAMPLE_GRAPH
from tests.support.http import DEPLOY_BODY, Api, unique_users
from tests.support.polymarket import recorded_polymarket


@pytest.fixture(scope="module")
def market() -> Iterator[RecordedPolymarketServer]:
    with recorded_polymarket() as server:
        yield server


@pytest.fixture(scope="module")
def stack(market: RecordedPolymarketServer) -> Iterator[AwsEnv]:
    saved = {k: os.environ.get(k) for k in ("POLYMARKET_GAMMA_URL", "POLYMARKET_CLOB_URL")}
    os.environ.update({"POLYMARKET_GAMMA_URL": market.url, "POLYMARKET_CLOB_URL": market.url})
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
    """The API's clock: live-like for the recorded markets, moved on by each call so runs differ, and past the
    manual-run cooldown (30 s) so two runs now of one strategy are both answered."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=31)
        return self.now


@pytest.fixture
def api(stack: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setattr(app_module, "utc_now", Clock())
    user, other = unique_users()
    return Api(stack, app_module.lambda_handler, user=user, other=other)


def _graph(max_positions: int) -> dict[str, Any]:
    graph = copy.deepcopy(EXAMPLE_GRAPH)
    graph["nodes"][2]["config"]["max_positions"] = max_positions
    return graph


def _ok(answer: Any, status: int = 200) -> Any:
    assert answer.status == status, answer.body
    return answer.body


def test_a_redeploy_keeps_the_old_deployments_trades_and_logs_readable_and_separate(api: Api) -> None:
    # Given a deployed strategy that traded once
    sid = api.in_status("DEPLOYED")
    first = _ok(api("GET", f"/strategies/{sid}"))["deployment_id"]
    first_run = _ok(api("POST", f"/strategies/{sid}/run"))
    assert first_run["trades_created"] > 0 and first_run["deployment_id"] == first

    # When it is redeployed with a new graph version and runs again
    _ok(api("PATCH", f"/strategies/{sid}", body={"node_graph": _graph(max_positions=8)}))
    second = _ok(api("POST", f"/strategies/{sid}/deploy", body=DEPLOY_BODY))["deployment_id"]
    second_run = _ok(api("POST", f"/strategies/{sid}/run"))

    # Then both deployments are listed newest first, the old one ended with its final summary
    deployments = _ok(api("GET", f"/strategies/{sid}/deployments"))["items"]
    assert [d["deployment_id"] for d in deployments] == [second, first]
    old = _ok(api("GET", f"/strategies/{sid}/deployments/{first}"))
    assert old["graph_versions"] == [1, 2] and old["ended_at"] is not None
    assert old["final_summary"]["trades"] == first_run["trades_created"]
    assert old["paper_bankroll_usd"] == DEPLOY_BODY["paper_bankroll_usd"] and old["frequency"] == "5m"
    assert old["deployed_by"] == api.user
    new = deployments[0]
    assert new["graph_versions"] == [2] and new["ended_at"] is None and new["final_summary"] is None
    # and each deployment's trades and logs are its own
    old_trades = _ok(api("GET", f"/strategies/{sid}/trades", query={"deployment_id": first}))["items"]
    new_trades = _ok(api("GET", f"/strategies/{sid}/trades", query={"deployment_id": second}))["items"]
    assert len(old_trades) == first_run["trades_created"] and {t["deployment_id"] for t in old_trades} == {
        first
    }
    assert len(new_trades) == second_run["trades_created"]
    assert {t["deployment_id"] for t in new_trades} <= {second}
    all_trades = _ok(api("GET", f"/strategies/{sid}/trades", query={"limit": "100"}))["items"]
    assert len(all_trades) == len(old_trades) + len(new_trades)
    old_logs = _ok(api("GET", f"/strategies/{sid}/executions", query={"deployment_id": first}))["items"]
    new_logs = _ok(api("GET", f"/strategies/{sid}/executions", query={"deployment_id": second}))["items"]
    assert [log["execution_id"] for log in old_logs] == [first_run["execution_id"]]
    assert [log["execution_id"] for log in new_logs] == [second_run["execution_id"]]


def test_a_deployment_of_another_strategy_is_not_found_in_filters_and_reads(api: Api) -> None:
    # Given two deployed strategies of the same user
    one, two = api.in_status("DEPLOYED"), api.in_status("DEPLOYED")
    other_deployment = _ok(api("GET", f"/strategies/{two}"))["deployment_id"]

    # When the first is asked for the second's deployment
    answers = [
        api("GET", f"/strategies/{one}/deployments/{other_deployment}"),
        api("GET", f"/strategies/{one}/trades", query={"deployment_id": other_deployment}),
        api("GET", f"/strategies/{one}/executions", query={"deployment_id": other_deployment}),
    ]

    # Then each is 404 not_found
    assert [(a.status, a.error_code) for a in answers] == [(404, "not_found")] * 3


def test_a_patch_while_running_lands_in_the_live_deployments_graph_versions(api: Api) -> None:
    # Given a running strategy
    sid = api.in_status("RUNNING")
    deployment = _ok(api("GET", f"/strategies/{sid}"))["deployment_id"]

    # When its graph is changed twice while it runs, and its name once
    _ok(api("PATCH", f"/strategies/{sid}", body={"node_graph": _graph(max_positions=2)}))
    _ok(api("PATCH", f"/strategies/{sid}", body={"strategy_name": "Renamed"}))
    _ok(api("PATCH", f"/strategies/{sid}", body={"node_graph": _graph(max_positions=3)}))

    # Then the live deployment says graphs 1, 2 and 3 ran
    record = _ok(api("GET", f"/strategies/{sid}/deployments/{deployment}"))
    assert record["graph_versions"] == [1, 2, 3]


def test_every_graph_change_keeps_a_version_and_a_patch_without_one_makes_none(api: Api) -> None:
    # Given a strategy whose graph changed once and whose name changed once
    sid = api.create()
    _ok(api("PATCH", f"/strategies/{sid}", body={"node_graph": _graph(max_positions=9)}))
    _ok(api("PATCH", f"/strategies/{sid}", body={"strategy_name": "Other", "node_graph": _graph(9)}))

    # When the versions are listed
    versions = _ok(api("GET", f"/strategies/{sid}/versions"))["items"]

    # Then there are two, newest first, the current one marked, with who, when and what changed
    assert [(v["graph_version"], v["current"]) for v in versions] == [(2, True), (1, False)]
    assert versions[0]["created_by"] == api.user
    assert "configs changed: orc" in versions[0]["summary"]
    assert versions[1]["summary"].startswith("initial graph")
    one = _ok(api("GET", f"/strategies/{sid}/versions/1"))
    assert one["node_graph"] == EXAMPLE_GRAPH and one["current"] is False


def test_a_restored_version_equals_the_old_graph_as_parsed_json_and_honours_if_match_and_idempotency(
    api: Api,
) -> None:
    # Given a strategy with a builder's extra keys in version 1, then a different graph
    original = copy.deepcopy(EXAMPLE_GRAPH)
    original["nodes"][0]["position"] = {"x": 10.5, "y": -3}
    original["nodes"][1]["label"] = "liquid, undecided"
    sid = api.create(graph=original)
    changed = _ok(api("PATCH", f"/strategies/{sid}", body={"node_graph": _graph(max_positions=4)}))

    # When version 1 is restored with a stale If-Match, then with the right one (twice, same key)
    stale = api("POST", f"/strategies/{sid}/versions/1/restore", headers={"If-Match": '"1"'})
    headers = {"If-Match": f'"{changed["version"]}"', "Idempotency-Key": "restore-1"}
    restored = _ok(api("POST", f"/strategies/{sid}/versions/1/restore", headers=headers))
    again = _ok(api("POST", f"/strategies/{sid}/versions/1/restore", headers=headers))

    # Then the stale one is 412; the graph is version 1's as parsed JSON, in a new version 3, made once
    assert (stale.status, stale.error_code) == (412, "precondition_failed")
    assert restored["node_graph"] == original and restored["graph_version"] == 3
    assert again == restored
    current = _ok(api("GET", f"/strategies/{sid}/versions/3"))
    assert current["node_graph"] == original and current["restored_from"] == 1 and current["current"]
    versions = _ok(api("GET", f"/strategies/{sid}/versions"))["items"]
    assert [v["graph_version"] for v in versions] == [3, 2, 1]
    missing = api("POST", f"/strategies/{sid}/versions/7/restore")
    assert (missing.status, missing.error_code) == (404, "not_found")


def test_the_timeline_lists_every_state_change_newest_first_with_who_from_to_and_reason(api: Api) -> None:
    # Given a strategy taken through its life
    sid = api.create()
    _ok(api("PATCH", f"/strategies/{sid}", body={"node_graph": _graph(max_positions=6)}))
    _ok(api("POST", f"/strategies/{sid}/deploy", body=DEPLOY_BODY))
    for action in ("start", "pause", "resume", "run", "stop"):
        _ok(api("POST", f"/strategies/{sid}/{action}"))
    _ok(api("POST", f"/strategies/{sid}/versions/1/restore"))

    # When the timeline is read in pages of 3
    events: list[dict[str, Any]] = []
    token = None
    while True:
        query = {"limit": "3", **({"next_token": token} if token else {})}
        page = _ok(api("GET", f"/strategies/{sid}/events", query=query))
        events += page["items"]
        token = page["next_token"]
        if not token:
            break

    # Then it lists each, newest first, with who, from, to and reason
    kinds = [e["type"] for e in events]
    assert kinds == [
        "restored", "stopped", "run_now", "resumed", "paused",
        "started", "deployed", "graph_changed", "created",
    ]  # fmt: skip
    by_type = {e["type"]: e for e in events}
    assert {e["actor"] for e in events} == {api.user}
    assert (by_type["paused"]["from_status"], by_type["paused"]["to_status"]) == ("RUNNING", "PAUSED")
    assert by_type["paused"]["reason"] == "user"
    assert by_type["deployed"]["deployment_id"] is not None and by_type["deployed"]["to_status"] == "DEPLOYED"
    assert by_type["graph_changed"]["graph_version"] == 2
    assert by_type["restored"]["graph_version"] == 3 and by_type["restored"]["reason"] == "version 1"
    assert by_type["run_now"]["execution_id"] is not None


def test_every_history_route_answers_404_to_another_user(api: Api) -> None:
    # Given the user's deployed strategy with a deployment
    sid = api.in_status("DEPLOYED")
    deployment = _ok(api("GET", f"/strategies/{sid}"))["deployment_id"]
    before = api.snapshot()

    # When another user asks every history route
    answers = [
        api("GET", f"/strategies/{sid}/deployments", sub=api.other),
        api("GET", f"/strategies/{sid}/deployments/{deployment}", sub=api.other),
        api("GET", f"/strategies/{sid}/versions", sub=api.other),
        api("GET", f"/strategies/{sid}/versions/1", sub=api.other),
        api("POST", f"/strategies/{sid}/versions/1/restore", sub=api.other),
        api("GET", f"/strategies/{sid}/events", sub=api.other),
        api("GET", f"/strategies/{sid}/trades", sub=api.other, query={"deployment_id": deployment}),
    ]

    # Then each is 404 strategy_not_found, like a missing strategy, and nothing changed
    assert {(a.status, a.error_code) for a in answers} == {(404, "strategy_not_found")}
    assert api.snapshot() == before


def test_delete_removes_the_history_with_the_strategy(api: Api) -> None:
    # Given a strategy with deployments, versions, events, trades and logs
    sid = api.in_status("DEPLOYED")
    _ok(api("POST", f"/strategies/{sid}/run"))
    _ok(api("PATCH", f"/strategies/{sid}", body={"node_graph": _graph(max_positions=7)}))

    # When it is deleted
    _ok(api("DELETE", f"/strategies/{sid}"), 204)

    # Then nothing of it is readable or stored any more
    assert api("GET", f"/strategies/{sid}/events").status == 404
    left = {
        table: [i for i in items if i.get("strategy_id", {}).get("S") == sid]
        for table, items in api.snapshot().items()
    }
    assert all(not items for items in left.values()), left
