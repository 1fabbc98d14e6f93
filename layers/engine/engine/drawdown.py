"""The running drawdown of an equity curve, kept exact as points arrive (the stored curve thins with age).

Freqtrade's `calculate_max_drawdown` reads the whole curve; here the same figures are folded point by point,
so the largest drop ever seen survives the thinning of the minute and hourly tiers. Two drops are kept: the
largest absolute one (with its relative size, as Freqtrade reports it) and the largest relative one. Ties
keep the earliest peak and trough, as pandas' idxmax/idxmin do in Freqtrade.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from engine.clock import parse_iso, to_utc
from engine.models.base import DomainModel, Money, UtcDatetime
from engine.money import ZERO, to_decimal


class Drop(DomainModel):
    """One peak-to-trough drop."""

    drop_usd: Money
    relative: Money  # drop / peak equity
    peak_usd: Money
    peak_at: UtcDatetime
    trough_usd: Money
    trough_at: UtcDatetime


class RunningDrawdown(DomainModel):
    """Everything needed to continue the fold: the curve's start, its running peak and the two largest drops.

    `points` counts the points folded; the stored copy is written conditioned on it, so two syncs racing
    can never both fold their point onto the same predecessor.
    """

    started_at: UtcDatetime
    start_usd: Money
    peak_usd: Money
    peak_at: UtcDatetime
    last_at: UtcDatetime
    points: int = 0
    largest_absolute: Drop | None = None
    largest_relative: Drop | None = None

    @classmethod
    def opening(cls, equity: Decimal, at: datetime) -> RunningDrawdown:
        """The curve's first point: the bankroll at deploy time, so a loss before the first sync counts."""
        return cls(started_at=at, start_usd=equity, peak_usd=equity, peak_at=at, last_at=at, points=1)

    def fold(self, equity: Decimal, at: datetime) -> RunningDrawdown:
        """The drawdown after one more point (in arrival order; the stream's points only move forward)."""
        peak_usd, peak_at = self.peak_usd, self.peak_at
        if equity > peak_usd:
            peak_usd, peak_at = equity, at
        drop = peak_usd - equity
        largest_absolute, largest_relative = self.largest_absolute, self.largest_relative
        if drop > ZERO:
            relative = drop / peak_usd if peak_usd > ZERO else ZERO
            current = Drop(
                drop_usd=drop,
                relative=relative,
                peak_usd=peak_usd,
                peak_at=peak_at,
                trough_usd=equity,
                trough_at=at,
            )
            if largest_absolute is None or drop > largest_absolute.drop_usd:
                largest_absolute = current
            if largest_relative is None or relative > largest_relative.relative:
                largest_relative = current
        return RunningDrawdown(
            started_at=self.started_at,
            start_usd=self.start_usd,
            peak_usd=peak_usd,
            peak_at=peak_at,
            last_at=max(to_utc(self.last_at), to_utc(at)),
            points=self.points + 1,
            largest_absolute=largest_absolute,
            largest_relative=largest_relative,
        )

    def to_item(self) -> dict[str, Any]:
        """As DynamoDB attributes (Decimal money, ISO times)."""
        return dict(self.model_dump(mode="json", round_trip=True) | _decimals(self))

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None) -> RunningDrawdown | None:
        if not isinstance(item, Mapping):
            return None
        try:
            return cls.model_validate(_parsed(item))
        except (ValueError, TypeError, ArithmeticError):
            return None


def _decimals(drawdown: RunningDrawdown) -> dict[str, Any]:
    """The money fields as Decimal (JSON dumping turns them into floats, which DynamoDB refuses)."""
    values: dict[str, Any] = {
        "start_usd": drawdown.start_usd,
        "peak_usd": drawdown.peak_usd,
    }
    for name in ("largest_absolute", "largest_relative"):
        drop: Drop | None = getattr(drawdown, name)
        values[name] = (
            None
            if drop is None
            else {
                "drop_usd": drop.drop_usd,
                "relative": drop.relative,
                "peak_usd": drop.peak_usd,
                "peak_at": drop.peak_at.isoformat().replace("+00:00", "Z"),
                "trough_usd": drop.trough_usd,
                "trough_at": drop.trough_at.isoformat().replace("+00:00", "Z"),
            }
        )
    return values


def _parsed(item: Mapping[str, Any]) -> dict[str, Any]:
    values = dict(item)
    for key in ("started_at", "peak_at", "last_at"):
        values[key] = parse_iso(str(values[key]))
    for key in ("start_usd", "peak_usd"):
        values[key] = to_decimal(values[key])
    values["points"] = int(values.get("points", 0))
    for name in ("largest_absolute", "largest_relative"):
        drop = values.get(name)
        if isinstance(drop, Mapping):
            values[name] = {
                "drop_usd": to_decimal(drop["drop_usd"]),
                "relative": to_decimal(drop["relative"]),
                "peak_usd": to_decimal(drop["peak_usd"]),
                "peak_at": parse_iso(str(drop["peak_at"])),
                "trough_usd": to_decimal(drop["trough_usd"]),
                "trough_at": parse_iso(str(drop["trough_at"])),
            }
    return values


def running_drawdown(points: Iterable[tuple[datetime, Decimal]]) -> RunningDrawdown | None:
    """The fold over a whole curve (oldest first): what the stored copy must equal."""
    result: RunningDrawdown | None = None
    for at, equity in points:
        result = RunningDrawdown.opening(equity, at) if result is None else result.fold(equity, at)
    return result


__all__ = ["Drop", "RunningDrawdown", "running_drawdown"]
