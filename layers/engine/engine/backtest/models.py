"""What a backtest is asked to do (the request body) and its limits."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from engine import schedule
from engine.backtest.source import FillModel
from engine.models.base import Model, Money, UtcDatetime
from engine.models.strategy import MAX_BANKROLL, MIN_BANKROLL, ScheduleChoice

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


class BacktestSpec(ScheduleChoice):
    """The period, schedule, bankroll and assumptions of one backtest (DESIGN 9)."""

    start: UtcDatetime
    end: UtcDatetime
    paper_bankroll_usd: Money = Field(ge=MIN_BANKROLL, le=MAX_BANKROLL)
    fill_model: FillModelIn = Field(default_factory=FillModelIn)
    allow_proxies: bool = False

    def fires_from(self) -> datetime | None:
        return self.start

    @model_validator(mode="after")
    def _period(self) -> BacktestSpec:
        if self.end <= self.start:
            raise ValueError("`end` must be after `start`")
        if self.end - self.start > timedelta(days=MAX_DAYS):
            raise ValueError(f"a backtest covers at most {MAX_DAYS} days")
        return self


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
