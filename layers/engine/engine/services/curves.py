"""Reading equity curves: each tier queried by its own time range, never every point of a strategy."""

from __future__ import annotations

from datetime import datetime

from engine.clock import to_utc
from engine.models.portfolio import EquityPoint
from engine.portfolio import HOURLY_POINTS_KEPT, MINUTE_POINTS_KEPT
from engine.storage.portfolios import PortfolioRepository


def _floor_hour(value: datetime) -> datetime:
    return to_utc(value).replace(minute=0, second=0, microsecond=0)


def read_curve(portfolios: PortfolioRepository, strategy_id: str, *, now: datetime) -> list[EquityPoint]:
    """The display curve, oldest first: daily points before the last month, hourly points for the month
    before the last day, minute points for the last day (DESIGN "Metrics"), one ranged Query per tier."""
    return _curve(portfolios, strategy_id, now=now, days=_daily_tier(portfolios, strategy_id, now=now))


def read_curve_and_daily(
    portfolios: PortfolioRepository, strategy_id: str, *, daily_since: datetime, now: datetime
) -> tuple[list[EquityPoint], list[EquityPoint]]:
    """`read_curve` and `read_daily(since=daily_since)` together (GET performance needs both), with the daily
    tier queried once rather than twice: each Query reads the strategy's partition."""
    days = _daily_tier(portfolios, strategy_id, now=now)
    first_day = to_utc(daily_since).date()
    return _curve(portfolios, strategy_id, now=now, days=days), [
        p for p in days if to_utc(p.at).date() >= first_day
    ]


def _daily_tier(portfolios: PortfolioRepository, strategy_id: str, *, now: datetime) -> list[EquityPoint]:
    return portfolios.equity_range(strategy_id, tier="d", since=None, now=now)


def _curve(
    portfolios: PortfolioRepository, strategy_id: str, *, now: datetime, days: list[EquityPoint]
) -> list[EquityPoint]:
    now = to_utc(now)
    minute_since = now - MINUTE_POINTS_KEPT
    hourly_since = now - HOURLY_POINTS_KEPT
    daily = [p for p in days if to_utc(p.at) < hourly_since]
    hourly = [
        p
        for p in portfolios.equity_range(strategy_id, tier="h", since=_floor_hour(hourly_since), now=now)
        if hourly_since <= to_utc(p.at) < minute_since
    ]
    minute = [
        p
        for p in portfolios.equity_range(
            strategy_id, tier="m", since=minute_since.replace(second=0, microsecond=0), now=now
        )
        if to_utc(p.at) >= minute_since
    ]
    return sorted(daily + hourly + minute, key=lambda p: p.at)


def read_daily(
    portfolios: PortfolioRepository, strategy_id: str, *, since: datetime, now: datetime
) -> list[EquityPoint]:
    """The daily tier (the last point of each UTC day) from `since`'s day on: the daily closes."""
    return portfolios.equity_range(strategy_id, tier="d", since=since, now=now)


__all__ = ["read_curve", "read_curve_and_daily", "read_daily"]
