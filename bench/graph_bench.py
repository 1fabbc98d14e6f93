"""Benchmark: the DESIGN 5 example graph (and its paper fills) over 1,000 markets; prints the median per run.

Markets are the recorded Gamma markets (local/data/polymarket), cloned with new ids up to the requested count
and kept open at the recording time. Books are synthesised from each market's listed prices (there are only
three recorded books). The baseline, measured in the same run, is what a seed-style run pays when it fetches
and parses its own market list: json-decoding and parsing the raw Gamma objects of the same 1,000 markets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.broker import PaperBroker
from engine.clock import Deadline
from engine.graph.runner import run_graph
from engine.graph.validate import validate_graph
from engine.market.polymarket import parse_market
from engine.market.types import (
    BookLevel,
    HistoryWindow,
    Market,
    MarketEvent,
    MarketQuery,
    OrderBook,
    PriceHistory,
)
from engine.models.trading import Account
from engine.nodes.base import RunContext

DATA = Path(__file__).resolve().parent.parent / "local" / "data" / "polymarket" / "gamma_markets_sample.json"
SLOT = datetime(2026, 2, 7, 12, 50, tzinfo=UTC)  # the recording time of the open markets
SAMPLE = Path(__file__).resolve().parent.parent / "local" / "samples" / "design_example.json"


def example_graph(limit: int) -> dict[str, Any]:
    """DESIGN 5's example graph (the sample strategy file), its DATA_SOURCE reading `limit` markets."""
    graph: dict[str, Any] = json.loads(SAMPLE.read_text())["node_graph"]
    for node in graph["nodes"]:
        if node["type"] == "DATA_SOURCE":
            node["config"]["limit"] = limit
    return graph


def raw_markets(count: int) -> list[dict[str, Any]]:
    """`count` raw Gamma market objects: the recorded ones with 2-outcome prices, cloned with new ids."""
    recorded = [m for m in json.loads(DATA.read_text()) if m.get("clobTokenIds") and m.get("outcomePrices")]
    out: list[dict[str, Any]] = []
    index = 0
    while len(out) < count:
        base = dict(recorded[index % len(recorded)])
        copy = index // len(recorded)
        base["id"] = f"{base['id']}-{copy}"
        tokens = json.loads(base["clobTokenIds"])
        base["clobTokenIds"] = json.dumps([f"{t}{copy}" for t in tokens])
        base["closed"], base["active"], base["acceptingOrders"] = False, True, True
        base["umaResolutionStatus"] = None
        base["endDate"] = (SLOT + timedelta(days=30 + index % 60)).isoformat().replace("+00:00", "Z")
        prices = json.loads(base["outcomePrices"])
        if len(prices) == 2 and all(Decimal(p) in (0, 1) for p in prices):
            # resolved markets cloned as open ones get a live price so the filter sees a spread of prices
            yes = Decimal(20 + (index * 7) % 60) / 100
            base["outcomePrices"] = json.dumps([str(yes), str(1 - yes)])
        out.append(base)
        index += 1
    return out


def synthetic_book(token_id: str, price: Decimal, tick: Decimal) -> OrderBook:
    """Five levels each side around the listed price, best levels LAST as the real API orders them."""
    price = min(max(price, tick * 6), 1 - tick * 6)
    bids = tuple(BookLevel(price - tick * (5 - i), Decimal(200 + 50 * i)) for i in range(5))
    asks = tuple(BookLevel(price + tick * (5 - i), Decimal(200 + 50 * i)) for i in range(5))
    return OrderBook(
        token_id=token_id,
        market="",
        bids=bids,
        asks=asks,
        timestamp_ms=0,
        hash="bench",
        tick_size=tick,
        synthetic=True,
    )


@dataclass
class MemorySource:
    """A MarketSource over parsed markets (what the tick's shared snapshot gives a run)."""

    markets: list[Market]
    books: dict[str, OrderBook]

    @property
    def fetched_at(self) -> datetime:
        return SLOT

    def query(self, query: MarketQuery) -> list[Market]:
        found = [m for m in self.markets if not query.active_only or (m.active and not m.closed)]
        found.sort(key=lambda m: m.volume, reverse=not query.ascending)
        return found[: query.limit]

    def market(self, market_id: str) -> Market | None:
        return next((m for m in self.markets if m.market_id == market_id), None)

    def book(self, token_id: str) -> OrderBook | None:
        return self.books.get(token_id)

    def price_history(self, token_id: str, window: HistoryWindow) -> PriceHistory | None:
        return None

    def events(self, *, slug: str | None = None, tag_slug: str | None = None) -> list[MarketEvent]:
        return []


def measure(fn: Any, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def run(markets_count: int = 1000, runs: int = 50) -> dict[str, float]:
    raws = raw_markets(markets_count)
    raw_text = json.dumps(raws)
    markets = [parse_market(r) for r in raws]
    books = {
        token.token_id: synthetic_book(token.token_id, token.price or Decimal("0.5"), m.tick_size)
        for m in markets
        for token in m.outcomes
    }
    source = MemorySource(markets, books)
    graph = validate_graph(example_graph(markets_count), for_deploy=True)
    broker = PaperBroker()
    orders_seen: list[int] = []

    def one_run() -> None:
        account = Account(strategy_id="bench", bankroll_usd=Decimal(10_000), cash_usd=Decimal(10_000))
        ctx = RunContext(
            strategy_id="bench",
            slot=SLOT,
            slot_key=SLOT.isoformat(),
            markets=source,
            account=account,
            bankroll_usd=Decimal(10_000),
            deadline=Deadline(30),
        )
        result = run_graph(graph, ctx)
        filled = broker.fill(
            result.orders, account, source, strategy_id="bench", slot_key=ctx.slot_key, now=SLOT
        )
        orders_seen.append(len(filled.trades))

    def baseline_run() -> None:
        [parse_market(r) for r in json.loads(raw_text)]

    one_run()  # warm-up (imports, registry)
    graph_ms = measure(one_run, runs)
    baseline_ms = measure(baseline_run, max(5, runs // 5))
    graph_median = statistics.median(graph_ms)
    baseline_median = statistics.median(baseline_ms)
    return {
        "markets": markets_count,
        "runs": runs,
        "trades_per_run": orders_seen[-1],
        "graph_median_ms": graph_median,
        "graph_p95_ms": sorted(graph_ms)[int(len(graph_ms) * 0.95) - 1],
        "baseline_parse_median_ms": baseline_median,
        "ratio_baseline_over_run": baseline_median / graph_median,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--markets", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    figures = run(args.markets, args.runs)
    print(
        f"example graph + fills over {figures['markets']} markets, {figures['runs']} runs "
        f"({figures['trades_per_run']} trades a run)"
    )
    print(f"  median {figures['graph_median_ms']:.2f} ms per run, p95 {figures['graph_p95_ms']:.2f} ms")
    print(
        f"  baseline (parse the raw market list per run): median {figures['baseline_parse_median_ms']:.2f} ms"
        f" -> {figures['ratio_baseline_over_run']:.1f}x the run"
    )


if __name__ == "__main__":
    main()
