"""A backtest whose chunk keeps failing ends `failed` (DESIGN 9): SQS moves the chunk's message to the
BacktestDLQ after the template's maxReceiveCount, and the dead-letter function, handed the exact SQS event,
ends the backtest with a clear reason and frees its place in the running quota."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from engine.services import backtests as backtest_service
from engine.settings import reset_settings
from functions.backtest_dead_letters import app as dead_letter_module
from functions.backtest_worker import app as worker_module
from functions.control_api import app as app_module
from functions.control_api import backtests as routes_module
from local.infra import load_template
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import BACKTEST_NOW, SHORT_BACKTEST, TWO_NODE_GRAPH
from tests.support.http import Api, unique_users
from tests.support.lambda_context import lambda_context, sqs_event

NOW, BODY, GRAPH = BACKTEST_NOW, SHORT_BACKTEST, TWO_NODE_GRAPH
MAX_RECEIVES = int(
    load_template()["Resources"]["BacktestQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
)


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsEnv]:
    with moto_stack() as env:
        reset_settings()
        yield env
    reset_settings()


@pytest.fixture
def api(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setattr(routes_module, "utc_now", lambda: NOW)
    monkeypatch.setattr(worker_module.clock, "utc_now", lambda: NOW)
    monkeypatch.setattr(dead_letter_module.clock, "utc_now", lambda: NOW)
    user, other = unique_users()
    return Api(aws, app_module.lambda_handler, user=user, other=other)


def receive(aws: AwsEnv, queue: str) -> list[dict[str, Any]]:
    sqs = aws.session.client("sqs")
    got = sqs.receive_message(
        QueueUrl=aws.names.queues[queue], MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0
    )
    return list(got.get("Messages", []))


def crash_until_dead_lettered(aws: AwsEnv) -> int:
    """Deliver the BacktestQueue to the worker, whose every chunk crashes, until SQS dead-letters them."""
    deliveries = 0
    arn = aws.names.queue_arns["BacktestQueue"]
    while messages := receive(aws, "BacktestQueue"):
        for message in messages:
            # a batch whose every record failed fails the invocation: SQS delivers the message again
            with pytest.raises(BatchProcessingError):
                worker_module.lambda_handler(
                    sqs_event([message], queue_arn=arn),
                    lambda_context(function_name="autopilot-test-backtest-worker"),
                )
            deliveries += 1
    return deliveries


def deliver_dead_letters(aws: AwsEnv) -> dict[str, Any]:
    messages = receive(aws, "BacktestDLQ")
    answer = dead_letter_module.lambda_handler(
        sqs_event(messages, queue_arn=aws.names.queue_arns["BacktestDLQ"]),
        lambda_context(function_name="autopilot-test-backtest-dead-letters"),
    )
    sqs = aws.session.client("sqs")
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] not in failed:
            sqs.delete_message(
                QueueUrl=aws.names.queues["BacktestDLQ"], ReceiptHandle=message["ReceiptHandle"]
            )
    return {"delivered": len(messages), **answer}


def crashing_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the chunk crashed")

    monkeypatch.setattr(worker_module, "run_chunk", crash)


def test_a_chunk_that_fails_every_delivery_ends_its_backtest_failed_and_frees_the_quota(
    api: Api, aws: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a user with two running backtests (the quota) whose chunks crash on every delivery
    strategy_id = api.create(graph=GRAPH)
    ids = [
        api("POST", f"/strategies/{strategy_id}/backtests", body=BODY).body["backtest_id"] for _ in range(2)
    ]
    assert api("POST", f"/strategies/{strategy_id}/backtests", body=BODY).status == 429
    crashing_chunks(monkeypatch)
    # When SQS has delivered them maxReceiveCount times and moved them to the BacktestDLQ, whose function
    # receives them
    deliveries = crash_until_dead_lettered(aws)
    answer = deliver_dead_letters(aws)
    # Then each backtest is failed with a reason naming the chunk, and the user may start another
    assert deliveries == 2 * MAX_RECEIVES
    assert answer == {"delivered": 2, "batchItemFailures": []}
    for backtest_id in ids:
        got = api("GET", f"/backtests/{backtest_id}").body
        assert got["status"] == "failed", got
        assert got["error_code"] == "chunk_failed"
        assert "2026-02-01T00:00:00Z to 2026-02-01T05:00:00Z" in got["error_message"]
        assert "dead-letter queue" in got["error_message"]
        assert got["completed_at"] is not None
    assert api("POST", f"/strategies/{strategy_id}/backtests", body=BODY).status == 202


def test_a_stale_or_unreadable_dead_letter_changes_nothing(
    api: Api, aws: AwsEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a queued backtest whose checkpoint is past the dead-lettered window, a finished one, and junk
    strategy_id = api.create(graph=GRAPH)
    backtest_id = api("POST", f"/strategies/{strategy_id}/backtests", body=BODY).body["backtest_id"]
    receive(aws, "BacktestQueue")  # the first chunk's message stays with the (absent) worker
    stores = backtest_service.BacktestStores.default()
    checkpoint, version = stores.backtests.checkpoint(backtest_id)
    moved = checkpoint.model_copy(update={"slots_done": 3})
    assert stores.backtests.save_chunk(
        backtest_id, trades=[], executions=[], curve=[], first_index=0, checkpoint=moved, read_version=version
    )
    sqs = aws.session.client("sqs")
    url = aws.names.queues["BacktestDLQ"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"backtest_id": backtest_id, "first_slot": 0}))
    sqs.send_message(QueueUrl=url, MessageBody="not json")
    sqs.send_message(
        QueueUrl=url, MessageBody=json.dumps({"backtest_id": "no-such-backtest", "first_slot": 0})
    )
    # When the dead-letter function receives them
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Powertools warns when an invocation flushes no metric
        answer = deliver_dead_letters(aws)
    # Then all are consumed, counted, and the backtest goes on
    assert answer == {"delivered": 3, "batchItemFailures": []}
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m.get("BacktestChunksDeadLettered") for m in emf] == [[1.0, 1.0, 1.0]]
    assert api("GET", f"/backtests/{backtest_id}").body["status"] == "queued"
    # and its own window dead-lettered does end it
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"backtest_id": backtest_id, "first_slot": 3}))
    deliver_dead_letters(aws)
    assert api("GET", f"/backtests/{backtest_id}").body["error_code"] == "chunk_failed"
