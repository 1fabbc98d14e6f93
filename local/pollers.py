"""Event source mappings for the local stack: what Lambda's pollers do for a DynamoDB stream and an SQS queue.

StreamPoller reads the Trades table's stream from moto and delivers batches shaped as Lambda delivers them
(`eventSourceARN` added, `ApproximateCreationDateTime` as epoch seconds, binary values base64, `{"Records":
[...]}` of at most the mapping's BatchSize, the mapping's FilterCriteria applied). With
ReportBatchItemFailures it re-delivers from the first failed sequence number; a raised error retries the
whole batch, halved each time (BisectBatchOnFunctionError), up to MaximumRetryAttempts, after which the
batch's description goes to the OnFailure queue and the poller moves on, as Lambda does. Its position (per
shard, the last sequence number handled) is saved in a JSON file, keyed by stream ARN, so a restart resumes.

QueuePoller receives up to BatchSize messages, builds SQS event records, deletes the ones that succeeded and
leaves reported failures (or the whole batch, on an error) to come back after the visibility timeout.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)
Invoke = Callable[[dict[str, Any]], Any]


def _lambda_json(value: Any) -> Any:
    """boto3 gives binary attribute values as bytes; Lambda's JSON event carries them base64-encoded."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {k: _lambda_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lambda_json(v) for v in value]
    return value


def matches_pattern(pattern: dict[str, Any], record: dict[str, Any]) -> bool:
    """An event filter pattern (the subset the template uses: nested keys, lists of exact values,
    `{"exists": bool}`) against one record."""
    for key, rule in pattern.items():
        present = key in record
        value = record.get(key)
        if isinstance(rule, dict):
            if not isinstance(value, dict) or not matches_pattern(rule, value):
                return False
        elif isinstance(rule, list):
            if not rule:
                continue
            ok = False
            for option in rule:
                if isinstance(option, dict) and "exists" in option:
                    ok = ok or present is bool(option["exists"])
                elif present and value == option:
                    ok = True
            if not ok:
                return False
        elif value != rule:
            return False
    return True


def failed_identifiers(answer: Any) -> list[str] | None:
    """The itemIdentifiers of a ReportBatchItemFailures answer; None when the answer says the whole batch
    failed (an item without an identifier, as Lambda reads it)."""
    if not isinstance(answer, dict) or not answer.get("batchItemFailures"):
        return []
    identifiers: list[str] = []
    for failure in answer["batchItemFailures"]:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier:
            return None
        identifiers.append(str(identifier))
    return identifiers


@dataclass
class StreamMapping:
    """A DynamoDB event source mapping as the template declares it."""

    stream_arn: str
    batch_size: int = 100
    filters: list[dict[str, Any]] = field(default_factory=list)
    maximum_retry_attempts: int = -1  # -1: until the record expires, as Lambda's default
    bisect_on_error: bool = False
    report_batch_item_failures: bool = True
    on_failure_queue_url: str | None = None


class StreamPoller:
    """Delivers the stream of one table to one function (see the module docstring)."""

    def __init__(
        self,
        streams_client: Any,
        mapping: StreamMapping,
        invoke: Invoke,
        *,
        state_path: Path | None = None,
        sqs_client: Any = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.streams = streams_client
        self.mapping = mapping
        self.invoke = invoke
        self.state_path = state_path
        self.sqs = sqs_client
        self.now = now or (lambda: datetime.now(UTC))
        self.positions: dict[str, str] = self._load()  # shard id -> last sequence number handled
        self._attempts: dict[str, int] = {}  # shard id -> failed deliveries of the batch at its position
        self._limits: dict[str, int] = {}  # shard id -> batch size after bisecting
        self.delivered = 0
        self.failed_batches = 0
        self.discarded_batches = 0

    # -- position

    def _load(self) -> dict[str, str]:
        if self.state_path is None or not self.state_path.exists():
            return {}
        try:
            saved = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {}
        # a position belongs to one stream: a new moto (a new stream ARN) starts from the horizon
        shards = saved.get(self.mapping.stream_arn, {}) if isinstance(saved, dict) else {}
        return {str(k): str(v) for k, v in shards.items()}

    def _save(self) -> None:
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        # only the current stream: positions in a stream that no longer exists (an earlier moto) mean nothing
        saved = {self.mapping.stream_arn: dict(self.positions)}
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(saved, indent=1, sort_keys=True))
        temporary.replace(self.state_path)  # atomic: a crash never leaves half a file

    def _advance(self, shard_id: str, sequence_number: str) -> None:
        self.positions[shard_id] = sequence_number
        self._save()

    # -- shape

    def lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        out = _lambda_json(record)
        out["eventVersion"] = "1.1"
        dynamodb = dict(out.get("dynamodb") or {})
        created = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
        elif created is not None:
            dynamodb["ApproximateCreationDateTime"] = int(float(created))
        out["dynamodb"] = dynamodb
        out["eventSourceARN"] = self.mapping.stream_arn
        return dict(out)

    def _wanted(self, record: dict[str, Any]) -> bool:
        return not self.mapping.filters or any(matches_pattern(p, record) for p in self.mapping.filters)

    # -- polling

    def shard_ids(self) -> list[str]:
        description = self.streams.describe_stream(StreamArn=self.mapping.stream_arn)["StreamDescription"]
        return [shard["ShardId"] for shard in description.get("Shards", [])]

    def poll_once(self, shard_ids: list[str] | None = None) -> int:
        """One pass over every shard: at most one batch each. Returns the records delivered successfully."""
        return sum(self._poll_shard(shard_id) for shard_id in shard_ids or self.shard_ids())

    def drain(self, max_batches: int = 1000) -> int:
        """Poll until a pass delivers nothing new (used by the demo and tests, which drive time)."""
        total = 0
        shard_ids = self.shard_ids()  # shards do not change within one drain
        for _ in range(max_batches):
            before = dict(self.positions)
            count = self.poll_once(shard_ids)
            total += count
            if self.positions == before and count == 0:
                break
        return total

    def _poll_shard(self, shard_id: str) -> int:
        position = self.positions.get(shard_id)
        if position is None:
            iterator = self.streams.get_shard_iterator(
                StreamArn=self.mapping.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        else:
            iterator = self.streams.get_shard_iterator(
                StreamArn=self.mapping.stream_arn,
                ShardId=shard_id,
                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                SequenceNumber=position,
            )["ShardIterator"]
        limit = self._limits.get(shard_id, self.mapping.batch_size)
        raw = self.streams.get_records(ShardIterator=iterator, Limit=limit).get("Records", [])
        if not raw:
            return 0
        last_seq = raw[-1]["dynamodb"]["SequenceNumber"]
        batch = [self.lambda_record(r) for r in raw if self._wanted(r)]
        if not batch:
            self._advance(shard_id, last_seq)  # filtered out: Lambda moves past them without an invocation
            return 0
        try:
            answer = self.invoke({"Records": batch})
            failures = failed_identifiers(answer) if self.mapping.report_batch_item_failures else []
        except Exception:
            logger.exception("stream batch failed (%d records from %s)", len(batch), shard_id)
            failures = None
            if self.mapping.bisect_on_error and len(raw) > 1:
                self._limits[shard_id] = max(1, len(raw) // 2)
        if failures == []:
            self._attempts.pop(shard_id, None)
            self._limits.pop(shard_id, None)
            self.delivered += len(batch)
            self._advance(shard_id, last_seq)
            return len(batch)
        self.failed_batches += 1
        delivered = 0
        if failures is not None:
            # checkpoint before the lowest failed sequence number: everything before it is done
            sequence = {r["dynamodb"]["SequenceNumber"] for r in batch}
            known = [f for f in failures if f in sequence]
            if len(known) != len(failures):
                failures = None  # an identifier that is not in the batch: Lambda retries the whole batch
            else:
                first_failed = min(int(f) for f in known)
                done = [r for r in raw if int(r["dynamodb"]["SequenceNumber"]) < first_failed]
                if done:
                    delivered = sum(1 for r in done if self._wanted(r))
                    self.delivered += delivered
                    self._attempts.pop(shard_id, None)
                    self._advance(shard_id, done[-1]["dynamodb"]["SequenceNumber"])
                    return delivered
        attempts = self._attempts.get(shard_id, 0) + 1
        self._attempts[shard_id] = attempts
        retries = self.mapping.maximum_retry_attempts
        if retries >= 0 and attempts > retries:
            self._discard(shard_id, raw, batch)
        return delivered

    def _discard(self, shard_id: str, raw: list[dict[str, Any]], batch: list[dict[str, Any]]) -> None:
        """Retries exhausted: describe the batch on the OnFailure queue and move past it (Lambda's rule)."""
        self.discarded_batches += 1
        first, last = raw[0]["dynamodb"], raw[-1]["dynamodb"]
        if self.sqs is not None and self.mapping.on_failure_queue_url:
            message = {
                "requestContext": {
                    "condition": "RetryAttemptsExhausted",
                    "approximateInvokeCount": self._attempts.get(shard_id, 0),
                },
                "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
                "version": "1.0",
                "timestamp": self.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "DDBStreamBatchInfo": {
                    "shardId": shard_id,
                    "startSequenceNumber": first["SequenceNumber"],
                    "endSequenceNumber": last["SequenceNumber"],
                    "approximateArrivalOfFirstRecord": str(
                        batch[0]["dynamodb"].get("ApproximateCreationDateTime")
                    ),
                    "approximateArrivalOfLastRecord": str(
                        batch[-1]["dynamodb"].get("ApproximateCreationDateTime")
                    ),
                    "batchSize": len(batch),
                    "streamArn": self.mapping.stream_arn,
                },
            }
            self.sqs.send_message(QueueUrl=self.mapping.on_failure_queue_url, MessageBody=json.dumps(message))
        logger.error(
            "stream batch %s..%s discarded after retries", first["SequenceNumber"], last["SequenceNumber"]
        )
        self._attempts.pop(shard_id, None)
        self._limits.pop(shard_id, None)
        self._advance(shard_id, last["SequenceNumber"])


@dataclass
class QueueMapping:
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    report_batch_item_failures: bool = True
    region: str = "us-east-1"


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    out["stringListValues"] = list(value.get("StringListValues", []))
    out["binaryListValues"] = [base64.b64encode(v).decode() for v in value.get("BinaryListValues", [])]
    out["dataType"] = value.get("DataType", "String")
    return out


class QueuePoller:
    """Delivers an SQS queue to one function (see the module docstring)."""

    def __init__(self, sqs_client: Any, mapping: QueueMapping, invoke: Invoke) -> None:
        self.sqs = sqs_client
        self.mapping = mapping
        self.invoke = invoke
        self.delivered = 0
        self.failed = 0

    def lambda_record(self, message: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": {k: str(v) for k, v in (message.get("Attributes") or {}).items()},
            "messageAttributes": {
                k: _message_attribute(v) for k, v in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        record["eventSource"] = "aws:sqs"
        record["eventSourceARN"] = self.mapping.queue_arn
        record["awsRegion"] = self.mapping.region
        return record

    def poll_once(self, wait_seconds: int = 0) -> int:
        """One receive and one invocation. Returns the messages received (0: the queue looked empty)."""
        messages = self.sqs.receive_message(
            QueueUrl=self.mapping.queue_url,
            MaxNumberOfMessages=min(10, self.mapping.batch_size),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        records = [self.lambda_record(m) for m in messages]
        try:
            answer = self.invoke({"Records": records})
            failures = failed_identifiers(answer) if self.mapping.report_batch_item_failures else []
        except Exception:
            logger.exception("queue batch of %d failed", len(records))
            failures = None
        if failures is None:
            self.failed += len(records)
            return len(records)  # nothing deleted: every message comes back after its visibility timeout
        failed = set(failures)
        done = [r for r in records if r["messageId"] not in failed]
        self.failed += len(records) - len(done)
        self.delivered += len(done)
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.mapping.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)],
            )
        return len(records)

    def drain(self, max_batches: int = 1000) -> int:
        total = 0
        for _ in range(max_batches):
            count = self.poll_once()
            total += count
            if count == 0:
                break
        return total


class PollingThread:
    """Runs `poll()` again and again in a daemon thread, pausing `idle_seconds` when it found nothing."""

    def __init__(self, name: str, poll: Callable[[], int], idle_seconds: float = 0.5) -> None:
        self.name = name
        self.poll = poll
        self.idle_seconds = idle_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> PollingThread:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                found = self.poll()
            except Exception:
                logger.exception("%s: poll failed", self.name)
                found = 0
            if not found:
                self._stop.wait(self.idle_seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
