"""Drill: the runner (the process running the handlers) is SIGKILLed in the middle of a tick, after some of
the tick's runs committed and before the others did, and a new runner takes over for the following minutes.
moto_server stays up throughout. Afterwards no slot is lost, none ran twice and no trade was applied twice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from local.demo import skipped_slots
from tests.drills.support import CHEAPER, DESIGN, drill_stack, minute

KILL_TICK = 3  # the first runner dies inside this minute's tick
LATER_TICKS = 5  # the second runner runs the minutes after it (the claims' 120 s lease passes inside them)


@pytest.mark.slow
def test_a_runner_killed_mid_tick_loses_no_slot_runs_none_twice_and_duplicates_no_trade(
    tmp_path: Path,
) -> None:
    # Given four 1-minute strategies of two users, a slow market API (each run takes a while) and one run at
    # a time, so a tick's commits land one by one
    with drill_stack(tmp_path) as drill:
        for _ in range(2):
            drill.create("alice", DESIGN)
            drill.create("bob", CHEAPER)
        total = len(drill.strategies)
        assert drill.stack.polymarket is not None
        drill.stack.polymarket.set_delay(0.2)
        first = drill.runner("first", clock_start=minute(0), ticks=10, env={"RUN_CONCURRENCY": "1"})

        # When the runner is SIGKILLed once the third tick's first run committed, before its last
        target = minute(KILL_TICK).isoformat()
        first.wait_for(
            lambda events: any(e["event"] == "tick_started" and e["minute"] == target for e in events), 90
        )
        committed = 0
        for _ in range(600):  # bounded: 30 s of 50 ms polls
            committed = drill.logs_for(minute(KILL_TICK))
            if committed >= 1:
                break
            first.assert_running()
            time.sleep(0.05)
        first.kill()
        landed = drill.logs_for(minute(KILL_TICK))
        assert 1 <= committed <= landed < total, "the kill came inside the tick, after its first commit"
        assert not any(e["event"] == "tick_done" and e["minute"] == target for e in first.events())

        # and a new runner (a fresh process, same moto, same tables) runs the following minutes
        drill.stack.polymarket.set_delay(0)
        second = drill.runner("second", clock_start=minute(KILL_TICK), ticks=LATER_TICKS, settle=True)
        second.wait(180)

        # Then every slot of every strategy ran once or is named in a skipped log, none ran twice
        assert drill.check_every_slot_ran_once(KILL_TICK + LATER_TICKS) == []
        # the strategies whose killed run never committed were taken again once their claim's lease passed,
        # the slots in between recorded as missed
        retaken = [
            r
            for r in drill.strategies
            if any(minute(KILL_TICK) in skipped_slots(log, 1) for log in r.logs if log["status"] == "skipped")
        ]
        assert len(retaken) == total - landed
        # no trade applied twice: unique ids, contiguous ledger, portfolios equal to the ledger replay
        assert drill.check_ledgers_have_no_duplicate() == []
        assert drill.check_portfolios_equal_the_ledger() == []
        assert all(r.strategy["status"] == "RUNNING" for r in drill.strategies)
        assert sum(len(r.trades) for r in drill.strategies) > 0
