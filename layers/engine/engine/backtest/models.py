"""What a backtest is asked to do (the request body) and its limits."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from engine import schedule
from engine.backtest.source import FillModel
from engine.models.base import Model, Money, UtcDatetime
from engine.models.strategy import MAX_BANKROLL, MIN_BANKROLL

MAX_DAYS = 365
MAX_SLOTS = 20_000
DEFAULT_HALF_SPREAD_BPS = Decimal(100)
DEFAULT_SLIPPAGE_BPS = Decimal(25)


class FillModelIn(Model):
    """`fill_model`: the price at the slot, plus half the spread and the slippage (bps of the price)."""

    model_config = ConfigDict(extra="forbid")

    half_spread_bps: Money = Field(default=DEFAULT_HALF_SPREAD_BPS, ge=0, le=5000, allow_inf_nan=False)
    slippage_bps: Money = Field(default=DEFAULT_SLIPPAGE_BPS, ge=0, le=5000, allow_inf_nan=False)
    fees: Literal["market", "none"] = "market"

    def model(self) -> FillModel:
        return FillModel(half_spread_bps=self.half_spread_bps, slippage_bps=self.slippage_bps, fees=self.fees)


class BacktestSpec(Model):
    """The period, schedule, bankroll and assumptions of one backtest (DESIGN 9)."""

    model_config = ConfigDict(extra="forbid")

    start: UtcDatetime
    end: UtcDatetime
    frequency: Literal["1m", "5m", "15m", "30m", "1h"] | None = None
    schedule_cron: str | None = Field(default=None, max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    paper_bankroll_usd: Money = Field(ge=MIN_BANKROLL, le=MAX_BANKROLL)
    fill_model: FillModelIn = Field(default_factory=FillModelIn)
    allow_proxies: bool = False

    @field_validator("schedule_cron")
    @classmethod
    def _cron_grammar(cls, value: str | None) -> str | None:
        return None if value is None else schedule.validate_cron(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return schedule.validate_timezone(value)

    @model_validator(mode="after")
    def _period_and_schedule(self) -> BacktestSpec:
        if (self.frequency is None) == (self.schedule_cron is None):
            raise ValueError("give exactly one of `frequency` or `schedule_cron`")
        if self.end <= self.start:
            raise ValueError("`end` must be after `start`")
        if self.end - self.start > timedelta(days=MAX_DAYS):
            raise ValueError(f"a backtest covers at most {MAX_DAYS} days")
        if self.schedule_cron is not None:
            schedule.ensure_fires(self.schedule_cron, self.timezone, self.start)
        return self

    @property
    def cron(self) -> str:
        if self.frequency is not None:
            return schedule.FREQUENCIES[self.frequency]
        assert self.schedule_cron is not None
        return self.schedule_cron


class TooManySlots(ValueError):
    pass


def backtest_slots(
    cron: str, tz: str, start: datetime, end: datetime, *, limit: int = MAX_SLOTS
) -> list[datetime]:
    """Every slot with start <= slot <= end, in the schedule's timezone (DST rules of engine.schedule).

    Raises TooManySlots past `limit`.
    """
    slots: list[datetime] = []
    after = start - timedelta(microseconds=1)
    while True:
        batch = schedule.next_slots(cron, tz, after, 500)
        for slot in batch:
            if slot > end:
                return slots
            slots.append(slot)
            if len(slots) > limit:
                raise TooManySlots(f"the period has more than {limit} slots at this schedule")
        after = batch[-1]
