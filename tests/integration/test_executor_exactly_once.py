"""The cron executor runs each due strategy once per slot: concurrent invocations, and a run killed after
its claim, through `lambda_handler` with real scheduled events (moto serialized: the proof is our logic)."""

from __future__ import annotations

import copy
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from engine.models.strategy import NodeGraph, StrategyStatus
from engine.storage.strategies import DueRef, StrategyRepository
from tests.support.builders import EXAMPLE_GRAPH, T0, make_strategy
from tests.support.lambda_context import HandlerStack, handler_stack, scan_all


def one_position_graph() -> NodeGraph:
    """DESIGN 5's example over the 10 largest markets, one position: small traces keep moto fast (its
    transactions copy whole tables)."""
    graph: dict[str, Any] = copy.deepcopy(EXAMPLE_GRAPH)
    graph["nodes"][0]["config"]["limit"] = 10
    graph["nodes"][2]["config"]["max_positions"] = 1
    return NodeGraph.model_validate(graph)


def seed_running(count: int, *, due_at: Any = T0, **overrides: Any) -> list[str]:
    strategies = [
        make_strategy(
            status=StrategyStatus.RUNNING, due_at=due_at, node_graph=one_position_graph(), **overrides
        )
        for _ in range(count)
    ]
    StrategyRepository().put_many(strategies)
    return [s.strategy_id for s in strategies]


def logs_and_trades(stack: HandlerStack) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    client = stack.aws.session.client("dynamodb")
    logs = scan_all(client, os.environ["EXECUTIONS_TABLE"])
    trades = [t for t in scan_all(client, os.environ["TRADES_TABLE"]) if t["trade_id"] != "~marks"]
    return logs, trades


def test_four_concurrent_invocations_for_one_tick_run_each_of_200_strategies_exactly_once() -> None:
    with handler_stack(RUN_CONCURRENCY="8", SAFETY_MARGIN_SECONDS="2", RUN_DEADLINE_SECONDS="20") as stack:
        # Given 200 strategies due at the tick's slot
        ids = seed_running(200)

        # When four invocations for the same scheduled event run at once (EventBridge may deliver twice,
        # and a slow tick overlaps the next)
        with ThreadPoolExecutor(max_workers=4) as pool:
            reports = list(pool.map(lambda _: stack.cron(T0 + timedelta(seconds=2)), range(4)))

        # Then every strategy ran once: one log for the slot, its trades written once
        logs, trades = logs_and_trades(stack)
        runs = Counter((log["strategy_id"], log["scheduled_for"]) for log in logs)
        assert sorted(sid for sid, _ in runs) == sorted(ids)
        assert set(runs.values()) == {1}
        assert all(log["status"] == "completed" and log["trigger"] == "schedule" for log in logs)
        assert len({t["trade_id"] for t in trades}) == len(trades)
        assert Counter(t["strategy_id"] for t in trades) == Counter(dict.fromkeys(ids, 1))
        # and the invocations shared the work without overlap
        assert sum(r["executed"] for r in reports) == 200
        assert sum(r["claimed"] for r in reports) == 200
        repo = StrategyRepository()
        for sid in ids[:20]:
            stored = repo.find(sid)
            assert stored is not None
            assert stored.total_executions == 1 and stored.claim_token is None
            assert stored.due_at == T0 + timedelta(minutes=1)


def test_a_run_killed_after_its_claim_is_completed_by_a_later_tick_after_the_lease() -> None:
    with handler_stack(CLAIM_LEASE_SECONDS="120", SAFETY_MARGIN_SECONDS="2") as stack:
        # Given a strategy whose run claimed the 12:00 slot and died before committing
        [sid] = seed_running(1)
        repo = StrategyRepository()
        claimed = repo.claim(DueRef(sid, T0), slot=T0, now=T0, lease_seconds=120)
        assert claimed is not None

        # When the next tick comes while the lease holds, and another after it expired
        during_lease = stack.cron(T0 + timedelta(minutes=1))
        after_lease = stack.cron(T0 + timedelta(minutes=3))

        # Then the first leaves it alone and the second runs the latest slot once, recording the missed ones
        assert during_lease["not_claimed"] == 1 and during_lease["executed"] == 0
        assert after_lease["executed"] == 1
        logs, trades = logs_and_trades(stack)
        runs = [log for log in logs if log["status"] != "skipped"]
        skipped = [log for log in logs if log["status"] == "skipped"]
        assert [(r["scheduled_for"], r["status"]) for r in runs] == [
            ("2026-11-24T12:03:00.000Z", "completed")
        ]
        assert [(s["scheduled_for"], s["missed_slots"]) for s in skipped] == [("2026-11-24T12:00:00.000Z", 3)]
        assert len(trades) == 1

        # When the same tick is delivered again (a retry)
        again = stack.cron(T0 + timedelta(minutes=3, seconds=20))

        # Then nothing runs twice
        assert again["executed"] == 0
        assert logs_and_trades(stack) == (logs, trades)
        stored = repo.find(sid)
        assert (
            stored is not None and stored.due_at == T0 + timedelta(minutes=4) and stored.claim_token is None
        )
