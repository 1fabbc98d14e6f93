"""Drill: the market API answers 500s, then garbage JSON, then nothing at all (it hangs) for a few minutes
while strategies run every minute. Runs fail cleanly with the reason logged, no strategy pauses itself for it
(the market being down is not the strategy's failure), and once the API is back the next ticks complete
normally.

Nothing dies here, so the stack drives its own minutes in the test process (`LocalStack.step`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local.polymarket_server import FaultMode
from tests.drills.support import CHEAPER, DESIGN, drill_stack, minute

# minute -> the market API's behaviour during that minute's tick (None: healthy)
PLAN: dict[int, FaultMode | None] = {
    1: None,
    2: "error500",
    3: "error500",
    4: "garbage",
    5: "garbage",
    6: "hang",
    7: None,
    8: None,
}
FAULTY = [m for m, fault in PLAN.items() if fault]
# short market timeouts so a hanging API costs a second, not the production five
FAST_FAILURE = {"HTTP_TIMEOUT_SECONDS": "0.5", "RUN_DEADLINE_SECONDS": "3"}


@pytest.mark.slow
def test_a_failing_market_api_fails_runs_cleanly_pauses_nothing_and_recovers(tmp_path: Path) -> None:
    # Given three 1-minute strategies that would pause themselves after two failures in a row
    with drill_stack(tmp_path, extra_env=FAST_FAILURE) as drill:
        drill.create("alice", DESIGN, max_consecutive_failures=2)
        drill.create("alice", CHEAPER, max_consecutive_failures=2)
        drill.create("bob", DESIGN, max_consecutive_failures=2)
        server = drill.stack.polymarket
        assert server is not None
        reports: dict[int, Any] = {}
        ticker = drill.stack.ticker
        assert ticker is not None
        cron = ticker.invoke
        ticker.invoke = lambda event: reports.setdefault(len(reports) + 1, cron(event))

        # When the market API answers 500s for two minutes, garbage for two, hangs for one, then recovers
        for index, fault in PLAN.items():
            server.set_fault(fault)
            drill.stack.step(minute(index))
        server.set_fault(None)
        drill.stack.settle()

        # Then each tick returned, and every run during the fault failed with the reason logged
        assert sorted(reports) == sorted(PLAN)
        assert all(r is not None and r["due"] == 3 for r in reports.values())
        results = drill.read_back()
        for result in results:
            by_slot = {log["scheduled_for"]: log for log in result.logs if log["trigger"] == "schedule"}
            for index in FAULTY:
                log = by_slot[minute(index).strftime("%Y-%m-%dT%H:%M:%SZ")]
                assert log["status"] in ("failed", "timeout"), log
                assert log["error_code"] == "market_data_unavailable", log
                assert log["error_message"], log
                assert log["trades_created"] == 0
            # the healthy minutes before and after completed
            for index in (1, 7, 8):
                assert by_slot[minute(index).strftime("%Y-%m-%dT%H:%M:%SZ")]["status"] == "completed"
            # no strategy paused itself: five failed runs in a row did not count
            strategy = result.strategy
            assert strategy["status"] == "RUNNING"
            assert strategy["pause_reason"] is None
            assert strategy["consecutive_failures"] == 0
            assert strategy["last_execution_status"] == "completed"
        # and every minute ran exactly once, portfolios equal to the ledger
        assert drill.check_every_slot_ran_once(len(PLAN)) == []
        assert drill.check_portfolios_equal_the_ledger() == []
        assert drill.check_ledgers_have_no_duplicate() == []
        assert sum(len(r.trades) for r in results) > 0
