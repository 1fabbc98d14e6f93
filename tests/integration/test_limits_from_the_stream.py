"""The stream books each strategy's P&L for the owner's shared limits: the day's loss stops entries, and the
drawdown limit trips the kill switch (halting every running strategy) with a notification to the owner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from engine.models.risk import RiskLimits
from engine.models.strategy import StrategyStatus
from engine.models.trading import Order, TradeReason
from engine.services.risk import guard_orders
from engine.storage.dynamo import reset_clients
from engine.storage.portfolios import AccountRepository, PortfolioRepository
from engine.storage.risk import RiskRepository
from engine.storage.strategies import StrategyRepository
from functions.portfolio_stream import app as stream_app
from tests.integration.test_account_view import buy
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import T0, make_strategy
from tests.support.lambda_context import FakeLambdaContext
from tests.support.streams import Desk, StreamReader, stream_event, template_stream_filters

D = Decimal
OWNER = "careful"


@pytest.fixture
def aws() -> Iterator[AwsEnv]:
    reset_clients()
    with moto_stack() as env:
        yield env
    reset_clients()


@pytest.fixture
def stream(aws: AwsEnv) -> StreamReader:
    client = aws.session.client("dynamodbstreams")
    return StreamReader(client, aws.names.streams["TradesTable"], filters=template_stream_filters())


def deliver(stream: StreamReader) -> None:
    context = FakeLambdaContext(function_name="autopilot-test-portfolio-stream")
    assert stream_app.lambda_handler(stream_event(stream.read()), context) == {"batchItemFailures": []}


def running(**overrides: object) -> str:
    strategy = make_strategy(owner=OWNER, status=StrategyStatus.RUNNING, due_at=T0, account_guard="UTC")
    StrategyRepository().put_many([strategy])
    AccountRepository().open(strategy.strategy_id, bankroll=D(1000), epoch=0, now=T0)
    PortfolioRepository().reset(strategy.strategy_id, bankroll=D(1000), epoch=0, now=T0)
    return strategy.strategy_id


class Markets:
    def market(self, market_id: str) -> None:
        return None


def entry(market: str) -> Order:
    return Order(
        market_id=market,
        token_id=f"tok-{market}-yes",
        outcome="YES",
        outcome_label="Yes",
        question="?",
        side="BUY",
        reason=TradeReason.ENTRY,
        usd=D(50),
    )


def test_a_days_loss_past_the_stop_blocks_every_entry_of_every_strategy(stream: StreamReader) -> None:
    # Given a 60 USD daily loss stop, and a strategy that loses 100 today
    risk = RiskRepository()
    risk.put_limits(OWNER, RiskLimits(daily_loss_stop_usd=D(60)), now=T0)
    loser, other = running(), running()
    buy(loser, "m1", "1000", "0.50", at=T0, event="e1", tags=[])
    deliver(stream)
    Desk().run(loser, at=T0 + timedelta(minutes=5), marks={"m1": (D("0.40"), "open")})
    deliver(stream)

    # When another strategy of the owner wants to enter
    strategy = StrategyRepository().find(other)
    assert strategy is not None
    guarded = guard_orders(strategy, [entry("m9")], Markets(), now=T0 + timedelta(minutes=6), risk=risk)

    # Then the entry is blocked by the daily loss stop
    assert guarded.orders == []
    assert [(d["status"], d["limit"]) for d in guarded.decisions] == [("blocked", "daily_loss_stop_usd")]
    # and the next day starts afresh
    tomorrow = guard_orders(strategy, [entry("m9")], Markets(), now=T0 + timedelta(days=1), risk=risk)
    assert len(tomorrow.orders) == 1 and tomorrow.decisions == []


def test_the_drawdown_limit_halts_every_running_strategy_and_tells_the_owner(
    aws: AwsEnv, stream: StreamReader
) -> None:
    # Given a 15 % drawdown limit, two running strategies, and a subscription to the notifications topic
    sqs, sns = aws.session.client("sqs"), aws.session.client("sns")
    queue = sqs.create_queue(QueueName="owner-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if "Notifications" in t["TopicArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    risk = RiskRepository()
    risk.put_limits(OWNER, RiskLimits(max_drawdown_pct=D(15)), now=T0)
    a, b = running(), running()
    buy(a, "m1", "1000", "0.50", at=T0, event="e1", tags=[])
    deliver(stream)

    # When a's position falls from 0.50 to 0.20: -300 on its 1,000 (b has not synced yet, so the index holds
    # a alone: -30 %)
    Desk().run(a, at=T0 + timedelta(minutes=5), marks={"m1": (D("0.20"), "open")})
    deliver(stream)

    # Then the kill switch is on for the drawdown, both strategies are paused by it, and the owner is told
    _, kill, _ = risk.get_settings(OWNER)
    assert kill is not None and (kill.mode, kill.reason) == ("halt", "auto:max_drawdown")
    assert sorted(kill.paused_strategy_ids) == sorted([a, b])
    for sid in (a, b):
        strategy = StrategyRepository().find(sid)
        assert strategy is not None and strategy.pause_reason == "kill_switch"
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    bodies = [json.loads(json.loads(m["Body"])["Message"]) for m in messages]
    assert [(m["event"], m["owner"], m["reason"]) for m in bodies] == [
        ("kill_switch", OWNER, "auto:max_drawdown")
    ]
