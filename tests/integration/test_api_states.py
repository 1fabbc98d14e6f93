"""DESIGN 3's state table through the control API: every status x action cell, every 409 with its details,
and nothing changed by a refused action. Manual runs go to the recorded Polymarket server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.models.strategy import StrategyStatus, allowed_actions
from functions.control_api import app as app_module
from local.polymarket_server import RecordedPolymarketServer
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import EXAMPLE_GRAPH
from tests.support.http import DEPLOY_BODY, Api, unique_users
from tests.support.polymarket import recorded_polymarket

NOW = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)
STATUSES = ["DRAFT", "DEPLOYED", "RUNNING", "PAUSED", "STOPPED"]
ACTIONS = ["deploy", "start", "pause", "resume", "stop", "run", "patch", "delete"]
REFUSED = 409
OK = "ok"
GONE = 204

# DESIGN 3, row by row: a status after the action, OK (the action's own answer), 204, or 409
TABLE: dict[str, dict[str, Any]] = {
    "DRAFT": {
        "deploy": "DEPLOYED", "start": REFUSED, "pause": REFUSED, "resume": REFUSED,
        "stop": REFUSED, "run": REFUSED, "patch": OK, "delete": GONE,
    },
    "DEPLOYED": {
        "deploy": "DEPLOYED", "start": "RUNNING", "pause": REFUSED, "resume": REFUSED,
        "stop": REFUSED, "run": OK, "patch": OK, "delete": GONE,
    },
    "RUNNING": {
        "deploy": REFUSED, "start": REFUSED, "pause": "PAUSED", "resume": REFUSED,
        "stop": "STOPPED", "run": OK, "patch": OK, "delete": REFUSED,
    },
    "PAUSED": {
        "deploy": "DEPLOYED", "start": REFUSED, "pause": REFUSED, "resume": "RUNNING",
        "stop": "STOPPED", "run": OK, "patch": OK, "delete": GONE,
    },
    "STOPPED": {
        "deploy": "DEPLOYED", "start": "RUNNING", "pause": REFUSED, "resume": REFUSED,
        "stop": REFUSED, "run": OK, "patch": OK, "delete": GONE,
    },
}  # fmt: skip


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


@pytest.fixture
def api(stack: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setattr(app_module, "utc_now", lambda: NOW)
    user, other = unique_users()
    return Api(stack, app_module.lambda_handler, user=user, other=other)


def _act(api: Api, strategy_id: str, action: str) -> Any:
    if action == "patch":
        graph = {**EXAMPLE_GRAPH, "nodes": [*EXAMPLE_GRAPH["nodes"][:2], _orchestrator(max_positions=2)]}
        return api(
            "PATCH", f"/strategies/{strategy_id}", body={"strategy_name": "Changed", "node_graph": graph}
        )
    if action == "delete":
        return api("DELETE", f"/strategies/{strategy_id}")
    body = DEPLOY_BODY if action == "deploy" else None
    return api("POST", f"/strategies/{strategy_id}/{action}", body=body)


def _orchestrator(**config: Any) -> dict[str, Any]:
    node = dict(EXAMPLE_GRAPH["nodes"][2])
    node["config"] = {**node["config"], **config}
    return node


CELLS = [(status, action) for status in STATUSES for action in ACTIONS]


@pytest.mark.parametrize(("status", "action"), CELLS, ids=[f"{s}-{a}" for s, a in CELLS])
def test_state_table_cell(api: Api, status: str, action: str) -> None:
    # Given a strategy in `status`
    strategy_id = api.in_status(status)
    before = api("GET", f"/strategies/{strategy_id}").body
    expected = TABLE[status][action]
    snapshot = api.snapshot() if expected == REFUSED else None

    # When the action is taken
    answer = _act(api, strategy_id, action)

    # Then the answer and the new state are the table's
    if expected == REFUSED:
        assert (answer.status, answer.error_code) == (409, "invalid_transition")
        assert answer.body["error"]["details"] == {
            "status": status,
            "allowed": allowed_actions(StrategyStatus(status)),
        }
        assert action not in answer.body["error"]["details"]["allowed"]
        assert api.snapshot() == snapshot
    elif expected == GONE:
        assert answer.status == 204
        assert api("GET", f"/strategies/{strategy_id}").status == 404
    elif action == "run":
        assert answer.status == 200, answer.body
        assert answer.body["trigger"] == "manual" and answer.body["strategy_id"] == strategy_id
        after = api("GET", f"/strategies/{strategy_id}").body
        # a manual run never moves the schedule or the status
        assert after["status"] == status and after["next_execution_at"] == before["next_execution_at"]
    elif action == "patch":
        assert answer.status == 200
        assert answer.body["status"] == status and answer.body["graph_version"] == before["graph_version"] + 1
        # a RUNNING strategy keeps its slot: the new graph applies from the next run
        assert answer.body["next_execution_at"] == before["next_execution_at"]
    else:
        assert answer.status == 200, answer.body
        assert answer.body["status"] == expected
        assert answer.body["is_active"] is (expected == "RUNNING")
        assert (answer.body["next_execution_at"] is not None) is (expected == "RUNNING")


@pytest.mark.parametrize("status", ["DRAFT", "DEPLOYED", "PAUSED", "STOPPED"])
def test_deploy_with_auto_start_runs_from_every_deployable_status(api: Api, status: str) -> None:
    # Given a strategy in a status that allows deploy
    strategy_id = api.in_status(status)

    # When it is (re)deployed with auto_start
    answer = api("POST", f"/strategies/{strategy_id}/deploy", body={**DEPLOY_BODY, "auto_start": True})

    # Then it is RUNNING from the next 5-minute slot after now
    assert answer.status == 200
    assert answer.body["status"] == "RUNNING" and answer.body["next_execution_at"] == "2026-11-24T12:05:00Z"


def test_the_table_covers_every_status_and_action() -> None:
    # Given the table above and the engine's own
    from engine.models.strategy import ALLOWED, Action

    # Then they agree cell by cell (409 exactly where the engine refuses)
    for status in STATUSES:
        for action in ACTIONS:
            refused = TABLE[status][action] == REFUSED
            assert refused is (Action(action) not in ALLOWED[StrategyStatus(status)]), (status, action)
