"""Benchmark: the 12-node sample strategy (local/samples/signals_kelly.json: every node category, price
signals, a book signal, LOGIC, Kelly sizing) over 1,000 markets with price signals on 50 tokens, warm
history cache; and history requests per invocation when 100 strategies share tokens.

Markets are graph_bench's (the recorded Gamma markets cloned to 1,000, books synthesised). Histories are
hourly series made once per token (a warm container cache: no request in the timed runs). The baseline, in the
same run on the same markets, is DESIGN 5's 3-node example graph with its fills: the ratio says what the
richer language costs per run. For sharing, 100 strategies (three variants of the sample, different limits
and lookbacks) run concurrently on one invocation's snapshot over a counting provider; the baseline is the
number of history lookups the runs make (what runs fetching their own histories would request).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.graph_bench import SLOT, example_graph, measure, raw_markets, synthetic_book
from engine.broker import PaperBroker
from engine.clock import Deadline
from engine.graph.runner import run_graph
from engine.graph.validate import validate_graph
from engine.market.history import HistoryCache
from engine.market.polymarket import parse_market
from engine.market.snapshot import MarketSnapshot
from engine.market.types import (
    HistoryWindow,
    Market,
    MarketEvent,
    MarketQuery,
    OrderBook,
    PriceHistory,
    PricePoint,
)
from engine.models.trading import Account
from engine.nodes.base import RunContext
from engine.services.execution import RunMarkets

SAMPLE = Path(__file__).resolve().parent.parent / "local" / "samples" / "signals_kelly.json"
SIGNAL_TOKENS = 50


def sample_graph(*, signal_markets: int = SIGNAL_TOKENS, lookback: int = 24) -> dict[str, Any]:
    graph: dict[str, Any] = json.loads(SAMPLE.read_text())["node_graph"]
    for node in graph["nodes"]:
        if node["id"] == "src":
            node["config"]["limit"] = 1000
        if node["id"] == "liquid":
            node["config"]["limit"] = signal_markets
        if node["type"] == "PRICE_SIGNAL":
            node["config"]["lookback_hours"] = lookback
    return graph


def series(token_id: str, end: int, hours: int = 24 * 7) -> PriceHistory:
    """An hourly series for a token, deterministic per token."""
    seed = sum(map(ord, token_id[-6:]))
    points = tuple(
        PricePoint(t=end - (hours - i) * 3600, p=Decimal(30 + (seed + i * 7) % 40) / 100)
        for i in range(hours + 1)
    )
    return PriceHistory(token_id, points)


class BenchProvider:
    """A MarketDataProvider in memory that counts the history requests it answers."""

    def __init__(self, markets: list[Market], books: dict[str, OrderBook]) -> None:
        self.markets = markets
        self.books = books
        self.end = int(SLOT.timestamp())
        self.history_requests = 0
        self._lock = threading.Lock()

    def list_markets(self, *, active_only: bool, max_markets: int, deadline: Deadline) -> list[Market]:
        return self.markets[:max_markets]

    def get_markets(self, market_ids: Sequence[str], *, deadline: Deadline) -> list[Market]:
        wanted = set(market_ids)
        return [m for m in self.markets if m.market_id in wanted]

    def get_book(self, token_id: str, *, deadline: Deadline) -> OrderBook:
        return self.books[token_id]

    def get_price_history(self, token_id: str, window: HistoryWindow, *, deadline: Deadline) -> PriceHistory:
        with self._lock:
            self.history_requests += 1
        return series(token_id, self.end)

    def get_events(self, **_: Any) -> list[MarketEvent]:
        return []


class WarmSource:
    """A MarketSource whose histories are all cached (a warm container): what a run sees after the first."""

    def __init__(self, markets: list[Market], books: dict[str, OrderBook], end: int) -> None:
        self.markets = markets
        self.by_id = {m.market_id: m for m in markets}
        self.books = books
        self.histories: dict[str, PriceHistory] = {}
        self.end = end
        self.lookups = 0

    @property
    def fetched_at(self) -> datetime:
        return SLOT

    def query(self, query: MarketQuery) -> list[Market]:
        found = [m for m in self.markets if not query.active_only or (m.active and not m.closed)]
        found.sort(key=lambda m: getattr(m, query.order_by), reverse=not query.ascending)
        return found[: query.limit]

    def market(self, market_id: str) -> Market | None:
        return self.by_id.get(market_id)

    def book(self, token_id: str) -> OrderBook | None:
        return self.books.get(token_id)

    def price_history(self, token_id: str, window: HistoryWindow) -> PriceHistory | None:
        self.lookups += 1
        history = self.histories.get(token_id)
        if history is None:
            history = self.histories[token_id] = series(token_id, self.end)
        return history

    def events(self, *, slug: str | None = None, tag_slug: str | None = None) -> list[MarketEvent]:
        return []


def _context(source: Any, bankroll: int = 10_000) -> RunContext:
    account = Account(strategy_id="bench", bankroll_usd=Decimal(bankroll), cash_usd=Decimal(bankroll))
    return RunContext(
        strategy_id="bench",
        slot=SLOT,
        slot_key=SLOT.isoformat(),
        markets=source,
        account=account,
        bankroll_usd=Decimal(bankroll),
        deadline=Deadline(30),
    )


def run(markets_count: int = 1000, runs: int = 50, strategies: int = 100) -> dict[str, Any]:
    markets = [parse_market(r) for r in raw_markets(markets_count)]
    books = {
        token.token_id: synthetic_book(token.token_id, token.price or Decimal("0.5"), m.tick_size)
        for m in markets
        for token in m.outcomes
    }
    broker = PaperBroker()
    source = WarmSource(markets, books, int(SLOT.timestamp()))
    language = validate_graph(sample_graph(), for_deploy=True)
    example = validate_graph(example_graph(markets_count), for_deploy=True)
    seen: dict[str, Any] = {}

    def one(graph: Any, key: str) -> None:
        ctx = _context(source)
        result = run_graph(graph, ctx)
        assert result.status == "completed", result.error_message
        filled = broker.fill(result.orders, ctx.account, source, strategy_id="bench", slot_key="k", now=SLOT)
        seen[key] = (result, len(filled.trades))

    one(language, "language")  # warm-up: imports, registry, and the history cache
    lookups_before = source.lookups
    language_ms = measure(lambda: one(language, "language"), runs)
    lookups_per_run = (source.lookups - lookups_before) / runs
    example_ms = measure(lambda: one(example, "example"), runs)
    result, trades = seen["language"]
    signal_markets = next(t.received for t in result.trace if t.node_id == "mom")

    # sharing: 100 strategies, three variants, one invocation's snapshot, 8 threads
    provider = BenchProvider(markets, books)
    snapshot = MarketSnapshot(
        provider,
        fetched_at=SLOT,
        max_markets=markets_count,
        deadline=Deadline(60),
        history_cache=HistoryCache(),
    )
    variants = [
        validate_graph(sample_graph(signal_markets=limit, lookback=lookback))
        for limit, lookback in ((50, 24), (40, 24), (50, 12))
    ]
    lookups: list[int] = []
    pairs: set[tuple[str, HistoryWindow]] = set()
    pairs_lock = threading.Lock()

    def strategy_run(i: int) -> None:
        markets_view = RunMarkets(snapshot, Deadline(60), history_budget=1000)
        original = markets_view.price_history

        def counted(token_id: str, window: HistoryWindow) -> PriceHistory | None:
            with pairs_lock:
                lookups.append(1)
                pairs.add((token_id, window))
            return original(token_id, window)

        markets_view.price_history = counted  # type: ignore[method-assign]
        result = run_graph(variants[i % len(variants)], _context(markets_view))
        assert result.status == "completed", result.error_message

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(strategy_run, range(strategies)))
    requests = provider.history_requests
    return {
        "markets": markets_count,
        "runs": runs,
        "signal_markets": signal_markets,
        "trades_per_run": trades,
        "history_lookups_per_run": lookups_per_run,
        "language_median_ms": statistics.median(language_ms),
        "language_p95_ms": sorted(language_ms)[max(0, math.ceil(len(language_ms) * 0.95) - 1)],
        "example_median_ms": statistics.median(example_ms),
        "strategies": strategies,
        "history_requests": requests,
        "distinct_token_windows": len(pairs),
        "history_lookups": len(lookups),
        "requests_per_token_window": requests / max(len(pairs), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--markets", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--strategies", type=int, default=100)
    args = parser.parse_args()
    f = run(args.markets, args.runs, args.strategies)
    print(
        f"12-node graph over {f['markets']} markets, price signals on {f['signal_markets']} tokens: "
        f"median {f['language_median_ms']:.2f} ms (p95 {f['language_p95_ms']:.2f}); "
        f"DESIGN 5 example {f['example_median_ms']:.2f} ms"
    )
    print(
        f"{f['strategies']} strategies: {f['history_requests']} history requests for "
        f"{f['distinct_token_windows']} token-windows ({f['history_lookups']} lookups)"
    )


if __name__ == "__main__":
    main()
