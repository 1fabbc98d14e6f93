"""The EventBridge rule of the template (`rate(1 minute)`): a scheduled event to cron_executor every minute
of the shared clock, shaped exactly as EventBridge sends it."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from local.clock import Clock

logger = logging.getLogger(__name__)
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
# Lambda drops an event older than the function's MaximumEventAgeInSeconds (60 in the template): a ticker that
# fell behind sends the latest minute, not a burst of stale ones
MAX_EVENT_AGE = timedelta(seconds=60)


def rule_arn(rule_name: str) -> str:
    return f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"


def scheduled_event(time: datetime, rule_name: str) -> dict[str, Any]:
    """A `Scheduled Event` as EventBridge delivers it to a Lambda target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [rule_arn(rule_name)],
        "detail": {},
    }


def floor_minute(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(second=0, microsecond=0)


class Ticker:
    """Sends one scheduled event per clock minute. `tick(minute)` is the synchronous step the demo drives;
    `start()` runs it in a thread against the clock (real time in `make up`)."""

    def __init__(self, clock: Clock, invoke: Callable[[dict[str, Any]], Any], rule_name: str) -> None:
        self.clock = clock
        self.invoke = invoke
        self.rule_name = rule_name
        self.ticks = 0
        self.failures = 0
        self.skipped_minutes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, minute: datetime) -> Any:
        self.ticks += 1
        try:
            return self.invoke(scheduled_event(floor_minute(minute), self.rule_name))
        except Exception:
            # the rule has no retry (MaximumRetryAttempts 0): the next minute takes over
            self.failures += 1
            logger.exception("cron tick %s failed", minute.isoformat())
            return None

    def start(self) -> Ticker:
        self._thread = threading.Thread(target=self._run, name="local-ticker", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        minute = floor_minute(self.clock.now()) + timedelta(minutes=1)
        while self.clock.sleep_until(minute, self._stop):
            now = self.clock.now()
            if now - minute > MAX_EVENT_AGE:
                latest = floor_minute(now)
                self.skipped_minutes += int((latest - minute) / timedelta(minutes=1))
                minute = latest
            self.tick(minute)
            minute += timedelta(minutes=1)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=65)
