"""A benchmark whose own check fails exits non-zero (the drill's exactly once, next_slots' 2x target)."""

from __future__ import annotations

from typing import Any

import pytest

from bench import scale_drill
from bench.__main__ import own_check_passed


def _drill_figures(exactly_once: bool) -> dict[str, Any]:
    return {
        "strategies": 10,
        "seed_seconds": 0.1,
        "cron_seconds": 1.0,
        "cron_budget_seconds": 55.0,
        "cron_executed": 0 if not exactly_once else 10,
        "cron_deferred": 0,
        "cron_abandoned": 0,
        "worker_invocations": 0,
        "worker_records": 0,
        "worker_batch_item_failures": 0,
        "worker_seconds": 0.0,
        "invocations": 1,
        "function_seconds": 1.0,
        "function_ms_per_strategy": 100.0,
        "market_requests": 0,
        "exactly_once": exactly_once,
        "strategies_with_one_log": 10 if exactly_once else 0,
        "strategies_without_log": 0 if exactly_once else 10,
        "strategies_with_several_logs": 0,
        "duplicate_trades": 0,
        "strategies_not_advanced": 0 if exactly_once else 10,
    }


@pytest.mark.parametrize(("exactly_once", "status"), [(True, 0), (False, 1)])
def test_the_scale_drill_exits_non_zero_when_its_check_fails(
    monkeypatch: pytest.MonkeyPatch, exactly_once: bool, status: int
) -> None:
    # Given a drill whose check passes or fails (the run itself replaced: it needs the whole stack)
    monkeypatch.setattr(scale_drill, "run", lambda *args, **kwargs: _drill_figures(exactly_once))
    # When its command line runs / Then its exit status says so
    assert scale_drill.main(["--strategies", "10"]) == status


def test_the_report_runner_counts_a_failed_own_check_as_a_failure() -> None:
    assert own_check_passed("scale", {"exactly_once": True})
    assert not own_check_passed("scale", {"exactly_once": False})
    assert own_check_passed("schedule", {"max_ratio": 0.6})
    assert not own_check_passed("schedule", {"max_ratio": 2.4})
    assert own_check_passed("graph", {})
