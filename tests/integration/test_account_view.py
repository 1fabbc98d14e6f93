"""The account-wide view on moto: summaries kept by the real stream, GET /portfolio, the combined curve's
time-weighted returns (deploys and deletions are flows), and GET /strategies/compare."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.ledger import apply_to_account
from engine.models.trading import Trade
from engine.storage.account_view import AccountViewRepository
from engine.storage.dynamo import reset_clients
from engine.storage.portfolios import AccountRepository
from engine.storage.runs import RunCommit, RunRepository
from functions.control_api import app as api_app
from functions.portfolio_stream import app as stream_app
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import T0, make_trade
from tests.support.http import Api
from tests.support.lambda_context import FakeLambdaContext
from tests.support.streams import Desk, StreamReader, stream_event, template_stream_filters

D = Decimal
H = timedelta(hours=1)
OWNER = "user-1"  # the builders' default owner


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    reset_clients()
    with moto_stack() as env:
        yield env
    reset_clients()


@pytest.fixture
def stream(aws: AwsEnv) -> StreamReader:
    client = aws.session.client("dynamodbstreams")
    return StreamReader(client, aws.names.streams["TradesTable"], filters=template_stream_filters())


@pytest.fixture
def api(aws: AwsEnv) -> Api:
    return Api(aws, api_app.lambda_handler, user=OWNER, other="user-2")


def deliver(stream: StreamReader) -> None:
    context = FakeLambdaContext(function_name="autopilot-test-portfolio-stream")
    assert stream_app.lambda_handler(stream_event(stream.read()), context) == {"batchItemFailures": []}


def buy(
    strategy_id: str, market: str, shares: str, price: str, *, at: datetime, event: str, tags: list[str]
) -> Trade:
    """One committed run buying `shares` of `market` (marked at the price paid), with event and tags."""
    before = AccountRepository().get(strategy_id)
    assert before is not None
    trade = make_trade(
        strategy_id,
        seq=before.trade_seq + 1,
        epoch=before.epoch,
        slot_key=at.isoformat(),
        market_id=market,
        shares=D(shares),
        price=D(price),
        fee_usd=D(0),
        created_at=at,
        event_id=event,
        tags=tags,
    )
    result = RunRepository().commit_run(
        RunCommit(
            strategy_id=strategy_id,
            trades=[trade],
            account_before=before,
            account_after=apply_to_account(before, [trade]),
            marks={f"tok-{market}-yes": {"price": D(price), "status": "open"}},
            marked_at=at,
        )
    )
    assert result.ok
    return trade


def mark(desk: Desk, strategy_id: str, market: str, price: str, *, at: datetime) -> None:
    desk.run(strategy_id, at=at, marks={market: (D(price), "open")})


def test_get_portfolio_sums_every_strategy_with_exposure_by_market_event_and_tag(
    api: Api, stream: StreamReader
) -> None:
    # Given three strategies of the user: two share market m1 (event e1), one holds m2 (event e2)
    desk = Desk()
    a, b, c = desk.deploy(), desk.deploy(bankroll=D(2000)), desk.deploy()
    buy(a, "m1", "100", "0.40", at=T0, event="e1", tags=["Politics"])
    buy(b, "m1", "200", "0.50", at=T0, event="e1", tags=["Politics", "US"])
    buy(c, "m2", "50", "0.20", at=T0, event="e2", tags=["Sports"])
    deliver(stream)
    mark(desk, a, "m1", "0.60", at=T0 + H)  # a: +20 unrealized
    deliver(stream)

    # When the owner and another user read their account
    mine = api("GET", "/portfolio")
    theirs = api("GET", "/portfolio", sub="user-2")

    # Then the owner's paper figures are the sums, exposure is the cost basis, and shares add up to 1
    assert mine.status == theirs.status == 200
    paper = mine.body["paper"]
    assert (paper["strategies_count"], paper["bankroll_usd"], paper["equity_usd"]) == (3, 4000, 4020)
    assert (paper["cash_usd"], paper["unrealized_pnl_usd"], paper["total_pnl_usd"]) == (3850, 20, 20)
    assert paper["open_positions_count"] == 3
    exposure = paper["exposure"]
    assert exposure["total_usd"] == 150
    assert [(x["key"], x["exposure_usd"]) for x in exposure["by_market"]] == [("m1", 140), ("m2", 10)]
    assert exposure["by_market"][0]["label"] == "Will m1 happen?"
    assert [(x["key"], x["exposure_usd"]) for x in exposure["by_event"]] == [("e1", 140), ("e2", 10)]
    assert [(x["key"], x["exposure_usd"]) for x in exposure["by_tag"]] == [
        ("Politics", 140),
        ("US", 100),
        ("Sports", 10),
    ]
    assert [s["strategy_id"] for s in paper["strategies"]] == [b, a, c]
    assert sum(D(str(s["share"])) for s in paper["strategies"]) == pytest.approx(D(1), abs=D("0.00001"))
    assert mine.body["live"]["strategies_count"] == 0
    assert theirs.body["paper"]["strategies_count"] == 0 and theirs.body["paper"]["equity_usd"] == 0


def test_deploying_and_deleting_strategies_are_flows_that_move_no_time_weighted_return(
    api: Api, stream: StreamReader
) -> None:
    # Given strategy a (1,000) that gains 10 % by hour 1, then b deploys (1,000) and loses 5 % by hour 2
    desk = Desk()
    a = desk.deploy()
    buy(a, "m1", "1000", "0.50", at=T0, event="e1", tags=[])
    deliver(stream)
    mark(desk, a, "m1", "0.60", at=T0 + H)  # +100
    deliver(stream)
    b = desk.deploy(now=T0 + H)
    buy(b, "m2", "1000", "0.50", at=T0 + 2 * H, event="e2", tags=[])
    mark(desk, b, "m2", "0.45", at=T0 + 2 * H + timedelta(minutes=5))  # -50
    deliver(stream)
    before = api("GET", "/portfolio/performance").body

    # When b is deleted (its money leaves the account)
    assert api("DELETE", f"/strategies/{b}").status == 204
    after = api("GET", "/portfolio/performance").body

    # Then hour 1 returned +10 %, hour 2 returned -50 / 2,100, and the deletion hour returned nothing
    index_1 = D("1.1")
    index_2 = index_1 * (1 + D(-50) / D(2100))
    assert [p["flow_usd"] for p in before["equity_curve"]] == [1000, 0, 1000]
    assert D(str(before["equity_curve"][1]["twr_index"])) == index_1
    assert D(str(before["equity_curve"][2]["twr_index"])) == index_2.quantize(D("0.000001"))
    assert [p["equity_usd"] for p in after["equity_curve"]] == [1000, 1100, 2050, 1100]
    assert after["equity_curve"][-1]["flow_usd"] == -950
    assert after["equity_curve"][-1]["twr_index"] == before["equity_curve"][-1]["twr_index"]
    assert after["time_weighted_return"] == before["time_weighted_return"]
    assert AccountViewRepository().get_summary(OWNER, b) is None


def test_compare_shows_metrics_side_by_side_and_curves_normalized_to_the_bankroll(
    api: Api, stream: StreamReader
) -> None:
    # Given two strategies of the user with different bankrolls
    desk = Desk()
    a, b = desk.deploy(), desk.deploy(bankroll=D(2000))
    buy(a, "m1", "100", "0.50", at=T0, event="e1", tags=[])
    deliver(stream)
    foreign = api.in_status("DEPLOYED", sub="user-2")

    # When they are compared, and a foreign or unknown id is mixed in
    answer = api("GET", "/strategies/compare", query={"ids": f"{a},{b}"})
    with_foreign = api("GET", "/strategies/compare", query={"ids": f"{a},{foreign}"})
    with_unknown = api("GET", "/strategies/compare", query={"ids": f"{a},nope"})
    one = api("GET", "/strategies/compare", query={"ids": a})

    # Then both appear with their metrics and curves starting at 1; foreign and unknown are 404; one is 422
    assert answer.status == 200, answer.body
    items: list[dict[str, Any]] = answer.body["items"]
    assert [(i["strategy_id"], i["bankroll_usd"]) for i in items] == [(a, 1000), (b, 2000)]
    assert all(i["normalized_curve"][0]["value"] == 1 for i in items)
    assert {"sharpe", "sortino", "calmar", "cagr", "sqn", "max_drawdown_usd"} <= set(items[0]["metrics"])
    assert (with_foreign.status, with_foreign.error_code) == (404, "strategy_not_found")
    assert (with_unknown.status, with_unknown.error_code) == (404, "strategy_not_found")
    assert (one.status, one.error_code) == (422, "validation_error")
