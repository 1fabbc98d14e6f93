"""Schedule maths: the cron grammar of DESIGN 4, slots in the strategy's zone, the daylight-saving rules."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from engine import schedule
from engine.schedule import (
    ensure_fires,
    latest_due_slot,
    next_slot,
    next_slots,
    validate_cron,
    validate_timezone,
)

NY = "America/New_York"
LONDON = "Europe/London"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(tz: str, slot: datetime) -> str:
    """A slot as wall time with its offset, the way a person checks it."""
    return slot.astimezone(ZoneInfo(tz)).strftime("%m-%d %H:%M%z")


# --- grammar -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "normalised"),
    [
        ("* * * * *", "* * * * *"),
        ("*/15 * * * *", "*/15 * * * *"),
        ("0  9   * *  1-5", "0 9 * * 1-5"),
        ("0 0 1,15 * *", "0 0 1,15 * *"),
        ("30 8 * JAN-JUN MON,wed,Fri", "30 8 * jan-jun mon,wed,fri"),
        ("0 12 * jul sun", "0 12 * jul sun"),
        ("10-50/20 */2 * * 0,7", "10-50/20 */2 * * 0,7"),
        ("59 23 31 12 6", "59 23 31 12 6"),
    ],
)
def test_cron_in_the_grammar_is_accepted_and_normalised(expr: str, normalised: str) -> None:
    # Given an expression of five fields of digits, names, `*`, `,`, `-`, `/`
    # When it is validated
    # Then it comes back with single spaces and lower-case names
    assert validate_cron(expr) == normalised


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("*/0 * * * *", "field 1 (minute): step must be >= 1 in '*/0'"),
        ("* * * * * *", "expected 5 fields"),
        ("0 0 * * * 2025", "got 6"),
        ("* * * *", "got 4"),
        ("", "got 0"),
        ("@hourly", "'@hourly' are not supported"),
        ("@reboot", "'@reboot' are not supported"),
        ("0 0 L * *", "field 3 (day of month): 'L' (last) is not supported"),
        ("0 0 15W * *", "field 3 (day of month): 'W' (weekday) is not supported"),
        ("0 0 * * 5#3", "field 5 (day of week): '#' (nth weekday) is not supported"),
        ("0 0 ? * *", "field 3 (day of month): '?' is not supported"),
        ("0 0 * * 5L", "field 5 (day of week): 'L' (last) is not supported"),
        ("R * * * *", "field 1 (minute): random values"),
        ("H 0 * * *", "field 1 (minute): random values"),
        ("H/5 * * * *", "field 1 (minute): random values"),
        ("60 * * * *", "field 1 (minute): 60 is out of range 0-59"),
        ("0 24 * * *", "field 2 (hour): 24 is out of range 0-23"),
        ("0 0 0 * *", "field 3 (day of month): 0 is out of range 1-31"),
        ("0 0 32 * *", "field 3 (day of month): 32 is out of range"),
        ("0 0 * 13 *", "field 4 (month): 13 is out of range 1-12"),
        ("0 0 * * 8", "field 5 (day of week): 8 is out of range 0-7"),
        ("1,,2 * * * *", "field 1 (minute): empty list item"),
        ("1, * * * *", "field 1 (minute): empty list item"),
        ("5- * * * *", "field 1 (minute): empty value"),
        ("/5 * * * *", "field 1 (minute): empty value"),
        ("*/ * * * *", "field 1 (minute): step '' is not a number"),
        ("*/-1 * * * *", "step '-1' is not a number"),
        ("*/\u00b2 * * * *", "field 1 (minute): step '\u00b2' is not a number"),
        ("\u00b2 * * * *", "field 1 (minute): '\u00b2' is not a number"),
        ("30-10 * * * *", "field 1 (minute): range start 30 is after its end 10"),
        ("0 0 * mon *", "field 4 (month): unknown month name 'mon'"),
        ("0 0 * * jan", "field 5 (day of week): unknown day name 'jan'"),
        ("jan * * * *", "field 1 (minute): 'jan' is not a number"),
        ("0 0 * * monday", "field 5 (day of week): 'monday' is not a number"),
    ],
)
def test_cron_outside_the_grammar_is_rejected_naming_the_field_and_problem(expr: str, message: str) -> None:
    # Given an expression outside DESIGN 4's grammar
    # When it is validated
    # Then a ValueError says which field and what is wrong
    with pytest.raises(ValueError, match=re.escape(message)):
        validate_cron(expr)


def test_every_accepted_cron_is_one_croniter_understands() -> None:
    # Given the presets and a few accepted expressions
    exprs = [*schedule.FREQUENCIES.values(), "0 9 * * mon-fri", "5/15 * * * *", "0 0 * * 7"]
    for expr in exprs:
        # When each is validated, Then croniter can iterate it
        assert croniter(validate_cron(expr), utc(2025, 1, 1)).get_next(datetime) > utc(2025, 1, 1)


# --- timezones -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["UTC", "America/New_York", "Europe/London", "Asia/Kolkata", "Etc/GMT+5"])
def test_any_iana_zone_is_accepted(name: str) -> None:
    # Given an IANA zone name / When validated / Then it is returned as is
    assert validate_timezone(name) == name


@pytest.mark.parametrize(
    "name", ["", "Mars/Olympus", "/etc/passwd", "../../etc/passwd", "America/../UTC", "localtime", "EST5EDT "]
)
def test_unknown_zones_empty_names_and_paths_are_rejected(name: str) -> None:
    # Given a name that is not an IANA zone / When validated / Then ValueError
    with pytest.raises(ValueError, match="timezone"):
        validate_timezone(name)


# --- firing --------------------------------------------------------------------------------------------


def test_expression_that_never_fires_within_a_year_is_rejected() -> None:
    # Given 30 February / When checked / Then it never fires
    with pytest.raises(ValueError, match="never fires within the next year"):
        ensure_fires("0 0 30 2 *", "UTC", now=utc(2025, 6, 1))


def test_leap_day_fires_only_when_the_next_one_is_within_a_year() -> None:
    # Given 29 February, checked a year and a half before and half a year before a leap day
    # When / Then it is rejected far from the leap day and accepted near it
    with pytest.raises(ValueError, match="never fires"):
        ensure_fires("0 0 29 2 *", "UTC", now=utc(2026, 6, 1))
    ensure_fires("0 0 29 2 *", "UTC", now=utc(2027, 9, 1))


def test_yearly_expression_fires() -> None:
    # Given once a year on 1 January / When checked mid-year / Then it fires within a year
    ensure_fires("0 0 1 1 *", "Europe/London", now=utc(2025, 6, 1))


# --- slots ---------------------------------------------------------------------------------------------


def test_next_slot_is_strictly_after_and_in_utc() -> None:
    # Given a time exactly on a slot
    after = utc(2025, 1, 6, 14, 15)
    # When the next slot is asked for
    slot = next_slot("*/15 * * * *", "UTC", after)
    # Then it is the following slot, an aware UTC datetime
    assert slot == utc(2025, 1, 6, 14, 30)
    assert slot.tzinfo is UTC


def test_slots_are_computed_in_the_strategys_zone() -> None:
    # Given 09:00 on weekdays in New York (EST, UTC-5)
    # When asked after Friday 15:00 UTC
    slots = next_slots("0 9 * * mon-fri", NY, utc(2025, 1, 10, 15), 2)
    # Then the next are Monday and Tuesday 14:00 UTC
    assert slots == [utc(2025, 1, 13, 14), utc(2025, 1, 14, 14)]


def test_next_slots_each_follow_the_previous() -> None:
    # Given an hourly schedule / When five slots are asked / Then each is one hour after the last
    slots = next_slots("0 * * * *", "UTC", utc(2025, 1, 1, 10, 30), 5)
    assert slots == [utc(2025, 1, 1, h) for h in range(11, 16)]


def test_seconds_in_the_start_time_do_not_shift_slots() -> None:
    # Given a start with seconds / When the next minute slot is asked / Then it is the next whole minute
    assert next_slot("* * * * *", "UTC", utc(2025, 1, 1, 12, 0, 30)) == utc(2025, 1, 1, 12, 1)


def test_naive_times_are_refused() -> None:
    # Given a naive datetime / When used / Then ValueError (every time carries a zone)
    with pytest.raises(ValueError, match="naive"):
        next_slot("* * * * *", "UTC", datetime(2025, 1, 1))


# --- daylight saving (DESIGN 4) ------------------------------------------------------------------------


def test_spring_gap_fixed_time_runs_once_at_the_next_valid_time_new_york() -> None:
    # Given 02:30 daily in New York; on 2025-03-09 clocks jump from 02:00 EST to 03:00 EDT
    # When slots are walked across the change
    slots = next_slots("30 2 * * *", NY, utc(2025, 3, 8, 12), 3)
    # Then the missing 02:30 runs once at 03:00 EDT, then normal days resume
    assert [local(NY, s) for s in slots] == ["03-09 03:00-0400", "03-10 02:30-0400", "03-11 02:30-0400"]


def test_spring_gap_several_missing_times_still_run_only_once() -> None:
    # Given every 15 minutes during 02:xx only, a whole hour that does not exist on the spring day
    slots = next_slots("*/15 2 * * *", NY, utc(2025, 3, 8, 12), 3)
    # Then that day runs once, at 03:00 EDT
    assert [local(NY, s) for s in slots] == ["03-09 03:00-0400", "03-10 02:00-0400", "03-10 02:15-0400"]


def test_spring_gap_london() -> None:
    # Given 01:30 daily in London; on 2025-03-30 clocks jump from 01:00 GMT to 02:00 BST
    slots = next_slots("30 1 * * *", LONDON, utc(2025, 3, 29, 12), 2)
    # Then it runs once at 02:00 BST that day
    assert [local(LONDON, s) for s in slots] == ["03-30 02:00+0100", "03-31 01:30+0100"]


def test_autumn_repeated_fixed_time_runs_once_new_york() -> None:
    # Given 01:30 daily in New York; on 2025-11-02 01:00-02:00 happens twice (EDT then EST)
    slots = next_slots("30 1 * * *", NY, utc(2025, 11, 1, 12), 3)
    # Then it runs once, in the first occurrence (croniter alone would also run at 01:30 EST)
    assert [local(NY, s) for s in slots] == ["11-02 01:30-0400", "11-03 01:30-0500", "11-04 01:30-0500"]


def test_autumn_repeated_fixed_time_runs_once_london() -> None:
    # Given 01:15 and 01:45 in London; on 2025-10-26 01:00-02:00 happens twice (BST then GMT)
    slots = next_slots("15,45 1 * * *", LONDON, utc(2025, 10, 25, 12), 4)
    # Then each runs once, in the first occurrence
    assert [local(LONDON, s) for s in slots] == [
        "10-26 01:15+0100",
        "10-26 01:45+0100",
        "10-27 01:15+0000",
        "10-27 01:45+0000",
    ]


def test_autumn_when_started_inside_the_repeated_hour_the_fixed_time_is_not_rerun() -> None:
    # Given 01:30 daily, asked after 01:40 EDT (01:30 EDT just ran)
    slot = next_slot("30 1 * * *", NY, utc(2025, 11, 2, 5, 40))
    # Then the next slot is the next day, not 01:30 EST
    assert local(NY, slot) == "11-03 01:30-0500"


def test_every_15_minutes_keeps_its_real_time_step_through_both_changes() -> None:
    for tz, spring, autumn in (
        (NY, utc(2025, 3, 9, 5), utc(2025, 11, 2, 4)),
        (LONDON, utc(2025, 3, 30, 0), utc(2025, 10, 25, 23)),
    ):
        for start in (spring, autumn):
            # Given */15 walked over three real hours around a change
            slots = next_slots("*/15 * * * *", tz, start, 12)
            # Then consecutive slots are exactly 15 real minutes apart
            gaps = {b - a for a, b in zip([start, *slots], slots, strict=False)}
            assert gaps == {timedelta(minutes=15)}, (tz, start)


def test_every_15_minutes_runs_in_both_occurrences_of_the_repeated_hour() -> None:
    # Given */15 in New York around the autumn change
    slots = next_slots("*/15 * * * *", NY, utc(2025, 11, 2, 4, 45), 9)
    # Then 01:00 .. 01:45 run in EDT and again in EST
    assert [local(NY, s) for s in slots] == [
        "11-02 01:00-0400",
        "11-02 01:15-0400",
        "11-02 01:30-0400",
        "11-02 01:45-0400",
        "11-02 01:00-0500",
        "11-02 01:15-0500",
        "11-02 01:30-0500",
        "11-02 01:45-0500",
        "11-02 02:00-0500",
    ]


def test_hourly_runs_every_real_hour_through_the_autumn_change() -> None:
    # Given the 1h preset in London around the autumn change
    slots = next_slots("0 * * * *", LONDON, utc(2025, 10, 25, 23, 30), 4)
    # Then it runs every real hour, including both 01:00s
    assert slots == [utc(2025, 10, 26, h) for h in range(0, 4)]
    assert [local(LONDON, s) for s in slots][:2] == ["10-26 01:00+0100", "10-26 01:00+0000"]


def _reference_slots(expr: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    """DESIGN 4's rules applied minute by minute in UTC, independently of croniter's iteration."""
    zone = ZoneInfo(tz)
    minute_field, hour_field = expr.split()[:2]
    fixed = not minute_field.startswith("*") and not hour_field.startswith("*")
    slots: list[datetime] = []
    minute = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    previous_wall = (minute - timedelta(minutes=1)).astimezone(zone).replace(tzinfo=None)
    while minute < end:
        wall_aware = minute.astimezone(zone)
        wall = wall_aware.replace(tzinfo=None)
        second_occurrence = (
            wall_aware.fold == 1 and wall_aware.replace(fold=0).utcoffset() != wall_aware.utcoffset()
        )
        skipped = []
        probe = previous_wall + timedelta(minutes=1)
        while probe < wall:  # wall times jumped over by a spring change
            skipped.append(probe)
            probe += timedelta(minutes=1)
        matches = croniter.match(expr, wall) and not (fixed and second_occurrence)
        if matches or any(croniter.match(expr, s) for s in skipped):
            slots.append(minute)
        previous_wall = wall
        minute += timedelta(minutes=1)
    return slots


@pytest.mark.parametrize(
    "expr", ["*/15 * * * *", "30 1 * * *", "0,30 1,2 * * *", "*/20 1 * * *", "0 * * * *"]
)
@pytest.mark.parametrize(
    ("tz", "start"),
    [
        (NY, utc(2025, 3, 9, 3)),
        (NY, utc(2025, 11, 2, 3)),
        (LONDON, utc(2025, 3, 29, 23)),
        (LONDON, utc(2025, 10, 25, 23)),
    ],
)
def test_slots_match_a_minute_by_minute_reference_of_the_dst_rules(
    expr: str, tz: str, start: datetime
) -> None:
    # Given six hours around a daylight-saving change
    end = start + timedelta(hours=6)
    expected = _reference_slots(expr, tz, start, end)
    # When the schedule is walked slot by slot
    got: list[datetime] = []
    cursor = start
    while (cursor := next_slot(expr, tz, cursor)) < end:
        got.append(cursor)
    # Then it agrees with the rules applied minute by minute
    assert got == expected


# --- latest due slot -----------------------------------------------------------------------------------


def test_latest_due_slot_on_time_has_nothing_missed() -> None:
    # Given a 5m strategy due at 12:05, ticked at 12:05
    # When the latest due slot is computed
    # Then it is 12:05 with no missed slot
    assert latest_due_slot("*/5 * * * *", "UTC", utc(2025, 1, 1, 12, 5), utc(2025, 1, 1, 12, 5)) == (
        utc(2025, 1, 1, 12, 5),
        0,
    )


def test_latest_due_slot_runs_the_latest_and_counts_the_older_as_missed() -> None:
    # Given a 5m strategy due at 12:05, ticked at 12:23
    slot, missed = latest_due_slot("*/5 * * * *", "UTC", utc(2025, 1, 1, 12, 5), utc(2025, 1, 1, 12, 23))
    # Then 12:20 runs and 12:05, 12:10, 12:15 were missed
    assert (slot, missed) == (utc(2025, 1, 1, 12, 20), 3)


def test_latest_due_slot_before_the_next_slot_is_the_due_slot() -> None:
    # Given an hourly strategy due at 12:00, ticked at 12:40 / Then 12:00 runs, nothing missed
    assert latest_due_slot("0 * * * *", "UTC", utc(2025, 1, 1, 12), utc(2025, 1, 1, 12, 40)) == (
        utc(2025, 1, 1, 12),
        0,
    )


def test_latest_due_slot_refuses_a_slot_not_yet_due() -> None:
    # Given due_at after now / When computed / Then ValueError
    with pytest.raises(ValueError, match="not due"):
        latest_due_slot("* * * * *", "UTC", utc(2025, 1, 1, 12, 1), utc(2025, 1, 1, 12))


def test_latest_due_slot_respects_the_autumn_rule_for_fixed_times() -> None:
    # Given 01:30 daily in New York due at 01:30 EDT, ticked at 01:35 EST (the repeated hour)
    slot, missed = latest_due_slot("30 1 * * *", NY, utc(2025, 11, 2, 5, 30), utc(2025, 11, 2, 6, 35))
    # Then 01:30 EST is not a slot: 01:30 EDT is still the latest, nothing missed
    assert (slot, missed) == (utc(2025, 11, 2, 5, 30), 0)


def test_latest_due_slot_through_the_spring_gap() -> None:
    # Given 02:30 daily in New York due on 03-08, ticked on 03-10 at 12:00 UTC
    slot, missed = latest_due_slot("30 2 * * *", NY, utc(2025, 3, 8, 7, 30), utc(2025, 3, 10, 12))
    # Then 03-10 02:30 EDT runs; 03-08 and the gap day's 03:00 EDT were missed
    assert (slot, missed) == (utc(2025, 3, 10, 6, 30), 2)


@pytest.mark.parametrize(
    ("expr", "tz"),
    [
        ("* * * * *", NY),
        ("*/5 * * * *", LONDON),
        ("15 * * * *", "Asia/Kolkata"),
        ("* 9-17 * * mon-fri", NY),
        ("*/2 1-3 * * *", NY),
    ],
)
def test_missed_count_of_a_long_outage_is_exact_and_cheap(expr: str, tz: str) -> None:
    # Given a frequent strategy that was not run for three days across a DST change
    due_at = next_slot(expr, tz, utc(2025, 3, 8, 0))
    now = utc(2025, 3, 11, 0, 7)
    # When the latest due slot is computed
    started = time.perf_counter()
    slot, missed = latest_due_slot(expr, tz, due_at, now)
    elapsed = time.perf_counter() - started
    # Then the count equals a brute-force walk, and it took little time
    walked = 0
    cursor = due_at
    while cursor < slot:
        walked += 1
        cursor = next_slot(expr, tz, cursor)
    assert missed == walked
    assert elapsed < 1.5  # walking them one by one takes seconds; a shared CI core is slow


def test_missed_count_of_a_month_long_outage_is_capped_and_fast() -> None:
    # Given a 1m strategy down for 100 days (144,000 slots)
    due_at, now = utc(2025, 1, 1), utc(2025, 4, 11)
    # When computed
    started = time.perf_counter()
    slot, missed = latest_due_slot("* * * * *", "UTC", due_at, now)
    # Then the latest slot is now, the count is capped, and it was quick
    assert slot == now
    assert missed == schedule.MAX_MISSED_SLOTS
    assert time.perf_counter() - started < 1.5


def test_missed_count_of_a_dense_irregular_expression_is_exact() -> None:
    # Given every minute of office hours on weekdays, down for two weeks (~5,400 slots)
    expr, due_at, now = "* 9-17 * * mon-fri", utc(2025, 1, 6, 9), utc(2025, 1, 20, 9)
    # When computed
    _, missed = latest_due_slot(expr, "UTC", due_at, now)
    # Then it is 10 weekdays x 9 hours x 60 minutes
    assert missed == 5400
