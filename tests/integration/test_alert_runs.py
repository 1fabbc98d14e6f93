"""Alert strategies through the cron path: NOTIFY's message reaches the owner's topic and the webhook
queue after the commit, `on: new` vs `every_run` over a sequence of ticks; a retried tick tells nothing
twice."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import pytest

from engine.models.strategy import NodeGraph, StrategyStatus
from engine.storage.alert_state import AlertStateRepository
from engine.storage.strategies import StrategyRepository
from tests.support.builders import T0, make_strategy
from tests.support.lambda_context import HandlerStack, handler_stack


def alert_graph(on: str = "new", limit: int = 5) -> NodeGraph:
    return NodeGraph.model_validate(
        {
            "nodes": [
                {"id": "src", "type": "DATA_SOURCE", "config": {"limit": limit}},
                {
                    "id": "alert",
                    "type": "NOTIFY",
                    "config": {"on": on, "title": "{strategy_name}: {count} market(s)"},
                },
            ],
            "edges": [{"source": "src", "target": "alert"}],
        }
    )


def seed_alert_strategy(on: str = "new", owner: str = "owner-1") -> str:
    strategy = make_strategy(
        status=StrategyStatus.RUNNING,
        owner=owner,
        strategy_name="Watch",
        node_graph=alert_graph(on),
        paper_bankroll_usd=None,
    )
    StrategyRepository().put_many([strategy])
    return strategy.strategy_id


def subscribe_probe(stack: HandlerStack) -> str:
    """A queue subscribed (raw) to the user-notifications topic: what SNS would hand the owner."""
    session = stack.aws.session
    sqs, sns = session.client("sqs"), session.client("sns")
    url = sqs.create_queue(QueueName="probe")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=os.environ["USER_NOTIFICATIONS_TOPIC_ARN"],
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "false"},
    )
    return str(url)


def drain(stack: HandlerStack, url: str) -> list[dict[str, Any]]:
    sqs = stack.aws.session.client("sqs")
    bodies: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_an_alert_strategy_tells_its_owner_once_per_new_set_and_never_trades() -> None:
    with handler_stack(SAFETY_MARGIN_SECONDS="2") as stack:
        # Given a running alert strategy (NOTIFY only, no bankroll), and a probe on the owners' topic
        sid = seed_alert_strategy("new")
        probe = subscribe_probe(stack)
        webhook_queue = os.environ["WEBHOOK_QUEUE_URL"]

        # When the first tick runs it
        report = stack.cron(T0 + timedelta(seconds=2))

        # Then the owner's topic got one message with the owner attribute, and the webhook queue the same body
        assert report["executed"] == 1
        [published] = drain(stack, probe)
        assert published["MessageAttributes"]["owner"]["Value"] == "owner-1"
        message = json.loads(published["Message"])
        [queued] = drain(stack, webhook_queue)
        assert queued == message
        assert message["event"] == "strategy_alert" and message["owner"] == "owner-1"
        assert message["title"] == "Watch: 5 market(s)" and message["count"] == 5
        assert message["id"] == f"{message['execution_id']}:alert"
        assert len(message["text"].splitlines()) == 5
        # and the node's set is kept, and nothing traded
        state = AlertStateRepository().get(sid)
        assert len(state.seen["alert"]) == 5 and state.version == 1
        trades = stack.aws.session.client("dynamodb").scan(TableName=os.environ["TRADES_TABLE"])["Items"]
        assert trades == []

        # When the next tick sees the same markets
        stack.cron(T0 + timedelta(minutes=1, seconds=2))
        # Then nothing is new: no message (and the state is not rewritten)
        assert drain(stack, probe) == [] and drain(stack, webhook_queue) == []
        assert AlertStateRepository().get(sid).version == 1

        # When the first tick is delivered again (a retry) / Then it runs nothing and tells nothing
        again = stack.cron(T0 + timedelta(seconds=2))
        assert again["executed"] == 0
        assert drain(stack, probe) == [] and drain(stack, webhook_queue) == []


def test_every_run_tells_the_whole_set_on_each_tick() -> None:
    with handler_stack(SAFETY_MARGIN_SECONDS="2") as stack:
        # Given an alert strategy with on: every_run
        seed_alert_strategy("every_run")
        webhook_queue = os.environ["WEBHOOK_QUEUE_URL"]
        # When three ticks run it
        for minute in range(3):
            stack.cron(T0 + timedelta(minutes=minute, seconds=2))
        # Then each tick told the five markets, each under its own id
        messages = drain(stack, webhook_queue)
        assert [m["count"] for m in messages] == [5, 5, 5]
        assert len({m["id"] for m in messages}) == 3


def test_a_run_that_read_an_older_alert_state_cannot_commit_its_new_set() -> None:
    from engine.errors import AccountConflict
    from engine.storage.runs import RunCommit, RunRepository

    with handler_stack(SAFETY_MARGIN_SECONDS="2"):
        # Given an alert strategy whose first run kept its set (version 1)
        sid = seed_alert_strategy("new")
        RunRepository().commit_run(
            RunCommit(sid, alert_seen={"alert": frozenset({"a"})}, alert_state_version=0)
        )
        assert AlertStateRepository().get(sid).version == 1
        # When an overlapping run that read the state before that write commits its own set
        # Then it is refused like an account conflict (the run re-reads and decides again)
        stale = RunCommit(sid, alert_seen={"alert": frozenset({"a", "b"})}, alert_state_version=0)
        with pytest.raises(AccountConflict):
            RunRepository().commit_run(stale)
        assert AlertStateRepository().get(sid).seen == {"alert": frozenset({"a"})}
        # And an empty set is stored and read back as empty
        RunRepository().commit_run(RunCommit(sid, alert_seen={"alert": frozenset()}, alert_state_version=1))
        assert AlertStateRepository().get(sid).seen == {"alert": frozenset()}
