"""The cron executor over simulated time: every strategy runs on exactly its slots, through a DST change,
and slots missed for an hour become one run and one `skipped` log."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.models.strategy import NodeGraph, StrategyStatus
from engine.storage.strategies import StrategyRepository
from tests.integration.test_executor_exactly_once import logs_and_trades
from tests.support.builders import T0, make_strategy
from tests.support.lambda_context import handler_stack

# No market passes the filter: these runs trade nothing, so the simulation measures scheduling only.
QUIET_GRAPH = NodeGraph.model_validate(
    {
        "nodes": [
            {"id": "src", "type": "DATA_SOURCE", "config": {"limit": 5}},
            {
                "id": "flt",
                "type": "FILTER",
                "config": {"conditions": [{"field": "volume", "op": ">", "value": 1e15}]},
            },
            {"id": "orc", "type": "ORCHESTRATOR", "config": {"outcome": "YES", "position_size_usd": 10}},
        ],
        "edges": [{"source": "src", "target": "flt"}, {"source": "flt", "target": "orc"}],
    }
)

# 2026-11-01: New York leaves daylight time at 06:00 UTC (02:00 EDT becomes 01:00 EST).
START = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
END = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def running(cron: str, tz: str = "UTC", *, due_at: datetime, frequency: str | None = None) -> Any:
    return make_strategy(
        status=StrategyStatus.RUNNING,
        due_at=due_at,
        node_graph=QUIET_GRAPH,
        schedule_cron=cron,
        frequency=frequency,
        timezone=tz,
    )


def every(minutes: int) -> list[str]:
    slots, at = [], START
    while at < END:
        slots.append(at.strftime("%Y-%m-%dT%H:%M:00.000Z"))
        at += timedelta(minutes=minutes)
    return slots


def test_strategies_of_every_frequency_run_exactly_on_their_slots_through_a_dst_change() -> None:
    with handler_stack() as stack:
        # Given 1m, 5m, 15m, 30m and 1h strategies, and two in New York on its DST day: one at 01:30 local
        # (which happens twice that night) and one hourly
        strategies = {
            "1m": running("* * * * *", due_at=START, frequency="1m"),
            "5m": running("*/5 * * * *", due_at=START, frequency="5m"),
            "15m": running("*/15 * * * *", due_at=START, frequency="15m"),
            "30m": running("*/30 * * * *", due_at=START, frequency="30m"),
            "1h": running("0 * * * *", due_at=START, frequency="1h"),
            "ny-0130": running(
                "30 1 * * *", "America/New_York", due_at=datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
            ),
            "ny-hourly": running("0 * * * *", "America/New_York", due_at=START),
        }
        StrategyRepository().put_many(strategies.values())

        # When a tick fires every minute for three hours around the change (a few seconds late, as
        # EventBridge may be)
        at = START
        while at < END:
            stack.cron(at + timedelta(seconds=3))
            at += timedelta(minutes=1)

        # Then each ran exactly on its slots, once each, with nothing skipped
        logs, _ = logs_and_trades(stack)
        ran: dict[str, list[str]] = defaultdict(list)
        for log in logs:
            assert log["status"] == "completed", log
            ran[log["strategy_id"]].append(log["scheduled_for"])
        expected = {
            "1m": every(1),
            "5m": every(5),
            "15m": every(15),
            "30m": every(30),
            "1h": every(60),
            # 01:30 EDT = 05:30 UTC; 01:30 EST (06:30 UTC) is the same local time again and does not run
            "ny-0130": ["2026-11-01T05:30:00.000Z"],
            # every real hour, through the repeated local hour
            "ny-hourly": every(60),
        }
        for name, strategy in strategies.items():
            assert sorted(ran[strategy.strategy_id]) == expected[name], name


def test_a_strategy_whose_slots_were_missed_for_an_hour_runs_once_and_logs_one_skipped_with_the_count() -> (
    None
):
    with handler_stack() as stack:
        # Given a 1m strategy due since an hour ago (the executor was down)
        strategy = running("* * * * *", due_at=T0 - timedelta(hours=1), frequency="1m")
        StrategyRepository().put_many([strategy])

        # When the tick comes back
        report = stack.cron(T0 + timedelta(seconds=5))

        # Then it ran once, for the current slot, and one skipped log counts the 60 slots it missed
        logs, _ = logs_and_trades(stack)
        statuses = sorted((log["status"], log["scheduled_for"], log.get("missed_slots")) for log in logs)
        assert statuses == [
            ("completed", "2026-11-24T12:00:00.000Z", None),
            ("skipped", "2026-11-24T11:00:00.000Z", 60),
        ]
        assert report["executed"] == 1 and report["skipped_slots"] == 60
        stored = StrategyRepository().find(strategy.strategy_id)
        assert stored is not None and stored.due_at == T0 + timedelta(minutes=1)
