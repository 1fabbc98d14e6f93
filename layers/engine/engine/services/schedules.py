"""Schedule previews: the next slots a frequency preset or a cron expression gives in a timezone, computed by
the same rule the scheduler uses (engine.schedule), so a client never re-implements cron."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from engine import schedule
from engine.models.strategy import ScheduleChoice

MAX_PREVIEW_SLOTS = 20


class SchedulePreview(ScheduleChoice):
    """`frequency` or `schedule_cron` (exactly one, DESIGN 4's rules), `timezone` (IANA), `count` slots."""

    count: int = Field(default=5, ge=1, le=MAX_PREVIEW_SLOTS)


def preview_slots(choice: SchedulePreview, *, now: datetime) -> list[datetime]:
    """The next `choice.count` slots strictly after `now`, in UTC: what a start now would run at."""
    return schedule.next_slots(choice.cron, choice.timezone, now, choice.count)
