"""Settlements release the shared exposure counters (issue 14), as sells do: the tick's settlement pass
commits a resolved position's SETTLE trade and the counters' release in one transaction, exactly once. A
deleted strategy's open positions leave them with its account."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.errors import StorageError
from engine.models.risk import RiskLimits
from engine.models.strategy import StrategyStatus
from engine.storage.portfolios import SETTLE_RECHECK, AccountRepository
from engine.storage.risk import MARKET_PREFIX, TOTAL_SK, RiskRepository
from engine.storage.runs import CommitResult, RunCommit, RunRepository
from engine.storage.strategies import StrategyRepository
from functions.control_api import app as api_app
from tests.integration.test_executor_exactly_once import one_position_graph
from tests.support.builders import T0, make_strategy
from tests.support.http import Api
from tests.support.lambda_context import HandlerStack, handler_stack

D = Decimal
OWNER = "settler"
# one 100 USD entry (and any fee) fits under the total cap, a second one does not
TOTAL_CAP = D(150)
SETTLE_AT = T0 + SETTLE_RECHECK + timedelta(seconds=2)


def guarded(due_at: Any) -> str:
    strategy = make_strategy(
        owner=OWNER,
        status=StrategyStatus.RUNNING,
        due_at=due_at,
        node_graph=one_position_graph(),
        account_guard="UTC",
    )
    StrategyRepository().put_many([strategy])
    return strategy.strategy_id


def enter_then_resolve(stack: HandlerStack) -> tuple[str, str, Decimal]:
    """A guarded strategy enters one market under the total cap, is paused by its owner (so no run of its
    own settles it), and the market resolves. (strategy id, market id, the cost the counters took)."""
    risk = RiskRepository()
    risk.put_limits(OWNER, RiskLimits(max_total_exposure_usd=TOTAL_CAP), now=T0)
    risk.recount_exposure(OWNER, [])
    first = guarded(T0)
    assert stack.cron(T0 + timedelta(seconds=2))["executed"] == 1
    account = AccountRepository().get(first)
    assert account is not None and len(account.positions) == 1
    holding = next(iter(account.positions.values()))
    assert risk.exposure(OWNER)[TOTAL_SK] == holding.cost_usd >= D(100)
    api = Api(stack.aws, api_app.lambda_handler, user=OWNER, other="someone-else")
    assert api("POST", f"/strategies/{first}/pause").status == 200
    stack.server.resolve(holding.market_id, 0)
    return first, holding.market_id, holding.cost_usd


def open_exposure(risk: RiskRepository) -> dict[str, Decimal]:
    return {k: v for k, v in risk.exposure(OWNER).items() if v}


def test_a_settlement_only_commit_releases_the_exposure_and_another_strategy_uses_the_freed_room() -> None:
    with handler_stack() as stack:
        # Given a guarded strategy holding a position that took most of the total cap, and its market resolved
        first, market, _ = enter_then_resolve(stack)

        # When the tick's settlement pass settles it (the strategy is paused: no run of its own does)
        report = stack.cron(SETTLE_AT)

        # Then the position is settled and every counter is back where it was before the entry
        assert (report["executed"], report["settled"]) == (0, 1)
        account = AccountRepository().get(first)
        assert account is not None and account.positions == {}
        risk = RiskRepository()
        assert open_exposure(risk) == {}
        assert risk.exposure(OWNER)[MARKET_PREFIX + market] == 0

        # And a second guarded strategy enters a full position in the room the settlement freed
        next_minute = T0 + SETTLE_RECHECK + timedelta(minutes=1)
        second = guarded(next_minute)
        assert stack.cron(next_minute + timedelta(seconds=2))["executed"] == 1
        entered = AccountRepository().get(second)
        assert entered is not None and len(entered.positions) == 1
        holding = next(iter(entered.positions.values()))
        assert holding.cost_usd >= D(100)  # not cut to what the unreleased counters would have left
        assert open_exposure(risk)[TOTAL_SK] == holding.cost_usd


def test_a_settlement_commit_retried_after_its_answer_was_lost_releases_the_exposure_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with handler_stack() as stack:
        # Given a guarded strategy's resolved position, and storage that applies the settlement's commit but
        # loses its answer once (the pass retries it, as it retries throttling)
        _, market, _ = enter_then_resolve(stack)
        real = RunRepository.commit_run
        calls: list[RunCommit] = []

        def applied_then_lost(self: RunRepository, commit: RunCommit) -> CommitResult:
            result = real(self, commit)
            calls.append(commit)
            if len(calls) == 1:
                raise StorageError("complete run: storage is busy, try again", details={"reasons": ["None"]})
            return result

        monkeypatch.setattr(RunRepository, "commit_run", applied_then_lost)

        # When the settlement pass runs, and later ticks look again
        report = stack.cron(SETTLE_AT)
        monkeypatch.setattr(RunRepository, "commit_run", real)
        stack.cron(SETTLE_AT + SETTLE_RECHECK)

        # Then the same commit went twice, and the counters were released once: back to zero, not below
        assert report["settled"] == 1 and len(calls) == 2 and calls[0] is calls[1]
        assert calls[0].exposure, "the settlement moved the counters"
        risk = RiskRepository()
        assert risk.exposure(OWNER)[TOTAL_SK] == 0
        assert risk.exposure(OWNER)[MARKET_PREFIX + market] == 0


def test_deleting_a_guarded_strategy_with_open_positions_releases_their_exposure() -> None:
    with handler_stack() as stack:
        # Given a paused guarded strategy holding a position that took most of the total cap
        first, _, _ = enter_then_resolve(stack)
        api = Api(stack.aws, api_app.lambda_handler, user=OWNER, other="someone-else")

        # When its owner deletes it (its position was neither sold nor settled)
        assert api("DELETE", f"/strategies/{first}").status == 204

        # Then its account went, and with it the exposure it held: the cap is free again
        assert AccountRepository().get(first) is None
        assert open_exposure(RiskRepository()) == {}
