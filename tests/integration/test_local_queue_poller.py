"""The local SQS poller: Lambda-shaped SQS events, deletes of what succeeded, failures left for redelivery."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local.moto_process import MotoProcess
from local.pollers import QueueMapping, QueuePoller


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoProcess]:
    process = MotoProcess().start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def sqs(moto: MotoProcess) -> Any:
    session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
    return session.client("sqs", endpoint_url=moto.url)


def make_queue(sqs: Any, visibility: int = 0) -> QueueMapping:
    # visibility 0: a message left undeleted is visible again at once, so redelivery shows in one test
    url = sqs.create_queue(
        QueueName=f"q-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": str(visibility)}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return QueueMapping(queue_url=url, queue_arn=arn, batch_size=10)


class Recorder:
    def __init__(self, answer: Any = None) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.answer = answer

    def __call__(self, event: dict[str, Any]) -> Any:
        self.batches.append(event["Records"])
        if isinstance(self.answer, Exception):
            raise self.answer
        if callable(self.answer):
            return self.answer(event["Records"])
        return {"batchItemFailures": []}


def test_messages_arrive_as_lambda_delivers_sqs_records(sqs: Any) -> None:
    # Given a message with a string attribute
    mapping = make_queue(sqs)
    body = '{"strategy_id": "s-1", "slot": "2026-02-07T13:00:00Z"}'
    sqs.send_message(
        QueueUrl=mapping.queue_url,
        MessageBody=body,
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "run"}},
    )
    recorder = Recorder()

    # When the poller receives it
    QueuePoller(sqs, mapping, recorder).poll_once()

    # Then the function gets Lambda's SQS record shape
    ((record,),) = recorder.batches
    assert list(record) == [
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ]
    assert record["body"] == body
    assert record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()
    assert {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    } <= set(record["attributes"])
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "run", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == mapping.queue_arn
    assert record["awsRegion"] == "us-east-1"


def test_successes_are_deleted_and_reported_failures_come_back(sqs: Any) -> None:
    # Given three messages and a function that reports the second as failed
    mapping = make_queue(sqs)
    for n in range(3):
        sqs.send_message(QueueUrl=mapping.queue_url, MessageBody=f"m{n}")

    def fail_m1(records: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if r["body"] == "m1"]
        }

    poller = QueuePoller(sqs, mapping, Recorder(fail_m1))

    # When the queue is polled until the function gets the failed one again
    received = poller.poll_once()
    while poller.poll_once() == 0:
        pass

    # Then the first batch held all three; only the failed one was redelivered
    recorder = poller.invoke
    assert isinstance(recorder, Recorder)
    assert received == 3
    assert sorted(r["body"] for r in recorder.batches[0]) == ["m0", "m1", "m2"]
    assert [r["body"] for r in recorder.batches[1]] == ["m1"]
    assert recorder.batches[1][0]["attributes"]["ApproximateReceiveCount"] == "2"


def test_an_error_deletes_nothing(sqs: Any) -> None:
    # Given two messages and a function that raises, on a queue that hides received messages for a while
    mapping = make_queue(sqs, visibility=300)
    for n in range(2):
        sqs.send_message(QueueUrl=mapping.queue_url, MessageBody=f"m{n}")
    poller = QueuePoller(sqs, mapping, Recorder(RuntimeError("boom")))

    # When it is polled
    poller.poll_once()

    # Then both messages are still in the queue (in flight until their visibility timeout)
    attributes = sqs.get_queue_attributes(QueueUrl=mapping.queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "2"
    assert poller.failed == 2
    assert poller.delivered == 0


def test_a_batch_never_exceeds_the_mappings_batch_size(sqs: Any) -> None:
    # Given twelve messages and a batch size of ten
    mapping = make_queue(sqs)
    sqs.send_message_batch(
        QueueUrl=mapping.queue_url, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(10)]
    )
    sqs.send_message_batch(
        QueueUrl=mapping.queue_url, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(10, 12)]
    )
    recorder = Recorder()

    # When the queue is drained
    QueuePoller(sqs, mapping, recorder).drain()

    # Then every batch has at most ten records and all twelve were delivered once
    assert all(len(b) <= 10 for b in recorder.batches)
    assert sorted(r["body"] for b in recorder.batches for r in b) == sorted(f"m{n}" for n in range(12))
    attributes = sqs.get_queue_attributes(QueueUrl=mapping.queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
