"""Schedule slots checked against an independent cron library (cronsim) across every DST change of 2025-2027.

cronsim follows Debian cron: Vixie's day rule, fixed times (neither minute nor hour starting with `*`) walked
in wall time and run once, everything else walked in real time. DESIGN 4 differs from it in one place, on
purpose: a wall time skipped by a spring gap runs once at the gap's end for every expression, where cronsim
skips it for expressions that are not fixed. And cronsim has one flaw of its own in half-hour zones: after a
30-minute change it steps whole real hours from a wall time on the hour, so it lands on :30 and misses a
matching wall time of the next hour or two (`0 */2 * * *` at 02:00+10:30 in Lord Howe). Those two kinds of
instants are the only exceptions allowed below, and each is checked to be a real instant whose wall time
matches.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from cronsim import CronSim

from engine import schedule
from engine.schedule import ensure_fires, latest_due_slot, next_slot, next_slots, validate_cron

ZONES = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Santiago", "Australia/Sydney"]
DENSE = [
    *schedule.FREQUENCIES.values(),
    "*/7 * * * *",
    "5/15 * * * *",
    "*/20 1 * * *",
    "*/10 0,1 * * *",
    "30 1 * * *",
    "45 1 * * *",
    "0,30 1,2 * * *",
    "15 2 * * *",
    "30 0 * * *",
    "0 */2 * * *",
    "*/60 * * * *",
    "0 */24 * * *",
    "10-50/20 */3 * * *",
    "* 1-3 * * *",
]
SPARSE = [
    "0 9 * * mon-fri",
    "0 0 1,15 * fri",
    "30 2 */2 * mon",
    "0 12 * * */3",
    "15 3 1 * *",
    "0 0 */10 * *",
]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def dst_changes(tz: str) -> Iterator[tuple[datetime, timedelta, timedelta]]:
    """Each offset change of 2025-2027, found minute by minute around each hour where the offset differs."""
    zone = ZoneInfo(tz)
    hour = utc(2025, 1, 1)
    while hour < utc(2028, 1, 1):
        following = hour + timedelta(hours=1)
        before, after = _offset(zone, hour), _offset(zone, following)
        if before != after:
            minute = hour
            while _offset(zone, minute) == before:
                minute += timedelta(minutes=1)
            yield minute, before, after
        hour = following


def ours(expr: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    found, cursor = [], start
    while (cursor := next_slot(expr, tz, cursor)) < end:
        found.append(cursor)
    return found


def reference(expr: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    found = []
    for slot in CronSim(expr, start.astimezone(ZoneInfo(tz))):
        instant = slot.astimezone(UTC)
        if instant >= end:
            return found
        if instant > start:
            found.append(instant)
    return found


def deliberate_gap_runs(expr: str, tz: str, change: tuple[datetime, timedelta, timedelta]) -> set[datetime]:
    """DESIGN 4's run at the end of a spring gap that a non-fixed expression's skipped wall time asks for."""
    at, before, after = change
    minute, hour = expr.split()[:2]
    if after <= before or (not minute.startswith("*") and not hour.startswith("*")):
        return set()
    wall = (at + before).replace(tzinfo=None)
    skipped = []
    while wall < (at + after).replace(tzinfo=None):
        skipped.append(wall)
        wall += timedelta(minutes=1)
    return {at} if any(croniter.match(expr, w) for w in skipped) else set()


def cronsim_half_hour_misses(
    expr: str, tz: str, change: tuple[datetime, timedelta, timedelta], extra: set[datetime]
) -> set[datetime]:
    """Of our slots cronsim lacks, those its hour stepping skips after a 30-minute change (see the top)."""
    at, before, after = change
    if abs(after - before) != timedelta(minutes=30):
        return set()
    zone = ZoneInfo(tz)
    return {
        slot
        for slot in extra
        if at <= slot < at + timedelta(hours=3)
        and croniter.match(expr, slot.astimezone(zone).replace(tzinfo=None))
        and slot.astimezone(zone).minute != 30
    }


@pytest.mark.parametrize("tz", ZONES)
def test_slots_agree_with_cronsim_around_every_dst_change_of_2025_to_2027(tz: str) -> None:
    changes = list(dst_changes(tz))
    assert len(changes) == 6  # two a year in each of these zones
    for change in changes:
        # Given a few hours either side of a DST change
        start, end = change[0] - timedelta(hours=3), change[0] + timedelta(hours=4)
        for expr in DENSE:
            # When the schedule is walked slot by slot
            got = ours(expr, tz, start, end)
            # Then it is cronsim's list, plus DESIGN 4's run at the end of a gap where one applies
            expected = set(reference(expr, tz, start, end)) | deliberate_gap_runs(expr, tz, change)
            expected |= cronsim_half_hour_misses(expr, tz, change, set(got) - expected)
            assert got == sorted(expected), (tz, change[0], expr)


@pytest.mark.parametrize("tz", [*ZONES, "UTC"])
def test_day_rules_agree_with_cronsim_over_three_years(tz: str) -> None:
    for expr in SPARSE:
        # Given an expression with restricted days, walked through 2025-2027
        start, end = utc(2025, 1, 1), utc(2028, 1, 1)
        # When walked / Then every slot is cronsim's (Vixie's day rule, DST included)
        got = ours(expr, tz, start, end)
        assert got == reference(expr, tz, start, end), (tz, expr)
        assert len(got) >= 36  # monthly at least


def test_a_star_step_day_field_makes_the_day_match_and() -> None:
    # Given every 5 minutes on odd days of the month that are Mondays (`*/2` starts with `*`: AND)
    expr = "*/5 * */2 * mon"
    slots = next_slots(expr, "UTC", utc(2025, 1, 1), 300)
    # Then every slot is on an odd day and a Monday (croniter alone would take odd days OR Mondays)
    assert {(s.day % 2, s.isoweekday()) for s in slots} == {(1, 1)}


def test_two_restricted_day_fields_match_either() -> None:
    # Given noon on the 1st and 15th, or on Fridays
    slots = next_slots("0 12 1,15 * fri", "UTC", utc(2025, 1, 1), 8)
    # Then 1 Jan (Wed), the Fridays 3, 10, 17, 24 and 31 Jan, 15 Jan (Wed), 1 Feb (Sat)
    days = [(s.month, s.day) for s in slots]
    assert days == [(1, 1), (1, 3), (1, 10), (1, 15), (1, 17), (1, 24), (1, 31), (2, 1)]


def test_missed_count_uses_the_same_day_rule_as_the_walk() -> None:
    # Given `*/5 * */2 * mon` not run for a year (over 1,000 missed slots, so the count uses arithmetic)
    expr, tz = "*/5 * */2 * mon", "America/New_York"
    due_at = next_slot(expr, tz, utc(2025, 1, 1))
    now = utc(2026, 1, 1)
    # When the missed slots are counted
    latest, missed = latest_due_slot(expr, tz, due_at, now)
    # Then the count equals the walk's own slots in [due_at, latest)
    walked = len(ours(expr, tz, due_at - timedelta(microseconds=1), latest))
    assert missed == walked
    assert walked > 1000


def test_validation_uses_the_same_day_rule() -> None:
    # Given 30 February on Sundays, Tuesdays, Thursdays and Saturdays: `*/2` makes the days AND, so never
    # Then it is refused, though croniter's own OR rule would fire it every few days
    with pytest.raises(ValueError, match="never fires"):
        ensure_fires(validate_cron("0 0 30 2 */2"), "UTC", now=utc(2025, 6, 1))
    # And with both day fields restricted (OR) it fires on those weekdays
    ensure_fires(validate_cron("0 0 30 2 0-6/2"), "UTC", now=utc(2025, 6, 1))


def test_lord_howe_every_7_minutes_runs_in_both_occurrences_of_the_repeated_half_hour() -> None:
    # Given */7 in Lord Howe, where on 2025-04-06 02:00 (+11) becomes 01:30 (+10:30)
    tz = "Australia/Lord_Howe"
    slots = ours("*/7 * * * *", tz, utc(2025, 4, 5, 14), utc(2025, 4, 5, 16))
    walls = [s.astimezone(ZoneInfo(tz)).strftime("%H:%M%z") for s in slots]
    # Then 01:35, 01:42, 01:49 and 01:56 run in both occurrences (the step is in real time)
    for wall in ("01:35", "01:42", "01:49", "01:56"):
        assert f"{wall}+1100" in walls and f"{wall}+1030" in walls


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("*/60 * * * *", utc(2025, 1, 1, 10, 5), [utc(2025, 1, 1, 11), utc(2025, 1, 1, 12)]),
        ("0 */24 * * *", utc(2025, 1, 1, 10), [utc(2025, 1, 2), utc(2025, 1, 3)]),
        ("30 1-5/10 * * *", utc(2025, 1, 1, 10), [utc(2025, 1, 2, 1, 30), utc(2025, 1, 3, 1, 30)]),
        ("0 0 */40 * *", utc(2025, 1, 5), [utc(2025, 2, 1), utc(2025, 3, 1)]),
    ],
)
def test_a_step_larger_than_its_field_fires_at_the_range_start(
    expr: str, after: datetime, expected: list[datetime]
) -> None:
    # Given a step beyond the field's span / When validated and walked / Then it fires at the range start
    assert next_slots(validate_cron(expr), "UTC", after, 2) == expected
