"""A short demo scenario end to end on the local stack with the real handlers: the portfolio equals the
ledger replay, no cash goes negative, and every slot runs exactly once."""

from __future__ import annotations

import importlib.util
import io

import pytest

from local.clock import FastClock
from local.demo import DEMO_PARAMETERS, Scenario, default_plans, run_scenario, summary_rows
from local.lambda_runtime import function_specs
from local.stack import LocalStack, StackConfig

MISSING = [s.module for s in function_specs("x").values() if importlib.util.find_spec(s.module) is None]


@pytest.mark.slow
@pytest.mark.skipif(bool(MISSING), reason=f"handlers not landed yet: {MISSING}")
def test_a_short_demo_keeps_portfolio_equal_to_ledger_and_one_run_per_slot() -> None:
    # Given two strategies of two users (the DESIGN example every 5 minutes, a 1-minute one paused midway)
    plans = default_plans()
    scenario = Scenario(minutes=30, plans=[plans[0], plans[2]], pause_index=1, progress=False)
    config = StackConfig(prefix="e2e-demo", driven=True, parameters=DEMO_PARAMETERS)
    stack = LocalStack(config, clock=FastClock(scenario.start))

    # When 30 simulated minutes run on the local stack
    with stack:
        result = run_scenario(scenario, stack=stack, out=io.StringIO())

    # Then the scenario's own checks pass and the DESIGN example traded on the recorded data
    assert result.failures == []
    rows = {row["STRATEGY"]: row for row in summary_rows(result)}
    design = rows["Mid-priced liquid YES"]
    assert int(design["RUNS"]) == 6
    assert int(design["TRADES"]) > 0
    assert int(rows["High-volume scalper"]["RUNS"]) == 30 - 5  # paused for five slots
    assert result.pause is not None
    # and the DESIGN example, redeployed halfway with graph version 2, shows its two deployments, while the
    # alert strategy filled a watchlist the reader traded from (the checks above prove only from it)
    assert [d["graph_versions"] for d in result.history.deployments] == [[2], [1, 2]]
    assert result.history.deployments[1]["final_summary"] is not None
    assert result.history.watchlist_items and int(rows["Trades the watchlist"]["RUNS"]) == 6
