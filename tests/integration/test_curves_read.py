"""Reading a strategy's equity curve and daily closes for GET performance: the same points as reading each on
its own, with the daily tier queried once (every Query reads the strategy's partition)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.clock import iso
from engine.models.portfolio import EquityPoint
from engine.models.strategy import StrategyStatus
from engine.portfolio import EQUITY_KEY_PREFIX
from engine.services.curves import read_curve, read_curve_and_daily, read_daily
from engine.storage.dynamo import reset_clients
from engine.storage.portfolios import PortfolioRepository
from engine.storage.strategies import StrategyRepository
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import T0, make_strategy


@pytest.fixture
def aws() -> Iterator[AwsEnv]:
    reset_clients()
    with moto_stack() as env:
        yield env
    reset_clients()


class CountingPortfolios(PortfolioRepository):
    def __init__(self) -> None:
        super().__init__()
        self.tiers: list[str] = []

    def equity_range(self, strategy_id: str, **kwargs: Any) -> list[EquityPoint]:
        self.tiers.append(kwargs["tier"])
        return super().equity_range(strategy_id, **kwargs)


def test_the_curve_and_the_daily_closes_read_together_equal_each_read_alone_with_one_daily_query(
    aws: AwsEnv,
) -> None:
    # Given 45 days of daily points, 3 days of hourly ones and 2 hours of minute ones
    strategy = make_strategy(status=StrategyStatus.RUNNING)
    StrategyRepository().create(strategy)
    sid = strategy.strategy_id
    portfolios = CountingPortfolios()
    now = T0 + timedelta(days=45)

    def put(key: str, at: Any, n: int) -> None:
        value = Decimal(1000 + n)
        point = EquityPoint(at=at, equity_usd=value, cash_usd=value, positions_value_usd=Decimal(0))
        portfolios.put_equity_point(sid, key, None, point)

    for day in range(46):
        at = (T0 + timedelta(days=day)).replace(hour=23, minute=59)
        if at <= now:
            put(f"{EQUITY_KEY_PREFIX}d#{at.date().isoformat()}", at, day)
    for hour in range(72):
        at = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hour)
        put(f"{EQUITY_KEY_PREFIX}h#{iso(at)}", at, hour)
    for minute in range(120):
        at = now.replace(second=0, microsecond=0) - timedelta(minutes=minute)
        put(f"{EQUITY_KEY_PREFIX}m#{iso(at)}", at, minute)
    since = T0 + timedelta(days=20, hours=5)

    # When they are read together, and each on its own
    together = read_curve_and_daily(portfolios, sid, daily_since=since, now=now)
    queried_together = list(portfolios.tiers)
    portfolios.tiers.clear()
    alone = (read_curve(portfolios, sid, now=now), read_daily(portfolios, sid, since=since, now=now))

    # Then the points are the same, and the daily tier was queried once instead of twice
    assert together == alone
    assert len(together[1]) == 25 and together[1][0].at.date() == since.date()
    assert sorted(queried_together) == ["d", "h", "m"]
    assert sorted(portfolios.tiers) == ["d", "d", "h", "m"]
