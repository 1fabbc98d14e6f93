"""A run that read its strategy just before the owner set shared limits (or turned the kill switch on) does
not enter past them: its commit holds only while the strategy is still unmarked, else it decides again."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.models.strategy import StrategyStatus
from engine.storage.portfolios import AccountRepository
from engine.storage.risk import TOTAL_SK, RiskRepository
from engine.storage.runs import CommitResult, RunCommit, RunRepository
from engine.storage.strategies import StrategyRepository
from functions.control_api import app as api_app
from tests.integration.test_executor_exactly_once import one_position_graph
from tests.support.builders import T0, make_strategy
from tests.support.http import Api
from tests.support.lambda_context import HandlerStack, handler_stack, scan_all

OWNER = "late-limits"


def unguarded_running() -> str:
    strategy = make_strategy(
        owner=OWNER, status=StrategyStatus.RUNNING, due_at=T0, node_graph=one_position_graph()
    )
    assert strategy.account_guard is None
    StrategyRepository().put_many([strategy])
    return strategy.strategy_id


def before_the_first_commit(monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]) -> list[RunCommit]:
    """Run `action` once, after the run decided and before it commits (the owner acting mid-run)."""
    real = RunRepository.commit_run
    commits: list[RunCommit] = []

    def commit_run(self: RunRepository, commit: RunCommit) -> CommitResult:
        if not commits:
            action()
        commits.append(commit)
        return real(self, commit)

    monkeypatch.setattr(RunRepository, "commit_run", commit_run)
    return commits


def limit_decisions(stack: HandlerStack, strategy_id: str) -> list[dict[str, Any]]:
    client = stack.aws.session.client("dynamodb")
    logs = [
        log for log in scan_all(client, os.environ["EXECUTIONS_TABLE"]) if log["strategy_id"] == strategy_id
    ]
    return [
        d
        for log in logs
        for node in log.get("trace") or []
        for d in node.get("decisions") or []
        if d.get("action") == "limit"
    ]


def test_limits_set_after_a_run_read_its_strategy_still_cut_its_entry_and_count_its_exposure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with handler_stack() as stack:
        api = Api(stack.aws, api_app.lambda_handler, user=OWNER, other="someone-else")
        # Given a running strategy of an owner with no limits, whose run decides a 100 USD entry
        sid = unguarded_running()

        # When the owner sets a 50 USD total cap after the run read its strategy, before it commits
        def set_limits() -> None:
            assert api("PUT", "/risk-limits", body={"max_total_exposure_usd": 50}).status == 200

        commits = before_the_first_commit(monkeypatch, set_limits)
        report = stack.cron(T0 + timedelta(seconds=2))

        # Then the unguarded commit did not hold: the run decided again under the cap, cut its entry to the
        # room left, moved the counters, and its trace says which limit cut it
        assert report["executed"] == 1 and report["commit_failed"] == 0
        account = AccountRepository().get(sid)
        assert account is not None and len(account.positions) == 1
        holding = next(iter(account.positions.values()))
        assert holding.cost_usd <= Decimal(50)
        assert RiskRepository().exposure(OWNER)[TOTAL_SK] == holding.cost_usd
        assert [(d["status"], d["limit"]) for d in limit_decisions(stack, sid)] == [
            ("cut", "max_total_exposure_usd")
        ]
        assert [c.unguarded_entries for c in commits] == [True, False]


def test_a_kill_switch_turned_on_after_a_run_read_its_strategy_blocks_its_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with handler_stack() as stack:
        api = Api(stack.aws, api_app.lambda_handler, user=OWNER, other="someone-else")
        # Given a running strategy of an owner with no limits, whose run decides an entry
        sid = unguarded_running()

        # When the owner switches to exits only after the run read its strategy, before it commits
        def exits_only() -> None:
            assert api("POST", "/kill-switch", body={"mode": "exits_only"}).status == 200

        before_the_first_commit(monkeypatch, exits_only)
        report = stack.cron(T0 + timedelta(seconds=2))

        # Then the run still completes, but enters nothing, and its trace names the kill switch
        assert report["executed"] == 1 and report["commit_failed"] == 0
        account = AccountRepository().get(sid)
        assert account is None or account.positions == {}
        assert [(d["status"], d["limit"]) for d in limit_decisions(stack, sid)] == [
            ("blocked", "kill_switch")
        ]
