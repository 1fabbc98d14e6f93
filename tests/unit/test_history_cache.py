"""The container's price-history cache: entries expire after the TTL, the least recently used go first."""

from __future__ import annotations

from decimal import Decimal

from engine.market.history import HistoryBudget, HistoryCache
from engine.market.types import HistoryWindow, PriceHistory, PricePoint

DAY = HistoryWindow(interval="1d")


def history(token: str) -> PriceHistory:
    return PriceHistory(token, (PricePoint(1, Decimal("0.5")),))


def test_entries_expire_after_the_ttl() -> None:
    clock = [0.0]
    cache = HistoryCache(ttl_seconds=10, clock=lambda: clock[0])
    cache.put(("a", DAY), history("a"))
    clock[0] = 9.9
    assert cache.get(("a", DAY)) == history("a")
    clock[0] = 10.0
    assert cache.get(("a", DAY)) is None and len(cache) == 0


def test_the_least_recently_used_entry_is_evicted_first() -> None:
    cache = HistoryCache(max_entries=2)
    cache.put(("a", DAY), history("a"))
    cache.put(("b", DAY), history("b"))
    assert cache.get(("a", DAY)) is not None  # a is now the most recent
    cache.put(("c", DAY), history("c"))
    assert cache.get(("b", DAY)) is None and cache.get(("a", DAY)) is not None


def test_the_budget_counts_distinct_windows_of_a_token() -> None:
    budget = HistoryBudget(2)
    assert budget.allow(("a", DAY)) and budget.allow(("a", HistoryWindow(interval="1w")))
    assert not budget.allow(("b", DAY)) and budget.allow(("a", DAY)) and budget.used == 2
