"""Drill: the stream consumer dies in the middle of a batch (the runner is SIGKILLed after the portfolio
handler synced part of the batch's strategies, before the poller saved its position), and a new runner starts.
The new one resumes from the saved position, so the whole batch comes again; portfolios synced twice change
nothing, the others catch up, and every portfolio equals the ledger replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.drills.support import CHEAPER, DESIGN, drill_stack, minute


@pytest.mark.slow
def test_a_stream_consumer_killed_mid_batch_resumes_from_its_saved_position_and_portfolios_equal_the_ledger(
    tmp_path: Path,
) -> None:
    # Given one strategy trading from the first minute and three more from the second, so the first stream
    # batch (its trades) is delivered and saved, and the second holds the newcomers' trades
    with drill_stack(tmp_path) as drill:
        drill.create("alice", DESIGN)
        drill.clock.set(minute(1))
        drill.create("alice", CHEAPER)
        drill.create("bob", DESIGN)
        drill.create("bob", CHEAPER)
        first = drill.runner("first", clock_start=minute(0), ticks=4, hold_stream_batch=2)

        # When the runner dies inside the second batch, after syncing the first half of its strategies
        events = first.wait_for(lambda es: any(e["event"] == "stream_batch_held" for e in es), 120)
        first.kill()
        batches = [e for e in events if e["event"] == "stream_batch"]
        held = next(e for e in events if e["event"] == "stream_batch_held")
        saved_file = tmp_path / "runner" / drill.stack.config.prefix
        saved_file /= "stream-positions-PortfolioStreamFunction.json"
        saved = next(iter(json.loads(saved_file.read_text()).values()))
        assert saved == held["positions"] != {}, "the first batch's position was saved, the second's not"
        assert int(next(iter(saved.values()))) < int(batches[1]["first_seq"])
        behind = set(drill.portfolio_failures())
        assert behind, "some portfolio is behind its ledger while the consumer is down"
        assert behind <= set(held["not_applied"])

        # and a new runner starts on the same saved state for the following minutes
        second = drill.runner("second", clock_start=minute(2), ticks=2, settle=True)
        second.wait(120)

        # Then it resumed from the saved position: the first record it delivered is the killed batch's first
        restarted = second.events()
        started = next(e for e in restarted if e["event"] == "started")
        assert started["stream_positions"] == saved
        redelivered = next(e for e in restarted if e["event"] == "stream_batch")
        assert redelivered["first_seq"] == batches[1]["first_seq"]
        # and every portfolio equals the ledger replay, with no trade applied twice
        assert drill.check_portfolios_equal_the_ledger() == []
        assert drill.check_ledgers_have_no_duplicate() == []
        assert all(len(r.trades) > 0 for r in drill.strategies)
        done = next(e for e in restarted if e["event"] == "done")
        assert int(next(iter(done["stream_positions"].values()))) >= int(batches[1]["last_seq"])
