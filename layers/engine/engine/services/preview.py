"""Strategy preview (POST /strategies/preview): one dry run of a graph against current market data with an
empty paper account. Sinks decide but do not act; nothing is written but the caller's cooldown."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from engine.clock import Deadline, iso
from engine.graph.runner import cap_trace, run_graph
from engine.graph.validate import check_graph, validate_graph
from engine.market.history import container_cache
from engine.market.snapshot import MarketSnapshot
from engine.market.types import MarketDataProvider
from engine.models.execution import NodeTrace
from engine.models.strategy import NodeGraph
from engine.models.trading import Account, Order
from engine.nodes.base import RunContext
from engine.services.execution import RunMarkets
from engine.settings import Settings

DEFAULT_PREVIEW_BANKROLL = Decimal(1000)
PREVIEW_ID = "preview"


@dataclass
class Preview:
    nodes: list[NodeTrace]
    orders: list[Order]
    warnings: list[str] = field(default_factory=list)
    status: str = "completed"


def preview_graph(
    node_graph: NodeGraph | dict[str, Any],
    *,
    now: datetime,
    deadline: Deadline,
    provider: MarketDataProvider,
    settings: Settings,
    bankroll_usd: Decimal | None = None,
    timezone: str = "UTC",
) -> Preview:
    """Run the graph once, dry. ValidationFailed when it would not save; warnings carry the deploy findings,
    the run's notes (simulated data, skipped markets) and a failed run's error."""
    graph = validate_graph(node_graph)
    report = check_graph(graph)
    bankroll = bankroll_usd if bankroll_usd is not None else DEFAULT_PREVIEW_BANKROLL
    snapshot = MarketSnapshot(
        provider,
        fetched_at=now,
        max_markets=settings.market_snapshot_size,
        deadline=deadline,
        history_cache=container_cache(),
    )
    ctx = RunContext(
        strategy_id=PREVIEW_ID,
        slot=now,
        slot_key=f"preview:{iso(now)}",
        markets=RunMarkets(snapshot, deadline, history_budget=settings.history_requests_per_run),
        account=Account(strategy_id=PREVIEW_ID, bankroll_usd=bankroll, cash_usd=bankroll),
        bankroll_usd=bankroll,
        deadline=deadline,
        dry_run=True,
        timezone=timezone,
    )
    result = run_graph(graph, ctx)
    warnings = [f"{e['code']}: {e['message']}" for e in report.errors]
    warnings += list(dict.fromkeys(ctx.warnings))
    if result.status != "completed":
        warnings.append(f"the run ended {result.status}: {result.error_message or result.error_code}")
    return Preview(
        nodes=cap_trace(result.trace), orders=result.orders, warnings=warnings, status=result.status
    )
