"""The timeline from the engine's side: an auto-pause is written with the pause itself, by the cron handler,
with its reason; runs carry the strategy's deployment into their logs and trades."""

from __future__ import annotations

from datetime import timedelta

from engine.models.history import EventType
from engine.models.strategy import StrategyStatus
from engine.nodes.registry import register, unregister
from engine.storage.history import HistoryRepository
from engine.storage.strategies import StrategyRepository
from tests.integration.test_executor_exactly_once import logs_and_trades, one_position_graph
from tests.integration.test_executor_failures import Explode, exploding_graph
from tests.support.builders import T0, make_strategy
from tests.support.lambda_context import handler_stack


def test_the_timeline_lists_an_auto_pause_with_its_reason_once() -> None:
    register(Explode)
    try:
        with handler_stack() as stack:
            # Given a running strategy that fails every run
            failing = make_strategy(
                status=StrategyStatus.RUNNING, due_at=T0, node_graph=exploding_graph(), owner="owner-9"
            )
            StrategyRepository().put_many([failing])

            # When four ticks pass (it pauses itself on the third)
            for minute in range(4):
                stack.cron(T0 + timedelta(minutes=minute, seconds=1))

            # Then the timeline has exactly one auto_paused entry, by the system, with its reason and run
            events = (
                HistoryRepository()
                .list_events(failing.strategy_id, scope="owner-9", limit=10, next_token=None)
                .items
            )
            assert [e.type for e in events] == [EventType.AUTO_PAUSED]
            event = events[0]
            assert (event.actor, event.from_status, event.to_status) == ("system", "RUNNING", "PAUSED")
            assert event.reason == "auto:consecutive_failures"
            assert event.at == T0 + timedelta(minutes=2)  # the tick's time, floored to its minute
            logs, _ = logs_and_trades(stack)
            third = next(log for log in logs if log["scheduled_for"] == "2026-11-24T12:02:00.000Z")
            assert event.execution_id == third["execution_id"]
    finally:
        unregister(Explode.type_name)


def test_scheduled_runs_write_the_strategys_deployment_on_their_logs_and_trades() -> None:
    with handler_stack() as stack:
        # Given a running strategy on a deployment
        strategy = make_strategy(
            status=StrategyStatus.RUNNING, due_at=T0, node_graph=one_position_graph(), deployment_id="d_live"
        )
        StrategyRepository().put_many([strategy])

        # When a tick runs it
        stack.cron(T0 + timedelta(seconds=1))

        # Then its log and its trades name the deployment
        logs, trades = logs_and_trades(stack)
        assert trades and {t["deployment_id"] for t in trades} == {"d_live"}
        assert {log["deployment_id"] for log in logs} == {"d_live"}
