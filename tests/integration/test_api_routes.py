"""Control API through lambda_handler with real HTTP API 2.0 events: every route's success, tenancy, 401,
idempotent retries, If-Match and the generic 500."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.ledger import apply_to_account
from engine.models.execution import RunStatus
from engine.models.strategy import allowed_actions
from engine.storage.executions import ExecutionLogRepository
from engine.storage.portfolios import AccountRepository
from engine.storage.runs import RunCommit, RunRepository
from engine.storage.trades import TradeRepository
from functions.control_api import app as app_module
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import make_log, make_trade
from tests.support.http import DEPLOY_BODY, ROUTES, Api, call, http_event, unique_users

NOW = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)
EVENTS = Path(__file__).resolve().parents[2] / "events" / "http"


@pytest.fixture(scope="module")
def stack() -> Iterator[AwsEnv]:
    # one stack for the module (creating the template's resources is the slow part); tests use own users
    with moto_stack() as aws:
        yield aws


@pytest.fixture
def api(stack: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setattr(app_module, "utc_now", lambda: NOW)
    user, other = unique_users()
    return Api(stack, app_module.lambda_handler, user=user, other=other)


def _book_trades(strategy_id: str, *trades: Any) -> None:
    """Commit trades the way a run does: with the account they move."""
    before = AccountRepository().get(strategy_id)
    assert before is not None
    after = apply_to_account(before, list(trades))
    RunRepository().commit_run(
        RunCommit(strategy_id=strategy_id, trades=list(trades), account_before=before, account_after=after)
    )


def _concrete(path: str, strategy_id: str) -> str:
    # the history routes name a deployment or a graph version under the strategy
    return path.replace("{id}", strategy_id).replace("{deployment_id}", "d_1").replace("{graph_version}", "1")


def _body_for(method: str, path: str) -> dict[str, Any] | None:
    if path.endswith("/deploy"):
        return DEPLOY_BODY
    if method == "PATCH":
        return {"strategy_name": "Renamed"}
    if method == "POST" and path.endswith("/backtests"):
        return {
            "start": "2026-11-01T00:00:00Z",
            "end": "2026-11-02T00:00:00Z",
            "frequency": "1h",
            "paper_bankroll_usd": 1000,
        }
    if method == "POST" and path == "/strategies":
        from tests.support.builders import EXAMPLE_GRAPH

        return {"strategy_name": "New", "node_graph": EXAMPLE_GRAPH}
    return None


# -- success paths ------------------------------------------------------------------------------------------


def test_create_answers_201_with_the_draft_strategy_and_no_internal_fields(api: Api) -> None:
    # Given a graph as DESIGN 5 shows it
    from tests.support.builders import EXAMPLE_GRAPH

    # When the caller creates a strategy
    answer = api(
        "POST",
        "/strategies",
        body={"strategy_name": "Momentum", "strategy_description": "d", "node_graph": EXAMPLE_GRAPH},
    )

    # Then it is a DRAFT of theirs, with an ETag and a Location
    assert answer.status == 201
    body = answer.body
    assert body["status"] == "DRAFT" and body["execution_mode"] == "MANUAL"
    assert body["created_by"] == api.user and body["is_active"] is False
    assert body["next_execution_at"] is None and body["graph_version"] == 1 and body["version"] == 1
    assert body["node_graph"] == EXAMPLE_GRAPH
    assert answer.headers["etag"] == '"1"'
    assert answer.headers["location"] == f"/strategies/{body['strategy_id']}"
    for internal in ("due_at", "claim_token", "claim_slot", "due_shard", "portfolio_epoch"):
        assert internal not in body
    assert "total_execution_time_ms" not in body


def test_list_answers_the_callers_strategies_newest_first_in_pages(api: Api) -> None:
    # Given three strategies of user-a and one of user-b
    ids = [api.create(strategy_name=f"s{i}") for i in range(3)]
    api.create(sub=api.other)

    # When user-a lists them two at a time
    first = api("GET", "/strategies", query={"limit": "2"})
    second = api("GET", "/strategies", query={"limit": "2", "next_token": first.body["next_token"]})

    # Then they see their own, newest first, and the last page has no token
    assert first.status == second.status == 200
    seen = [s["strategy_id"] for s in first.body["items"] + second.body["items"]]
    assert sorted(seen) == sorted(ids) and len(seen) == 3
    assert second.body["next_token"] is None
    created = [s["created_at"] + s["strategy_id"] for s in first.body["items"] + second.body["items"]]
    assert created == sorted(created, reverse=True)


def test_get_answers_the_strategy_with_its_next_five_slots(api: Api) -> None:
    # Given a strategy running every 5 minutes
    strategy_id = api.in_status("RUNNING")

    # When it is read
    answer = api("GET", f"/strategies/{strategy_id}")

    # Then the next slots start at the first slot strictly after now, 5 minutes apart
    assert answer.status == 200
    assert answer.body["next_slots"] == [
        "2026-11-24T12:05:00Z",
        "2026-11-24T12:10:00Z",
        "2026-11-24T12:15:00Z",
        "2026-11-24T12:20:00Z",
        "2026-11-24T12:25:00Z",
    ]
    assert answer.body["next_execution_at"] == "2026-11-24T12:05:00Z"
    assert answer.body["is_active"] is True and answer.headers["etag"] == f'"{answer.body["version"]}"'


def test_patch_changes_the_graph_and_bumps_graph_version(api: Api) -> None:
    # Given a strategy
    from tests.support.builders import EXAMPLE_GRAPH

    strategy_id = api.create()
    graph = json.loads(json.dumps(EXAMPLE_GRAPH))
    graph["nodes"][2]["config"]["max_positions"] = 3

    # When its name and graph change
    answer = api("PATCH", f"/strategies/{strategy_id}", body={"strategy_name": "B", "node_graph": graph})

    # Then both are stored and graph_version counts the change
    assert answer.status == 200
    assert answer.body["strategy_name"] == "B" and answer.body["graph_version"] == 2
    assert answer.body["node_graph"]["nodes"][2]["config"]["max_positions"] == 3
    assert answer.body["version"] == 2


def test_patch_with_the_same_graph_keeps_graph_version(api: Api) -> None:
    # Given a strategy
    from tests.support.builders import EXAMPLE_GRAPH

    strategy_id = api.create()

    # When the same graph is sent again with a new description
    answer = api(
        "PATCH", f"/strategies/{strategy_id}", body={"node_graph": EXAMPLE_GRAPH, "strategy_description": "x"}
    )

    # Then only the description changed
    assert answer.status == 200
    assert answer.body["graph_version"] == 1 and answer.body["strategy_description"] == "x"


def test_delete_answers_204_and_purges_the_strategy_data(api: Api) -> None:
    # Given a deployed strategy with a log and a trade
    strategy_id = api.in_status("DEPLOYED")
    ExecutionLogRepository().put(make_log(strategy_id))
    _book_trades(strategy_id, make_trade(strategy_id))

    # When it is deleted
    answer = api("DELETE", f"/strategies/{strategy_id}")

    # Then it is gone, and so are its logs, trades, account and portfolio
    assert answer.status == 204 and answer.body is None
    assert api("GET", f"/strategies/{strategy_id}").status == 404
    snapshot = api.snapshot()
    for table in api.tables[1:4]:
        assert not [i for i in snapshot[table] if i["strategy_id"]["S"] == strategy_id]


def test_deploy_opens_the_paper_account_and_portfolio_with_the_bankroll(api: Api) -> None:
    # Given a draft
    strategy_id = api.create()

    # When it is deployed with a bankroll of 2,500 on a custom schedule in New York time
    body = {"paper_bankroll_usd": "2500", "schedule_cron": "30 9 * * mon-fri", "timezone": "America/New_York"}
    answer = api("POST", f"/strategies/{strategy_id}/deploy", body=body)

    # Then it is DEPLOYED on that schedule and its portfolio is the bankroll in cash
    assert answer.status == 200
    assert answer.body["status"] == "DEPLOYED" and answer.body["execution_mode"] == "SCHEDULED"
    assert answer.body["schedule_cron"] == "30 9 * * mon-fri" and answer.body["frequency"] is None
    assert answer.body["paper_bankroll_usd"] == 2500 and answer.body["next_execution_at"] is None
    portfolio = api("GET", f"/strategies/{strategy_id}/portfolio")
    assert portfolio.status == 200
    assert portfolio.body["cash_usd"] == portfolio.body["equity_usd"] == 2500
    assert portfolio.body["positions"] == []
    # and the next slots are 9:30 New York time (14:30 UTC in November)
    slots = api("GET", f"/strategies/{strategy_id}").body["next_slots"]
    assert slots[0] == "2026-11-24T14:30:00Z"


def test_deploy_with_auto_start_runs_from_the_next_slot_strictly_after_now(api: Api) -> None:
    # Given a draft
    strategy_id = api.create()

    # When it is deployed every minute with auto_start
    body = {"paper_bankroll_usd": 1000, "frequency": "1m", "auto_start": True}
    answer = api("POST", f"/strategies/{strategy_id}/deploy", body=body)

    # Then it is RUNNING from 12:01, not the 12:00 slot that already began
    assert answer.status == 200
    assert answer.body["status"] == "RUNNING" and answer.body["is_active"] is True
    assert answer.body["next_execution_at"] == "2026-11-24T12:01:00Z"


@pytest.mark.parametrize("action", ["start", "resume"])
def test_start_and_resume_reset_failures_and_take_the_next_slot(api: Api, action: str) -> None:
    # Given a stopped or (automatically) paused strategy that failed twice
    strategy_id = api.in_status("STOPPED" if action == "start" else "PAUSED")
    from engine.storage.strategies import StrategyRepository

    StrategyRepository().update(
        strategy_id,
        owner=api.user,
        expected_version=None,
        allowed_status=None,
        set_fields={"consecutive_failures": 2, "pause_reason": "auto:consecutive_failures"},
        now=NOW,
    )

    # When it is started or resumed
    answer = api("POST", f"/strategies/{strategy_id}/{action}")

    # Then it runs from the next slot after now, with its failure count and pause reason cleared
    assert answer.status == 200
    assert answer.body["status"] == "RUNNING"
    assert answer.body["next_execution_at"] == "2026-11-24T12:05:00Z"
    assert answer.body["consecutive_failures"] == 0 and answer.body["pause_reason"] is None


def test_pause_records_the_user_as_the_reason_and_stop_clears_it(api: Api) -> None:
    # Given a running strategy
    strategy_id = api.in_status("RUNNING")

    # When it is paused, then stopped
    paused = api("POST", f"/strategies/{strategy_id}/pause")
    stopped = api("POST", f"/strategies/{strategy_id}/stop")

    # Then the pause names the user and neither is active or scheduled
    assert paused.status == stopped.status == 200
    assert paused.body["pause_reason"] == "user" and paused.body["next_execution_at"] is None
    assert stopped.body["status"] == "STOPPED" and stopped.body["pause_reason"] is None
    assert stopped.body["is_active"] is False


def test_executions_list_newest_first_with_status_and_since_filters(api: Api) -> None:
    # Given three logs at 11:00, 11:30 (failed) and 12:00
    strategy_id = api.in_status("DEPLOYED")
    logs = ExecutionLogRepository()
    base = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    for minutes, status in ((0, RunStatus.COMPLETED), (30, RunStatus.FAILED), (60, RunStatus.COMPLETED)):
        logs.put(make_log(strategy_id, scheduled_for=base + timedelta(minutes=minutes), status=status))

    # When they are listed, by status, and since 11:15
    every = api("GET", f"/strategies/{strategy_id}/executions")
    failed = api("GET", f"/strategies/{strategy_id}/executions", query={"status": "failed"})
    recent = api("GET", f"/strategies/{strategy_id}/executions", query={"since": "2026-11-24T11:15:00Z"})

    # Then each answers its own slice, newest first
    assert every.status == failed.status == recent.status == 200
    assert [log["scheduled_for"] for log in every.body["items"]] == [
        "2026-11-24T12:00:00Z",
        "2026-11-24T11:30:00Z",
        "2026-11-24T11:00:00Z",
    ]
    assert [log["status"] for log in failed.body["items"]] == ["failed"]
    assert len(recent.body["items"]) == 2 and every.body["next_token"] is None
    # list items carry no trace (issue 11: a page of 100 traces passes Lambda's 6 MB); the log's route has it
    assert all("trace" not in log for log in every.body["items"])
    newest = api("GET", f"/strategies/{strategy_id}/executions/{every.body['items'][0]['execution_id']}")
    assert newest.body["trace"][0]["node_id"] == "flt"


def test_trades_list_newest_first_without_ledger_internals(api: Api) -> None:
    # Given two trades in the ledger
    strategy_id = api.in_status("DEPLOYED")
    trades = [make_trade(strategy_id, seq=1, market_id="m1"), make_trade(strategy_id, seq=2, market_id="m2")]
    _book_trades(strategy_id, *trades)

    # When they are listed
    answer = api("GET", f"/strategies/{strategy_id}/trades")

    # Then the newest comes first, money is a number, and seq, epoch and slot keys stay inside
    assert answer.status == 200
    assert [t["market_id"] for t in answer.body["items"]] == ["m2", "m1"]
    first = answer.body["items"][0]
    assert first["price"] == 0.5 and first["side"] == "BUY" and first["fill"]["levels"] == 1
    assert not {"seq", "epoch", "slot_key"} & set(first)
    assert TradeRepository().ledger(strategy_id, epoch=0)


def test_portfolio_and_performance_of_a_fresh_deploy_show_the_opening_state(api: Api) -> None:
    # Given a strategy deployed with 1,000 and no trades yet
    strategy_id = api.in_status("DEPLOYED")

    # When its portfolio and performance are read
    portfolio = api("GET", f"/strategies/{strategy_id}/portfolio")
    performance = api("GET", f"/strategies/{strategy_id}/performance")

    # Then both show the bankroll untouched
    assert portfolio.status == performance.status == 200
    assert portfolio.body["bankroll_usd"] == portfolio.body["equity_usd"] == 1000
    assert portfolio.body["total_pnl_usd"] == 0 and portfolio.body["win_rate"] is None
    assert performance.body["equity_usd"] == 1000 and performance.body["closed_trades_count"] == 0
    # the curve starts with the bankroll at deploy time (issue 14), so a loss before the first sync counts
    assert [p["equity_usd"] for p in performance.body["equity_curve"]] == [1000]
    assert performance.body["max_drawdown_usd"] == 0 and performance.body["sharpe"] is None


def test_portfolio_of_a_draft_is_a_conflict(api: Api) -> None:
    # Given a draft (no bankroll, no portfolio)
    strategy_id = api.create()

    # When its portfolio and performance are asked for
    answers = [api("GET", f"/strategies/{strategy_id}/{view}") for view in ("portfolio", "performance")]

    # Then both say it has none yet
    assert [(a.status, a.error_code) for a in answers] == [(409, "conflict"), (409, "conflict")]


def test_redeploy_with_open_positions_and_another_bankroll_is_a_conflict(api: Api) -> None:
    # Given a deployed strategy holding a position
    strategy_id = api.in_status("DEPLOYED")
    accounts = AccountRepository()
    _book_trades(strategy_id, make_trade(strategy_id))
    snapshot = api.snapshot()

    # When it is redeployed with 2,000
    answer = api(
        "POST", f"/strategies/{strategy_id}/deploy", body={**DEPLOY_BODY, "paper_bankroll_usd": 2000}
    )

    # Then it is a conflict and nothing changed; the same bankroll keeps the positions
    assert (answer.status, answer.error_code) == (409, "conflict")
    assert api.snapshot() == snapshot
    same = api("POST", f"/strategies/{strategy_id}/deploy", body=DEPLOY_BODY)
    assert same.status == 200
    assert accounts.get(strategy_id) is not None
    assert len(accounts.get(strategy_id).positions) == 1  # type: ignore[union-attr]


def test_redeploy_without_positions_starts_a_fresh_portfolio_in_a_new_epoch(api: Api) -> None:
    # Given a deployed strategy with 1,000
    strategy_id = api.in_status("DEPLOYED")

    # When it is redeployed with 5,000
    answer = api(
        "POST", f"/strategies/{strategy_id}/deploy", body={**DEPLOY_BODY, "paper_bankroll_usd": 5000}
    )

    # Then the portfolio starts over with 5,000 in a new epoch
    assert answer.status == 200
    assert api("GET", f"/strategies/{strategy_id}/portfolio").body["cash_usd"] == 5000
    account = AccountRepository().get(strategy_id)
    assert account is not None and account.epoch == 1 and account.cash_usd == Decimal(5000)


def test_live_trading_is_unavailable(api: Api) -> None:
    # Given a draft
    strategy_id = api.create()
    snapshot = api.snapshot()

    # When it is deployed for live trading
    answer = api("POST", f"/strategies/{strategy_id}/deploy", body={**DEPLOY_BODY, "trading_mode": "live"})

    # Then 409 live_trading_unavailable and nothing changed
    assert (answer.status, answer.error_code) == (409, "live_trading_unavailable")
    assert api.snapshot() == snapshot


def test_quota_answers_429_once_the_caller_has_their_quota(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a quota of 2 and two strategies
    monkeypatch.setenv("STRATEGY_QUOTA", "2")
    from engine.settings import reset_settings

    reset_settings()
    api.create()
    api.create()
    snapshot = api.snapshot()

    # When a third is created
    from tests.support.builders import EXAMPLE_GRAPH

    answer = api("POST", "/strategies", body={"strategy_name": "3", "node_graph": EXAMPLE_GRAPH})

    # Then 429 and nothing stored; another user is not affected
    assert (answer.status, answer.error_code) == (429, "quota_exceeded")
    assert api.snapshot() == snapshot
    assert (
        api(
            "POST", "/strategies", sub=api.other, body={"strategy_name": "b", "node_graph": EXAMPLE_GRAPH}
        ).status
        == 201
    )


# -- If-Match ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["PATCH", "deploy"])
def test_if_match_with_a_stale_version_is_412_and_changes_nothing(api: Api, route: str) -> None:
    # Given a strategy at version 2
    strategy_id = api.create()
    assert api("PATCH", f"/strategies/{strategy_id}", body={"strategy_name": "v2"}).body["version"] == 2
    snapshot = api.snapshot()

    # When a change names version 1
    if route == "PATCH":
        answer = api(
            "PATCH", f"/strategies/{strategy_id}", body={"strategy_name": "x"}, headers={"If-Match": '"1"'}
        )
    else:
        answer = api(
            "POST", f"/strategies/{strategy_id}/deploy", body=DEPLOY_BODY, headers={"If-Match": '"1"'}
        )

    # Then 412 with the current version, and nothing changed
    assert (answer.status, answer.error_code) == (412, "precondition_failed")
    assert answer.body["error"]["details"] == {"version": 2}
    assert api.snapshot() == snapshot


def test_if_match_with_the_current_version_applies(api: Api) -> None:
    # Given a strategy read with its ETag
    strategy_id = api.create()
    etag = api("GET", f"/strategies/{strategy_id}").headers["etag"]

    # When it is changed with that ETag (weak or strong)
    first = api(
        "PATCH", f"/strategies/{strategy_id}", body={"strategy_name": "x"}, headers={"If-Match": etag}
    )
    second = api(
        "POST",
        f"/strategies/{strategy_id}/deploy",
        body=DEPLOY_BODY,
        headers={"If-Match": f"W/{first.headers['etag']}"},
    )

    # Then both apply
    assert first.status == second.status == 200
    assert second.body["version"] == 3


# -- idempotency ---------------------------------------------------------------------------------------------


def test_a_retried_create_with_the_same_key_answers_the_first_strategy_and_creates_nothing(api: Api) -> None:
    # Given a create with an Idempotency-Key
    from tests.support.builders import EXAMPLE_GRAPH

    body = {"strategy_name": "Once", "node_graph": EXAMPLE_GRAPH}
    first = api("POST", "/strategies", body=body, headers={"Idempotency-Key": "create-1"})
    snapshot = api.snapshot()

    # When the client retries it (same key, same body)
    retry = api("POST", "/strategies", body=body, headers={"Idempotency-Key": "create-1"})

    # Then the answer is the first one and no second strategy exists
    assert first.status == retry.status == 201
    assert retry.body == first.body and retry.headers["etag"] == first.headers["etag"]
    assert api.snapshot() == snapshot
    assert len(api("GET", "/strategies").body["items"]) == 1


def test_the_same_key_for_another_user_or_route_is_a_different_request(api: Api) -> None:
    # Given user-a created with key k
    from tests.support.builders import EXAMPLE_GRAPH

    body = {"strategy_name": "Once", "node_graph": EXAMPLE_GRAPH}
    mine = api("POST", "/strategies", body=body, headers={"Idempotency-Key": "k"})

    # When user-b uses the same key
    theirs = api("POST", "/strategies", sub=api.other, body=body, headers={"Idempotency-Key": "k"})

    # Then user-b gets their own strategy
    assert mine.status == theirs.status == 201
    assert theirs.body["strategy_id"] != mine.body["strategy_id"] and theirs.body["created_by"] == api.other


def test_a_reused_key_with_a_different_body_is_422_and_changes_nothing(api: Api) -> None:
    # Given a create with key k
    from tests.support.builders import EXAMPLE_GRAPH

    api(
        "POST",
        "/strategies",
        body={"strategy_name": "A", "node_graph": EXAMPLE_GRAPH},
        headers={"Idempotency-Key": "k"},
    )
    snapshot = api.snapshot()

    # When key k comes back with another body
    answer = api(
        "POST",
        "/strategies",
        body={"strategy_name": "B", "node_graph": EXAMPLE_GRAPH},
        headers={"Idempotency-Key": "k"},
    )

    # Then 422 on the header, and nothing changed
    assert (answer.status, answer.error_code) == (422, "validation_error")
    assert answer.body["error"]["details"][0]["loc"] == ["header", "Idempotency-Key"]
    assert api.snapshot() == snapshot


def test_a_retried_action_replays_its_answer_instead_of_a_409(api: Api) -> None:
    # Given a running strategy paused with a key
    strategy_id = api.in_status("RUNNING")
    first = api("POST", f"/strategies/{strategy_id}/pause", headers={"Idempotency-Key": "p-1"})
    snapshot = api.snapshot()

    # When the pause is retried with the same key (a second pause without one would be 409)
    retry = api("POST", f"/strategies/{strategy_id}/pause", headers={"Idempotency-Key": "p-1"})

    # Then the first answer comes back and nothing happens again
    assert first.status == retry.status == 200 and retry.body == first.body
    assert api.snapshot() == snapshot
    assert api("POST", f"/strategies/{strategy_id}/pause").status == 409


def test_a_failed_request_is_not_stored_under_its_key(api: Api) -> None:
    # Given a start that fails because the strategy is a draft
    strategy_id = api.create()
    first = api("POST", f"/strategies/{strategy_id}/start", headers={"Idempotency-Key": "s-1"})

    # When the strategy is deployed and the start retried with the same key
    api("POST", f"/strategies/{strategy_id}/deploy", body=DEPLOY_BODY)
    retry = api("POST", f"/strategies/{strategy_id}/start", headers={"Idempotency-Key": "s-1"})

    # Then the retry runs (a failure changed nothing, so running again is safe)
    assert first.status == 409 and retry.status == 200 and retry.body["status"] == "RUNNING"


# -- tenancy and claims --------------------------------------------------------------------------------------

STRATEGY_ROUTES = [(m, p) for m, p in ROUTES if "{id}" in p]


def test_another_users_strategy_is_404_like_a_missing_one_on_every_route_and_nothing_changes(
    api: Api,
) -> None:
    # Given user-a's strategies in every status
    ids = {status: api.in_status(status) for status in ("DRAFT", "DEPLOYED", "RUNNING", "PAUSED", "STOPPED")}
    snapshot = api.snapshot()

    # When user-b uses each on every route, and user-a uses a strategy that does not exist
    answers: dict[str, tuple[int, str | None]] = {}
    messages = set()
    for status, strategy_id in ids.items():
        for method, path in STRATEGY_ROUTES:
            theirs = api(method, _concrete(path, strategy_id), sub=api.other, body=_body_for(method, path))
            answers[f"{status} {method} {path}"] = (theirs.status, theirs.error_code)
            messages.add(theirs.body["error"]["message"])
    for method, path in STRATEGY_ROUTES:
        missing = api(method, _concrete(path, "0" * 36), body=_body_for(method, path))
        answers[f"missing {method} {path}"] = (missing.status, missing.error_code)
        messages.add(missing.body["error"]["message"])

    # Then every one is the same 404, word for word, and nothing changed
    assert {key: a for key, a in answers.items() if a != (404, "strategy_not_found")} == {}
    assert len(messages) == 1
    assert api.snapshot() == snapshot


def test_a_foreign_next_token_is_400(api: Api) -> None:
    # Given user-a has a second page of strategies
    for _ in range(3):
        api.create()
    token = api("GET", "/strategies", query={"limit": "1"}).body["next_token"]

    # When user-b presents that token
    answer = api("GET", "/strategies", sub=api.other, query={"next_token": token})

    # Then it is not theirs to use
    assert (answer.status, answer.error_code) == (400, "invalid_next_token")


def test_every_route_without_claims_is_401_and_changes_nothing(api: Api) -> None:
    # Given a running strategy, and requests that carry no caller (no authorizer block, or claims without sub)
    strategy_id = api.in_status("RUNNING")
    snapshot = api.snapshot()
    variants: dict[str, dict[str, Any]] = {
        "no authorizer": {"sub": None},
        "no sub": {"sub": None, "claims": {"iss": "x"}},
        "empty sub": {"sub": ""},
    }

    # When each reaches every route
    answers = {}
    for name, kwargs in variants.items():
        for method, path in ROUTES:
            answer = api(method, _concrete(path, strategy_id), body=_body_for(method, path), **kwargs)
            answers[f"{name} {method} {path}"] = (answer.status, answer.error_code)
            assert answer.body["error"]["request_id"].startswith("req-")

    # Then every one is 401 unauthorized, and nothing changed
    assert {key: a for key, a in answers.items() if a != (401, "unauthorized")} == {}
    assert len(answers) == 3 * len(ROUTES)
    assert api.snapshot() == snapshot


# -- unexpected failures -------------------------------------------------------------------------------------


def test_an_unexpected_error_answers_a_generic_500_with_the_request_id(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given storage that fails with an AWS error text
    from botocore.exceptions import ClientError

    from engine.storage.strategies import StrategyRepository

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ClientError(
            {
                "Error": {
                    "Code": "AccessDeniedException",
                    "Message": "User arn:aws:iam::123:role/x is not authorized",
                }
            },
            "GetItem",
        )

    monkeypatch.setattr(StrategyRepository, "_get_item", broken)
    event = http_event("GET", "/strategies/abc")

    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setFormatter(app_module.logger.registered_formatter)
    app_module.logger.addHandler(handler)

    # When a request hits it
    try:
        answer = call(app_module.lambda_handler, event)
    finally:
        app_module.logger.removeHandler(handler)

    # Then the client sees a generic 500 with the request id; the log line carries the same id and the detail
    request_id = event["requestContext"]["requestId"]
    assert (answer.status, answer.error_code) == (500, "internal_error")
    assert answer.body["error"]["request_id"] == request_id
    text = json.dumps(answer.body)
    for leak in ("arn:aws", "AccessDenied", "Traceback", "StrategyRepository", "ClientError"):
        assert leak not in text
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    failure = next(line for line in lines if line["level"] == "ERROR")
    assert failure["correlation_id"] == request_id and "AccessDeniedException" in json.dumps(failure)


def test_a_bug_in_the_code_answers_500_without_its_text(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a use case that raises a plain Python error
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("secret_internal_name")

    monkeypatch.setattr(app_module.strategies, "list_strategies", boom)

    # When the route runs
    answer = api("GET", "/strategies")

    # Then 500 internal_error, and the exception's words stay in the log
    assert (answer.status, answer.error_code) == (500, "internal_error")
    assert "secret_internal_name" not in json.dumps(answer.body)


# -- sample events and the OpenAPI document ------------------------------------------------------------------


def test_the_sample_events_are_answered(api: Api) -> None:
    # Given the sample events under events/http (their strategy id is a placeholder: not found)
    files = sorted(EVENTS.glob("*.json"))
    assert files

    # When each is sent
    statuses = {}
    for file in files:
        event = json.loads(file.read_text())
        statuses[file.stem] = call(api.handler, event).status

    # Then each answers as its name says
    for name, status in statuses.items():
        expected = int(name.rsplit("_", 1)[-1]) if name.rsplit("_", 1)[-1].isdigit() else None
        if expected is not None:
            assert status == expected, name


def test_the_committed_openapi_document_matches_the_code() -> None:
    # Given the committed document
    committed = (Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text()

    # When the code generates it
    from functions.control_api.openapi import document

    # Then they agree (run `make openapi` after changing a route or a model)
    assert json.loads(document()) == json.loads(committed)


def test_the_openapi_document_has_every_template_route() -> None:
    # Given the routes the template declares
    from functions.control_api.openapi import document

    paths = json.loads(document())["paths"]

    # Then each is documented with its success code and the error model
    for method, path in ROUTES:
        operation = paths[path.replace("{id}", "{strategy_id}")][method.lower()]
        assert {"401", "500"} <= set(operation["responses"])
    assert "201" in paths["/strategies"]["post"]["responses"]
    assert "204" in paths["/strategies/{strategy_id}"]["delete"]["responses"]


def test_allowed_actions_in_errors_follow_the_state_table(api: Api) -> None:
    # Given a draft
    strategy_id = api.create()

    # When it is paused
    answer = api("POST", f"/strategies/{strategy_id}/pause")

    # Then the 409 names its status and what it allows
    assert answer.body["error"]["details"] == {"status": "DRAFT", "allowed": allowed_actions(_draft())}


def _draft() -> Any:
    from engine.models.strategy import StrategyStatus

    return StrategyStatus.DRAFT
