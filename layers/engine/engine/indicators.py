"""Indicators over price series and books, in Decimal (results repeat exactly on every machine)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from decimal import Decimal

from engine.market.types import OrderBook, PricePoint

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)


def change(points: Sequence[PricePoint], lookback_seconds: int) -> Decimal | None:
    """Last price minus the price `lookback_seconds` before the last point (last point at or before it)."""
    if not points:
        return None
    last = points[-1]
    cutoff = last.t - lookback_seconds
    then: Decimal | None = None
    for point in points:
        if point.t > cutoff:
            break
        then = point.p
    return None if then is None else last.p - then


def ema(values: Sequence[Decimal], periods: int) -> Decimal | None:
    """Exponential moving average with alpha 2/(periods+1), seeded with the first value."""
    if not values or periods < 1:
        return None
    alpha = Decimal(2) / Decimal(periods + 1)
    average = values[0]
    for value in values[1:]:
        average = alpha * value + (ONE - alpha) * average
    return average


def ema_cross(values: Sequence[Decimal], fast: int, slow: int) -> Decimal | None:
    """EMA(fast) - EMA(slow) of the series: above 0 the fast average is above the slow one. Needs `slow`
    values at least."""
    if len(values) < slow:
        return None
    fast_ema, slow_ema = ema(values, fast), ema(values, slow)
    return None if fast_ema is None or slow_ema is None else fast_ema - slow_ema


def rsi(values: Sequence[Decimal], periods: int) -> Decimal | None:
    """Wilder's RSI (0..100): averages of gains and losses seeded by their mean over the first `periods`
    changes, then smoothed with 1/periods. Needs periods + 1 values; 100 when there is no loss at all."""
    if periods < 1 or len(values) < periods + 1:
        return None
    changes = [b - a for a, b in itertools.pairwise(values)]
    gains = [max(c, ZERO) for c in changes]
    losses = [max(-c, ZERO) for c in changes]
    n = Decimal(periods)
    avg_gain = sum(gains[:periods], ZERO) / n
    avg_loss = sum(losses[:periods], ZERO) / n
    for gain, loss in zip(gains[periods:], losses[periods:], strict=True):
        avg_gain = (avg_gain * (n - 1) + gain) / n
        avg_loss = (avg_loss * (n - 1) + loss) / n
    if avg_loss == 0:
        return HUNDRED if avg_gain > 0 else Decimal(50)
    strength = avg_gain / avg_loss
    return HUNDRED - HUNDRED / (ONE + strength)


def zscore(values: Sequence[Decimal]) -> Decimal | None:
    """(last - mean) / population standard deviation; None with fewer than 2 values or no variation."""
    if len(values) < 2:
        return None
    n = Decimal(len(values))
    mean = sum(values, ZERO) / n
    variance = sum(((v - mean) ** 2 for v in values), ZERO) / n
    if variance == 0:
        return None
    return (values[-1] - mean) / variance.sqrt()


def spread(book: OrderBook) -> Decimal | None:
    bid, ask = book.best_bid, book.best_ask
    return None if bid is None or ask is None else ask.price - bid.price


def depth_imbalance(book: OrderBook, band: Decimal) -> Decimal | None:
    """(bid depth - ask depth) / (bid depth + ask depth), in shares, of the levels within `band` of the mid:
    +1 only bids, -1 only asks."""
    mid = book.mid
    if mid is None:
        return None
    bids = sum((lv.size for lv in book.bids if mid - lv.price <= band), ZERO)
    asks = sum((lv.size for lv in book.asks if lv.price - mid <= band), ZERO)
    total = bids + asks
    return None if total == 0 else (bids - asks) / total


def microprice(book: OrderBook) -> Decimal | None:
    """The best prices weighted by the opposite side's size: (bid * ask_size + ask * bid_size) / sizes."""
    bid, ask = book.best_bid, book.best_ask
    if bid is None or ask is None or bid.size + ask.size == 0:
        return None
    return (bid.price * ask.size + ask.price * bid.size) / (bid.size + ask.size)
