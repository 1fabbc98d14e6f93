"""POST /strategies/{id}/run through lambda_handler against the recorded Polymarket server: a run now, its
log and trades, the deadline inside API Gateway's 29 s, idempotent retries and a market data outage."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from functions.control_api import app as app_module
from local.polymarket_server import RecordedPolymarketServer
from tests.support.aws import AwsEnv, moto_stack
from tests.support.http import Api, unique_users
from tests.support.polymarket import recorded_polymarket


@pytest.fixture(scope="module")
def market() -> Iterator[RecordedPolymarketServer]:
    with recorded_polymarket() as server:
        yield server


@pytest.fixture(scope="module")
def stack(market: RecordedPolymarketServer) -> Iterator[AwsEnv]:
    saved = {
        k: os.environ.get(k) for k in ("POLYMARKET_GAMMA_URL", "POLYMARKET_CLOB_URL", "HTTP_TIMEOUT_SECONDS")
    }
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


@pytest.fixture
def api(stack: AwsEnv, market: RecordedPolymarketServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    # the recorded markets are live-like at the wall clock (the server answers with its own clock)
    now = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr(app_module, "utc_now", lambda: now)
    user, other = unique_users()
    yield Api(stack, app_module.lambda_handler, user=user, other=other)
    market.set_fault(None)
    market.set_delay(0)


def test_a_run_now_trades_on_live_like_data_and_answers_its_log(api: Api) -> None:
    # Given DESIGN 5's example strategy, deployed
    strategy_id = api.in_status("DEPLOYED")

    # When it is run now
    answer = api("POST", f"/strategies/{strategy_id}/run")

    # Then the log says it completed, manually, and traded; the trades and the stats show it
    assert answer.status == 200, answer.body
    log = answer.body
    assert (log["status"], log["trigger"], log["error_code"]) == ("completed", "manual", None)
    assert log["trades_created"] > 0 and log["nodes_executed"] == 3
    assert [node["node_id"] for node in log["trace"]][:3] == ["src", "flt", "orc"]
    trades = api("GET", f"/strategies/{strategy_id}/trades").body["items"]
    assert len(trades) == log["trades_created"] and {t["side"] for t in trades} == {"BUY"}
    logs = api("GET", f"/strategies/{strategy_id}/executions").body["items"]
    assert [x["execution_id"] for x in logs] == [log["execution_id"]]
    strategy = api("GET", f"/strategies/{strategy_id}").body
    assert strategy["total_executions"] == 1 and strategy["last_execution_status"] == "completed"
    assert strategy["avg_execution_time_ms"] is not None and strategy["status"] == "DEPLOYED"


def test_a_run_is_bounded_by_the_time_lambda_has_left(api: Api, market: RecordedPolymarketServer) -> None:
    # Given a market API that hangs, and an invocation with 4.5 s left (1.5 s after the 3 s margin)
    strategy_id = api.in_status("DEPLOYED")
    market.set_delay(5)

    # When it is run now
    started = datetime.now(UTC)
    answer = api("POST", f"/strategies/{strategy_id}/run", remaining_ms=4_500)
    took = (datetime.now(UTC) - started).total_seconds()

    # Then it answers inside the budget with a log that did not trade
    assert answer.status == 200, answer.body
    assert answer.body["status"] in ("timeout", "failed") and answer.body["trades_created"] == 0
    assert took < 4.5


def test_a_retried_run_with_the_same_key_runs_once(api: Api) -> None:
    # Given a run with an Idempotency-Key
    strategy_id = api.in_status("RUNNING")
    first = api("POST", f"/strategies/{strategy_id}/run", headers={"Idempotency-Key": "run-1"})
    snapshot = api.snapshot()

    # When the client retries it
    retry = api("POST", f"/strategies/{strategy_id}/run", headers={"Idempotency-Key": "run-1"})

    # Then it gets the first log back, and nothing ran again
    assert first.status == retry.status == 200
    assert retry.body == first.body
    assert api.snapshot() == snapshot


def test_a_market_data_outage_is_a_failed_log_not_an_error(
    api: Api, market: RecordedPolymarketServer
) -> None:
    # Given a market API that answers 500
    strategy_id = api.in_status("DEPLOYED")
    market.set_fault("error500")

    # When it is run now
    answer = api("POST", f"/strategies/{strategy_id}/run")

    # Then the run is logged failed with the market data code, and nothing traded
    assert answer.status == 200, answer.body
    assert (answer.body["status"], answer.body["error_code"]) == ("failed", "market_data_unavailable")
    assert api("GET", f"/strategies/{strategy_id}/trades").body["items"] == []


def test_an_engine_crash_is_logged_under_the_execution_id_and_the_owner_reads_a_generic_internal_error(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a deployed strategy and an engine that crashes while deciding, with internals in its words
    from engine.services import execution

    strategy_id = api.in_status("DEPLOYED")

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals: table autopilot-prod-accounts at /var/task/engine")

    monkeypatch.setattr(execution, "_decide", crash)

    # When it is run now
    with caplog.at_level("ERROR", logger="engine.services.execution"):
        answer = api("POST", f"/strategies/{strategy_id}/run")

    # Then the owner's log says internal_error in generic words, here and in the list
    assert answer.status == 200, answer.body
    log = answer.body
    assert (log["status"], log["error_code"]) == ("failed", "internal_error")
    assert log["error_message"] == execution.CRASH_MESSAGE
    listed = api("GET", f"/strategies/{strategy_id}/executions").body["items"]
    assert "secret internals" not in str(answer.body) + str(listed)
    # and our log has the exception, its stack, under the execution id
    (record,) = [r for r in caplog.records if r.getMessage() == "run failed inside the engine"]
    assert record.execution_id == log["execution_id"]  # type: ignore[attr-defined]
    assert record.exc_info is not None and "secret internals" in str(record.exc_info[1])
