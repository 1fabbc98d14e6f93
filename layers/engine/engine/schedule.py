"""Schedules: the cron grammar of DESIGN 4 and slot maths with croniter in the strategy's timezone.

Every slot is computed from the previous slot, strictly after it, in the strategy's zone, and returned in UTC.

Daylight saving (DESIGN 4), as croniter 7 does it and where we correct it:
- a local time that does not exist (spring gap) runs once at the next valid time: croniter already does this;
- a fixed local time that occurs twice (autumn) runs once: croniter runs it twice, so the second occurrence
  is dropped. "Fixed" follows Vixie cron: neither the minute nor the hour field starts with `*`;
- expressions with `*` in the minute or hour field (`*/15 * * * *`, `0 * * * *`, `*/15 1 * * *`) keep their
  step in real time through both changes, so in the repeated hour they run in both occurrences.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterError, croniter

FREQUENCIES: dict[str, str] = {
    "1m": "* * * * *",
    "5m": "*/5 * * * *",
    "15m": "*/15 * * * *",
    "30m": "*/30 * * * *",
    "1h": "0 * * * *",
}

MAX_MISSED_SLOTS = 100_000
# Up to this many missed slots are counted exactly by walking; beyond it, by arithmetic (see _count_slots).
_WALK_LIMIT = 1_000

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class _Field:
    def __init__(self, number: int, name: str, low: int, high: int, names: tuple[str, ...] = ()) -> None:
        self.number = number
        self.name = name
        self.low = low
        self.high = high
        self.names = {word: low + i for i, word in enumerate(names)}

    def error(self, problem: str, part: str) -> ValueError:
        return ValueError(f"field {self.number} ({self.name}): {problem} in '{part}'")


_FIELDS = (
    _Field(1, "minute", 0, 59),
    _Field(2, "hour", 0, 23),
    _Field(3, "day of month", 1, 31),
    _Field(4, "month", 1, 12, _MONTHS),
    _Field(5, "day of week", 0, 7, _DAYS),  # 0 and 7 are both Sunday, as in every cron
)
_UNSUPPORTED = {"l": "'L' (last)", "w": "'W' (weekday)", "#": "'#' (nth weekday)", "?": "'?'"}
_RANDOM = re.compile(r"^[rh](\(|/|$)")  # croniter's R, H, H(0-29), H/5
_NOT_ZONES = frozenset({"localtime", "posixrules", "posix", "right"})
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")


def _value(field: _Field, token: str, part: str) -> int:
    if token.isdigit():
        number = int(token)
    elif token.lower() in field.names:
        number = field.names[token.lower()]
    elif token == "":
        raise field.error("empty value", part)
    elif token.isalpha() and len(token) == 3 and field.number in (4, 5):
        kind = "month" if field.number == 4 else "day"
        raise field.error(f"unknown {kind} name '{token}'", part)
    else:
        raise field.error(f"'{token}' is not a number", part)
    if not field.low <= number <= field.high:
        raise field.error(f"{number} is out of range {field.low}-{field.high}", part)
    return number


def _check_part(field: _Field, part: str) -> None:
    # Month and day names contain letters that are also unsupported marks ("jul", "wed"): drop them first.
    bare = part.lower()
    for word in field.names:
        bare = bare.replace(word, "")
    for mark, label in _UNSUPPORTED.items():
        if mark in bare:
            raise field.error(f"{label} is not supported", part)
    if _RANDOM.match(bare):
        raise field.error("random values ('R', 'H') are not supported", part)
    base, slash, step = part.partition("/")
    if slash:
        if not step.isdigit():
            raise field.error(f"step '{step}' is not a number", part)
        span = field.high - field.low
        if not 1 <= int(step) <= span:
            problem = "step must be >= 1" if int(step) < 1 else f"step must be <= {span}"
            raise field.error(problem, part)
    if base == "*":
        return
    low_token, dash, high_token = base.partition("-")
    low = _value(field, low_token, part)
    if dash:
        high = _value(field, high_token, part)
        if low > high:
            raise field.error(f"range start {low} is after its end {high}", part)


def validate_cron(expr: str) -> str:
    """The expression normalised (single spaces, lower case), or ValueError naming what is wrong."""
    text = expr.strip()
    if text.startswith("@"):
        raise ValueError(f"macros like '{text.split()[0]}' are not supported: give five fields")
    parts = text.split()
    if len(parts) != len(_FIELDS):
        raise ValueError(
            f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)} in '{text}'"
        )
    for field, part in zip(_FIELDS, parts, strict=True):
        for piece in part.split(","):
            if piece == "":
                raise field.error("empty list item (stray comma)", part)
            _check_part(field, piece)
    normalised = " ".join(parts).lower()
    try:
        croniter(normalised)
    except (CroniterError, ValueError, KeyError) as exc:  # the grammar above should make this unreachable
        raise ValueError(f"invalid cron expression '{normalised}': {exc}") from exc
    return normalised


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def validate_timezone(name: str) -> str:
    """The IANA zone name, or ValueError."""
    if not name or not _ZONE_NAME.match(name) or ".." in name:
        raise ValueError(f"'{name}' is not an IANA timezone name (like 'UTC' or 'America/New_York')")
    known = _known_zones()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone '{name}'") from exc
    # `localtime` and `posixrules` load from the zone directory but are not zone names.
    if (known and name not in known) or name in _NOT_ZONES:
        raise ValueError(f"unknown timezone '{name}'")
    return name


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=1024)
def _is_fixed_time(expr: str) -> bool:
    minute, hour = expr.split()[:2]
    return not minute.startswith("*") and not hour.startswith("*")


def _second_occurrence(local: datetime) -> bool:
    """True for the later of two instants that share this wall time (the autumn repeated hour)."""
    local = local.astimezone(local.tzinfo)  # fold set from the instant, whatever croniter returned
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: schedule times must carry a timezone")
    return value


class _Slots:
    """Iterates the schedule's slots strictly after `after`, with the DST corrections of this module."""

    def __init__(self, expr: str, tz: str, after: datetime) -> None:
        zone = _zone(tz)
        self._fixed = _is_fixed_time(expr)
        self._iter = croniter(expr, _aware(after).astimezone(zone))

    def next(self) -> datetime:
        while True:
            local: datetime = self._iter.get_next(datetime)
            if not (self._fixed and _second_occurrence(local)):
                return local.astimezone(UTC)


def ensure_fires(expr: str, tz: str, now: datetime | None = None) -> None:
    """ValueError when the expression never fires within a year of `now` (`0 0 30 2 *`).

    `now` defaults to the current time only because model validation has no clock to pass.
    """
    start = _aware(now) if now is not None else datetime.now(UTC)
    horizon = start + timedelta(days=366)
    try:
        first = croniter(expr, start.astimezone(_zone(tz)), max_years_between_matches=2).get_next(datetime)
    except CroniterError:
        first = None
    if first is None or first > horizon:
        raise ValueError(f"schedule '{expr}' never fires within the next year")


def next_slot(expr: str, tz: str, after: datetime) -> datetime:
    """The first slot strictly after `after` (any zone), in UTC."""
    return _Slots(expr, tz, after).next()


def next_slots(expr: str, tz: str, after: datetime, count: int) -> list[datetime]:
    """The next `count` slots, each strictly after the previous one, in UTC."""
    slots = _Slots(expr, tz, after)
    return [slots.next() for _ in range(count)]


def _latest_slot_at_or_before(expr: str, tz: str, now: datetime) -> datetime:
    # croniter's get_prev gives a candidate; the DST corrections live in the forward walk, so start a little
    # before the candidate's predecessor and walk forward: the answer is then always one of our own slots.
    zone = _zone(tz)
    back = croniter(expr, (now + timedelta(microseconds=1)).astimezone(zone))
    back.get_prev(datetime)
    anchor: datetime = back.get_prev(datetime)
    slots = _Slots(expr, tz, anchor - timedelta(hours=3))
    latest = slots.next()
    while True:
        candidate = slots.next()
        if candidate > now:
            return latest
        latest = candidate


def _expanded(expr: str) -> list[set[int]]:
    """The five fields as sets of values (croniter's expansion, with `*` spelled out and Sunday as 0)."""
    sets: list[set[int]] = []
    for field, values in zip(_FIELDS, croniter(expr).expanded, strict=True):
        if values == ["*"]:
            sets.append(set(range(field.low, field.high + 1)))
        else:
            sets.append({int(v) for v in values})
    sets[4] = {0 if d == 7 else d for d in sets[4]}
    return sets


def _day_matches(fields: list[str], sets: list[set[int]], day: date) -> bool:
    in_dom = day.day in sets[2]
    in_dow = (day.isoweekday() % 7) in sets[4]
    if day.month not in sets[3]:
        return False
    # Cron's rule: when both day fields are restricted, either may match.
    if not fields[2].startswith("*") and not fields[4].startswith("*"):
        return in_dom or in_dow
    return in_dom and in_dow


def _walk_count(slots: _Slots, end: datetime, limit: int) -> tuple[int, datetime | None]:
    """Slots taken from `slots` before `end`, up to `limit`; and the last one (None when none)."""
    counted, last = 0, None
    while counted < limit:
        slot = slots.next()
        if slot >= end:
            break
        counted, last = counted + 1, slot
    return counted, last


def _count_slots(expr: str, tz: str, start: datetime, end: datetime) -> int:
    """Number of slots in [start, end), capped at MAX_MISSED_SLOTS.

    Walked exactly up to _WALK_LIMIT slots. Beyond that, counted by arithmetic over whole local days: a day
    whose UTC offset does not change has (minutes x hours) slots when its date matches, and a day with a
    DST change is walked, so the count stays exact at a bounded cost.
    """
    counted, last = _walk_count(_Slots(expr, tz, start - timedelta(microseconds=1)), end, _WALK_LIMIT)
    if counted < _WALK_LIMIT or last is None:
        return counted
    zone = _zone(tz)
    fields, sets = expr.split(), _expanded(expr)
    per_day = len(sets[0]) * len(sets[1])
    # Finish the cursor's local day by walking (at most one day of slots).
    day = last.astimezone(zone).date() + timedelta(days=1)
    day_start = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
    more, _ = _walk_count(_Slots(expr, tz, last), min(day_start, end), 24 * 60)
    counted += more
    while counted < MAX_MISSED_SLOTS and day_start < end:
        next_day = day + timedelta(days=1)
        next_start = datetime.combine(next_day, datetime.min.time(), zone).astimezone(UTC)
        stable = next_start - day_start == timedelta(days=1)
        if next_start <= end and stable:
            counted += per_day if _day_matches(fields, sets, day) else 0
        else:  # a DST day or the partial last day: walk it
            slots = _Slots(expr, tz, day_start - timedelta(microseconds=1))
            more, _ = _walk_count(slots, min(next_start, end), 25 * 60)
            counted += more
        day, day_start = next_day, next_start
    return min(counted, MAX_MISSED_SLOTS)


def latest_due_slot(expr: str, tz: str, due_at: datetime, now: datetime) -> tuple[datetime, int]:
    """(latest slot <= now, walking from `due_at`; number of slots in [due_at, latest) that were missed).

    `due_at` is itself a slot (it was computed by next_slot), so it is the answer when no later slot has
    come. The count is capped at MAX_MISSED_SLOTS, so a month-long outage of a 1m strategy stays cheap.
    ValueError when `due_at` is after `now` (nothing is due).
    """
    due_at, now = _aware(due_at).astimezone(UTC), _aware(now).astimezone(UTC)
    if due_at > now:
        raise ValueError(f"not due: due_at {due_at.isoformat()} is after now {now.isoformat()}")
    latest = _latest_slot_at_or_before(expr, tz, now)
    if latest <= due_at:
        return due_at, 0
    return latest, _count_slots(expr, tz, due_at, latest)
