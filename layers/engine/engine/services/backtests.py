"""Backtest use cases: start one (checked, queued), read it, page its trades and slot logs, cancel or delete
it, run one chunk of it (the worker), and read it beside the live strategy it was made from.

A backtest lives only in the Backtests table. Its chunks run the engine's own run path (engine.backtest) on
the past; they never write a live strategy's trades, account, logs or marks, so no stream, settlement pass,
kill switch or notification ever sees them.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from engine.backtest.history import HistoryCache, PriceHistoryProvider
from engine.backtest.models import BacktestSpec
from engine.backtest.replay import check_graph, prepare, slots_for
from engine.backtest.run import Checkpoint, backtest_strategy, performance_of, run_slots
from engine.clock import Deadline, iso
from engine.errors import MarketDataUnavailable, ValidationFailed, VersionNotFound
from engine.graph.validate import validate_graph
from engine.market.types import Market, MarketDataProvider
from engine.models.strategy import NodeGraph
from engine.performance import CurvePoint, Performance
from engine.settings import Settings, get_settings
from engine.storage.backtests import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    BacktestNotFound,
    BacktestRepository,
    HistoryCacheRepository,
)
from engine.storage.dynamo import get_clients
from engine.storage.history import HistoryRepository
from engine.storage.pages import Page
from engine.storage.strategies import StrategyRepository

logger = logging.getLogger(__name__)

CURVE_POINTS_SHOWN = 1000  # the stored result's equity curve is thinned to this many points
CHUNK_DEADLINE_SECONDS = 600.0


class BacktestQueue(Protocol):
    def send(self, body: Mapping[str, Any]) -> None: ...


class SqsBacktestQueue:
    """The BacktestQueue (SQS); each message names one chunk's window."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, body: Mapping[str, Any]) -> None:
        from engine.storage.messaging import Messaging, MessagingError

        try:
            Messaging(self.settings).sqs.send_message(
                QueueUrl=self.settings.backtest_queue_url, MessageBody=json.dumps(body, sort_keys=True)
            )
        except Exception as exc:  # boto3 errors: the backtest stays queued and is reported failed below
            raise MessagingError("backtest queue unavailable", details={"error": type(exc).__name__}) from exc


@dataclass
class BacktestStores:
    backtests: BacktestRepository
    history_cache: HistoryCache
    strategies: StrategyRepository
    queue: BacktestQueue
    settings: Settings = field(default_factory=get_settings)
    history: HistoryRepository | None = None  # the strategies' kept graph versions (graph_version)

    @classmethod
    def default(cls, settings: Settings | None = None) -> BacktestStores:
        settings = settings or get_settings()
        clients = get_clients(settings)
        return cls(
            backtests=BacktestRepository(clients),
            history_cache=HistoryCacheRepository(clients),
            strategies=StrategyRepository(clients),
            queue=SqsBacktestQueue(settings),
            settings=settings,
            history=HistoryRepository(clients),
        )


# -- start --------------------------------------------------------------------------------------------------


def start_backtest(
    *,
    owner: str,
    spec: BacktestSpec,
    now: datetime,
    stores: BacktestStores,
    node_graph: Any = None,
    strategy_id: str | None = None,
    graph_version: int | None = None,
) -> dict[str, Any]:
    """Check and queue a backtest of a saved strategy (any state) or of an unsaved graph.

    ValidationFailed (422): a graph that cannot trade, a field without history and no allow_proxies, a
    period in the future, more than MAX_SLOTS slots. StrategyNotFound (404). VersionNotFound (404
    `not_found`): a graph_version the strategy never had. QuotaExceeded (429): the user already has the
    allowed number queued or running.
    """
    loc: tuple[str, ...] = ("node_graph",)
    if strategy_id is not None:
        strategy = stores.strategies.get(strategy_id, owner=owner)
        version: int | None = strategy.graph_version
        node_graph = strategy.node_graph
        loc = ("strategy", "node_graph")
        if graph_version is not None and graph_version != strategy.graph_version:
            # an older graph of the strategy, as its history keeps it (the out-of-sample view backtests the
            # version that was deployed, whatever the strategy's graph is now)
            history = stores.history or HistoryRepository(stores.strategies.clients)
            kept = history.get_version(strategy_id, graph_version)
            if kept is None:
                raise VersionNotFound(
                    f"graph_version {graph_version} not found: the strategy's graph versions are 1 to "
                    f"{strategy.graph_version}",
                    details={"graph_version": graph_version, "current_graph_version": strategy.graph_version},
                )
            version, node_graph = graph_version, kept.node_graph
            loc = ("strategy", "versions", str(graph_version), "node_graph")
        graph = validate_graph(node_graph, for_deploy=True)
    else:
        graph = validate_graph(node_graph, for_deploy=True)
        version = None
    warnings = check_graph(graph, allow_proxies=spec.allow_proxies, loc=loc)
    if spec.end > now:
        raise ValidationFailed(
            "a backtest ends in the past: `end` is after now",
            details=[{"loc": ["end"], "msg": f"at most {iso(now)}"}],
        )
    slots = slots_for(spec)
    if not slots:
        raise ValidationFailed(
            "the period has no slot at this schedule", details=[{"loc": ["start"], "msg": "no slot"}]
        )
    backtest_id = str(uuid.uuid4())
    record = {
        "backtest_id": backtest_id,
        "owner": owner,
        "strategy_id": strategy_id,
        "graph_version": version,
        "graph": graph.model_dump_json(),
        "spec": spec.model_dump_json(),
        "status": "queued",
        "progress": Decimal(0),
        "slots_total": len(slots),
        "slots_done": 0,
        "warnings": json.dumps(warnings),
        "created_at": now,
        "updated_at": now,
    }
    stores.backtests.create(
        record,
        Checkpoint.opening(backtest_id, spec.paper_bankroll_usd),
        quota=stores.settings.backtest_running_quota,
    )
    try:
        stores.queue.send({"backtest_id": backtest_id, **_window(spec, slots, 0, stores.settings)})
    except Exception:
        _end(backtest_id, record, "failed", {"error_code": "queue_unavailable"}, stores=stores, now=now)
        raise
    return stores.backtests.get(backtest_id, owner=owner)


def _window(spec: BacktestSpec, slots: list[datetime], first: int, settings: Settings) -> dict[str, Any]:
    last = min(first + settings.backtest_chunk_slots, len(slots)) - 1
    return {"first_slot": first, "window_start": iso(slots[first]), "window_end": iso(slots[last])}


# -- read, list, cancel, delete ---------------------------------------------------------------------------


def get_backtest(backtest_id: str, *, owner: str, stores: BacktestStores) -> dict[str, Any]:
    return stores.backtests.get(backtest_id, owner=owner)


def list_strategy_backtests(
    strategy_id: str, *, owner: str, limit: int, next_token: str | None, stores: BacktestStores
) -> Page[dict[str, Any]]:
    stores.strategies.get(strategy_id, owner=owner)  # 404 for a missing or foreign strategy
    return stores.backtests.list_for_strategy(strategy_id, owner=owner, limit=limit, next_token=next_token)


def list_items(
    backtest_id: str, kind: str, *, owner: str, limit: int, next_token: str | None, stores: BacktestStores
) -> Page[dict[str, Any]]:
    """Trades (`T#`, ledger order) or slot logs (`X#`, slot order) of the owner's backtest."""
    stores.backtests.get(backtest_id, owner=owner)
    return stores.backtests.page(
        backtest_id, kind, owner=owner, limit=limit, next_token=next_token, newest_first=False
    )


def delete_backtest(backtest_id: str, *, owner: str, now: datetime, stores: BacktestStores) -> str:
    """Cancel a queued or running backtest ("cancelled"), or delete a finished one ("deleted")."""
    record = stores.backtests.get(backtest_id, owner=owner)
    if record["status"] in ACTIVE_STATUSES and _end(
        backtest_id, record, "cancelled", {}, stores=stores, now=now
    ):
        return "cancelled"
    stores.backtests.delete(backtest_id)
    return "deleted"


# -- the worker: one chunk --------------------------------------------------------------------------------


@dataclass
class ChunkOutcome:
    outcome: str  # ran | finished | skipped | cancelled | gone | failed
    slots: int = 0
    trades: int = 0
    history_requests: int = 0


def run_chunk(
    message: Mapping[str, Any],
    *,
    stores: BacktestStores,
    markets: MarketDataProvider,
    history: PriceHistoryProvider,
    now: datetime,
    crash_after_write: bool = False,
) -> ChunkOutcome:
    """Run the slots of one chunk from the stored checkpoint, write them, and queue the next chunk.

    The checkpoint in the table, not the message, says where the backtest stands: a duplicate or stale
    message finds the checkpoint past its window and only makes sure the next step was queued; a chunk that
    crashed after writing its trades runs again from the old checkpoint and rewrites the same items.
    `crash_after_write` stops right there (tests prove the resume with it).
    """
    backtest_id = str(message["backtest_id"])
    record = stores.backtests.find(backtest_id)
    if record is None:
        return ChunkOutcome("gone")
    if record["status"] in FINISHED_STATUSES:
        return ChunkOutcome("cancelled" if record["status"] == "cancelled" else "skipped")
    spec = BacktestSpec.model_validate_json(record["spec"])
    graph = NodeGraph.model_validate_json(record["graph"])
    slots = slots_for(spec)
    checkpoint, version = stores.backtests.checkpoint(backtest_id)
    first = int(message.get("first_slot", 0))
    if checkpoint.slots_done != first:
        # already run (a redelivery), or not yet due: make sure the step after the checkpoint is queued
        if checkpoint.slots_done >= len(slots):
            return _finish(backtest_id, record, spec, stores, now=now, outcome="finished")
        if checkpoint.slots_done > first:
            stores.queue.send(
                {"backtest_id": backtest_id, **_window(spec, slots, checkpoint.slots_done, stores.settings)}
            )
        return ChunkOutcome("skipped")
    deadline = Deadline(CHUNK_DEADLINE_SECONDS)
    try:
        universe_markets = _universe(markets, stores.settings, deadline)
        prepared = prepare(
            graph,
            spec,
            markets=universe_markets,
            history=history,
            cache=stores.history_cache,
            now=now,
            deadline=deadline,
            slots=slots,
        )
    except MarketDataUnavailable as exc:
        _end(
            backtest_id,
            record,
            "failed",
            {"error_code": exc.code, "error_message": exc.message[:500]},
            stores=stores,
            now=now,
        )
        return ChunkOutcome("failed")
    window = slots[first : first + stores.settings.backtest_chunk_slots]
    strategy = backtest_strategy(backtest_id, graph, owner=str(record["owner"]), at=spec.start)
    chunk = run_slots(strategy, prepared.universe, window, checkpoint)
    stores.backtests.update(
        backtest_id,
        {
            "status": "running",
            "data_fidelity": json.dumps(prepared.data_fidelity),
            "warnings": json.dumps(prepared.warnings),
            "history_requests": int(record.get("history_requests") or 0) + prepared.history.requests,
            "updated_at": now,
        },
        only_if_status=ACTIVE_STATUSES,
    )
    moved = stores.backtests.save_chunk(
        backtest_id,
        trades=chunk.trades,
        executions=chunk.executions,
        curve=chunk.curve,
        first_index=first,
        checkpoint=chunk.checkpoint,
        read_version=version,
    )
    if crash_after_write:
        raise RuntimeError("chunk stopped after writing (test)")
    done = chunk.checkpoint.slots_done
    outcome = ChunkOutcome(
        "ran", slots=len(window), trades=len(chunk.trades), history_requests=prepared.history.requests
    )
    if not moved:
        return ChunkOutcome("skipped")
    stores.backtests.update(
        backtest_id,
        {"slots_done": done, "progress": (Decimal(done) / Decimal(len(slots))).quantize(Decimal("0.0001"))},
        only_if_status=ACTIVE_STATUSES,
    )
    if done >= len(slots):
        _finish(backtest_id, record, spec, stores, now=now, outcome="finished")
        outcome.outcome = "finished"
        return outcome
    stores.queue.send({"backtest_id": backtest_id, **_window(spec, slots, done, stores.settings)})
    return outcome


def fail_dead_lettered(message: Mapping[str, Any], *, stores: BacktestStores, now: datetime) -> str:
    """End a backtest `failed` when a chunk's message reached the BacktestDLQ (it failed every delivery).

    Whatever stopped the chunk (an exception, a Lambda timeout, the runtime running out of memory), SQS moved
    the message there, so this sees every case. Only a backtest still waiting on that window is ended: a
    stale copy of a window another delivery already ran changes nothing. Returns what it did.
    """
    backtest_id = str(message.get("backtest_id") or "")
    record = stores.backtests.find(backtest_id) if backtest_id else None
    if record is None:
        return "gone"
    if record["status"] not in ACTIVE_STATUSES:
        return "finished"
    first = int(message.get("first_slot", 0))
    checkpoint, _ = stores.backtests.checkpoint(backtest_id)
    if checkpoint.slots_done > first:
        return "stale"
    window = f"slots from {first}"
    if message.get("window_start") and message.get("window_end"):
        window += f" ({message['window_start']} to {message['window_end']})"
    ended = _end(
        backtest_id,
        record,
        "failed",
        {
            "error_code": "chunk_failed",
            "error_message": f"the chunk of {window} failed on every delivery and was moved to the "
            "dead-letter queue; the backtest stopped there",
        },
        stores=stores,
        now=now,
    )
    return "failed" if ended else "finished"


def _end(
    backtest_id: str,
    record: Mapping[str, Any],
    status: str,
    values: Mapping[str, Any],
    *,
    stores: BacktestStores,
    now: datetime,
) -> bool:
    """Move a queued or running backtest to a final status and give its place in the running quota back, in
    one transaction (once: False when it had already ended)."""
    return stores.backtests.end(
        backtest_id,
        owner=str(record["owner"]),
        values={**values, "status": status, "updated_at": now, "completed_at": now},
    )


def _universe(provider: MarketDataProvider, settings: Settings, deadline: Deadline) -> list[Market]:
    """Every market the provider lists, open or closed: each is shown only between its start and close."""
    return provider.list_markets(
        active_only=False, max_markets=settings.market_snapshot_size, deadline=deadline
    )


def _thin(curve: list[CurvePoint], at_most: int) -> list[CurvePoint]:
    if len(curve) <= at_most:
        return curve
    step = len(curve) / at_most
    picked = [curve[min(len(curve) - 1, int((i + 1) * step) - 1)] for i in range(at_most)]
    return picked


def _finish(
    backtest_id: str,
    record: Mapping[str, Any],
    spec: BacktestSpec,
    stores: BacktestStores,
    *,
    now: datetime,
    outcome: str,
) -> ChunkOutcome:
    trades = stores.backtests.all_trades(backtest_id)
    curve = stores.backtests.all_curve(backtest_id)
    checkpoint, _ = stores.backtests.checkpoint(backtest_id)
    performance, _ = performance_of(
        backtest_id, spec.paper_bankroll_usd, trades, curve, checkpoint, at=checkpoint.last_slot or spec.end
    )
    performance.equity_curve = _thin(performance.equity_curve, CURVE_POINTS_SHOWN)
    _end(
        backtest_id,
        record,
        "completed",
        {"progress": Decimal(1), "result": performance.model_dump_json(), "trades_count": len(trades)},
        stores=stores,
        now=now,
    )
    return ChunkOutcome(outcome, trades=len(trades))


# -- compare with reality ---------------------------------------------------------------------------------


def performance_of_record(record: Mapping[str, Any]) -> Performance | None:
    raw = record.get("result")
    return Performance.model_validate_json(raw) if raw else None


def in_period(performance: Performance, start: datetime, end: datetime) -> Performance:
    """A performance document with its curve cut to a period (the live side of the comparison)."""
    cut = performance.model_copy(deep=True)
    cut.equity_curve = [p for p in cut.equity_curve if start - timedelta(seconds=1) <= p.at <= end]
    return cut


def _period_profit(performance: Performance, start: datetime, end: datetime) -> Decimal | None:
    """Equity at the last point at or before `end` minus equity at the first point at or after `start`."""
    inside = [p for p in performance.equity_curve if start <= p.at <= end]
    if not inside:
        return None
    return inside[-1].equity_usd - inside[0].equity_usd


def compare(
    strategy_id: str,
    backtest_id: str,
    *,
    owner: str,
    now: datetime,
    stores: BacktestStores,
    live_stores: Any = None,
) -> dict[str, Any]:
    """The live strategy's performance over a backtest's period beside the backtest's (the out-of-sample
    view). 404 when either is missing or foreign or the backtest is not of this strategy; 409 while the
    strategy has no live portfolio (DRAFT)."""
    from engine.services import strategies

    live_stores = live_stores or strategies.Stores.default()
    strategy = live_stores.strategies.get(strategy_id, owner=owner)
    record = stores.backtests.get(backtest_id, owner=owner)
    if record.get("strategy_id") != strategy_id:
        raise BacktestNotFound("backtest not found")
    live = strategies.get_performance(strategy_id, owner=owner, now=now, stores=live_stores)
    spec = BacktestSpec.model_validate_json(record["spec"])
    backtest = performance_of_record(record)
    live_cut = in_period(live, spec.start, spec.end)
    live_profit = _period_profit(live, spec.start, spec.end)

    def diff(a: Decimal | None, b: Decimal | None) -> Decimal | None:
        return a - b if a is not None and b is not None else None

    version = int(record["graph_version"]) if record.get("graph_version") is not None else None
    return {
        "strategy_id": strategy_id,
        "backtest_id": backtest_id,
        "graph_version": version,
        "live_graph_version": strategy.graph_version,
        "same_graph_version": version == strategy.graph_version,
        "start": spec.start,
        "end": spec.end,
        "backtest": backtest.model_dump() if backtest else None,
        "live": live_cut.model_dump(),
        "difference": {
            "period_profit_usd": diff(live_profit, backtest.total_profit_usd if backtest else None),
            "max_drawdown_relative": diff(
                live.max_drawdown_relative, backtest.max_drawdown_relative if backtest else None
            ),
            "win_rate": diff(live.win_rate, backtest.win_rate if backtest else None),
        },
    }
