"""Setting limits counts the exposure the owner's accounts hold at that moment (not the account view, which
trails the stream), and a run committing while it is counted is neither lost nor counted twice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.models.strategy import StrategyStatus
from engine.storage.portfolios import AccountRepository
from engine.storage.risk import MARKET_PREFIX, TOTAL_SK, RiskRepository
from engine.storage.strategies import StrategyRepository
from functions.control_api import app as api_app
from tests.integration.test_executor_exactly_once import one_position_graph
from tests.support.builders import T0, make_strategy
from tests.support.http import Api
from tests.support.lambda_context import handler_stack

D = Decimal
OWNER = "recounted"
NEXT = T0 + timedelta(minutes=1)


def running(due_at: Any) -> str:
    strategy = make_strategy(
        owner=OWNER, status=StrategyStatus.RUNNING, due_at=due_at, node_graph=one_position_graph()
    )
    StrategyRepository().put_many([strategy])
    return strategy.strategy_id


def open_cost() -> dict[str, Decimal]:
    """What the owner's accounts hold, by counter key (the truth the counters must equal)."""
    held: dict[str, Decimal] = {}
    for strategy_id in RiskRepository().owner_strategy_ids(OWNER):
        account = AccountRepository().get(strategy_id)
        for holding in account.positions.values() if account is not None else ():
            for key in (TOTAL_SK, MARKET_PREFIX + holding.market_id):
                held[key] = held.get(key, D(0)) + holding.cost_usd
    return held


def counters() -> dict[str, Decimal]:
    return {k: v for k, v in RiskRepository().exposure(OWNER).items() if v and not k.startswith("EXP#E#")}


def test_limits_set_before_the_stream_synced_an_entry_still_count_it_and_cap_the_next_one() -> None:
    with handler_stack() as stack:
        api = Api(stack.aws, api_app.lambda_handler, user=OWNER, other="someone-else")
        # Given a strategy that entered a 100 USD position the stream has not brought into the account view
        first = running(T0)
        assert stack.cron(T0 + timedelta(seconds=2))["executed"] == 1
        second = running(NEXT)

        # When the owner sets a 150 USD total cap, and the next tick runs a second strategy
        assert api("PUT", "/risk-limits", body={"max_total_exposure_usd": 150}).status == 200
        counted, held = counters(), open_cost()
        stack.cron(NEXT + timedelta(seconds=2))

        # Then the counters started from the accounts, and the second entry was cut to the room left
        assert AccountRepository().get(first) is not None
        assert counted == held and counted[TOTAL_SK] >= D(100)
        cut = AccountRepository().get(second)
        assert (
            cut is not None and sum(h.cost_usd for h in cut.positions.values()) <= D(150) - counted[TOTAL_SK]
        )
        assert counters() == open_cost() and counters()[TOTAL_SK] <= D(150)


def test_a_run_committing_while_limits_are_counted_is_neither_lost_nor_counted_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with handler_stack() as stack:
        api = Api(stack.aws, api_app.lambda_handler, user=OWNER, other="someone-else")
        # Given one strategy holding a position, a second one due, and an owner setting limits
        running(T0)
        assert stack.cron(T0 + timedelta(seconds=2))["executed"] == 1
        running(NEXT)
        real = RiskRepository._open_cost
        counted: list[int] = []

        def open_cost_then_a_commit(self: RiskRepository, strategy_ids: Any) -> dict[str, Decimal]:
            cost = real(self, strategy_ids)
            if not counted:
                # the second strategy (marked already) enters after the accounts were read, before the
                # counters are written
                assert stack.cron(NEXT + timedelta(seconds=2))["executed"] == 2
            counted.append(len(cost))
            return cost

        monkeypatch.setattr(RiskRepository, "_open_cost", open_cost_then_a_commit)

        # When the limits are set
        assert api("PUT", "/risk-limits", body={"max_total_exposure_usd": 1000}).status == 200

        # Then the count was taken again, and the counters hold both positions exactly once
        assert len(counted) == 2
        held = open_cost()
        assert held[TOTAL_SK] >= D(200)
        assert counters() == held
