"""DynamoDB clients, item (de)serialisation with Decimal numbers, request counting and error mapping."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from types import TracebackType
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from engine.clock import to_utc
from engine.errors import Conflict, DomainError, StorageError
from engine.settings import Settings, get_settings
from engine.storage.limits import check_storable, check_value

logger = logging.getLogger(__name__)

# Codes that mean "try again later", not "your request is wrong".
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
        "TransactionConflictException",
    }
)

_CONFIG = Config(
    # the cron executor runs up to RUN_CONCURRENCY runs and the due query fans out over every shard
    max_pool_connections=64,
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=2,
    read_timeout=5,
)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_cache: dict[str, StorageClients] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class StorageClients:
    """A low-level DynamoDB client and the settings naming the tables it works on."""

    dynamodb: Any
    settings: Settings


def get_clients(settings: Settings | None = None) -> StorageClients:
    """The cached clients for `settings` (default: the environment's), honouring `dynamodb_endpoint_url`."""
    settings = settings or get_settings()
    cache_key = settings.model_dump_json()
    with _cache_lock:  # boto3 sessions are not thread-safe to create clients from
        clients = _cache.get(cache_key)
        if clients is None:
            client = boto3.session.Session().client(
                "dynamodb", endpoint_url=settings.dynamodb_endpoint_url, config=_CONFIG
            )
            clients = StorageClients(dynamodb=client, settings=settings)
            _cache[cache_key] = clients
        return clients


def reset_clients() -> None:
    """Drop the cached clients (tests that change the environment)."""
    with _cache_lock:
        _cache.clear()


def time_key(value: datetime) -> str:
    """A stored time: UTC, always with milliseconds, so string order is time order (`.5Z` vs `Z` is not)."""
    value = to_utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def storable(value: Any) -> Any:
    """A value DynamoDB can hold: floats become Decimal (through repr, no binary noise), times become
    `time_key` strings, enums their value, models their dict."""
    if value is None or isinstance(value, bool | str | int | Decimal):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, datetime):
        return time_key(value)
    if isinstance(value, Enum):
        return storable(value.value)
    if isinstance(value, BaseModel):
        return storable(value.model_dump(mode="python"))
    if isinstance(value, Mapping):
        return {str(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    raise TypeError(f"cannot store a {type(value).__name__}")


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict as a typed DynamoDB item; None attributes are left out so sparse indexes stay sparse.

    Unstorable (a ValidationFailed naming the path) for what DynamoDB would refuse, before any write."""
    plain = {k: storable(v) for k, v in values.items() if v is not None}
    check_storable(plain)
    return {k: _serializer.serialize(v) for k, v in plain.items()}


def to_value(value: Any) -> dict[str, Any]:
    """One typed attribute value (for expression values); Unstorable for what DynamoDB would refuse."""
    plain = storable(value)
    check_value(plain)
    result: dict[str, Any] = _serializer.serialize(plain)
    return result


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A typed DynamoDB item as a plain dict; numbers come back as Decimal."""
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def plain_numbers(value: Any) -> Any:
    """Decimal to int or float, for free-form payloads (graph configs, trace decisions) whose JSON must
    keep numbers as numbers; typed money fields keep their Decimal and are not passed through this."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_numbers(v) for v in value]
    return value


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def map_error(exc: ClientError | BotoCoreError, *, what: str) -> DomainError:
    """The domain error for a failed DynamoDB call; AWS's own text stays in `details` for the logs only.

    A BotoCoreError (a timeout or dropped connection left after botocore's own retries) is a StorageError.
    """
    if isinstance(exc, BotoCoreError):
        return StorageError(f"{what}: storage did not answer", details={"error": type(exc).__name__})
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    details = {
        "operation": what,
        "aws_code": code,
        "aws_message": str(error.get("Message", "")),
        "status": status,
    }
    if code == "ConditionalCheckFailedException":
        return Conflict(f"{what}: the item changed meanwhile", details=details)
    if code in THROTTLING_CODES or status >= 500:
        return StorageError(f"{what}: storage is busy, try again", details=details)
    logger.error("dynamodb call failed", extra={"details": details})
    return StorageError(f"{what}: storage call failed", details=details)


class RequestCounter:
    """Counts DynamoDB API calls by operation on one client while active (benchmarks and tests).

    `before-call` fires once per API call, before botocore's own retries, so a retried call counts once.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._id = f"request-counter-{id(self)}"

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def _count(self, **kwargs: Any) -> None:
        name = kwargs["model"].name
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1

    def __enter__(self) -> RequestCounter:
        self.client.meta.events.register("before-call.dynamodb", self._count, unique_id=self._id)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.client.meta.events.unregister("before-call.dynamodb", unique_id=self._id)


def count_requests(client: Any) -> RequestCounter:
    """`with count_requests(clients.dynamodb) as counter: ...; counter.counts`."""
    return RequestCounter(client)
