"""Limits shared by every strategy of a user, and the kill switch (issue 14)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from engine.models.base import DomainModel, Money, UtcDatetime

KillMode = Literal["halt", "exits_only"]
MAX_USD = Decimal(10**12)  # far above any bankroll, and a number DynamoDB stores exactly


class RiskLimits(DomainModel):
    """Each limit is optional (null: none). Exposure is the cost basis of open positions."""

    max_total_exposure_usd: Money | None = Field(default=None, gt=0, le=MAX_USD, decimal_places=2)
    max_market_exposure_usd: Money | None = Field(default=None, gt=0, le=MAX_USD, decimal_places=2)
    max_event_exposure_usd: Money | None = Field(default=None, gt=0, le=MAX_USD, decimal_places=2)
    daily_loss_stop_usd: Money | None = Field(default=None, gt=0, le=MAX_USD, decimal_places=2)
    max_drawdown_pct: Money | None = Field(default=None, gt=0, le=100, decimal_places=4)
    timezone: str = Field(default="UTC", min_length=1, max_length=64)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r}") from exc
        return value

    @property
    def any_set(self) -> bool:
        return any(
            v is not None
            for v in (
                self.max_total_exposure_usd,
                self.max_market_exposure_usd,
                self.max_event_exposure_usd,
                self.daily_loss_stop_usd,
                self.max_drawdown_pct,
            )
        )


class KillSwitch(DomainModel):
    mode: KillMode
    since: UtcDatetime
    reason: str = "user"  # user, or auto:max_drawdown
    paused_strategy_ids: list[str] = Field(default_factory=list)  # what `halt` paused (and release resumes)


class RiskSettings(DomainModel):
    """GET /risk-limits: the limits, when they were set, and the kill switch if it is on."""

    limits: RiskLimits
    updated_at: UtcDatetime | None = None
    kill_switch: KillSwitch | None = None
