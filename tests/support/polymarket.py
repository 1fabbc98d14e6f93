"""The recorded Polymarket server for tests: a context manager and pytest fixtures, always on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from engine.market.polymarket import PolymarketClient
from local.polymarket_server import RecordedPolymarketServer


@contextmanager
def recorded_polymarket() -> Iterator[RecordedPolymarketServer]:
    """A fresh recorded server on a free local port, stopped (and any hanging request released) on exit."""
    server = RecordedPolymarketServer(host="127.0.0.1", port=0)
    with server:
        yield server


def client_for(
    server: RecordedPolymarketServer,
    *,
    timeout_seconds: float = 2.0,
    retries: int = 2,
    backoff_seconds: float = 0.01,
    page_size: int = 100,
) -> PolymarketClient:
    """The real client pointed at the recorded server (short backoff keeps retry tests fast)."""
    return PolymarketClient(
        server.url,
        server.url,
        timeout_seconds=timeout_seconds,
        retries=retries,
        backoff_seconds=backoff_seconds,
        page_size=page_size,
    )


@pytest.fixture
def polymarket_server() -> Iterator[RecordedPolymarketServer]:
    with recorded_polymarket() as server:
        yield server
