"""Backtests end to end: the control API's routes with HTTP API 2.0 events, the worker's handler with SQS
events from the template's queue, the real Polymarket client against the recorded-data server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from engine.clock import Deadline
from engine.market.types import HistoryWindow
from engine.services import backtests as backtest_service
from engine.settings import get_settings, reset_settings
from functions.backtest_worker import app as worker_module
from functions.control_api import app as app_module
from functions.control_api import backtests as routes_module
from local.polymarket_server import RecordedPolymarketServer
from tests.support.aws import AwsEnv, moto_stack
from tests.support.http import Api, unique_users
from tests.support.lambda_context import lambda_context, sqs_event
from tests.support.polymarket import client_for, recorded_polymarket

# the recorded month of "MicroStrategy sells any Bitcoin by December 31, 2026?" ends 2026-02-07 16:08 UTC
NOW = datetime(2026, 2, 8, 12, 0, tzinfo=UTC)
START, END = "2026-02-01T00:00:00Z", "2026-02-06T23:00:00Z"  # 144 hourly slots
MSTR_GRAPH = {
    "nodes": [
        {
            "id": "src",
            "type": "DATA_SOURCE",
            "config": {"order_by": "end_date", "limit": 1000, "active_only": True},
        },
        {
            "id": "flt",
            "type": "FILTER",
            "config": {
                "conditions": [
                    {
                        "field": "question",
                        "op": "contains",
                        "value": "MicroStrategy sells any Bitcoin by December 31, 2026",
                    }
                ]
            },
        },
        {
            "id": "orc",
            "type": "ORCHESTRATOR",
            "config": {"outcome": "YES", "position_size_usd": 100, "max_positions": 1},
        },
    ],
    "edges": [{"source": "src", "target": "flt"}, {"source": "flt", "target": "orc"}],
}
MSTR_YES = "111128191581505463501777127559667396812474366956707382672202929745167742497287"
BODY = {"start": START, "end": END, "frequency": "1h", "paper_bankroll_usd": 1000}


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[AwsEnv, RecordedPolymarketServer]]:
    with recorded_polymarket() as server, moto_stack() as aws:
        import os

        saved = {
            k: os.environ.get(k)
            for k in ("POLYMARKET_GAMMA_URL", "POLYMARKET_CLOB_URL", "BACKTEST_CHUNK_SLOTS")
        }
        os.environ.update(
            POLYMARKET_GAMMA_URL=server.url, POLYMARKET_CLOB_URL=server.url, BACKTEST_CHUNK_SLOTS="50"
        )
        reset_settings()
        worker_module._provider = None
        try:
            yield aws, server
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            worker_module._provider = None
            reset_settings()


@pytest.fixture
def api(world: tuple[AwsEnv, RecordedPolymarketServer], monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setattr(app_module, "utc_now", lambda: NOW)
    monkeypatch.setattr(routes_module, "utc_now", lambda: NOW)
    monkeypatch.setattr(worker_module.clock, "utc_now", lambda: NOW)
    user, other = unique_users()
    return Api(world[0], app_module.lambda_handler, user=user, other=other)


def drain(aws: AwsEnv, *, crash_first: bool = False) -> int:
    """Deliver the BacktestQueue's messages to the worker's handler until it is empty; how many ran."""
    sqs = aws.session.client("sqs")
    url = aws.names.queues["BacktestQueue"]
    arn = aws.names.queue_arns["BacktestQueue"]
    delivered = 0
    while True:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"], VisibilityTimeout=0
        )
        messages = got.get("Messages", [])
        if not messages:
            return delivered
        if crash_first and delivered == 0:
            # the worker dies after writing the chunk's trades, before moving the checkpoint
            with pytest.raises(RuntimeError):
                backtest_service.run_chunk(
                    json.loads(messages[0]["Body"]),
                    stores=backtest_service.BacktestStores.default(get_settings()),
                    markets=worker_module.market_provider(),
                    history=worker_module.market_provider(),
                    now=NOW,
                    crash_after_write=True,
                )
            delivered += 1
            continue  # not deleted: SQS delivers it again
        answer = worker_module.lambda_handler(
            sqs_event(messages, queue_arn=arn), lambda_context(function_name="autopilot-test-backtest-worker")
        )
        assert answer == {"batchItemFailures": []}
        sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
        delivered += 1


def start(api: Api, strategy_id: str, **extra: Any) -> str:
    answer = api("POST", f"/strategies/{strategy_id}/backtests", body={**BODY, **extra})
    assert answer.status == 202, answer.body
    assert answer.body["status"] == "queued"
    return str(answer.body["backtest_id"])


def ledger(api: Api, backtest_id: str) -> list[tuple[Any, ...]]:
    trades = api("GET", f"/backtests/{backtest_id}/trades", query={"limit": "100"}).body["items"]
    return [(t["side"], t["shares"], t["price"], t["created_at"], t["reason"]) for t in trades]


def test_a_draft_strategy_backtests_in_chunks_and_reads_like_a_live_performance(
    api: Api, world: tuple[AwsEnv, RecordedPolymarketServer]
) -> None:
    # Given a DRAFT strategy that buys YES of the recorded MicroStrategy market
    strategy_id = api.create(graph=MSTR_GRAPH)
    # When a backtest is started and the worker runs its chunks from the queue
    backtest_id = start(api, strategy_id)
    assert api("GET", f"/backtests/{backtest_id}").body["status"] == "queued"
    chunks = drain(world[0])
    # Then it ran 144 slots in 3 chunks of at most 50 and completed with the performance document
    assert chunks == 3
    got = api("GET", f"/backtests/{backtest_id}").body
    assert got["status"] == "completed" and got["progress"] == 1
    assert got["slots_total"] == got["slots_done"] == 144
    assert got["graph_version"] == 1 and got["strategy_id"] == strategy_id
    assert got["fill_model"] == {"half_spread_bps": 100, "slippage_bps": 25, "fees": "market"}
    assert got["data_fidelity"]["slot_minutes"] == 60
    performance = got["performance"]
    assert performance["ledger_trades_count"] == 1 and performance["open_positions_count"] == 1
    assert len(performance["equity_curve"]) == 144
    # its one trade is the entry at the first slot, at the recorded price + 125 bps
    trades = api("GET", f"/backtests/{backtest_id}/trades").body["items"]
    assert [(t["side"], t["created_at"]) for t in trades] == [("BUY", START)]
    executions = api("GET", f"/backtests/{backtest_id}/executions").body["items"]
    assert [(x["scheduled_for"], x["trades_created"]) for x in executions] == [(START, 1)]
    listed = api("GET", f"/strategies/{strategy_id}/backtests").body["items"]
    assert [b["backtest_id"] for b in listed] == [backtest_id]


def test_a_second_backtest_over_the_same_markets_fetches_no_history(
    api: Api, world: tuple[AwsEnv, RecordedPolymarketServer]
) -> None:
    # Given one completed backtest over the period (its history windows are cached in the table)
    strategy_id = api.create(graph=MSTR_GRAPH)
    start(api, strategy_id)
    drain(world[0])
    server = world[1]
    server.reset_counters()
    # When the same period is backtested again
    backtest_id = start(api, strategy_id)
    drain(world[0])
    # Then not one history request reached the market data server
    assert server.request_count("/prices-history") == 0
    assert api("GET", f"/backtests/{backtest_id}").body["history_requests"] == 0


def test_a_chunk_killed_after_writing_resumes_without_a_duplicate_trade(
    api: Api, world: tuple[AwsEnv, RecordedPolymarketServer]
) -> None:
    # Given a clean backtest's ledger
    strategy_id = api.create(graph=MSTR_GRAPH)
    clean = start(api, strategy_id)
    drain(world[0])
    # When another backtest's first chunk dies after writing its trades, and SQS delivers it again
    crashed = start(api, strategy_id)
    drain(world[0], crash_first=True)
    # Then it completes with the same ledger, trade for trade, and no extra one
    assert api("GET", f"/backtests/{crashed}").body["status"] == "completed"
    assert ledger(api, crashed) == ledger(api, clean)
    assert len(ledger(api, crashed)) == 1


def test_backtests_never_touch_live_state(api: Api, world: tuple[AwsEnv, RecordedPolymarketServer]) -> None:
    # Given the live tables as they are
    strategy_id = api.create(graph=MSTR_GRAPH)
    before = api.snapshot()
    # When a backtest runs to completion
    start(api, strategy_id)
    drain(world[0])
    # Then no live table changed: no trade, log, account, portfolio or strategy item
    assert api.snapshot() == before


def test_an_unsaved_graph_is_backtested_through_post_backtests(
    api: Api, world: tuple[AwsEnv, RecordedPolymarketServer]
) -> None:
    # When the builder's unsaved graph is backtested
    answer = api("POST", "/backtests", body={**BODY, "node_graph": MSTR_GRAPH})
    assert answer.status == 202
    drain(world[0])
    # Then it completes without a strategy
    got = api("GET", f"/backtests/{answer.body['backtest_id']}").body
    assert got["status"] == "completed" and got["strategy_id"] is None


def test_fields_without_history_are_refused_naming_the_node_and_field_unless_proxies_are_allowed(
    api: Api, world: tuple[AwsEnv, RecordedPolymarketServer]
) -> None:
    # Given DESIGN 5's example graph (a volume filter, a source ordered by volume)
    strategy_id = api.create()
    # When it is backtested without and with allow_proxies
    refused = api("POST", f"/strategies/{strategy_id}/backtests", body=BODY)
    accepted = api("POST", f"/strategies/{strategy_id}/backtests", body={**BODY, "allow_proxies": True})
    # Then the first is a 422 naming node and field, the second runs with look-ahead warnings
    assert refused.status == 422 and refused.body["error"]["code"] == "validation_error"
    assert "node 'flt' field 'volume'" in refused.body["error"]["message"]
    assert accepted.status == 202
    drain(world[0])
    got = api("GET", f"/backtests/{accepted.body['backtest_id']}").body
    proxies = [(w["node_id"], w["field"]) for w in got["warnings"] if w["code"] == "look_ahead_proxy"]
    assert ("flt", "volume") in proxies


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"start": "2025-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z"}, "365 days"),
        ({"start": "2026-01-20T00:00:00Z", "end": "2026-02-05T00:00:00Z", "frequency": "1m"}, "20000 slots"),
        ({"end": "2026-03-01T00:00:00Z"}, "after now"),
        ({"frequency": None, "schedule_cron": "0 0 30 2 *"}, "schedule"),
    ],
)
def test_out_of_bounds_requests_are_422_and_create_nothing(
    api: Api, change: dict[str, Any], where: str
) -> None:
    # Given a strategy
    strategy_id = api.create(graph=MSTR_GRAPH)
    body = {k: v for k, v in {**BODY, **change}.items() if v is not None}
    # When a backtest over too long a period, too many slots, the future or an impossible schedule is asked
    answer = api("POST", f"/strategies/{strategy_id}/backtests", body=body)
    # Then 422 and no backtest exists
    assert answer.status == 422, (where, answer.body)
    assert api("GET", f"/strategies/{strategy_id}/backtests").body["items"] == []


def test_a_third_running_backtest_is_429_and_a_cancelled_one_frees_the_quota(api: Api) -> None:
    # Given two queued backtests of one user
    strategy_id = api.create(graph=MSTR_GRAPH)
    first = start(api, strategy_id)
    start(api, strategy_id)
    # When a third is asked, then one is cancelled and the third asked again
    third = api("POST", f"/strategies/{strategy_id}/backtests", body=BODY)
    cancelled = api("DELETE", f"/backtests/{first}")
    again = api("POST", f"/strategies/{strategy_id}/backtests", body=BODY)
    # Then 429 quota_exceeded, the cancel answers cancelled, and the retry is accepted
    assert third.status == 429 and third.body["error"]["code"] == "quota_exceeded"
    assert cancelled.status == 200 and cancelled.body["status"] == "cancelled"
    assert api("GET", f"/backtests/{first}").body["status"] == "cancelled"
    assert again.status == 202


def test_backtests_are_owner_scoped_and_deleted_with_their_strategy(
    api: Api, world: tuple[AwsEnv, RecordedPolymarketServer]
) -> None:
    # Given a completed backtest of a strategy
    strategy_id = api.create(graph=MSTR_GRAPH)
    backtest_id = start(api, strategy_id)
    drain(world[0])
    # When another user reads it, and then the owner deletes the strategy
    foreign = [
        api("GET", f"/backtests/{backtest_id}", sub=api.other),
        api("GET", f"/backtests/{backtest_id}/trades", sub=api.other),
        api("DELETE", f"/backtests/{backtest_id}", sub=api.other),
        api("POST", f"/strategies/{strategy_id}/backtests", sub=api.other, body=BODY),
    ]
    deleted = api("DELETE", f"/strategies/{strategy_id}")
    # Then the other user gets 404 like a missing one, and the strategy's deletion took the backtest along
    assert [a.status for a in foreign] == [404, 404, 404, 404]
    assert foreign[0].body["error"]["code"] == "backtest_not_found"
    assert deleted.status == 204
    assert api("GET", f"/backtests/{backtest_id}").status == 404


def test_deleting_a_finished_backtest_removes_it(
    api: Api, world: tuple[AwsEnv, RecordedPolymarketServer]
) -> None:
    # Given a completed backtest
    strategy_id = api.create(graph=MSTR_GRAPH)
    backtest_id = start(api, strategy_id)
    drain(world[0])
    # When it is deleted
    answer = api("DELETE", f"/backtests/{backtest_id}")
    # Then it answers deleted and is gone
    assert answer.status == 200 and answer.body == {"backtest_id": backtest_id, "status": "deleted"}
    assert api("GET", f"/backtests/{backtest_id}").status == 404


def test_an_older_graph_version_is_backtested_and_one_the_strategy_never_had_is_404(
    api: Api, world: tuple[AwsEnv, RecordedPolymarketServer]
) -> None:
    # Given a strategy whose first graph buys the recorded market and whose current (second) one buys nothing
    strategy_id = api.create(graph=MSTR_GRAPH)
    nothing = json.loads(json.dumps(MSTR_GRAPH))
    nothing["nodes"][1]["config"]["conditions"][0]["value"] = "no market asks this"
    assert api("PATCH", f"/strategies/{strategy_id}", body={"node_graph": nothing}).status == 200
    # When version 1, the current version and a version it never had are backtested
    old = start(api, strategy_id, graph_version=1)
    current = start(api, strategy_id)
    drain(world[0])
    missing = api("POST", f"/strategies/{strategy_id}/backtests", body={**BODY, "graph_version": 7})
    # Then version 1 ran its own graph (one entry), the current one none, and version 7 is 404 not_found
    got_old, got_current = (api("GET", f"/backtests/{b}").body for b in (old, current))
    assert (got_old["status"], got_old["graph_version"], got_old["trades_count"]) == ("completed", 1, 1)
    assert (got_current["graph_version"], got_current["trades_count"]) == (2, 0)
    assert missing.status == 404 and missing.body["error"]["code"] == "not_found"
    assert "graph_version 7 not found" in missing.body["error"]["message"]


def test_the_comparison_shows_live_and_backtest_over_the_same_period(
    api: Api, world: tuple[AwsEnv, RecordedPolymarketServer]
) -> None:
    # Given a deployed strategy and a completed backtest of its graph version
    strategy_id = api.create(graph=MSTR_GRAPH)
    assert (
        api(
            "POST", f"/strategies/{strategy_id}/deploy", body={"paper_bankroll_usd": 1000, "frequency": "1h"}
        ).status
        == 200
    )
    backtest_id = start(api, strategy_id)
    drain(world[0])
    # When the comparison is read
    answer = api("GET", f"/strategies/{strategy_id}/backtests/{backtest_id}/comparison")
    # Then both sides are there, for the same graph version and period
    assert answer.status == 200, answer.body
    body = answer.body
    assert body["same_graph_version"] is True and body["graph_version"] == 1
    assert body["start"] == START and body["end"] == END
    assert body["backtest"]["ledger_trades_count"] == 1
    assert body["live"]["bankroll_usd"] == 1000
    assert set(body["difference"]) == {"period_profit_usd", "max_drawdown_relative", "win_rate"}
    # and another strategy's comparison route does not reach this backtest
    other = api.create(graph=MSTR_GRAPH)
    assert api("GET", f"/strategies/{other}/backtests/{backtest_id}/comparison").status == 404


def test_the_entry_is_priced_from_the_last_point_at_or_before_its_slot(
    api: Api, world: tuple[AwsEnv, RecordedPolymarketServer]
) -> None:
    # Given a backtest that buys the recorded market at its first slot
    strategy_id = api.create(graph=MSTR_GRAPH)
    backtest_id = start(api, strategy_id)
    drain(world[0])
    # When the same hourly history is read from the server up to that slot
    slot = int(datetime(2026, 2, 1, tzinfo=UTC).timestamp())
    history = client_for(world[1]).get_price_history(
        MSTR_YES,
        HistoryWindow(start_ts=slot - 86_400, end_ts=slot + 86_400, fidelity=60),
        deadline=Deadline(5),
    )
    before = [p for p in history.points if p.t <= slot]
    after = [p for p in history.points if p.t > slot]
    # Then the entry's price is the last point at or before the slot plus 125 bps, never a later point's
    trade = api("GET", f"/backtests/{backtest_id}/trades").body["items"][0]
    expected = (before[-1].p * Decimal("1.0125")).quantize(Decimal("0.000001"))
    assert Decimal(str(trade["fill"]["best_price"])) == expected
    assert after  # later points existed, and were not used


def test_the_cli_starts_a_backtest_reads_it_and_compares_it_with_the_live_run(
    api: Api, world: tuple[AwsEnv, RecordedPolymarketServer]
) -> None:
    import io

    from local import cli
    from local.auth import DevTokenIssuer
    from local.gateway import Gateway, GatewayServer

    # Given the control API behind the local gateway, and a deployed strategy
    issuer = DevTokenIssuer(now=lambda: NOW)
    gateway = Gateway(
        lambda function, event: app_module.lambda_handler(event, lambda_context(function_name="control-api")),
        issuer,
    )
    server = GatewayServer(gateway).start()
    strategy_id = api.create(graph=MSTR_GRAPH)
    deploy = {"paper_bankroll_usd": 1000, "frequency": "1h"}
    assert api("POST", f"/strategies/{strategy_id}/deploy", body=deploy).status == 200
    environ = {"AUTOPILOT_API_URL": server.url, "AUTOPILOT_TOKEN": issuer.issue(api.user)}

    def run(*argv: str) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(list(argv), out=out, err=err, environ=environ)
        return code, out.getvalue() + err.getvalue()

    try:
        # When the CLI starts a backtest, the worker runs it, and the CLI reads it and the comparison
        code, started = run(
            "backtest", "start", strategy_id, "--start", START, "--end", END, "--bankroll", "1000", "--json"
        )
        backtest_id = json.loads(started)["backtest_id"]
        drain(world[0])
        got_code, got = run("backtest", "get", backtest_id)
        cmp_code, compared = run("backtest", "compare", strategy_id, backtest_id)
        refused_code, refused = run(
            "backtest",
            "start",
            strategy_id,
            "--start",
            START,
            "--end",
            "2027-01-01T00:00:00Z",
            "--bankroll",
            "1000",
        )
    finally:
        server.stop()
    # Then each answered: the backtest's table with its metrics, both columns side by side, and a 422 line
    assert code == 0 and got_code == 0 and cmp_code == 0
    assert "status" in got and "completed" in got and "ledger trades" in got
    assert "BACKTEST" in compared and "LIVE" in compared and "total profit (USD)" in compared
    assert refused_code == 1 and refused.startswith("error: 422 validation_error")
