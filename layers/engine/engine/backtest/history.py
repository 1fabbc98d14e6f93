"""Price history for backtests: the provider interface, fixed windows, a cache port, and series lookups.

History is fetched per token and per fixed window (windows are aligned on the epoch, so two backtests over
overlapping periods ask for the same windows and share the cache). A series answers `at_or_before(t)` only:
a backtest never reads a point later than its slot.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from engine.clock import Deadline
from engine.errors import MarketDataUnavailable
from engine.market.types import HistoryWindow, PriceHistory, PricePoint

WINDOW = timedelta(days=14)  # /prices-history caps a startTs..endTs range; 14 days fits every fidelity
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PriceHistoryProvider(Protocol):
    """Where price history comes from: the market data client's `GET /prices-history` (PolymarketClient
    implements it). Raises MarketDataUnavailable."""

    def get_price_history(
        self, token_id: str, window: HistoryWindow, *, deadline: Deadline
    ) -> PriceHistory: ...


WindowKey = tuple[str, int, int]  # token id, window start (epoch seconds), fidelity (minutes)


@dataclass(frozen=True)
class CachedWindow:
    """A fetched window: its points, and up to when it is complete (the window's end, or the time it was
    fetched when that came first: points after it did not exist yet)."""

    points: list[PricePoint]
    complete_until: int


class HistoryCache(Protocol):
    """A store of fetched windows (the stack's DynamoDB table in production, a dict in tests)."""

    def get_windows(self, keys: Sequence[WindowKey]) -> dict[WindowKey, CachedWindow]: ...

    def put_windows(self, windows: Mapping[WindowKey, CachedWindow]) -> None: ...


@dataclass
class MemoryHistoryCache:
    """A HistoryCache in memory (tests, and one backtest's own reuse)."""

    windows: dict[WindowKey, CachedWindow] = field(default_factory=dict)

    def get_windows(self, keys: Sequence[WindowKey]) -> dict[WindowKey, CachedWindow]:
        return {k: self.windows[k] for k in keys if k in self.windows}

    def put_windows(self, windows: Mapping[WindowKey, CachedWindow]) -> None:
        self.windows.update(windows)


def window_starts(start: datetime, end: datetime) -> list[datetime]:
    """The aligned windows covering `start..end`."""
    size = WINDOW.total_seconds()
    first = int((start - _EPOCH).total_seconds() // size)
    last = int((end - _EPOCH).total_seconds() // size)
    return [_EPOCH + timedelta(seconds=i * size) for i in range(first, last + 1)]


class PriceSeries:
    """One token's points, oldest first. The only read is the last point at or before a time."""

    __slots__ = ("_p", "_t")

    def __init__(self, points: Iterable[PricePoint]) -> None:
        by_time = {p.t: p.p for p in points}  # one point per time (the last given), then in time order
        self._t = sorted(by_time)
        self._p = [by_time[t] for t in self._t]

    def __len__(self) -> int:
        return len(self._t)

    def at_or_before(self, at: datetime) -> Decimal | None:
        i = bisect.bisect_right(self._t, int(at.timestamp()))
        return self._p[i - 1] if i else None

    def index_at_or_before(self, ts: int) -> int | None:
        """The position of the last point at or before `ts` (epoch seconds), for `price`; None before the
        first point."""
        i = bisect.bisect_right(self._t, ts)
        return i - 1 if i else None

    def price(self, index: int) -> Decimal:
        return self._p[index]

    def between(self, lo: int, hi: int) -> tuple[PricePoint, ...]:
        """The points with lo <= t <= hi (callers never pass an `hi` past their slot)."""
        first = bisect.bisect_left(self._t, lo)
        last = bisect.bisect_right(self._t, hi)
        return tuple(PricePoint(t, p) for t, p in zip(self._t[first:last], self._p[first:last], strict=True))

    def median_gap_minutes(self, start: datetime, end: datetime) -> Decimal | None:
        """The typical spacing of the points inside `start..end` (the data's fidelity there)."""
        lo = bisect.bisect_left(self._t, int(start.timestamp()))
        hi = bisect.bisect_right(self._t, int(end.timestamp()))
        inside = self._t[lo:hi]
        if len(inside) < 2:
            return None
        gaps = [b - a for a, b in itertools.pairwise(inside)]
        return (Decimal(statistics.median(gaps)) / 60).quantize(Decimal("0.1"))


@dataclass
class HistoryStats:
    requests: int = 0  # provider calls made
    cached_windows: int = 0  # windows answered by the cache
    failed_windows: int = 0


class HistoryLoader:
    """Loads tokens' series for a period: the cache first, then one provider request per token and window.

    A window fetched before its end is complete only up to when it was fetched (`now`); it serves any later
    backtest that ends by then, and is fetched again by one that needs more.
    """

    def __init__(
        self,
        provider: PriceHistoryProvider,
        cache: HistoryCache,
        *,
        fidelity_minutes: int,
        now: datetime,
        deadline: Deadline,
    ) -> None:
        self._provider = provider
        self._cache = cache
        self._fidelity = fidelity_minutes
        self._now = now
        self._deadline = deadline
        self.stats = HistoryStats()

    def load(self, token_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, PriceSeries]:
        windows = window_starts(start, end)
        keys = [(t, int(w.timestamp()), self._fidelity) for t in dict.fromkeys(token_ids) for w in windows]
        found = self._cache.get_windows(keys)
        end_ts = int(end.timestamp())
        points: dict[str, list[PricePoint]] = {t: [] for t in token_ids}
        fetched_windows: dict[WindowKey, CachedWindow] = {}
        for key in keys:
            token_id, window_ts, _ = key
            window_start = datetime.fromtimestamp(window_ts, UTC)
            window_end = window_start + WINDOW - timedelta(seconds=1)
            cached = found.get(key)
            if cached is not None and cached.complete_until >= min(int(window_end.timestamp()), end_ts):
                self.stats.cached_windows += 1
                points[token_id].extend(cached.points)
                continue
            self.stats.requests += 1
            window = HistoryWindow(
                start_ts=window_ts, end_ts=int(window_end.timestamp()), fidelity=self._fidelity
            )
            try:
                fetched = self._provider.get_price_history(token_id, window, deadline=self._deadline).points
            except MarketDataUnavailable:
                self.stats.failed_windows += 1
                continue
            complete = min(int(window_end.timestamp()), int(self._now.timestamp()))
            inside = [p for p in fetched if window_ts <= p.t <= complete]
            fetched_windows[key] = CachedWindow(inside, complete)
            points[token_id].extend(inside)
        if fetched_windows:
            self._cache.put_windows(fetched_windows)
        return {t: PriceSeries(pts) for t, pts in points.items()}
