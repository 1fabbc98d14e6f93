"""Alert strategies through the control API: deploy without a bankroll, no portfolio (409), pause reasons."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.control_api import app as app_module
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import EXAMPLE_GRAPH
from tests.support.http import Api, unique_users

NOW = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)
ALERT_GRAPH: dict[str, Any] = {
    "nodes": [
        {"id": "src", "type": "DATA_SOURCE", "config": {"limit": 50}},
        {
            "id": "flt",
            "type": "FILTER",
            "config": {"conditions": [{"field": "volume", "op": ">=", "value": 1}]},
        },
        {"id": "alert", "type": "NOTIFY", "config": {"on": "new"}},
    ],
    "edges": [{"source": "src", "target": "flt"}, {"source": "flt", "target": "alert"}],
}


@pytest.fixture(scope="module")
def stack() -> Iterator[AwsEnv]:
    with moto_stack() as aws:
        yield aws


@pytest.fixture
def api(stack: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setattr(app_module, "utc_now", lambda: NOW)
    user, other = unique_users()
    return Api(stack, app_module.lambda_handler, user=user, other=other)


def test_an_alert_strategy_deploys_without_a_bankroll_and_has_no_portfolio(api: Api) -> None:
    # Given a strategy whose only sink is NOTIFY
    sid = api.create(graph=ALERT_GRAPH)
    # When it is deployed without a bankroll
    answer = api("POST", f"/strategies/{sid}/deploy", body={"frequency": "5m", "auto_start": True})
    # Then it runs, with no bankroll
    assert answer.status == 200, answer.body
    assert answer.body["status"] == "RUNNING" and answer.body["paper_bankroll_usd"] is None
    # And its portfolio and performance are 409 conflict (it never trades); its trade list is just empty
    for view in ("portfolio", "performance"):
        refused = api("GET", f"/strategies/{sid}/{view}")
        assert refused.status == 409
        assert refused.body["error"]["code"] == "conflict"
        assert refused.body["error"]["details"]["alert_strategy"] is True
    trades = api("GET", f"/strategies/{sid}/trades")
    assert trades.status == 200 and trades.body["items"] == []
    # And a pause by the owner says why, with the enum's value
    paused = api("POST", f"/strategies/{sid}/pause")
    assert paused.body["pause_reason"] == "user"


def test_an_alert_strategy_refuses_a_bankroll_and_a_trading_one_needs_it(api: Api) -> None:
    # Given an alert strategy and a trading one
    alert = api.create(graph=ALERT_GRAPH)
    trading = api.create(graph=EXAMPLE_GRAPH)
    # When each is deployed the wrong way round
    with_bankroll = api(
        "POST", f"/strategies/{alert}/deploy", body={"frequency": "5m", "paper_bankroll_usd": 500}
    )
    without = api("POST", f"/strategies/{trading}/deploy", body={"frequency": "5m"})
    # Then both are 422 naming the field, and neither changed
    for answer in (with_bankroll, without):
        assert answer.status == 422, answer.body
        assert answer.body["error"]["details"][0]["loc"] == ["body", "paper_bankroll_usd"]
    for sid in (alert, trading):
        assert api("GET", f"/strategies/{sid}").body["status"] == "DRAFT"


def test_a_graph_with_notify_and_an_orchestrator_is_a_trading_strategy(api: Api) -> None:
    # Given the DESIGN example with a NOTIFY beside its orchestrator
    graph = {
        "nodes": [*EXAMPLE_GRAPH["nodes"], {"id": "alert", "type": "NOTIFY", "config": {}}],
        "edges": [*EXAMPLE_GRAPH["edges"], {"source": "flt", "target": "alert"}],
    }
    sid = api.create(graph=graph)
    # When deployed with a bankroll / Then it is accepted and has a portfolio
    answer = api("POST", f"/strategies/{sid}/deploy", body={"frequency": "5m", "paper_bankroll_usd": 1000})
    assert answer.status == 200, answer.body
    assert api("GET", f"/strategies/{sid}/portfolio").status == 200
