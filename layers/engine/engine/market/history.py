"""Price histories shared across runs: a container cache with a short TTL, and a per-run request budget.

A history is fetched at most once per token and window per invocation (the snapshot single-flights it), and
reused by later invocations of the same container for `ttl_seconds`. Failures are never cached across
invocations: the next invocation tries again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from engine.market.types import HistoryWindow, PriceHistory

HistoryKey = tuple[str, HistoryWindow]
DEFAULT_TTL_SECONDS = 60.0
DEFAULT_MAX_ENTRIES = 5000


class HistoryCache:
    """A thread-safe LRU of price histories that expire `ttl_seconds` after they were fetched."""

    def __init__(
        self,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[HistoryKey, tuple[float, PriceHistory]] = OrderedDict()

    def get(self, key: HistoryKey) -> PriceHistory | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            stored_at, history = item
            if self._clock() - stored_at >= self.ttl_seconds:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return history

    def put(self, key: HistoryKey, history: PriceHistory) -> None:
        with self._lock:
            self._items[key] = (self._clock(), history)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


_container_cache = HistoryCache()


def container_cache() -> HistoryCache:
    """The process-wide cache (one per Lambda container), shared by every invocation in it."""
    return _container_cache


class HistoryBudget:
    """How many distinct histories one run may ask for. Counting keys (not network requests) keeps a run's
    result independent of whether another run fetched the same history first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._asked: set[HistoryKey] = set()
        self._lock = threading.Lock()

    def allow(self, key: HistoryKey) -> bool:
        with self._lock:
            if key in self._asked:
                return True
            if len(self._asked) >= self.limit:
                return False
            self._asked.add(key)
            return True

    @property
    def used(self) -> int:
        with self._lock:
            return len(self._asked)
