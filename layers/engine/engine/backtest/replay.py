"""Preparing a backtest (look-ahead check, slots, the past universe and its history) and running it whole."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from engine.backtest.history import HistoryCache, HistoryLoader, HistoryStats, PriceHistoryProvider
from engine.backtest.lookahead import proxy_uses
from engine.backtest.models import BacktestSpec, TooManySlots, backtest_slots
from engine.backtest.run import Checkpoint, ChunkResult, backtest_strategy, performance_of, run_slots
from engine.backtest.source import HistoricalUniverse, tokens_to_load
from engine.clock import Deadline
from engine.errors import ValidationFailed
from engine.market.types import Market
from engine.models.strategy import NodeGraph
from engine.performance import Performance


def check_graph(
    graph: NodeGraph, *, allow_proxies: bool, loc: tuple[str, ...] = ("node_graph",)
) -> list[dict[str, str]]:
    """The look-ahead warnings of a graph; ValidationFailed naming each node and field when not allowed."""
    uses = proxy_uses(graph)
    if uses and not allow_proxies:
        raise ValidationFailed(
            "fields without history cannot be backtested without allow_proxies: "
            + "; ".join(f"node '{u.node_id}' field '{u.field}'" for u in uses),
            details=[
                {
                    "loc": [*loc, "nodes", u.node_id, "config", *u.where.split(".")],
                    "msg": u.message,
                    "node_id": u.node_id,
                    "field": u.field,
                }
                for u in uses
            ],
        )
    return [u.warning() for u in uses]


def slots_for(spec: BacktestSpec) -> list[datetime]:
    """The spec's slots; ValidationFailed past the slot limit."""
    try:
        return backtest_slots(spec.cron, spec.timezone, spec.start, spec.end)
    except TooManySlots as exc:
        raise ValidationFailed(str(exc), details=[{"loc": ["body", "frequency"], "msg": str(exc)}]) from None


def slot_minutes(slots: Sequence[datetime]) -> int:
    """The schedule's typical step in minutes (1 for a single slot)."""
    if len(slots) < 2:
        return 1
    gaps = [(b - a).total_seconds() / 60 for a, b in itertools.pairwise(slots)]
    return max(1, int(statistics.median(gaps)))


@dataclass
class Prepared:
    universe: HistoricalUniverse
    slots: list[datetime]
    data_fidelity: dict[str, Any]
    warnings: list[dict[str, str]] = field(default_factory=list)
    history: HistoryStats = field(default_factory=HistoryStats)


def prepare(
    graph: NodeGraph,
    spec: BacktestSpec,
    *,
    markets: Sequence[Market],
    history: PriceHistoryProvider,
    cache: HistoryCache,
    now: datetime,
    deadline: Deadline,
    slots: list[datetime] | None = None,
) -> Prepared:
    """Check the graph, list the slots, load each candidate market's history (cache first)."""
    warnings = check_graph(graph, allow_proxies=spec.allow_proxies)
    slots = slots if slots is not None else slots_for(spec)
    step = slot_minutes(slots)
    fidelity = min(step, 1440)
    loader = HistoryLoader(history, cache, fidelity_minutes=fidelity, now=now, deadline=deadline)
    tokens = tokens_to_load(markets, spec.start, spec.end)
    # a point just before the start gives the first slot its price
    series = loader.load(tokens, spec.start - timedelta(days=1), spec.end)
    gaps = [
        g
        for g in (s.median_gap_minutes(spec.start - timedelta(days=1), spec.end) for s in series.values())
        if g
    ]
    median = Decimal(statistics.median(gaps)).quantize(Decimal("0.1")) if gaps else None
    coarsest = max(gaps) if gaps else None
    fidelity_doc: dict[str, Any] = {
        "slot_minutes": step,
        "requested_fidelity_minutes": fidelity,
        "history_median_minutes": float(median) if median is not None else None,
        "history_coarsest_minutes": float(coarsest) if coarsest is not None else None,
        "tokens": len(series),
        "tokens_without_history": sum(1 for s in series.values() if len(s) == 0),
        "history_windows_failed": loader.stats.failed_windows,
    }
    if loader.stats.failed_windows:
        warnings.append(
            {
                "code": "history_unavailable",
                "message": f"{loader.stats.failed_windows} history windows could not be fetched: their "
                "markets have no price (and are not visible) where the window had none",
            }
        )
    if median is not None and Decimal(step) < median:
        warnings.append(
            {
                "code": "slots_finer_than_data",
                "message": (
                    f"slots every {step} min are finer than the price history (median {median} min between "
                    "points): a slot sees the last point before it, so several slots may see the same price"
                ),
            }
        )
    universe = HistoricalUniverse(
        markets, series, fill_model=spec.fill_model.model(), allow_proxies=spec.allow_proxies
    )
    return Prepared(
        universe=universe, slots=slots, data_fidelity=fidelity_doc, warnings=warnings, history=loader.stats
    )


@dataclass
class BacktestOutcome:
    performance: Performance
    chunk: ChunkResult
    prepared: Prepared


def run_whole(
    backtest_id: str,
    graph: NodeGraph,
    spec: BacktestSpec,
    prepared: Prepared,
    *,
    owner: str = "backtest",
) -> BacktestOutcome:
    """Every slot in one go (tests, the benchmark and the CLI's local run); the worker runs chunks."""
    strategy = backtest_strategy(backtest_id, graph, owner=owner, at=spec.start)
    chunk = run_slots(
        strategy, prepared.universe, prepared.slots, Checkpoint.opening(backtest_id, spec.paper_bankroll_usd)
    )
    performance, _ = performance_of(
        backtest_id, spec.paper_bankroll_usd, chunk.trades, chunk.curve, chunk.checkpoint, at=spec.end
    )
    return BacktestOutcome(performance=performance, chunk=chunk, prepared=prepared)
