"""POST /run's engine call: `run_manual` runs a strategy now through the cron's code path."""

from __future__ import annotations

import pytest

from engine.clock import Deadline
from engine.errors import InvalidTransition, StrategyNotFound
from engine.models.strategy import StrategyStatus
from engine.services.execution import run_manual
from engine.storage.strategies import StrategyRepository
from tests.integration.test_executor_exactly_once import logs_and_trades, one_position_graph
from tests.support.builders import T0, make_strategy
from tests.support.lambda_context import handler_stack
from tests.support.polymarket import client_for


def test_a_manual_run_trades_under_its_own_slot_key_and_leaves_the_schedule_alone() -> None:
    with handler_stack() as stack:
        # Given a running strategy due at 12:05
        strategy = make_strategy(
            status=StrategyStatus.RUNNING, due_at=T0.replace(minute=5), node_graph=one_position_graph()
        )
        StrategyRepository().put_many([strategy])

        # When its owner runs it at 12:00
        log = run_manual(
            strategy.strategy_id,
            owner=strategy.created_by,
            now=T0,
            deadline=Deadline(20),
            provider=client_for(stack.server),
        )

        # Then it ran as a manual run, traded, and its schedule and failure count did not move
        assert (log.status.value, log.trigger, log.scheduled_for, log.trades_created) == (
            "completed",
            "manual",
            T0,
            1,
        )
        _, trades = logs_and_trades(stack)
        assert [t["slot_key"] for t in trades] == ["manual:2026-11-24T12:00:00Z"]
        stored = StrategyRepository().find(strategy.strategy_id)
        assert stored is not None
        assert stored.due_at == T0.replace(minute=5) and stored.total_executions == 1
        assert stored.consecutive_failures == 0 and stored.claim_token is None


def test_a_manual_run_of_a_draft_or_of_someone_elses_strategy_is_refused() -> None:
    with handler_stack() as stack:
        # Given a draft
        draft = make_strategy(status=StrategyStatus.DRAFT)
        StrategyRepository().put_many([draft])
        provider = client_for(stack.server)

        # When / Then: a draft cannot run, and another user's strategy does not exist for the caller
        with pytest.raises(InvalidTransition) as refused:
            run_manual(
                draft.strategy_id, owner=draft.created_by, now=T0, deadline=Deadline(5), provider=provider
            )
        assert refused.value.details["status"] == "DRAFT"
        with pytest.raises(StrategyNotFound):
            run_manual(
                draft.strategy_id, owner="someone-else", now=T0, deadline=Deadline(5), provider=provider
            )
        assert logs_and_trades(stack) == ([], [])
