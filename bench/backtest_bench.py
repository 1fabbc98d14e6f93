"""Backtest benchmark: 30 days of hourly slots over 300 markets, wall time and price history requests, against
replaying the same slots through the run path the cron uses (snapshot per slot, run, DynamoDB commit).

`python -m bench.backtest_bench [--markets 300] [--days 30] [--baseline-slots 72]` (not part of `make test`).

Markets and their hourly series are synthetic (seeded), served by an in-process provider that counts
requests; the history cache is the Backtests table on in-process moto, so the second run's requests are the
cache's answer. The baseline replays the first `baseline-slots` slots through `services.execution.execute`
(the cron's run path, with its per-slot commit to moto) and is scaled per slot.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

START = datetime(2026, 9, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 24, tzinfo=UTC)
GRAPH = {
    "nodes": [
        {
            "id": "src",
            "type": "DATA_SOURCE",
            "config": {"order_by": "end_date", "ascending": True, "limit": 300},
        },
        {
            "id": "flt",
            "type": "FILTER",
            "config": {"conditions": [{"field": "yes_price", "op": "between", "value": [0.2, 0.8]}]},
        },
        {
            "id": "orc",
            "type": "ORCHESTRATOR",
            "config": {
                "outcome": "YES",
                "position_size_usd": 20,
                "max_positions": 10,
                "take_profit_pct": 10,
                "stop_loss_pct": 10,
            },
        },
    ],
    "edges": [{"source": "src", "target": "flt"}, {"source": "flt", "target": "orc"}],
}


def synthetic_markets(count: int, days: int, seed: int = 11) -> tuple[list[Any], dict[str, list[Any]]]:
    """`count` binary markets over the period (a third close and resolve inside it) and hourly YES series."""
    from engine.market.types import Market, OutcomeToken, PricePoint

    rng = random.Random(seed)
    markets: list[Market] = []
    series: dict[str, list[PricePoint]] = {}
    for i in range(count):
        yes, no = f"tok-{i}-yes", f"tok-{i}-no"
        closes = i % 3 == 0
        end = START + timedelta(days=rng.uniform(3, days - 1) if closes else rng.uniform(days + 5, days + 90))
        winner = rng.random() < 0.5
        markets.append(
            Market(
                market_id=f"m{i}",
                condition_id=f"0xc{i}",
                question=f"Synthetic market {i}?",
                slug=f"synthetic-{i}",
                outcomes=(
                    OutcomeToken(yes, "Yes", Decimal(1 if winner else 0) if closes else Decimal("0.5")),
                    OutcomeToken(no, "No", Decimal(0 if winner else 1) if closes else Decimal("0.5")),
                ),
                volume=Decimal(10_000),
                volume_24h=Decimal(1_000),
                liquidity=Decimal(5_000),
                spread=Decimal("0.01"),
                best_bid=None,
                best_ask=None,
                end_date=end,
                active=not closes,
                closed=closes,
                accepting_orders=not closes,
                category="Synthetic",
                tags=(),
                tick_size=Decimal("0.01"),
                min_order_size=Decimal(5),
                neg_risk=False,
                fees_enabled=False,
                fee_schedule=None,
                uma_resolution_status="resolved" if closes else None,
                updated_at=NOW,
                start_date=START - timedelta(days=rng.uniform(1, 30)),
                closed_time=end + timedelta(hours=2) if closes else None,
            )
        )
        price = rng.uniform(0.15, 0.85)
        points = []
        t = START - timedelta(days=2)
        while t <= START + timedelta(days=days):
            price = min(0.98, max(0.02, price + rng.gauss(0, 0.02)))
            points.append(PricePoint(int(t.timestamp()), Decimal(str(round(price, 3)))))
            t += timedelta(hours=1)
        series[yes] = points
    return markets, series


@dataclass
class CountingHistory:
    """A PriceHistoryProvider over the synthetic series; counts requests as the CLOB would see them."""

    series: dict[str, list[Any]]
    requests: int = 0

    def get_price_history(self, token_id: str, window: Any, *, deadline: Any) -> Any:
        from engine.market.types import PriceHistory

        self.requests += 1
        lo, hi = window.start_ts, window.end_ts
        return PriceHistory(token_id, tuple(p for p in self.series.get(token_id, []) if lo <= p.t <= hi))


@dataclass
class SlotProvider:
    """A MarketDataProvider answering as the market was at one slot (the baseline's snapshot source)."""

    view: Any
    calls: list[str] = field(default_factory=list)

    def list_markets(self, *, active_only: bool, max_markets: int, deadline: Any) -> list[Any]:
        from engine.market.types import MarketQuery

        self.calls.append("list")
        return list(self.view.query(MarketQuery(active_only=active_only, limit=max_markets)))

    def get_markets(self, market_ids: Sequence[str], *, deadline: Any) -> list[Any]:
        self.calls.append("get")
        return list(self.view.prefetch(market_ids))

    def get_book(self, token_id: str, *, deadline: Any) -> Any:
        from engine.errors import MarketDataUnavailable

        book = self.view.book(token_id)
        if book is None:
            raise MarketDataUnavailable("no book")
        return book

    def get_price_history(self, token_id: str, window: Any, *, deadline: Any) -> Any:
        return self.view.price_history(token_id, window)

    def get_events(self, **kwargs: Any) -> list[Any]:
        return []


def _baseline(prepared: Any, slots: Sequence[datetime], graph: Any, bankroll: Decimal) -> dict[str, Any]:
    """The same slots through `execute` (snapshot, run, one commit per slot) on the moto tables."""
    from engine.clock import Deadline
    from engine.models.strategy import DeployConfig
    from engine.services import strategies
    from engine.services.execution import Engine, RunSlot, execute

    stores = strategies.Stores.default()
    strategy = strategies.create_strategy(
        owner="bench", name="baseline", node_graph=graph, now=NOW, quota=1000, stores=stores
    )
    strategy = strategies.deploy_strategy(
        strategy.strategy_id,
        owner="bench",
        config=DeployConfig(paper_bankroll_usd=bankroll, frequency="1h"),
        expected_version=None,
        now=NOW,
        stores=stores,
    )
    engine = Engine.from_settings()
    trades = 0
    started = time.perf_counter()
    for slot in slots:
        provider = SlotProvider(prepared.universe.at(slot))
        snapshot = engine.snapshot(provider, now=slot, deadline=Deadline(60))
        outcome = execute(
            engine, strategy, slot=RunSlot.manual(slot), snapshot=snapshot, deadline=Deadline(60), now=slot
        )
        trades += len(outcome.trades)
    seconds = time.perf_counter() - started
    return {"slots": len(slots), "seconds": seconds, "trades": trades}


def run(markets: int = 300, days: int = 30, baseline_slots: int = 72) -> dict[str, Any]:
    import os

    from moto import mock_aws

    for key, value in {
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }.items():
        os.environ.setdefault(key, value)
    logging.getLogger("engine").setLevel(logging.ERROR)
    with mock_aws():
        import boto3

        from engine.settings import reset_settings
        from engine.storage.dynamo import reset_clients
        from local.infra import create_resources

        names = create_resources(boto3.Session(region_name="us-east-1"), "bench")
        os.environ.update(
            {
                "STRATEGIES_TABLE": names.table("StrategiesTable"),
                "EXECUTIONS_TABLE": names.table("ExecutionLogsTable"),
                "TRADES_TABLE": names.table("TradesTable"),
                "PORTFOLIOS_TABLE": names.table("PortfoliosTable"),
                "BACKTESTS_TABLE": names.table("BacktestsTable"),
                "TOKEN_SIGNING_SECRET_ID": names.secrets["TokenSigningSecret"],
            }
        )
        reset_settings()
        reset_clients()
        from engine.backtest.history import window_starts
        from engine.backtest.models import BacktestSpec
        from engine.backtest.replay import prepare, run_whole
        from engine.clock import Deadline
        from engine.models.strategy import NodeGraph
        from engine.storage.backtests import HistoryCacheRepository

        universe, series = synthetic_markets(markets, days)
        history = CountingHistory(series)
        cache = HistoryCacheRepository()
        graph = NodeGraph.model_validate(GRAPH)
        spec = BacktestSpec.model_validate(
            {
                "start": START,
                "end": START + timedelta(days=days),
                "frequency": "1h",
                "paper_bankroll_usd": 1000,
            }
        )
        runs = []
        for attempt in range(2):
            before = history.requests
            started = time.perf_counter()
            prepared = prepare(
                graph, spec, markets=universe, history=history, cache=cache, now=NOW, deadline=Deadline(600)
            )
            loaded = time.perf_counter()
            outcome = run_whole(f"bench-{attempt}", graph, spec, prepared)
            finished = time.perf_counter()
            runs.append(
                {
                    "wall_seconds": round(finished - started, 3),
                    "history_seconds": round(loaded - started, 3),
                    "replay_seconds": round(finished - loaded, 3),
                    "history_requests": history.requests - before,
                    "slots": len(prepared.slots),
                    "trades": len(outcome.chunk.trades),
                    "total_profit_usd": str(outcome.performance.total_profit_usd),
                }
            )
        windows = len(window_starts(spec.start - timedelta(days=1), spec.end))
        tokens = len(prepared.universe.series)
        base = _baseline(prepared, prepared.slots[:baseline_slots], GRAPH, Decimal(1000))
    first: dict[str, Any] = runs[0]
    replay_per_slot = float(first["replay_seconds"]) / int(first["slots"])
    baseline_per_slot = float(base["seconds"]) / int(base["slots"])
    return {
        "markets": markets,
        "days": days,
        "tokens": tokens,
        "windows_per_token": windows,
        "first": runs[0],
        "second": runs[1],
        "cache_items_written": cache.writes,
        "baseline": base,
        "replay_ms_per_slot": round(replay_per_slot * 1000, 2),
        "baseline_ms_per_slot": round(baseline_per_slot * 1000, 2),
        "ratio_per_slot": round(baseline_per_slot / replay_per_slot, 2) if replay_per_slot else None,
        "baseline_extrapolated_seconds": round(baseline_per_slot * int(first["slots"]), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markets", type=int, default=300)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--baseline-slots", type=int, default=72)
    args = parser.parse_args()
    print(json.dumps(run(args.markets, args.days, args.baseline_slots), indent=2))


if __name__ == "__main__":
    main()
