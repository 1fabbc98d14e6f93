"""Per-user cooldowns (e.g. one strategy preview every few seconds), as conditional writes to the idempotency
table: every container of the control API sees the same cooldown. Items expire through the table's TTL."""

from __future__ import annotations

from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from engine.clock import to_utc
from engine.errors import RateLimited, StorageError
from engine.storage.dynamo import StorageClients

_TTL_MARGIN_SECONDS = 3600  # items linger an hour past their cooldown; DynamoDB's TTL removes them


class CooldownRepository:
    def __init__(self, clients: StorageClients) -> None:
        self._db = clients.dynamodb
        self._table = clients.settings.idempotency_table

    def take(self, action: str, owner: str, *, now: datetime, seconds: float) -> None:
        """Start `owner`'s cooldown for `action`, or raise RateLimited (with the seconds left) if one runs."""
        now_ms = int(to_utc(now).timestamp() * 1000)
        until_ms = now_ms + int(seconds * 1000)
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": f"cooldown#{action}#{owner}"},
                    "until_ms": {"N": str(until_ms)},
                    "expiration": {"N": str(until_ms // 1000 + _TTL_MARGIN_SECONDS)},
                },
                ConditionExpression="attribute_not_exists(id) OR until_ms <= :now",
                ExpressionAttributeValues={":now": {"N": str(now_ms)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise StorageError("cooldown write failed", details={"aws_code": _code(exc)}) from exc
            old = exc.response.get("Item") or {}
            left_ms = int(old.get("until_ms", {}).get("N", until_ms)) - now_ms
            wait = max(left_ms, 0) / 1000
            raise RateLimited(
                f"too many requests: try again in {wait:.1f} s", details={"retry_after_seconds": wait}
            ) from None
        except BotoCoreError as exc:
            raise StorageError("cooldown write failed", details={"aws_code": type(exc).__name__}) from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "unknown"))
