"""The per-tick market snapshot: one market list and one book cache shared by every run of an invocation.

A tick fetches the active market list once (lazily, on the first query), answers every DATA_SOURCE query
locally, and fetches each book at most once however many runs and threads ask for it. Failures are cached
too: a market list outage fails every later query at once (one outage, not one per strategy), and a book
that could not be had stays None for the rest of the tick.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from engine.clock import Deadline
from engine.errors import MarketDataUnavailable
from engine.market.history import HistoryCache, HistoryKey
from engine.market.types import (
    HistoryWindow,
    Market,
    MarketDataProvider,
    MarketEvent,
    MarketQuery,
    MarketSet,
    OrderBook,
    PriceHistory,
)

_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


def _sort_key(market: Market, order_by: str) -> Decimal | datetime | None:
    if order_by == "volume":
        return market.volume
    if order_by == "volume_24h":
        return market.volume_24h
    if order_by == "liquidity":
        return market.liquidity
    if order_by == "end_date":
        return market.end_date
    raise ValueError(f"unknown order_by {order_by!r}")


def order_markets(markets: Iterable[Market], order_by: str, *, ascending: bool) -> list[Market]:
    """Markets sorted by a DATA_SOURCE `order_by`; markets without the value come last either way."""
    present: list[tuple[Decimal | datetime, Market]] = []
    missing: list[Market] = []
    for market in markets:
        key = _sort_key(market, order_by)
        if key is None:
            missing.append(market)
        else:
            present.append((key, market))
    present.sort(key=lambda pair: pair[0], reverse=not ascending)  # stable: ties keep the feed's order
    return [market for _, market in present] + missing


@dataclass
class _ListState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    markets: MarketSet | None = None
    failure: MarketDataUnavailable | None = None


@dataclass
class _BookEntry:
    done: threading.Event = field(default_factory=threading.Event)
    book: OrderBook | None = None


@dataclass
class _HistoryEntry:
    done: threading.Event = field(default_factory=threading.Event)
    history: PriceHistory | None = None


@dataclass
class _EventsEntry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    events: list[MarketEvent] | None = None
    failure: MarketDataUnavailable | None = None


class MarketSnapshot:
    """A MarketSource over a MarketDataProvider for one tick.

    Thread-safe. `markets_fetches`, `market_id_fetches` and `book_fetches` count provider calls, so tests
    and benchmarks can check that each thing is fetched once per snapshot.
    """

    def __init__(
        self,
        provider: MarketDataProvider,
        *,
        fetched_at: datetime,
        max_markets: int,
        deadline: Deadline,
        history_cache: HistoryCache | None = None,
    ) -> None:
        self._provider = provider
        self._history_cache = history_cache
        self._histories: dict[HistoryKey, _HistoryEntry] = {}
        self._events: dict[tuple[str | None, str | None], _EventsEntry] = {}
        self.history_fetches = 0
        self.events_fetches = 0
        self._fetched_at = fetched_at
        self._max_markets = max_markets
        self._deadline = deadline
        self._lists = {True: _ListState(), False: _ListState()}  # keyed by active_only
        self._lock = threading.Lock()
        self._by_id: dict[str, Market | None] = {}  # markets fetched by id (None: the provider has none)
        self._id_failures: dict[str, MarketDataUnavailable] = {}
        self._books: dict[str, _BookEntry] = {}
        self.markets_fetches = 0
        self.market_id_fetches = 0
        self.book_fetches = 0

    @property
    def fetched_at(self) -> datetime:
        return self._fetched_at

    @property
    def deadline(self) -> Deadline:
        return self._deadline

    def _effective(self, deadline: Deadline | None) -> Deadline:
        if deadline is None:
            return self._deadline
        return self._deadline.sooner(deadline.remaining())

    def _market_list(self, active_only: bool, deadline: Deadline | None) -> MarketSet:
        state = self._lists[active_only]
        with state.lock:  # the first caller fetches; the others wait for its answer instead of fetching
            if state.markets is not None:
                return state.markets
            if state.failure is None:
                with self._lock:
                    self.markets_fetches += 1
                try:
                    markets = self._provider.list_markets(
                        active_only=active_only,
                        max_markets=self._max_markets,
                        deadline=self._effective(deadline),
                    )
                except MarketDataUnavailable as exc:
                    state.failure = exc
                else:
                    state.markets = MarketSet.of(markets)
                    return state.markets
            failure = state.failure
        raise MarketDataUnavailable(f"market snapshot unavailable: {failure.message}") from failure

    def query(self, query: MarketQuery, *, deadline: Deadline | None = None) -> list[Market]:
        """The markets a DATA_SOURCE asks for: filtered by tag (or category), ordered and limited locally."""
        markets: Iterable[Market] = self._market_list(query.active_only, deadline).markets
        if query.active_only:
            markets = (m for m in markets if m.active and not m.closed)
        if query.tag is not None:
            wanted = query.tag.casefold()
            markets = (
                m
                for m in markets
                if any(t.casefold() == wanted for t in m.tags)
                or (m.category is not None and m.category.casefold() == wanted)
            )
        return order_markets(markets, query.order_by, ascending=query.ascending)[: max(query.limit, 0)]

    def prefetch(self, market_ids: Iterable[str], *, deadline: Deadline | None = None) -> list[Market]:
        """Fetch these markets by id in one provider call (held positions, settlement); known ids are reused.

        Raises MarketDataUnavailable when the fetch fails; the failure is kept for those ids.
        """
        wanted = list(dict.fromkeys(market_ids))
        with self._lock:
            failed = [self._id_failures[m] for m in wanted if m in self._id_failures]
            missing = [m for m in wanted if m not in self._by_id and m not in self._id_failures]
            if missing:
                self.market_id_fetches += 1
        if failed:
            raise MarketDataUnavailable(f"markets unavailable: {failed[0].message}") from failed[0]
        if missing:
            try:
                found = self._provider.get_markets(missing, deadline=self._effective(deadline))
            except MarketDataUnavailable as exc:
                with self._lock:
                    for market_id in missing:
                        self._id_failures[market_id] = exc
                raise
            with self._lock:
                by_id = {m.market_id: m for m in found}
                for market_id in missing:
                    self._by_id.setdefault(market_id, by_id.get(market_id))
        with self._lock:
            return [m for m in (self._by_id.get(market_id) for market_id in wanted) if m is not None]

    def market(self, market_id: str, *, deadline: Deadline | None = None) -> Market | None:
        """A market by id: from a prefetch, the tick's lists, or (once) fetched by id. None if unknown."""
        with self._lock:
            if market_id in self._by_id:
                return self._by_id[market_id]
        for active_only in (True, False):
            listed = self._lists[active_only].markets
            if listed is not None and market_id in listed.by_id:
                return listed.by_id[market_id]
        found = self.prefetch([market_id], deadline=deadline)
        return found[0] if found else None

    def book(self, token_id: str, *, deadline: Deadline | None = None) -> OrderBook | None:
        """The token's book, fetched at most once per snapshot; None when it cannot be had this tick."""
        with self._lock:
            entry = self._books.get(token_id)
            owner = entry is None
            if entry is None:
                entry = self._books[token_id] = _BookEntry()
                self.book_fetches += 1
        effective = self._effective(deadline)
        if not owner:
            # another thread is fetching it: wait for its answer, never past our own deadline
            entry.done.wait(timeout=effective.remaining())
            return entry.book if entry.done.is_set() else None
        try:
            book = self._provider.get_book(token_id, deadline=effective)
            entry.book = replace(book, fetched_at=self._fetched_at)
        except MarketDataUnavailable:
            entry.book = None  # cached: a failed book is not retried within the tick
        finally:
            entry.done.set()
        return entry.book

    def price_history(
        self, token_id: str, window: HistoryWindow, *, deadline: Deadline | None = None
    ) -> PriceHistory | None:
        """The token's history for the window: from the container cache, or fetched at most once per snapshot
        however many runs and threads ask; None when it cannot be had this invocation."""
        key = (token_id, window)
        with self._lock:
            entry = self._histories.get(key)
            owner = entry is None
            if entry is None:
                entry = self._histories[key] = _HistoryEntry()
        effective = self._effective(deadline)
        if not owner:
            entry.done.wait(timeout=effective.remaining())
            return entry.history if entry.done.is_set() else None
        try:
            cached = self._history_cache.get(key) if self._history_cache is not None else None
            if cached is not None:
                entry.history = cached
                return cached
            with self._lock:
                self.history_fetches += 1
            entry.history = self._provider.get_price_history(token_id, window, deadline=effective)
            if self._history_cache is not None:
                self._history_cache.put(key, entry.history)
        except MarketDataUnavailable:
            entry.history = None  # not retried within the invocation, nor cached beyond it
        finally:
            entry.done.set()
        return entry.history

    def events(
        self, *, slug: str | None = None, tag_slug: str | None = None, deadline: Deadline | None = None
    ) -> list[MarketEvent]:
        """Open events by slug or tag slug, fetched once per snapshot. Raises MarketDataUnavailable (kept)."""
        key = (slug, tag_slug)
        with self._lock:
            entry = self._events.setdefault(key, _EventsEntry())
        with entry.lock:
            if entry.events is not None:
                return entry.events
            if entry.failure is None:
                with self._lock:
                    self.events_fetches += 1
                try:
                    entry.events = self._provider.get_events(
                        slug=slug, tag_slug=tag_slug, closed=False, deadline=self._effective(deadline)
                    )
                except MarketDataUnavailable as exc:
                    entry.failure = exc
                else:
                    return entry.events
            failure = entry.failure
        raise MarketDataUnavailable(f"events unavailable: {failure.message}") from failure
