"""The small equity sparkline a strategy carries for list views: one equity value per hour, the latest hour
last, at most SPARKLINE_POINTS of them. The portfolio stream extends it each time it publishes figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

SPARKLINE_POINTS = 48


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def extend_sparkline(
    values: list[Decimal], last_hour: datetime | None, equity: Decimal, at: datetime
) -> tuple[list[Decimal], datetime] | None:
    """The sparkline with `equity` as of `at`: the same hour's value replaced, later hours appended (an hour
    without a sync repeats the previous value, so each point is one hour). None when `at` is older than the
    sparkline's last hour (a late record changes nothing)."""
    hour = hour_of(at)
    if last_hour is None or not values:
        return [equity], hour
    if hour < last_hour:
        return None
    gap = int((hour - last_hour) / timedelta(hours=1))
    if gap == 0:
        out = [*values[:-1], equity]
    else:
        filler = [values[-1]] * min(gap - 1, SPARKLINE_POINTS)
        out = [*values, *filler, equity]
    return out[-SPARKLINE_POINTS:], hour
