"""The portfolio stream end to end on moto: trades committed as the executor does, the Trades table's real
stream records in Lambda's shape, through `lambda_handler`; the portfolio always equals the ledger replay."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from engine.ledger import LedgerState
from engine.models.portfolio import Portfolio
from engine.models.trading import Side
from engine.portfolio import Mark, build_portfolio
from engine.services.portfolio_sync import state_from_item
from engine.storage.dynamo import reset_clients
from engine.storage.portfolios import PortfolioRepository
from engine.storage.strategies import StrategyRepository
from engine.storage.trades import TradeRepository
from functions.portfolio_stream import app
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import T0
from tests.support.lambda_context import FakeLambdaContext
from tests.support.streams import (
    Desk,
    StreamReader,
    batches,
    lambda_record,
    stream_event,
    template_stream_filters,
)

D = Decimal
ROOT = Path(__file__).resolve().parents[2]
BUY, SELL, SETTLE = Side.BUY, Side.SELL, Side.SETTLE


@pytest.fixture
def aws() -> Iterator[AwsEnv]:
    reset_clients()
    with moto_stack() as env:
        yield env
    reset_clients()


@pytest.fixture
def desk(aws: AwsEnv) -> Desk:
    return Desk()


@pytest.fixture
def stream(aws: AwsEnv) -> StreamReader:
    client = aws.session.client("dynamodbstreams")
    return StreamReader(client, aws.names.streams["TradesTable"], filters=template_stream_filters())


def deliver(records: list[dict[str, Any]]) -> dict[str, Any]:
    context = FakeLambdaContext(function_name="autopilot-test-portfolio-stream")
    answer: dict[str, Any] = app.lambda_handler(stream_event(records), context)
    return answer


def stored_state(strategy_id: str) -> LedgerState:
    record = PortfolioRepository().get_record(strategy_id)
    assert record is not None and record.get("state") is not None
    return state_from_item(record["state"])


def portfolio_of(strategy_id: str) -> Portfolio:
    portfolio = PortfolioRepository().get_portfolio(strategy_id)
    assert portfolio is not None
    return portfolio


def expected_portfolio(desk: Desk, strategy_id: str, **replay_args: Any) -> Portfolio:
    """The read model of the replayed ledger valued at the stored marks (what the stream must show)."""
    state = desk.replay(strategy_id, **replay_args)
    stored = TradeRepository().get_marks(strategy_id)
    marks = {}
    if stored is not None:
        marks = {
            token: Mark(price=D(m["price"]), status=m["status"], at=stored["marked_at"])
            for token, m in stored["marks"].items()
        }
    built = build_portfolio(state, strategy_id=strategy_id, marks=marks, updated_at=T0)
    return built.model_copy(update={"updated_at": portfolio_of(strategy_id).updated_at})


def trade_a_while(desk: Desk, strategy_id: str, rng: random.Random, runs: int) -> None:
    """Runs that buy, add to, partly sell, sell out and settle positions in a few markets, with marks."""
    held: dict[str, D] = {}
    for i in range(runs):
        at = T0 + timedelta(minutes=5 * i)
        orders: list[tuple[Side, str, D, D]] = []
        market = f"m{rng.randrange(4)}"
        price = D(rng.randrange(20, 80)) / 100
        if market not in held or rng.random() < 0.3:
            shares = D(rng.randrange(5, 40))
            orders.append((BUY, market, shares, price))
            held[market] = held.get(market, D(0)) + shares
        else:
            kind = rng.choice((SELL, SELL, SETTLE))
            shares = (
                held[market] if kind is SETTLE or rng.random() < 0.5 else (held[market] / 2).quantize(D(1))
            )
            orders.append((kind, market, shares, D(1) if kind is SETTLE else price))
            held[market] -= shares
            if held[market] == 0:
                del held[market]
        marks = {m: (D(rng.randrange(10, 90)) / 100, "open") for m in held}
        desk.run(strategy_id, orders, at=at, marks=marks)


# --- the invariant: whatever the deliveries, the portfolio is the replay ------------------------------------


def test_batches_delivered_twice_and_shuffled_with_a_poison_record_leave_each_portfolio_equal_to_its_replay(
    desk: Desk, stream: StreamReader
) -> None:
    # Given four strategies that traded for a while (buys, partial sells, sell-outs, settlements, marks)
    rng = random.Random(6)
    strategies = [desk.deploy() for _ in range(4)]
    for strategy_id in strategies:
        trade_a_while(desk, strategy_id, rng, runs=12)
    records = stream.read()
    # and a poison record among them: its keys name no strategy
    poison = {**records[0], "dynamodb": {**records[0]["dynamodb"], "Keys": {"trade_id": {"S": "t_x"}}}}
    poison["dynamodb"]["SequenceNumber"] = "9" * 21
    deliveries = records + records + [poison]
    rng.shuffle(deliveries)

    # When they arrive in batches of 25, shuffled across strategies, each record twice
    answers = [deliver(batch) for batch in batches(deliveries, 25)]

    # Then only the poison record is reported, and every portfolio equals the replay of its ledger
    failures = [f["itemIdentifier"] for a in answers for f in a["batchItemFailures"]]
    assert failures == [poison["dynamodb"]["SequenceNumber"]]
    for strategy_id in strategies:
        assert stored_state(strategy_id) == desk.replay(strategy_id)
        assert portfolio_of(strategy_id) == expected_portfolio(desk, strategy_id)


def test_a_whole_batch_delivered_again_changes_nothing(desk: Desk, stream: StreamReader) -> None:
    # Given two strategies whose records were delivered once
    rng = random.Random(7)
    strategies = [desk.deploy() for _ in range(2)]
    for strategy_id in strategies:
        trade_a_while(desk, strategy_id, rng, runs=6)
    records = stream.read()
    deliver(records)
    before = {s: PortfolioRepository().get_record(s) for s in strategies}
    points = {s: PortfolioRepository().equity_points(s, now=T0) for s in strategies}

    # When the same batch is delivered again, and then its records one by one in reverse order
    again = deliver(records)
    for record in reversed(records):
        deliver([record])

    # Then nothing changed: the items, the equity history
    assert again == {"batchItemFailures": []}
    for strategy_id in strategies:
        assert PortfolioRepository().get_record(strategy_id) == before[strategy_id]
        assert PortfolioRepository().equity_points(strategy_id, now=T0) == points[strategy_id]


def test_a_batch_in_which_every_record_fails_raises_so_lambda_retries_and_bisects_it(
    stream: StreamReader,
) -> None:
    # Given a batch of poison records only (keys that name no strategy)
    garbage = [
        {
            "eventID": str(i),
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": stream.stream_arn,
            "dynamodb": {"Keys": {"strategy_id": {"N": "12"}}, "SequenceNumber": f"{100 + i}"},
        }
        for i in range(3)
    ]

    # When it is delivered
    # Then the invocation fails as a whole (not a partial answer listing every record)
    with pytest.raises(BatchProcessingError):
        deliver(garbage)


def test_the_records_of_a_strategy_whose_ledger_cannot_be_replayed_fail_and_the_others_are_applied(
    aws: AwsEnv, desk: Desk, stream: StreamReader
) -> None:
    # Given a healthy strategy and one whose ledger sells shares it never bought (written behind the desk)
    healthy, broken = desk.deploy(), desk.deploy()
    desk.run(healthy, [(BUY, "m1", D(10), D("0.4"))], at=T0)
    desk.run(broken, [(BUY, "m1", D(10), D("0.4"))], at=T0)
    bad = desk.trades[(broken, 0)][0].model_copy(update={"side": SELL, "trade_id": "t_bad", "seq": 1})
    trades = TradeRepository()
    aws.session.client("dynamodb").delete_item(
        TableName=trades.table,
        Key={"strategy_id": {"S": broken}, "trade_id": {"S": desk.trades[(broken, 0)][0].trade_id}},
    )
    aws.session.client("dynamodb").put_item(TableName=trades.table, Item=trades.item_for(bad))
    records = stream.read()

    # When the batch is delivered
    answer = deliver(records)

    # Then exactly the broken strategy's INSERT records are reported; the healthy one is synced
    broken_records = {
        r["dynamodb"]["SequenceNumber"]
        for r in records
        if r["dynamodb"]["Keys"]["strategy_id"]["S"] == broken
    }
    assert {f["itemIdentifier"] for f in answer["batchItemFailures"]} == broken_records
    assert stored_state(healthy) == desk.replay(healthy)


# --- marks, status, settlement, the strategy's copy ---------------------------------------------------------


def test_a_marks_only_run_moves_unrealized_pnl_and_appends_an_equity_point(
    desk: Desk, stream: StreamReader
) -> None:
    # Given a position of 100 shares bought at 0.40 and marked at 0.40, synced
    strategy_id = desk.deploy()
    desk.run(strategy_id, [(BUY, "m1", D(100), D("0.40"))], at=T0, marks={"m1": (D("0.40"), "open")})
    deliver(stream.read())
    before = portfolio_of(strategy_id)

    # When a later run trades nothing and marks the token at 0.55
    later = T0 + timedelta(minutes=7)
    desk.run(strategy_id, at=later, marks={"m1": (D("0.55"), "open")})
    answer = deliver(stream.read())

    # Then unrealized P&L moves by 100 x 0.15, and the history has a point at each run
    after = portfolio_of(strategy_id)
    assert answer == {"batchItemFailures": []}
    assert before.unrealized_pnl_usd == D("-0.10")  # the fee
    assert after.unrealized_pnl_usd == D("14.90")
    assert after.equity_usd == before.equity_usd + D(15)
    assert after.updated_at == later
    minutes = [
        (k, p.equity_usd)
        for k, p in PortfolioRepository().equity_points(strategy_id, now=later)
        if k[0] == "m"
    ]
    assert minutes == [
        ("m#2026-11-24T12:00:00Z", before.equity_usd),
        ("m#2026-11-24T12:07:00Z", after.equity_usd),
    ]


def test_a_position_in_a_closed_unresolved_market_shows_awaiting_resolution(
    desk: Desk, stream: StreamReader
) -> None:
    # Given a position, and a run that marks its market as closed but not resolved
    strategy_id = desk.deploy()
    desk.run(strategy_id, [(BUY, "m1", D(50), D("0.30")), (BUY, "m2", D(50), D("0.60"))], at=T0)
    desk.run(
        strategy_id,
        at=T0 + timedelta(hours=1),
        marks={"m1": (D("0.95"), "awaiting_resolution"), "m2": (D("0.50"), "open")},
    )

    # When the records are delivered
    deliver(stream.read())

    # Then that position says so, at its last price; the other stays open
    positions = {p.market_id: p for p in portfolio_of(strategy_id).positions}
    assert positions["m1"].status == "awaiting_resolution" and positions["m1"].mark_price == D("0.95")
    assert positions["m2"].status == "open"


def test_a_settle_trade_books_realized_pnl_and_closes_the_position(desk: Desk, stream: StreamReader) -> None:
    # Given 100 shares bought at 0.40 (fee 0.10) in a market that then resolves YES
    strategy_id = desk.deploy()
    desk.run(strategy_id, [(BUY, "m1", D(100), D("0.40"))], at=T0, marks={"m1": (D("0.40"), "open")})
    desk.run(strategy_id, [(SETTLE, "m1", D(100), D(1))], at=T0 + timedelta(days=1), marks={})

    # When the records are delivered
    deliver(stream.read())

    # Then 100 - 40.10 is realized, the win counted, nothing is open
    portfolio = portfolio_of(strategy_id)
    assert portfolio.realized_pnl_usd == D("59.90")
    assert portfolio.total_pnl_usd == D("59.90") and portfolio.cash_usd == D("1059.90")
    assert (portfolio.wins, portfolio.losses, portfolio.win_rate) == (1, 0, D(1))
    assert portfolio.open_positions_count == 0 and portfolio.settled_markets_count == 1
    assert stored_state(strategy_id) == desk.replay(strategy_id)


def test_the_strategy_carries_the_portfolio_pnl_and_positions_count_without_a_new_version(
    desk: Desk, stream: StreamReader
) -> None:
    # Given a strategy with two positions, one marked up
    strategy_id = desk.deploy()
    version = StrategyRepository().find(strategy_id).version  # type: ignore[union-attr]
    desk.run(
        strategy_id,
        [(BUY, "m1", D(100), D("0.40")), (BUY, "m2", D(10), D("0.50"))],
        at=T0,
        marks={"m1": (D("0.50"), "open"), "m2": (D("0.50"), "open")},
    )

    # When the records are delivered
    deliver(stream.read())

    # Then paper_pnl_usd is the portfolio's total P&L, and the user's version is untouched
    strategy = StrategyRepository().find(strategy_id)
    assert strategy is not None
    assert strategy.paper_pnl_usd == portfolio_of(strategy_id).total_pnl_usd == D("9.80")
    assert strategy.paper_positions_count == 2
    assert strategy.version == version


def test_records_of_a_deleted_strategy_change_nothing(desk: Desk, stream: StreamReader) -> None:
    # Given a strategy that traded and was then deleted with its data
    strategy_id = desk.deploy()
    desk.run(strategy_id, [(BUY, "m1", D(10), D("0.40"))], at=T0, marks={"m1": (D("0.40"), "open")})
    repo = StrategyRepository()
    repo.delete(strategy_id, owner="user-1", allowed_status=None)
    repo.purge_strategy_data(strategy_id)

    # When its INSERT records arrive late, and its REMOVE records too (were the filter to let them through)
    records = [lambda_record(r, stream_arn=stream.stream_arn) for r in stream.raw()]
    assert {r["eventName"] for r in records} == {"INSERT", "REMOVE"}
    answer = deliver(records)

    # Then nothing fails and no portfolio comes back to life
    assert answer == {"batchItemFailures": []}
    assert PortfolioRepository().get_record(strategy_id) is None
    assert repo.find(strategy_id) is None


# --- the sample events --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted((ROOT / "events" / "stream").glob("*.json")), ids=lambda p: p.name)
def test_the_sample_stream_events_have_lambdas_shape_and_only_the_poison_record_fails(
    aws: AwsEnv, path: Path
) -> None:
    # Given a sample event (its strategy does not exist in these tables)
    event = json.loads(path.read_text())

    # When it is delivered
    answer = deliver(event["Records"])

    # Then each record is shaped as Lambda sends it, and only records naming no strategy are reported
    for record in event["Records"]:
        assert record["eventVersion"] == "1.1" and record["eventSourceARN"].startswith("arn:aws:dynamodb:")
        assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    poison = [
        r["dynamodb"]["SequenceNumber"]
        for r in event["Records"]
        if "strategy_id" not in r["dynamodb"]["Keys"]
    ]
    assert [f["itemIdentifier"] for f in answer["batchItemFailures"]] == poison
