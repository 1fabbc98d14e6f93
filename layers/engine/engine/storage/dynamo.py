"""DynamoDB clients, item (de)serialisation with Decimal numbers, request counting and error mapping."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any

from botocore.exceptions import ClientError

from engine.errors import DomainError
from engine.settings import Settings


@dataclass(frozen=True)
class StorageClients:
    """A low-level DynamoDB client and the settings naming the tables it works on."""

    dynamodb: Any
    settings: Settings


def get_clients(settings: Settings | None = None) -> StorageClients:
    """The cached clients for `settings` (default: the environment's), honouring `dynamodb_endpoint_url`."""
    raise NotImplementedError


def reset_clients() -> None:
    """Drop the cached clients (tests that change the environment)."""
    raise NotImplementedError


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """A plain dict (Decimal, int, str, bool, None, list, dict, datetime, enum) as a typed DynamoDB item."""
    raise NotImplementedError


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """A typed DynamoDB item as a plain dict; numbers come back as Decimal."""
    raise NotImplementedError


def map_error(exc: ClientError, *, what: str) -> DomainError:
    """The domain error for a failed DynamoDB call; AWS's own text stays in `details` for the logs."""
    raise NotImplementedError


class RequestCounter:
    """Counts DynamoDB API calls by operation on one client while active (benchmarks and tests)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.counts: dict[str, int] = {}

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __enter__(self) -> RequestCounter:
        raise NotImplementedError

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        raise NotImplementedError
