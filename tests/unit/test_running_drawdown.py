"""The running drawdown folded point by point equals Freqtrade's drawdown over the whole curve."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.drawdown import RunningDrawdown, running_drawdown
from engine.models.portfolio import EquityPoint
from engine.performance import max_drawdown, max_relative_drawdown
from tests.support.builders import T0

D = Decimal

equities = st.lists(st.integers(min_value=1, max_value=5_000), min_size=1, max_size=60)


def curve_of(values: list[int]) -> list[EquityPoint]:
    return [
        EquityPoint(at=T0 + timedelta(minutes=i), equity_usd=D(v), cash_usd=D(v), positions_value_usd=D(0))
        for i, v in enumerate(values)
    ]


@settings(max_examples=300, deadline=None)
@given(equities)
def test_the_fold_equals_the_largest_absolute_and_relative_drop_of_the_whole_curve(values: list[int]) -> None:
    # Given any curve
    curve = curve_of(values)

    # When it is folded point by point
    running = running_drawdown((p.at, p.equity_usd) for p in curve)

    # Then both drops, their peaks and troughs are those read from the whole curve
    assert running is not None
    absolute, relative = max_drawdown(curve), max_relative_drawdown(curve)
    got_abs, got_rel = running.largest_absolute, running.largest_relative
    if absolute.trough is None:
        assert got_abs is None and got_rel is None
        return
    assert got_abs is not None and got_rel is not None and relative.trough is not None
    assert absolute.peak is not None and relative.peak is not None
    assert (got_abs.drop_usd, got_abs.relative, got_abs.peak_at, got_abs.trough_at) == (
        absolute.drop_usd,
        absolute.relative,
        absolute.peak.at,
        absolute.trough.at,
    )
    assert (got_rel.drop_usd, got_rel.relative, got_rel.peak_at, got_rel.trough_at) == (
        relative.drop_usd,
        relative.relative,
        relative.peak.at,
        relative.trough.at,
    )


def test_the_largest_relative_drop_can_be_another_than_the_largest_absolute_one() -> None:
    # Given 100 -> 50 (-50, 50 %) then 1000 -> 900 (-100, 10 %)
    running = running_drawdown((p.at, p.equity_usd) for p in curve_of([100, 50, 1000, 900]))

    # Then the absolute one is the later drop and the relative one the earlier
    assert running is not None and running.largest_absolute and running.largest_relative
    assert (running.largest_absolute.drop_usd, running.largest_absolute.relative) == (D(100), D("0.1"))
    assert (running.largest_relative.drop_usd, running.largest_relative.relative) == (D(50), D("0.5"))


@given(equities)
def test_a_stored_drawdown_reads_back_equal(values: list[int]) -> None:
    # Given a folded drawdown written as DynamoDB attributes
    running = running_drawdown((p.at, p.equity_usd) for p in curve_of(values))
    assert running is not None
    serializer, deserializer = TypeSerializer(), TypeDeserializer()

    # When it goes through boto3's types and back
    item = deserializer.deserialize(serializer.serialize(running.to_item()))

    # Then it is the same drawdown
    assert RunningDrawdown.from_item(item) == running
