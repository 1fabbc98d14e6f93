"""Time helpers: time is always a parameter; these only parse, format and floor UTC datetimes."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

# The local stack runs every part on one shared clock (fast in the demo). Lambda never sets this, so deployed
# code reads the wall clock; handlers that take `now` from their event are unaffected either way.
_now_source: Callable[[], datetime] | None = None


def utc_now() -> datetime:
    return _now_source() if _now_source is not None else datetime.now(UTC)


def set_now_source(source: Callable[[], datetime] | None) -> None:
    """Make `utc_now` read `source` (the local stack's shared clock); None restores the wall clock."""
    global _now_source  # noqa: PLW0603 - one process-wide clock is the point of the local stack
    _now_source = source


def to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: every time in the engine carries a timezone")
    return value.astimezone(UTC)


def iso(value: datetime) -> str:
    """RFC 3339 UTC with `Z`, millisecond precision when the time has a fraction."""
    value = to_utc(value)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def floor_minute(value: datetime) -> datetime:
    return to_utc(value).replace(second=0, microsecond=0)


class Deadline:
    """A point in monotonic time a piece of work must finish by. `remaining()` never goes below 0."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    @classmethod
    def at_monotonic(cls, end: float) -> Deadline:
        deadline = cls(0)
        deadline._end = end
        return deadline

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self._end

    def sooner(self, seconds: float) -> Deadline:
        """The earlier of this deadline and `seconds` from now."""
        return Deadline.at_monotonic(min(self._end, time.monotonic() + seconds))

    def minus(self, seconds: float) -> Deadline:
        return Deadline.at_monotonic(self._end - seconds)
