"""The local stream poller: Lambda-shaped batches from a real moto stream, partial failures, resume."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.infra import Names, create_resources
from local.moto_process import MotoProcess
from local.pollers import StreamMapping, StreamPoller


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoProcess]:
    process = MotoProcess().start()
    try:
        yield process
    finally:
        process.stop()


@dataclass
class Env:
    session: Any
    names: Names
    url: str

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.url)

    @property
    def table(self) -> str:
        return self.names.table("TradesTable")

    def put(self, strategy: str, trade: str, **extra: dict[str, Any]) -> None:
        item = {"strategy_id": {"S": strategy}, "trade_id": {"S": trade}, **extra}
        self.client("dynamodb").put_item(TableName=self.table, Item=item)


@pytest.fixture
def env(moto: MotoProcess) -> Env:
    session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
    names = create_resources(session, f"t{uuid.uuid4().hex[:8]}", endpoint_url=moto.url)
    return Env(session, names, moto.url)


@dataclass
class Recorder:
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    answers: list[Any] = field(default_factory=list)  # consumed one per call; an Exception is raised

    def __call__(self, event: dict[str, Any]) -> Any:
        self.batches.append(event["Records"])
        answer = self.answers.pop(0) if self.answers else {"batchItemFailures": []}
        if isinstance(answer, Exception):
            raise answer
        return answer

    def trade_ids(self, batch: int) -> list[str]:
        return [r["dynamodb"]["Keys"]["trade_id"]["S"] for r in self.batches[batch]]


def poller(env: Env, recorder: Recorder, tmp_path: Path | None = None, **mapping: Any) -> StreamPoller:
    settings: dict[str, Any] = {"batch_size": 100, "filters": [{"eventName": ["INSERT", "MODIFY"]}]}
    settings.update(mapping)
    return StreamPoller(
        env.client("dynamodbstreams"),
        StreamMapping(stream_arn=env.names.streams["TradesTable"], **settings),
        recorder,
        state_path=tmp_path / "positions.json" if tmp_path else None,
        sqs_client=env.client("sqs"),
    )


def test_records_arrive_as_lambda_delivers_them(env: Env) -> None:
    # Given two trades written to the table, one with a binary attribute
    env.put("s-1", "t-1", price={"N": "0.42"})
    env.put("s-1", "t-2", blob={"B": b"\x00\x01"})
    recorder = Recorder()

    # When the poller runs once
    delivered = poller(env, recorder).poll_once()

    # Then one batch holds both records, shaped like Lambda's DynamoDB event
    assert delivered == 2
    first, second = recorder.batches[0]
    stream_arn = env.names.streams["TradesTable"]
    assert set(first) == {
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    }
    assert first["eventName"] == "INSERT"
    assert first["eventSource"] == "aws:dynamodb"
    assert first["eventVersion"] == "1.1"
    assert first["awsRegion"] == "us-east-1"
    assert first["eventSourceARN"] == stream_arn
    dynamodb = first["dynamodb"]
    assert isinstance(dynamodb["ApproximateCreationDateTime"], int)  # epoch seconds, not a datetime
    assert dynamodb["Keys"] == {"strategy_id": {"S": "s-1"}, "trade_id": {"S": "t-1"}}
    assert dynamodb["NewImage"]["price"] == {"N": "0.42"}
    assert dynamodb["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert int(second["dynamodb"]["SequenceNumber"]) > int(dynamodb["SequenceNumber"])
    assert second["dynamodb"]["NewImage"]["blob"] == {"B": "AAE="}  # base64 in JSON, as Lambda sends it
    json.dumps({"Records": recorder.batches[0]})  # the whole event is plain JSON


def test_batches_are_at_most_the_mappings_batch_size(env: Env) -> None:
    # Given five trades and a batch size of two
    for n in range(5):
        env.put("s-1", f"t-{n}")
    recorder = Recorder()

    # When the stream is drained
    poller(env, recorder, batch_size=2).drain()

    # Then three batches arrive in order
    assert [len(b) for b in recorder.batches] == [2, 2, 1]
    assert [recorder.trade_ids(i) for i in range(3)] == [["t-0", "t-1"], ["t-2", "t-3"], ["t-4"]]


def test_the_filter_criteria_drop_removals_but_move_past_them(env: Env) -> None:
    # Given an insert, a removal and a modification
    env.put("s-1", "t-1")
    env.client("dynamodb").delete_item(
        TableName=env.table, Key={"strategy_id": {"S": "s-1"}, "trade_id": {"S": "t-1"}}
    )
    env.put("s-1", "~marks", marks={"S": "a"})
    env.put("s-1", "~marks", marks={"S": "b"})
    recorder = Recorder()
    stream = poller(env, recorder)

    # When the stream is drained
    stream.drain()

    # Then only INSERT and MODIFY records are delivered, and the position is past all four
    names = [r["eventName"] for batch in recorder.batches for r in batch]
    assert names == ["INSERT", "INSERT", "MODIFY"]
    assert stream.poll_once() == 0
    assert len(recorder.batches) == 1


def test_a_partial_failure_is_redelivered_from_the_first_failed_record(env: Env) -> None:
    # Given five trades and a function that fails the third the first time
    for n in range(5):
        env.put("s-1", f"t-{n}")
    recorder = Recorder()
    stream = poller(env, recorder)
    records = stream.streams.get_records(
        ShardIterator=stream.streams.get_shard_iterator(
            StreamArn=stream.mapping.stream_arn,
            ShardId=stream.streams.describe_stream(StreamArn=stream.mapping.stream_arn)["StreamDescription"][
                "Shards"
            ][0]["ShardId"],
            ShardIteratorType="TRIM_HORIZON",
        )["ShardIterator"]
    )["Records"]
    third, fifth = records[2]["dynamodb"]["SequenceNumber"], records[4]["dynamodb"]["SequenceNumber"]
    recorder.answers = [{"batchItemFailures": [{"itemIdentifier": fifth}, {"itemIdentifier": third}]}]

    # When the stream is drained
    stream.drain()

    # Then the first two are not sent again; delivery resumes at the third
    assert recorder.trade_ids(0) == ["t-0", "t-1", "t-2", "t-3", "t-4"]
    assert recorder.trade_ids(1) == ["t-2", "t-3", "t-4"]
    assert len(recorder.batches) == 2


def test_an_error_retries_the_whole_batch_then_bisects_and_gives_up_to_the_dead_letter_queue(
    env: Env,
) -> None:
    # Given four trades and a function that always raises, with two retries allowed
    for n in range(4):
        env.put("s-1", f"t-{n}")
    recorder = Recorder(answers=[RuntimeError("down")] * 10)
    dlq = env.names.queues["PortfolioStreamDLQ"]
    stream = poller(env, recorder, maximum_retry_attempts=2, bisect_on_error=True, on_failure_queue_url=dlq)

    # When the poller runs three times (the first try and two retries)
    for _ in range(3):
        stream.poll_once()

    # Then the batch was halved after each error, then described on the dead-letter queue and passed
    assert [len(b) for b in recorder.batches] == [4, 2, 1]
    message = env.client("sqs").receive_message(QueueUrl=dlq)["Messages"][0]
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == env.names.streams["TradesTable"]
    recorder.answers = []
    stream.drain()
    assert recorder.trade_ids(3) == ["t-1", "t-2", "t-3"]


def test_a_restarted_poller_resumes_after_its_saved_position(env: Env, tmp_path: Path) -> None:
    # Given a poller that delivered three trades and stopped
    for n in range(3):
        env.put("s-1", f"t-{n}")
    first = Recorder()
    poller(env, first, tmp_path).drain()
    env.put("s-1", "t-3")
    env.put("s-1", "t-4")

    # When a new poller starts with the same state file
    second = Recorder()
    poller(env, second, tmp_path).drain()

    # Then it delivers only what came after
    assert first.trade_ids(0) == ["t-0", "t-1", "t-2"]
    assert [second.trade_ids(i) for i in range(len(second.batches))] == [["t-3", "t-4"]]
    saved = json.loads((tmp_path / "positions.json").read_text())
    assert list(saved) == [env.names.streams["TradesTable"]]


def test_a_saved_position_of_another_stream_is_ignored(env: Env, tmp_path: Path) -> None:
    # Given a state file written for a stream of an earlier moto
    (tmp_path / "positions.json").write_text(
        json.dumps({"arn:old-stream": {"shard": "99999999999999999999999"}})
    )
    env.put("s-1", "t-0")
    recorder = Recorder()

    # When a poller starts on the current stream
    poller(env, recorder, tmp_path).drain()

    # Then it reads from the start of this stream
    assert recorder.trade_ids(0) == ["t-0"]
