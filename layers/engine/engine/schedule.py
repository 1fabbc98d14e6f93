"""Schedules: the cron grammar of DESIGN 4 and slot maths with croniter in the strategy's timezone.

Every slot is computed from the previous slot, strictly after it, in the strategy's zone, and returned in UTC.
"""

from __future__ import annotations

from datetime import datetime

FREQUENCIES: dict[str, str] = {
    "1m": "* * * * *",
    "5m": "*/5 * * * *",
    "15m": "*/15 * * * *",
    "30m": "*/30 * * * *",
    "1h": "0 * * * *",
}


def validate_cron(expr: str) -> str:
    """The expression normalised (single spaces), or ValueError naming what is wrong."""
    raise NotImplementedError


def validate_timezone(name: str) -> str:
    """The IANA zone name, or ValueError."""
    raise NotImplementedError


def ensure_fires(expr: str, tz: str) -> None:
    """ValueError when the expression never fires within the next year (`0 0 30 2 *`)."""
    raise NotImplementedError


def next_slot(expr: str, tz: str, after: datetime) -> datetime:
    """The first slot strictly after `after` (any zone), in UTC."""
    raise NotImplementedError


def next_slots(expr: str, tz: str, after: datetime, count: int) -> list[datetime]:
    raise NotImplementedError


def latest_due_slot(expr: str, tz: str, due_at: datetime, now: datetime) -> tuple[datetime, int]:
    """(latest slot <= now, walking from `due_at`; number of slots in [due_at, latest) that were missed)."""
    raise NotImplementedError
