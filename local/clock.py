"""The one clock every local part reads: real time for `make up`, a fast driven clock for the demo.

The gateway (JWT times, requestContext.time), the ticker (which minute is due), the recorded Polymarket server
(`updatedAt`, book timestamps) and the engine's `utc_now` all read the same clock, so a demo that starts at
the recording time of the market data sees recorded open markets as open.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the local parts need from time: the current instant and a way to wait for a later one."""

    def now(self) -> datetime: ...

    def sleep_until(self, instant: datetime, stop: threading.Event) -> bool:
        """Wait until `instant` (or `stop`); True when the instant came, False when stopped first."""
        ...


class RealClock:
    """Wall-clock time (UTC). `make up` runs on this one."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep_until(self, instant: datetime, stop: threading.Event) -> bool:
        while not stop.is_set():
            left = (instant - self.now()).total_seconds()
            if left <= 0:
                return True
            # short waits: a wall-clock jump (NTP, suspend) is noticed within a second
            stop.wait(min(left, 1.0))
        return False


class OffsetClock(RealClock):
    """Real-speed time shifted to start at a given instant (`make up --start`): recorded markets that were
    open at the recording time stay open, while minutes still pass at the wall clock's pace."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock's start must carry a timezone")
        self._offset = start.astimezone(UTC) - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


class FastClock:
    """A clock that starts at a given instant and moves only when its driver says so.

    The demo advances it minute by minute and drives the ticker and pollers itself, so several simulated
    hours run in seconds and the outcome does not depend on how busy the machine is.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock's start must carry a timezone")
        self._now = start.astimezone(UTC)
        self._lock = threading.Condition()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time does not go backwards")
        with self._lock:
            self._now += delta
            self._lock.notify_all()
            return self._now

    def set(self, instant: datetime) -> datetime:
        """Jump forward to `instant` (never back)."""
        with self._lock:
            instant = instant.astimezone(UTC)
            if instant < self._now:
                raise ValueError("time does not go backwards")
            self._now = instant
            self._lock.notify_all()
            return self._now

    def sleep_until(self, instant: datetime, stop: threading.Event) -> bool:
        with self._lock:
            while self._now < instant:
                if stop.is_set():
                    return False
                # the stop event cannot notify this condition, so look at it now and then
                self._lock.wait(timeout=0.1)
            return not stop.is_set()


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant (`Z` or an offset); a naive one is taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
