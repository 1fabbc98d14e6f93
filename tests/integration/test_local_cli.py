"""The `autopilot` CLI against the local gateway (a stand-in control API behind it): JSON and table output,
the request each command sends, and API errors as one line with a non-zero exit."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from local import cli
from local.auth import DevTokenIssuer
from local.gateway import Gateway, GatewayServer

SAMPLES = Path(__file__).resolve().parents[2] / "local" / "samples"
STRATEGY = {
    "strategy_id": "s-1",
    "strategy_name": "Mid-priced liquid YES",
    "status": "RUNNING",
    "frequency": "5m",
    "paper_bankroll_usd": 1000.0,
    "paper_pnl_usd": 12.5,
    "total_executions": 7,
    "version": 3,
}


@dataclass
class FakeApi:
    """Answers like the control API for a few routes and remembers each event."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        route = event["routeKey"]
        if event["pathParameters"].get("id") == "missing" if "pathParameters" in event else False:
            return self._answer(
                404,
                {
                    "error": {
                        "code": "strategy_not_found",
                        "message": "no strategy missing",
                        "details": None,
                        "request_id": "req-1",
                    }
                },
            )
        if route == "GET /strategies":
            return self._answer(200, {"items": [STRATEGY], "next_token": None})
        if route == "POST /strategies":
            return self._answer(201, {**STRATEGY, **json.loads(event["body"]), "status": "DRAFT"})
        if route == "POST /strategies/{id}/pause":
            return self._answer(
                409,
                {
                    "error": {
                        "code": "invalid_transition",
                        "message": "cannot pause a PAUSED strategy",
                        "details": {"status": "PAUSED", "allowed": ["resume", "stop"]},
                        "request_id": "req-2",
                    }
                },
            )
        if route == "GET /strategies/{id}/portfolio":
            return self._answer(
                200,
                {
                    "strategy_id": "s-1",
                    "cash_usd": 900.0,
                    "equity_usd": 1010.0,
                    "total_pnl_usd": 10.0,
                    "positions": [
                        {
                            "market_id": "m-1",
                            "outcome_label": "Yes",
                            "shares": 200.0,
                            "avg_price": 0.5,
                            "mark_price": 0.55,
                            "value_usd": 110.0,
                            "unrealized_pnl_usd": 10.0,
                            "status": "open",
                            "question": "Will it?",
                        }
                    ],
                },
            )
        if route == "DELETE /strategies/{id}":
            return {"statusCode": 204, "headers": {}, "body": ""}
        return self._answer(
            200, {**STRATEGY, "echo": json.loads(event["body"]) if event.get("body") else None}
        )

    @staticmethod
    def _answer(status: int, body: Any) -> dict[str, Any]:
        return {
            "statusCode": status,
            "headers": {"content-type": "application/json"},
            "body": json.dumps(body),
        }


@dataclass
class Setup:
    url: str
    token: str
    api: FakeApi

    def run(self, *argv: str, token: str | None = "default") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        environ = {"AUTOPILOT_API_URL": self.url}
        if token is not None:
            environ["AUTOPILOT_TOKEN"] = self.token if token == "default" else token
        code = cli.main(list(argv), out=out, err=err, environ=environ)
        return code, out.getvalue(), err.getvalue()


@pytest.fixture
def setup() -> Iterator[Setup]:
    issuer = DevTokenIssuer(now=lambda: datetime(2026, 2, 7, 12, 50, tzinfo=UTC))
    api = FakeApi()
    server = GatewayServer(Gateway(api, issuer)).start()
    try:
        yield Setup(server.url, issuer.issue("alice"), api)
    finally:
        server.stop()


def test_list_prints_a_table_by_default_and_the_apis_json_with_json(setup: Setup) -> None:
    # Given one strategy behind the API
    # When it is listed both ways
    code, table, _ = setup.run("strategies", "list")
    json_code, raw, _ = setup.run("strategies", "list", "--json")

    # Then the table has a header and a row, and --json is the API's answer unchanged
    assert code == json_code == 0
    header, row = table.strip().splitlines()
    assert header.split()[:3] == ["ID", "NAME", "STATUS"]
    assert row.startswith("s-1") and "RUNNING" in row and "12.50" in row
    assert json.loads(raw) == {"items": [STRATEGY], "next_token": None}


def test_create_posts_the_sample_file_with_an_idempotency_key(setup: Setup) -> None:
    # Given the DESIGN example sample file
    sample = SAMPLES / "design_example.json"

    # When it is created with an idempotency key
    code, out, _ = setup.run(
        "strategies", "create", "--file", str(sample), "--idempotency-key", "key-1", "--json"
    )

    # Then the body is the file's and the key travels as the Idempotency-Key header
    assert code == 0
    event = setup.api.events[-1]
    assert event["routeKey"] == "POST /strategies"
    assert event["headers"]["idempotency-key"] == "key-1"
    assert json.loads(event["body"]) == json.loads(sample.read_text())
    assert json.loads(out)["status"] == "DRAFT"


def test_deploy_sends_the_deploy_body(setup: Setup) -> None:
    # Given a deployed-to-be strategy
    # When it is deployed with a cron, zone and auto start
    code, _, _ = setup.run(
        "deploy",
        "s-1",
        "--bankroll",
        "1000",
        "--cron",
        "*/10 * * * *",
        "--timezone",
        "Europe/Paris",
        "--auto-start",
        "--if-match",
        "3",
    )

    # Then the route and the body follow DESIGN 4
    assert code == 0
    event = setup.api.events[-1]
    assert event["routeKey"] == "POST /strategies/{id}/deploy"
    assert event["headers"]["if-match"] == "3"
    assert json.loads(event["body"]) == {
        "paper_bankroll_usd": "1000",
        "schedule_cron": "*/10 * * * *",
        "timezone": "Europe/Paris",
        "auto_start": True,
    }


@pytest.mark.parametrize(
    ("argv", "route_key", "query"),
    [
        (
            ["executions", "s-1", "--status", "failed", "--since", "2026-02-07T00:00:00Z"],
            "GET /strategies/{id}/executions",
            {"status": "failed", "since": "2026-02-07T00:00:00Z"},
        ),
        (["trades", "s-1", "--limit", "5"], "GET /strategies/{id}/trades", {"limit": "5"}),
        (["performance", "s-1"], "GET /strategies/{id}/performance", None),
        (["strategies", "get", "s-1"], "GET /strategies/{id}", None),
        (["run", "s-1"], "POST /strategies/{id}/run", None),
        (["resume", "s-1"], "POST /strategies/{id}/resume", None),
        (["strategies", "patch", "s-1", "--name", "New"], "PATCH /strategies/{id}", None),
        (["portfolio-all"], "GET /portfolio", None),
        (["portfolio-performance"], "GET /portfolio/performance", None),
        (["compare", "s-1", "s-2"], "GET /strategies/compare", {"ids": "s-1,s-2"}),
        (["risk-limits"], "GET /risk-limits", None),
        (["risk-limits", "set", "--max-market", "250", "--timezone", "UTC"], "PUT /risk-limits", None),
        (["kill-switch", "halt"], "POST /kill-switch", None),
        (["kill-switch", "release"], "DELETE /kill-switch", None),
    ],
)
def test_each_command_calls_its_route(
    setup: Setup, argv: list[str], route_key: str, query: dict[str, str] | None
) -> None:
    # Given the CLI
    # When a command runs
    code, _, err = setup.run(*argv)

    # Then it called the route the template declares, with the query it was given
    assert code == 0, err
    event = setup.api.events[-1]
    assert event["routeKey"] == route_key
    assert event.get("queryStringParameters") == query
    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "alice"


def test_the_portfolio_table_shows_the_summary_and_positions(setup: Setup) -> None:
    # Given a portfolio with one position
    # When it is shown
    code, out, _ = setup.run("portfolio", "s-1")

    # Then the summary lines and the positions table are there
    assert code == 0
    assert "cash_usd" in out and "900.00" in out
    assert "MARKET" in out and "m-1" in out and "Will it?" in out


def test_delete_prints_ok_on_204(setup: Setup) -> None:
    # Given a strategy
    # When it is deleted
    code, out, _ = setup.run("strategies", "delete", "s-1")

    # Then the empty answer is fine
    assert code == 0
    assert out.strip() == "ok"


def test_an_api_error_is_one_line_on_stderr_and_exit_1(setup: Setup) -> None:
    # Given a transition the API refuses
    # When the command runs
    code, out, err = setup.run("pause", "s-1")

    # Then one line names the status, code, message and details, and nothing goes to stdout
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: 409 invalid_transition: cannot pause a PAUSED strategy")
    assert '"allowed":["resume","stop"]' in err
    assert "(request req-2)" in err


def test_a_missing_token_is_the_gateways_401_as_one_line(setup: Setup) -> None:
    # Given no token
    # When a command runs
    code, _, err = setup.run("strategies", "list", token=None)

    # Then the gateway's 401 becomes one clear line
    assert code == 1
    assert err.startswith("error: 401 unauthorized: Unauthorized")
    assert setup.api.events == []


def test_an_unreachable_api_exits_3(setup: Setup) -> None:
    # Given an API URL nothing listens on
    out, err = io.StringIO(), io.StringIO()

    # When a command runs
    code = cli.main(["strategies", "list", "--api-url", "http://127.0.0.1:9"], out=out, err=err, environ={})

    # Then it says so on one line
    assert code == 3
    assert err.getvalue().startswith("error: cannot reach the API at http://127.0.0.1:9")


def test_token_asks_the_local_stack_for_a_development_token(setup: Setup) -> None:
    # Given the local gateway
    # When a token is asked for bob
    code, out, _ = setup.run("token", "bob", token=None)

    # Then the printed token is accepted and names bob
    assert code == 0
    code, _, _ = setup.run("strategies", "list", token=out.strip())
    assert code == 0
    assert setup.api.events[-1]["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "bob"


def test_risk_limits_set_and_kill_switch_send_their_bodies(setup: Setup) -> None:
    # Given the CLI
    # When limits are set and the kill switch is turned on
    limits_code, _, limits_err = setup.run(
        "risk-limits", "set", "--max-market", "250", "--daily-loss-stop", "40"
    )
    limits_event = setup.api.events[-1]
    kill_code, _, kill_err = setup.run("kill-switch", "exits_only")
    kill_event = setup.api.events[-1]

    # Then each body names only what was given
    assert (limits_code, kill_code) == (0, 0), limits_err + kill_err
    assert json.loads(limits_event["body"]) == {"max_market_exposure_usd": 250.0, "daily_loss_stop_usd": 40.0}
    assert json.loads(kill_event["body"]) == {"mode": "exits_only"}
