"""`next_slots(expr, tz, after, 5)` against cronsim (an independent cron library) doing the same, in one run.

For each expression (the presets and a few crons) and zone, the same 200 start times spread over 2025 (DST
changes included) are asked for their next 5 slots, by our `schedule.next_slots` and by cronsim (building a
`CronSim` from the local start time, taking 5, converting each to UTC: what a caller of cronsim must do). The
two are interleaved repeat by repeat and the best of the repeats is kept for each, so a busy neighbour on a
shared machine slows both alike. Ratio = ours / cronsim per expression; the target is <= 2 for every one.

`python -m bench.schedule_bench [--repeats 5]`; `run()` returns the figures for the report runner.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from cronsim import CronSim

from engine.schedule import FREQUENCIES, next_slots

CRONS = ("0 9 * * mon-fri", "*/10 9-17 * * mon-fri", "30 1 * * *", "0 0 1,15 * *", "*/7 * * * *")
ZONES = ("UTC", "America/New_York", "Australia/Lord_Howe")
STARTS = 200
COUNT = 5


def _starts() -> list[datetime]:
    first = datetime(2025, 1, 1, 0, 0, 17, tzinfo=UTC)
    step = timedelta(days=365) / STARTS
    return [first + step * i for i in range(STARTS)]


def _ours(expr: str, tz: str, starts: list[datetime]) -> Callable[[], None]:
    def walk() -> None:
        for after in starts:
            next_slots(expr, tz, after, COUNT)

    return walk


def _cronsim(expr: str, tz: str, starts: list[datetime]) -> Callable[[], None]:
    zone = ZoneInfo(tz)

    def walk() -> None:
        for after in starts:
            [slot.astimezone(UTC) for slot in islice(CronSim(expr, after.astimezone(zone)), COUNT)]

    return walk


def _seconds(call: Callable[[], None]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def run(repeats: int = 5) -> dict[str, Any]:
    """Microseconds per next_slots call, ours and cronsim's, and their ratio, for each expression and zone."""
    starts = _starts()
    cases: list[dict[str, Any]] = []
    for expr in (*FREQUENCIES.values(), *CRONS):
        for tz in ZONES:
            ours, theirs = _ours(expr, tz, starts), _cronsim(expr, tz, starts)
            ours()  # warm: the parsed expression and the zone's changes are cached (a warm Lambda)
            theirs()
            best_ours = min(_seconds(ours) for _ in range(repeats))
            best_theirs = min(_seconds(theirs) for _ in range(repeats))
            cases.append(
                {
                    "expr": expr,
                    "tz": tz,
                    "ours_us": round(best_ours / STARTS * 1e6, 1),
                    "cronsim_us": round(best_theirs / STARTS * 1e6, 1),
                    "ratio": round(best_ours / best_theirs, 2),
                }
            )
    preset = [c for c in cases if c["expr"] in FREQUENCIES.values()]
    return {
        "repeats": repeats,
        "starts": STARTS,
        "count": COUNT,
        "cases": cases,
        "max_ratio": max(c["ratio"] for c in cases),
        "max_preset_ratio": max(c["ratio"] for c in preset),
        "worst": max(cases, key=lambda c: c["ratio"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per case (default 5)")
    args = parser.parse_args(argv)
    figures = run(args.repeats)
    print(f"next_slots(expr, tz, after, {COUNT}), best of {figures['repeats']}, {STARTS} start times")
    for case in figures["cases"]:
        print(
            f"  {case['expr']:<24} {case['tz']:<22} ours {case['ours_us']:7.1f} us  "
            f"cronsim {case['cronsim_us']:7.1f} us  {case['ratio']:.2f}x"
        )
    print(f"max ratio {figures['max_ratio']:.2f}x (presets {figures['max_preset_ratio']:.2f}x); target <= 2")
    return 0 if figures["max_ratio"] <= 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
