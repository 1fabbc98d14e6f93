"""Real-shaped Lambda inputs for handler tests: a context with a remaining-time budget, scheduled events and
SQS batches built from messages actually received from the queue."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.clock import iso

REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass
class FakeLambdaContext:
    """What the Lambda runtime passes: identifiers and `get_remaining_time_in_millis` counting down."""

    function_name: str = "autopilot-test-cron-executor"
    budget_seconds: float = 60.0
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/autopilot-test"
    log_stream_name: str = "2026/11/24/[$LATEST]0123456789abcdef"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        left = self.budget_seconds - (time.monotonic() - self._started)
        return max(0, int(left * 1000))


def lambda_context(budget_seconds: float = 60.0, function_name: str = "autopilot-test-cron-executor") -> Any:
    return FakeLambdaContext(function_name=function_name, budget_seconds=budget_seconds)


def scheduled_event(
    at: datetime, *, rule: str = "autopilot-test-EveryMinute", event_id: str | None = None
) -> dict[str, Any]:
    """The EventBridge scheduled event a `rate(1 minute)` rule delivers (its `time` is the tick, to the
    second: EventBridge may deliver a few seconds late, and the slot is floored to the minute)."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": iso(at.replace(microsecond=0)),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"],
        "detail": {},
    }


def sqs_event(messages: list[dict[str, Any]], *, queue_arn: str) -> dict[str, Any]:
    """The batch Lambda's SQS poller delivers, built from messages received with
    `receive_message(AttributeNames=["All"], MessageAttributeNames=["All"])`."""
    records = []
    for message in messages:
        attributes = message.get("Attributes", {})
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
                    "SenderId": attributes.get("SenderId", ACCOUNT),
                    "ApproximateFirstReceiveTimestamp": attributes.get(
                        "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
                    ),
                },
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}
