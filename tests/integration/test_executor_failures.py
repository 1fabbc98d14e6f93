"""The cron executor under failure: a hanging market API, a strategy that always fails, a market outage and
throttled DynamoDB calls, through `lambda_handler` with real scheduled events."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any, ClassVar

from botocore.awsrequest import AWSResponse
from pydantic import BaseModel, ConfigDict

from engine.models.strategy import NodeGraph, StrategyStatus
from engine.nodes.base import NodeOutput, RunContext
from engine.nodes.registry import register, unregister
from engine.storage.dynamo import get_clients
from engine.storage.strategies import StrategyRepository
from tests.integration.test_executor_exactly_once import logs_and_trades, one_position_graph, seed_running
from tests.support.builders import T0, make_strategy
from tests.support.lambda_context import handler_stack


class ExplodeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Explode:
    """A node type whose run always raises: the strategy using it fails every run."""

    type_name: ClassVar[str] = "TEST_EXPLODE"
    config_model: ClassVar[type[BaseModel]] = ExplodeConfig
    is_source: ClassVar[bool] = False
    is_sink: ClassVar[bool] = False

    def run(self, config: ExplodeConfig, inputs: list[Any], ctx: RunContext) -> NodeOutput:
        raise RuntimeError("this node always fails")


def exploding_graph() -> NodeGraph:
    graph = one_position_graph().model_dump()
    graph["nodes"].insert(1, {"id": "boom", "type": "TEST_EXPLODE", "config": {}})
    graph["edges"] = [
        {"source": "src", "target": "boom"},
        {"source": "boom", "target": "flt"},
        {"source": "flt", "target": "orc"},
    ]
    return NodeGraph.model_validate(graph)


def subscribe_queue(stack: Any) -> str:
    """An SQS queue subscribed to the notifications topic, to read what was published."""
    sqs = stack.aws.session.client("sqs")
    sns = stack.aws.session.client("sns")
    url = sqs.create_queue(QueueName="auto-pause-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=os.environ["NOTIFICATIONS_TOPIC_ARN"], Protocol="sqs", Endpoint=arn)
    return url


def drain(stack: Any, url: str) -> list[dict[str, Any]]:
    sqs = stack.aws.session.client("sqs")
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        messages += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return messages


def test_a_hanging_market_api_still_returns_inside_the_budget_and_logs_every_run() -> None:
    with handler_stack(
        SAFETY_MARGIN_SECONDS="1", RUN_DEADLINE_SECONDS="3", HTTP_TIMEOUT_SECONDS="5"
    ) as stack:
        # Given 5 due strategies and a market API that never answers
        ids = seed_running(5)
        stack.server.set_fault("hang")

        # When the tick runs with 6 seconds left
        started = time.monotonic()
        report = stack.cron(T0 + timedelta(seconds=1), budget_seconds=6)
        elapsed = time.monotonic() - started

        # Then it returned in time, every run is logged as a market-data timeout that does not count,
        # and each strategy moved on to its next slot
        assert elapsed < 6
        assert report["executed"] == 5 and report["timed_out"] == 5
        logs, trades = logs_and_trades(stack)
        assert sorted(log["strategy_id"] for log in logs) == sorted(ids)
        assert {(log["status"], log["error_code"]) for log in logs} == {
            ("timeout", "market_data_unavailable")
        }
        assert trades == []
        repo = StrategyRepository()
        for sid in ids:
            stored = repo.find(sid)
            assert stored is not None
            assert stored.due_at == T0 + timedelta(minutes=1) and stored.consecutive_failures == 0


def test_a_strategy_that_always_fails_pauses_itself_after_three_ticks_and_notifies_its_owner_once() -> None:
    register(Explode)
    try:
        with handler_stack() as stack:
            # Given one strategy that always fails and three healthy ones, and a subscriber to the topic
            failing = make_strategy(
                status=StrategyStatus.RUNNING, due_at=T0, node_graph=exploding_graph(), owner="owner-7"
            )
            StrategyRepository().put_many([failing])
            healthy = seed_running(3)
            inbox = subscribe_queue(stack)

            # When four ticks pass
            reports = [stack.cron(T0 + timedelta(minutes=m, seconds=1)) for m in range(4)]

            # Then it failed three times, paused itself and one notification names it and its owner
            stored = StrategyRepository().find(failing.strategy_id)
            assert stored is not None
            assert stored.status is StrategyStatus.PAUSED
            assert stored.pause_reason == "auto:consecutive_failures" and stored.due_at is None
            logs, _ = logs_and_trades(stack)
            mine = sorted(
                (log["scheduled_for"], log["status"], log["error_code"])
                for log in logs
                if log["strategy_id"] == failing.strategy_id
            )
            assert [m[1:] for m in mine] == [("failed", "node_error")] * 3
            notes = drain(stack, inbox)
            assert len(notes) == 1
            assert notes[0]["MessageAttributes"]["owner"]["Value"] == "owner-7"
            body = json.loads(notes[0]["Message"])
            assert body["strategy_id"] == failing.strategy_id and body["owner"] == "owner-7"
            # and the others ran normally in the same ticks
            per_strategy = Counter(log["strategy_id"] for log in logs if log["status"] == "completed")
            assert all(per_strategy[sid] == 4 for sid in healthy)
            assert [r["auto_paused"] for r in reports] == [0, 0, 1, 0]
    finally:
        unregister(Explode.type_name)


def test_a_market_outage_pauses_nobody() -> None:
    with handler_stack() as stack:
        # Given strategies allowed 3 failures in a row and a market API answering 500
        ids = seed_running(3)
        stack.server.set_fault("error500")

        # When four ticks pass
        reports = [stack.cron(T0 + timedelta(minutes=m)) for m in range(4)]

        # Then every run is logged failed for market data, and nobody paused
        logs, _ = logs_and_trades(stack)
        assert len(logs) == 12
        assert {(log["status"], log["error_code"]) for log in logs} == {("failed", "market_data_unavailable")}
        assert sum(r["auto_paused"] for r in reports) == 0
        for sid in ids:
            stored = StrategyRepository().find(sid)
            assert stored is not None
            assert stored.status is StrategyStatus.RUNNING and stored.consecutive_failures == 0


class Throttler:
    """Answers about `rate` of the DynamoDB calls of one client with ThrottlingException (seeded)."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.throttled = 0
        self.calls = 0

    def __call__(self, **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        with self.lock:
            self.calls += 1
            if self.random.random() >= self.rate:
                return None
            self.throttled += 1
        response = AWSResponse(
            url="https://dynamodb.us-east-1.amazonaws.com/", status_code=400, headers={}, raw=None
        )
        parsed = {
            "Error": {
                "Code": "ThrottlingException",
                "Message": "Rate of requests exceeds the allowed throughput.",
            },
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return response, parsed


def test_with_five_percent_of_dynamodb_calls_throttled_every_due_slot_still_runs_exactly_once() -> None:
    with handler_stack(CLAIM_LEASE_SECONDS="30") as stack:
        # Given 30 strategies every 5 minutes, and 5% of the engine's DynamoDB calls throttled
        ids = seed_running(30, schedule_cron="*/5 * * * *", frequency="5m")
        throttler = Throttler(0.05, seed=7)
        client = get_clients().dynamodb
        client.meta.events.register("before-call.dynamodb.*", throttler, unique_id="test-throttle")
        try:
            # When ten minutes of ticks pass (two slots each)
            for minute in range(10):
                stack.cron(T0 + timedelta(minutes=minute, seconds=2))
        finally:
            client.meta.events.unregister("before-call.dynamodb.*", unique_id="test-throttle")

        # Then calls were throttled, yet each strategy ran each slot exactly once, and nothing traded twice
        assert throttler.throttled > 10
        logs, trades = logs_and_trades(stack)
        runs = Counter(
            (log["strategy_id"], log["scheduled_for"]) for log in logs if log["status"] != "skipped"
        )
        expected = {
            (sid, slot) for sid in ids for slot in ("2026-11-24T12:00:00.000Z", "2026-11-24T12:05:00.000Z")
        }
        assert set(runs) == expected and set(runs.values()) == {1}
        assert not [log for log in logs if log["status"] == "skipped"]
        assert len({t["trade_id"] for t in trades}) == len(trades)
