"""Schedules: DESIGN 4's cron grammar (croniter parses it) and the slot walk in the strategy's zone.

Every slot is computed from the previous slot, strictly after it, in the strategy's zone, and returned in UTC.
One rule serves the walk, the missed-slot count and validation:
- days follow Vixie cron as cronie and OpenBSD keep it: a day field starting with `*` (`*`, `*/2`) makes the
  day-of-month and day-of-week match as AND; two restricted day fields match as OR (see `day_or`);
- a step larger than its field fires at the range start (`*/60` is minute 0, `0 */24 * * *` is midnight).

Daylight saving (DESIGN 4): an instant is a slot when its wall time matches, walked in real time, so
- a local time that does not exist (spring gap) runs once at the first instant after the gap;
- a fixed local time that occurs twice (autumn) runs once, in the first occurrence. "Fixed" follows Vixie
  cron: neither the minute nor the hour field starts with `*`;
- other expressions (`*/15 * * * *`, `0 * * * *`, `*/7 * * * *`) keep their step in real time through both
  changes, so in a repeated hour or half hour (Australia/Lord_Howe) they run in both occurrences.
"""

from __future__ import annotations

import re
from bisect import bisect_left
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
    if token.isascii() and token.isdigit():
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
        if not (step.isascii() and step.isdigit()):
            raise field.error(f"step '{step}' is not a number", part)
        # A step beyond the field is accepted, as cron does: it fires at the range start only.
        if int(step) < 1:
            raise field.error("step must be >= 1", part)
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


def day_or(expr: str) -> bool:
    """Vixie cron's day rule, as cronie and OpenBSD keep it: the two day fields match as OR only when both are
    restricted; a day field starting with `*` (including `*/N`) makes the match AND."""
    fields = expr.split()
    return not fields[2].startswith("*") and not fields[4].startswith("*")


class _Spec:
    """An expression expanded once (by croniter) into the sets the slot walk and the missed-slot count use."""

    def __init__(self, expr: str) -> None:
        fields = expr.split()
        sets: list[set[int]] = []
        for field, values in zip(_FIELDS, croniter(expr).expanded, strict=True):
            if values == ["*"]:
                sets.append(set(range(field.low, field.high + 1)))
            else:
                sets.append({int(v) for v in values})
        self.minutes = tuple(sorted(sets[0]))
        self.hours = tuple(sorted(sets[1]))
        self.doms = frozenset(sets[2])
        self.months = frozenset(sets[3])
        self.dows = frozenset(0 if d == 7 else d for d in sets[4])
        self.day_or = day_or(expr)
        # Vixie cron's "fixed time": neither the minute nor the hour field starts with `*`.
        self.fixed = not fields[0].startswith("*") and not fields[1].startswith("*")
        self.per_day = len(self.minutes) * len(self.hours)

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_dom = day.day in self.doms
        in_dow = (day.isoweekday() % 7) in self.dows
        return (in_dom or in_dow) if self.day_or else (in_dom and in_dow)

    def next_wall(self, wall: datetime, until: datetime) -> datetime | None:
        """The first matching wall time (naive, whole minute) strictly after `wall` and not after `until`."""
        start = wall.replace(second=0, microsecond=0) + _MINUTE
        day, hour, minute = start.date(), start.hour, start.minute
        last_day = until.date()
        hours, minutes = self.hours, self.minutes
        while day <= last_day:
            if day.month not in self.months:
                day = (day.replace(day=1) + _MONTH_JUMP).replace(day=1)
                hour = minute = 0
                continue
            if self.day_matches(day):
                i = bisect_left(hours, hour)
                if i < len(hours) and hours[i] == hour:
                    j = bisect_left(minutes, minute)
                    if j < len(minutes):
                        found = datetime(day.year, day.month, day.day, hour, minutes[j])
                        return found if found <= until else None
                    i += 1
                if i < len(hours):
                    found = datetime(day.year, day.month, day.day, hours[i], minutes[0])
                    return found if found <= until else None
            day += _DAY
            hour = minute = 0
        return None


_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)
_MONTH_JUMP = timedelta(days=32)
_TICK = timedelta(microseconds=1)
# A schedule that fired when it was validated can still have long gaps later (29 February skips 2100).
_SEARCH_HORIZON = timedelta(days=366 * 10)


@lru_cache(maxsize=1024)
def _spec(expr: str) -> _Spec:
    return _Spec(expr)


def _offset_at(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset


_Change = tuple[datetime, timedelta, timedelta]  # (instant in UTC, offset before, offset after)


@lru_cache(maxsize=512)
def _transitions(tz: str, year: int) -> tuple[_Change, ...]:
    """The zone's UTC offset changes in `year`: (instant in UTC, offset before, offset after).

    Found by sampling each day and bisecting to the second; zones change at most once a day.
    """
    zone = _zone(tz)
    found: list[_Change] = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    offset = _offset_at(zone, day)
    while day < end:
        following = day + _DAY
        later = _offset_at(zone, following)
        if later != offset:
            low, high = day, following  # offset(low) == before, offset(high) != before
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if _offset_at(zone, middle) == offset:
                    low = middle
                else:
                    high = middle
            found.append((high, offset, _offset_at(zone, high)))
        day, offset = following, later
    return tuple(found)


def _first_transition(tz: str, after: datetime, until: datetime) -> _Change | None:
    """The zone's first offset change in (after, until]."""
    for year in range(after.year, until.year + 1):
        for change in _transitions(tz, year):
            if after < change[0] <= until:
                return change
            if change[0] > until:
                return None
    return None


def _second_occurrence(local: datetime) -> bool:
    """True for the later of two instants that share this wall time (the autumn repeated hour)."""
    local = local.astimezone(local.tzinfo)  # fold set from the instant
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: schedule times must carry a timezone")
    return value


class _Slots:
    """Iterates the schedule's slots strictly after `after`, in real time, with DESIGN 4's rules.

    An instant is a slot when its wall time in the zone matches the expression, except the second occurrence
    of a fixed time in a repeated period; and the first instant after a spring gap is a slot when a wall time
    the gap skipped matches. Between the zone's offset changes wall time is UTC plus a constant offset, so
    each slot is one search in wall time.
    """

    def __init__(self, expr: str, tz: str, after: datetime) -> None:
        self._spec = _spec(expr)
        self._tz = tz
        self._zone = _zone(tz)
        cursor = _aware(after).astimezone(UTC)
        local = cursor.astimezone(self._zone)
        self._cursor = cursor
        self._wall = local.replace(tzinfo=None)
        offset = local.utcoffset()
        assert offset is not None
        self._offset = offset

    def next(self) -> datetime:
        spec, cursor, wall, offset = self._spec, self._cursor, self._wall, self._offset
        while True:
            candidate = spec.next_wall(wall, wall + _SEARCH_HORIZON)
            if candidate is None:
                raise ValueError("schedule never fires within ten years")
            instant = (candidate - offset).replace(tzinfo=UTC)
            change = _first_transition(self._tz, cursor, instant)
            if change is None:
                if spec.fixed and _second_occurrence(instant.astimezone(self._zone)):
                    cursor, wall = instant, candidate
                    continue
                self._cursor, self._wall, self._offset = instant, candidate, offset
                return instant
            at, before, after = change
            new_wall = (at + after).replace(tzinfo=None)
            if after > before:  # spring gap: a skipped wall time that matches runs once, at the gap's end
                gap_wall = (at + before).replace(tzinfo=None)
                if spec.next_wall(gap_wall - _TICK, new_wall) is not None:
                    self._cursor, self._wall, self._offset = at, new_wall, after
                    return at
                cursor, wall, offset = at, new_wall, after
            else:  # the first instant of a repeated period is itself a candidate
                cursor, wall, offset = at, new_wall - _TICK, after
                if spec.next_wall(wall, new_wall) is not None:
                    if not (spec.fixed and _second_occurrence(at.astimezone(self._zone))):
                        self._cursor, self._wall, self._offset = at, new_wall, after
                        return at
                    wall = new_wall


def ensure_fires(expr: str, tz: str, now: datetime | None = None) -> None:
    """ValueError when the expression never fires within a year of `now` (`0 0 30 2 *`, `0 0 30 2 */2`).

    The same day rule as the slot walk. `now` defaults to the current time only because model validation has
    no clock to pass.
    """
    start = (_aware(now) if now is not None else datetime.now(UTC)).astimezone(_zone(tz)).replace(tzinfo=None)
    if _spec(expr).next_wall(start, start + timedelta(days=366)) is None:
        raise ValueError(f"schedule '{expr}' never fires within the next year")


def next_slot(expr: str, tz: str, after: datetime) -> datetime:
    """The first slot strictly after `after` (any zone), in UTC."""
    return _Slots(expr, tz, after).next()


def next_slots(expr: str, tz: str, after: datetime, count: int) -> list[datetime]:
    """The next `count` slots, each strictly after the previous one, in UTC."""
    slots = _Slots(expr, tz, after)
    return [slots.next() for _ in range(count)]


def _latest_slot_at_or_before(expr: str, tz: str, now: datetime) -> datetime:
    # croniter's get_prev (with the same day rule) gives a candidate wall time; the DST rules live in the
    # forward walk, so start a little before the candidate's predecessor and walk forward: the answer is then
    # always one of our own slots.
    zone = _zone(tz)
    back = croniter(expr, (now + _TICK).astimezone(zone), day_or=day_or(expr))
    back.get_prev(datetime)
    anchor: datetime = back.get_prev(datetime)
    slots = _Slots(expr, tz, anchor - timedelta(hours=3))
    latest = slots.next()
    while True:
        candidate = slots.next()
        if candidate > now:
            return latest
        latest = candidate


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
    whose UTC offset does not change has (minutes x hours) slots when its date matches (the walk's own day
    rule), and a day with a DST change is walked, so the count stays exact at a bounded cost.
    """
    counted, last = _walk_count(_Slots(expr, tz, start - _TICK), end, _WALK_LIMIT)
    if counted < _WALK_LIMIT or last is None:
        return counted
    zone = _zone(tz)
    spec = _spec(expr)
    # Finish the cursor's local day by walking (at most one day of slots).
    day = last.astimezone(zone).date() + _DAY
    day_start = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
    more, _ = _walk_count(_Slots(expr, tz, last), min(day_start, end), 25 * 60)
    counted += more
    while counted < MAX_MISSED_SLOTS and day_start < end:
        next_day = day + _DAY
        next_start = datetime.combine(next_day, datetime.min.time(), zone).astimezone(UTC)
        stable = next_start - day_start == _DAY
        if next_start <= end and stable:
            counted += spec.per_day if spec.day_matches(day) else 0
        else:  # a DST day or the partial last day: walk it
            slots = _Slots(expr, tz, day_start - _TICK)
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
