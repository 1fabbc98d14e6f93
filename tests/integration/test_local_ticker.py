"""The local ticker and clocks: EventBridge's scheduled event, one per minute of the shared clock."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from local.clock import FastClock, OffsetClock
from local.ticker import Ticker, scheduled_event

START = datetime(2026, 2, 7, 12, 50, 30, tzinfo=UTC)


def test_the_scheduled_event_has_eventbridges_shape() -> None:
    # Given a minute and a rule name
    # When the event is built
    event = scheduled_event(datetime(2026, 2, 7, 13, 0, tzinfo=UTC), "stack-CronExecutorFunctionEveryMinute")

    # Then it is field for field what EventBridge sends a Lambda target
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert event["version"] == "0"
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["account"] == "123456789012"
    assert event["region"] == "us-east-1"
    assert event["time"] == "2026-02-07T13:00:00Z"
    assert event["resources"] == [
        "arn:aws:events:us-east-1:123456789012:rule/stack-CronExecutorFunctionEveryMinute"
    ]
    assert event["detail"] == {}
    assert len(event["id"]) == 36


def test_the_threaded_ticker_fires_once_per_minute_of_the_shared_clock() -> None:
    # Given a ticker running against a fast clock at 12:50:30
    clock = FastClock(START)
    seen: list[str] = []
    fired = threading.Event()

    def invoke(event: dict[str, Any]) -> None:
        seen.append(event["time"])
        fired.set()

    ticker = Ticker(clock, invoke, "rule").start()
    try:
        # When the clock moves minute by minute to 12:53:30
        for _ in range(3):
            fired.clear()
            clock.advance(timedelta(minutes=1))
            assert fired.wait(5)
        time.sleep(0.2)
    finally:
        ticker.stop()

    # Then exactly the three whole minutes passed were sent, in order, and nothing more
    assert seen == ["2026-02-07T12:51:00Z", "2026-02-07T12:52:00Z", "2026-02-07T12:53:00Z"]


def test_a_ticker_that_fell_behind_sends_the_latest_minute_not_a_burst() -> None:
    # Given a ticker whose clock jumps ten minutes at once
    clock = FastClock(START)
    seen: list[str] = []
    fired = threading.Event()

    def invoke(event: dict[str, Any]) -> None:
        seen.append(event["time"])
        fired.set()

    ticker = Ticker(clock, invoke, "rule").start()
    try:
        # When the jump happens
        clock.advance(timedelta(minutes=10))
        assert fired.wait(5)
        time.sleep(0.3)
    finally:
        ticker.stop()

    # Then only the current minute is sent (older events would be past the rule's maximum event age)
    assert seen == ["2026-02-07T13:00:00Z"]
    assert ticker.skipped_minutes == 9


def test_the_offset_clock_starts_at_the_given_instant_and_moves_at_real_speed() -> None:
    # Given an offset clock started at the recording time
    clock = OffsetClock(START)

    # When a little real time passes
    first = clock.now()
    time.sleep(0.05)
    second = clock.now()

    # Then it reads the recording time plus the real time elapsed
    assert timedelta(0) <= first - START < timedelta(seconds=1)
    assert timedelta(milliseconds=40) <= second - first < timedelta(seconds=1)
