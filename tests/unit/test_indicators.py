"""Indicators computed by hand: change, EMA cross, Wilder's RSI, z-score, spread, imbalance, microprice."""

from __future__ import annotations

from decimal import Decimal

from engine import indicators
from engine.market.types import BookLevel, OrderBook, PricePoint

D = Decimal


def points(*prices: str, step: int = 3600) -> list[PricePoint]:
    return [PricePoint(t=i * step, p=D(p)) for i, p in enumerate(prices)]


def test_change_is_last_minus_the_price_at_the_lookback() -> None:
    # Given hourly prices 0.40, 0.42, 0.45, 0.50
    series = points("0.40", "0.42", "0.45", "0.50")
    # When the change over 2 hours and over 3 hours is taken / Then 0.50-0.42 and 0.50-0.40
    assert indicators.change(series, 2 * 3600) == D("0.08")
    assert indicators.change(series, 3 * 3600) == D("0.10")
    # And a lookback before the first point has no value
    assert indicators.change(series, 4 * 3600) is None


def test_ema_cross_by_hand() -> None:
    # Given 1, 2, 3 with EMA(1) (= last value) and EMA(2) (alpha 2/3): 1 -> 5/3 -> 23/9
    values = [D(1), D(2), D(3)]
    # When crossed / Then 3 - 23/9 = 4/9
    cross = indicators.ema_cross(values, 1, 2)
    assert cross is not None and abs(cross - D(4) / D(9)) < D("1e-20")
    # And too short a series has none
    assert indicators.ema_cross([D(1)], 1, 2) is None


def test_rsi_wilder_by_hand() -> None:
    # Given changes +1, -1, +2 with 2 periods: seed gain 0.5, loss 0.5; then gain (0.5+2)/2=1.25, loss 0.25
    values = [D(10), D(11), D(10), D(12)]
    # When RSI(2) is taken / Then RS = 5 and RSI = 100 - 100/6
    rsi = indicators.rsi(values, 2)
    assert rsi is not None and abs(rsi - (D(100) - D(100) / D(6))) < D("1e-20")
    # And only gains give 100, a flat series 50, a short one nothing
    assert indicators.rsi([D(1), D(2), D(3)], 2) == D(100)
    assert indicators.rsi([D(1), D(1), D(1)], 2) == D(50)
    assert indicators.rsi([D(1), D(2)], 2) is None


def test_zscore_by_hand() -> None:
    # Given 1, 2, 3, 6: mean 3, population variance (4+1+0+9)/4 = 3.5
    z = indicators.zscore([D(1), D(2), D(3), D(6)])
    # Then (6 - 3) / sqrt(3.5)
    assert z is not None and abs(z - D(3) / D("3.5").sqrt()) < D("1e-20")
    assert indicators.zscore([D(2), D(2)]) is None


def book(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> OrderBook:
    # API order: best level LAST on both sides
    return OrderBook(
        token_id="t",
        market="c",
        bids=tuple(BookLevel(D(p), D(s)) for p, s in bids),
        asks=tuple(BookLevel(D(p), D(s)) for p, s in asks),
        timestamp_ms=0,
        hash="h",
    )


def test_book_metrics_by_hand() -> None:
    # Given bids 0.38x300, 0.40x100 and asks 0.50x500, 0.44x50 (mid 0.42)
    b = book([("0.38", "300"), ("0.40", "100")], [("0.50", "500"), ("0.44", "50")])
    # Then the spread is 0.04; microprice (0.40*50 + 0.44*100)/150
    assert indicators.spread(b) == D("0.04")
    assert indicators.microprice(b) == (D("0.40") * 50 + D("0.44") * 100) / D(150)
    # And within 0.05 of the mid: bids 400, asks 50 -> (400-50)/450; within 0.03: bids 100, asks 50
    assert indicators.depth_imbalance(b, D("0.05")) == D(350) / D(450)
    assert indicators.depth_imbalance(b, D("0.03")) == D(50) / D(150)
    # And a one-sided book has no spread
    assert indicators.spread(book([("0.4", "1")], [])) is None
