"""Max drawdown read from GET performance never shrinks as the stored curve thins: it equals the drawdown of
every point the stream ever wrote, read a minute, two days or forty days later (moto, real stream records)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from engine.models.portfolio import EquityPoint
from engine.models.trading import Side
from engine.performance import max_drawdown, max_relative_drawdown
from engine.services.strategies import Stores, get_performance
from engine.storage.dynamo import reset_clients
from engine.storage.portfolios import PortfolioRepository
from functions.portfolio_stream import app
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import T0
from tests.support.lambda_context import FakeLambdaContext
from tests.support.streams import Desk, StreamReader, stream_event, template_stream_filters

D = Decimal


@pytest.fixture
def aws() -> Iterator[AwsEnv]:
    reset_clients()
    with moto_stack() as env:
        yield env
    reset_clients()


@pytest.fixture
def stream(aws: AwsEnv) -> StreamReader:
    client = aws.session.client("dynamodbstreams")
    return StreamReader(client, aws.names.streams["TradesTable"], filters=template_stream_filters())


def deliver(stream: StreamReader) -> None:
    context = FakeLambdaContext(function_name="autopilot-test-portfolio-stream")
    assert app.lambda_handler(stream_event(stream.read()), context) == {"batchItemFailures": []}


@pytest.mark.parametrize("seed", [1, 7, 42])
def test_max_drawdown_read_at_any_later_time_equals_the_drawdown_of_every_point_written(
    aws: AwsEnv, stream: StreamReader, seed: int
) -> None:
    # Given a position whose mark wanders minute by minute (dips that recover within the hour included),
    # every run's point synced by the stream, and the opening bankroll point
    rng = random.Random(seed)
    desk = Desk()
    strategy_id = desk.deploy()
    desk.run(strategy_id, [(Side.BUY, "m1", D(1000), D("0.50"))], at=T0, marks={"m1": (D("0.50"), "open")})
    deliver(stream)
    written: list[EquityPoint] = [
        EquityPoint(at=T0, equity_usd=D(1000), cash_usd=D(1000), positions_value_usd=D(0))
    ]
    at = T0
    for _ in range(25):
        at += timedelta(minutes=rng.randrange(1, 40))
        desk.run(strategy_id, at=at, marks={"m1": (D(rng.randrange(20, 80)) / 100, "open")})
        deliver(stream)
        portfolio = PortfolioRepository().get_portfolio(strategy_id)
        assert portfolio is not None and portfolio.updated_at == at
        written.append(
            EquityPoint(
                at=at,
                equity_usd=portfolio.equity_usd,
                cash_usd=portfolio.cash_usd,
                positions_value_usd=portfolio.positions_value_usd,
            )
        )
    absolute, relative = max_drawdown(written), max_relative_drawdown(written)
    assert absolute.drop_usd > 0

    # When performance is read at later times, as the minute and hourly tiers age out
    later: list[datetime] = [at + timedelta(minutes=1), at + timedelta(days=2), at + timedelta(days=40)]
    for now in later:
        perf = get_performance(strategy_id, owner="user-1", now=now, stores=Stores.default())

        # Then both drops are those of every point written, with their dates
        assert absolute.peak is not None and absolute.trough is not None
        assert (perf.max_drawdown_usd, perf.max_drawdown_start, perf.max_drawdown_end) == (
            absolute.drop_usd,
            absolute.peak.at,
            absolute.trough.at,
        )
        assert perf.max_relative_drawdown == relative.relative.quantize(D("0.000001"))
        # the curve itself thinned: at 40 days only the daily points are left
        if now == later[-1]:
            assert len(perf.equity_curve) <= 2 < len(written)
