"""The list views' equity sparkline: one value per hour, the latest last, bounded; late records ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from engine.sparkline import SPARKLINE_POINTS, extend_sparkline

T0 = datetime(2026, 2, 7, 12, 10, tzinfo=UTC)


def test_the_first_value_starts_it_at_its_hour() -> None:
    assert extend_sparkline([], None, D(1000), T0) == ([D(1000)], T0.replace(minute=0))


def test_a_value_in_the_same_hour_replaces_the_last_one() -> None:
    line, hour = extend_sparkline([D(1000)], T0.replace(minute=0), D(990), T0 + timedelta(minutes=30)) or (
        [],
        None,
    )
    assert (line, hour) == ([D(990)], T0.replace(minute=0))


def test_later_hours_append_and_a_silent_hour_repeats_the_previous_value() -> None:
    start = T0.replace(minute=0)
    line, hour = extend_sparkline([D(1000)], start, D(1020), T0 + timedelta(hours=3)) or ([], None)
    assert line == [D(1000), D(1000), D(1000), D(1020)]
    assert hour == start + timedelta(hours=3)


def test_it_keeps_only_the_latest_points_and_ignores_a_late_record() -> None:
    start = T0.replace(minute=0)
    values = [D(i) for i in range(SPARKLINE_POINTS)]
    line, _ = extend_sparkline(values, start, D(-1), T0 + timedelta(hours=1)) or ([], None)
    assert len(line) == SPARKLINE_POINTS and line[-1] == D(-1) and line[0] == D(1)
    assert extend_sparkline(values, start, D(5), T0 - timedelta(hours=2)) is None
