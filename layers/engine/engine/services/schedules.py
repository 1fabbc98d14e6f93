"""Schedule previews: the next slots a frequency preset or a cron expression gives in a timezone, computed by
the same rule the scheduler uses (engine.schedule), so a client never re-implements cron."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from engine import schedule
from engine.models.base import Model

MAX_PREVIEW_SLOTS = 20


class SchedulePreview(Model):
    """`frequency` or `schedule_cron` (exactly one, DESIGN 4's rules), `timezone` (IANA), `count` slots."""

    model_config = ConfigDict(extra="forbid")

    frequency: Literal["1m", "5m", "15m", "30m", "1h"] | None = None
    schedule_cron: str | None = Field(default=None, max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    count: int = Field(default=5, ge=1, le=MAX_PREVIEW_SLOTS)

    @field_validator("schedule_cron")
    @classmethod
    def _cron_grammar(cls, value: str | None) -> str | None:
        return None if value is None else schedule.validate_cron(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return schedule.validate_timezone(value)

    @model_validator(mode="after")
    def _one_schedule(self) -> SchedulePreview:
        if (self.frequency is None) == (self.schedule_cron is None):
            raise ValueError("give exactly one of `frequency` or `schedule_cron`")
        if self.schedule_cron is not None:
            schedule.ensure_fires(self.schedule_cron, self.timezone)
        return self

    @property
    def cron(self) -> str:
        if self.frequency is not None:
            return schedule.FREQUENCIES[self.frequency]
        assert self.schedule_cron is not None
        return self.schedule_cron


def preview_slots(choice: SchedulePreview, *, now: datetime) -> list[datetime]:
    """The next `choice.count` slots strictly after `now`, in UTC: what a start now would run at."""
    return schedule.next_slots(choice.cron, choice.timezone, now, choice.count)
