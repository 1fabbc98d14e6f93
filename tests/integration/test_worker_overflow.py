"""Overflow: what a tick cannot fit goes to the ExecutionQueue, and the execution worker runs it exactly once
through its `lambda_handler` with a real SQS batch; duplicates are harmless, poison is reported."""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import timedelta
from typing import Any

from engine.storage.strategies import StrategyRepository
from tests.integration.test_executor_exactly_once import logs_and_trades, seed_running
from tests.support.builders import T0
from tests.support.lambda_context import HandlerStack, handler_stack, sqs_event


def receive_all(stack: HandlerStack) -> list[dict[str, Any]]:
    sqs = stack.aws.session.client("sqs")
    url = os.environ["EXECUTION_QUEUE_URL"]
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=300
    ).get("Messages", []):
        messages += batch
    return messages


def queue_arn(stack: HandlerStack) -> str:
    sqs = stack.aws.session.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=os.environ["EXECUTION_QUEUE_URL"], AttributeNames=["QueueArn"]
    )
    return str(attributes["Attributes"]["QueueArn"])


def test_work_that_does_not_fit_is_deferred_and_the_worker_runs_it_exactly_once() -> None:
    with handler_stack(SAFETY_MARGIN_SECONDS="2", RUN_DEADLINE_SECONDS="10") as stack:
        # Given 12 due strategies and a tick with too little time left to start any run
        ids = seed_running(12)

        # When the tick runs
        report = stack.cron(T0 + timedelta(seconds=1), budget_seconds=5)

        # Then everything went to the queue as (strategy, slot, due_at) messages, and nothing ran yet
        assert report["due"] == 12 and report["deferred"] == 12 and report["executed"] == 0
        messages = receive_all(stack)
        bodies = [json.loads(m["Body"]) for m in messages]
        assert sorted(b["strategy_id"] for b in bodies) == sorted(ids)
        assert {(b["slot"], b["due_at"]) for b in bodies} == {
            ("2026-11-24T12:00:00Z", "2026-11-24T12:00:00Z")
        }

        # When the worker gets them in batches of 10 (as the event source mapping delivers them)
        arn = queue_arn(stack)
        results = [
            stack.worker(sqs_event(messages[i : i + 10], queue_arn=arn)) for i in range(0, len(messages), 10)
        ]

        # Then each ran once, for the tick's slot
        assert all(r == {"batchItemFailures": []} for r in results)
        logs, trades = logs_and_trades(stack)
        assert Counter(log["strategy_id"] for log in logs) == Counter(dict.fromkeys(ids, 1))
        assert {log["scheduled_for"] for log in logs} == {"2026-11-24T12:00:00.000Z"}
        for sid in ids:
            stored = StrategyRepository().find(sid)
            assert (
                stored is not None
                and stored.due_at == T0 + timedelta(minutes=1)
                and stored.claim_token is None
            )

        # When a message is delivered again (SQS is at-least-once)
        again = stack.worker(sqs_event(messages[:3], queue_arn=arn))

        # Then nothing runs twice
        assert again == {"batchItemFailures": []}
        assert logs_and_trades(stack) == (logs, trades)


def test_a_poison_message_is_reported_as_a_batch_item_failure_and_the_others_run() -> None:
    with handler_stack(SAFETY_MARGIN_SECONDS="2", RUN_DEADLINE_SECONDS="10") as stack:
        # Given two deferred runs and a message that is not one of ours in the same batch
        ids = seed_running(2)
        stack.cron(T0, budget_seconds=5)
        sqs = stack.aws.session.client("sqs")
        sqs.send_message(QueueUrl=os.environ["EXECUTION_QUEUE_URL"], MessageBody='{"hello": "world"}')
        messages = receive_all(stack)
        poison = next(m for m in messages if "hello" in m["Body"])

        # When the worker processes the batch
        result = stack.worker(sqs_event(messages, queue_arn=queue_arn(stack)))

        # Then only the poison message comes back (SQS redelivers it, then the DLQ keeps it)
        assert result == {"batchItemFailures": [{"itemIdentifier": poison["MessageId"]}]}
        logs, _ = logs_and_trades(stack)
        assert sorted(log["strategy_id"] for log in logs) == sorted(ids)
