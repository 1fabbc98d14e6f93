"""Real-shaped Lambda inputs for handler tests: a context with a remaining-time budget, scheduled events and
SQS batches built from messages actually received from the queue."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


# ------------------------------------------------------------------------------- the handlers' stack


@dataclass
class HandlerStack:
    """moto (tables, queues, topic from template.yaml) plus the recorded market server, with the functions'
    environment pointing at both and every cached client dropped."""

    aws: Any
    server: Any

    def cron(self, at: datetime, *, budget_seconds: float = 60.0) -> dict[str, Any]:
        from functions.cron_executor import app

        result: dict[str, Any] = app.lambda_handler(scheduled_event(at), lambda_context(budget_seconds))
        return result

    def worker(self, event: dict[str, Any], *, budget_seconds: float = 90.0) -> dict[str, Any]:
        from functions.execution_worker import app

        context = lambda_context(budget_seconds, function_name="autopilot-test-execution-worker")
        result: dict[str, Any] = app.lambda_handler(event, context)
        return result


@contextmanager
def handler_stack(**env: str) -> Iterator[HandlerStack]:
    """The stack every handler test runs on; `env` adds or overrides function settings."""
    import os

    from engine.settings import reset_settings
    from engine.storage.dynamo import reset_clients
    from engine.storage.messaging import reset_messaging_clients
    from functions.cron_executor import app as cron_app
    from functions.execution_worker import app as worker_app
    from tests.support.aws import moto_stack
    from tests.support.polymarket import recorded_polymarket
    from tests.support.serial_moto import serial_moto

    # moto one request at a time (exactly-once proofs rest on atomic conditions) and item-level rollback
    with (
        recorded_polymarket() as server,
        moto_stack() as aws,
        serial_moto(),
        item_level_transaction_rollback(),
    ):
        values = {"POLYMARKET_GAMMA_URL": server.url, "POLYMARKET_CLOB_URL": server.url, **env}
        saved = {k: os.environ.get(k) for k in values}
        os.environ.update(values)

        def reset() -> None:
            reset_settings()
            reset_clients()
            reset_messaging_clients()
            cron_app._provider = None
            worker_app._provider = None

        reset()
        try:
            yield HandlerStack(aws=aws, server=server)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            reset()


def scan_all(client: Any, table: str) -> list[dict[str, Any]]:
    """Every item of a table as plain values (tests only: a Scan proves what exists, whatever the keys)."""
    from engine.storage.dynamo import from_item

    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": table}
    while True:
        response = client.scan(**request)
        items += [from_item(i) for i in response.get("Items", [])]
        if not response.get("LastEvaluatedKey"):
            return items
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


class _TableCopyShim:
    """Stands in for the `copy` module inside moto's DynamoDB backend: tables are not copied (see
    `item_level_transaction_rollback`), everything else is copied as before."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        import copy

        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


@contextmanager
def item_level_transaction_rollback() -> Iterator[None]:
    """moto backs up every table a TransactWriteItems touches with a deep copy before applying it, so a
    transaction costs O(table size) and a few hundred runs take minutes. While active, only the items the
    transaction names are backed up and, when it is cancelled, put back: the same outcome for every item.
    Use it with `serial_moto` (moto's own rollback is not safe against concurrent requests either)."""
    import copy

    import moto.dynamodb.models as ddb
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = ddb.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[Any, Any, Any, Any]] = []
        for entry in transact_items:
            op = next(iter(entry.values()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            key = op.get("Key") or op.get("Item") or {}
            if table.hash_key_attr not in key:
                continue
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            if table.has_range_key and range_value is None:
                continue
            current = table.get_item(hash_value, range_value)
            saved.append((table, hash_value, range_value, copy.deepcopy(current)))
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, item in reversed(saved):
                if range_value is not None:
                    if item is None:
                        table.items[hash_value].pop(range_value, None)
                    else:
                        table.items[hash_value][range_value] = item
                elif item is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = item
            raise

    ddb.copy = _TableCopyShim()  # type: ignore[assignment]
    ddb.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        ddb.DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
        ddb.copy = copy  # type: ignore[assignment]
