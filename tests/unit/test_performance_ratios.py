"""Sharpe, Sortino, Calmar, CAGR and SQN on small hand ledgers, against Freqtrade's own formulas.

`freqtrade_*` below restate freqtrade/data/metrics.py on plain lists (numpy's np.std is the population
deviation, pandas' Series.std the sample one); the engine must give the same numbers in Decimal.
"""

from __future__ import annotations

import math
import statistics
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from engine.drawdown import running_drawdown
from engine.ledger import ClosedStats
from engine.models.portfolio import EquityPoint
from engine.performance import balance_returns, daily_closes, daily_ratios, sqn
from tests.support.builders import T0

D = Decimal
BANKROLL = D(1000)
DAY = timedelta(days=1)


def freqtrade_sharpe(profits: list[float], days: int, balance: float) -> float:
    returns = [p / balance for p in profits]
    return sum(returns) / max(1, days) / statistics.pstdev(returns) * math.sqrt(365)


def freqtrade_sortino(profits: list[float], days: int, balance: float) -> float:
    returns = [p / balance for p in profits]
    down = statistics.pstdev([r for r in returns if r < 0])
    return sum(returns) / max(1, days) / down * math.sqrt(365)


def freqtrade_calmar(profits: list[float], days: int, balance: float, relative_drawdown: float) -> float:
    return sum(profits) / balance / max(1, days) * 100 / relative_drawdown * math.sqrt(365)


def freqtrade_cagr(days: int, start: float, final: float) -> float:
    return (final / start) ** (1 / (days / 365)) - 1


def freqtrade_sqn(profits: list[float], balance: float) -> float:
    returns = [p / balance for p in profits]
    return math.sqrt(len(returns)) * statistics.mean(returns) / statistics.stdev(returns)


def point(at: datetime, equity: str) -> EquityPoint:
    return EquityPoint(at=at, equity_usd=D(equity), cash_usd=D(equity), positions_value_usd=D(0))


# Deployed at noon on day 0 with 1,000. Daily closes 1010, 990, 1020, 1005 (day 3 has two points: the last
# counts); read on day 3. Daily P&L +10, -20, +30, -15.
DEPLOYED = T0
DAILY = [
    point(T0 + timedelta(hours=6), "1010"),
    point(T0 + DAY + timedelta(hours=1), "990"),
    point(T0 + 2 * DAY, "1020"),
    point(T0 + 3 * DAY - timedelta(hours=2), "1030"),
    point(T0 + 3 * DAY, "1005"),
]
NOW = T0 + 3 * DAY + timedelta(hours=1)
PROFITS = [10.0, -20.0, 30.0, -15.0]


def test_daily_closes_take_each_days_last_point_and_start_from_the_bankroll() -> None:
    closes = daily_closes(DAILY, start=(DEPLOYED, BANKROLL), now=NOW)
    assert closes == [D(1000), D(1010), D(990), D(1020), D(1005)]


def test_a_day_without_a_point_keeps_the_previous_close() -> None:
    closes = daily_closes([point(T0, "1010")], start=(DEPLOYED, BANKROLL), now=T0 + 2 * DAY)
    assert closes == [D(1000), D(1010), D(1010), D(1010)]


def test_sharpe_sortino_calmar_and_cagr_match_freqtrades_formulas_on_daily_returns() -> None:
    # Given the daily closes and the largest absolute drop (intraday 1030 -> 1005: 25 / 1030)
    closes = daily_closes(DAILY, start=(DEPLOYED, BANKROLL), now=NOW)
    drawdown = running_drawdown([(DEPLOYED, BANKROLL)] + [(p.at, p.equity_usd) for p in DAILY])
    assert drawdown is not None and drawdown.largest_absolute is not None
    relative = drawdown.largest_absolute.relative

    # When the ratios are computed
    ratios = daily_ratios(
        balance_returns(closes, bankroll=BANKROLL), growth=closes[-1] / BANKROLL, relative_drawdown=relative
    )

    # Then they are Freqtrade's, to the sixth place
    assert ratios.days == 4
    assert relative == D(25) / D(1030)  # the intraday 1030 was the peak before the 1005 close
    assert ratios.sharpe == pytest.approx(
        D(str(round(freqtrade_sharpe(PROFITS, 4, 1000.0), 6))), abs=D("1e-6")
    )
    assert ratios.sortino == pytest.approx(
        D(str(round(freqtrade_sortino(PROFITS, 4, 1000.0), 6))), abs=D("1e-6")
    )
    assert ratios.calmar == pytest.approx(
        D(str(round(freqtrade_calmar(PROFITS, 4, 1000.0, float(relative)), 6))), abs=D("1e-6")
    )
    assert ratios.cagr == pytest.approx(D(str(round(freqtrade_cagr(4, 1000.0, 1005.0), 6))), abs=D("1e-6"))
    # and by hand: mean 5/4/1000 = 0.00125; pstd of (.01 -.02 .03 -.015) = sqrt(0.0016187/4) = 0.0201168;
    # 0.00125 / 0.0201168 x sqrt(365) (19.1049731) = 1.187125
    assert ratios.sharpe == D("1.187125")
    # downside: pstd(-.02, -.015) = 0.0025 -> 0.00125 / 0.0025 x 19.1049731 = 9.552487
    assert ratios.sortino == D("9.552487")


def test_ratios_are_null_with_fewer_than_two_days_or_no_spread() -> None:
    one_day = daily_ratios([D("0.01")], growth=D("1.01"), relative_drawdown=D(0))
    flat = daily_ratios([D(0), D(0), D(0)], growth=D(1), relative_drawdown=D(0))
    no_loss_day = daily_ratios([D("0.01"), D("0.02")], growth=D("1.03"), relative_drawdown=D(0))
    assert (one_day.sharpe, one_day.sortino, one_day.calmar, one_day.cagr) == (None, None, None, None)
    assert (flat.sharpe, flat.sortino, flat.calmar, flat.cagr) == (None, None, None, D(0))
    assert no_loss_day.sharpe is not None and (no_loss_day.sortino, no_loss_day.calmar) == (None, None)


def test_sqn_per_closed_trade_matches_freqtrade_from_the_running_sums() -> None:
    # Given closed trades of +39.30, -10.10, -2.00, -0.60, +11.48 on a 1,000 bankroll
    pnls = ["39.30", "-10.10", "-2.00", "-0.60", "11.48"]
    stats = ClosedStats(
        count=len(pnls),
        pnl_usd=sum((D(p) for p in pnls), D(0)),
        pnl_squares_usd=sum((D(p) * D(p) for p in pnls), D(0)),
    )

    # When SQN is computed from the sums alone
    value = sqn(stats, bankroll=BANKROLL)

    # Then it is sqrt(n) x mean / sample std of pnl / bankroll, as Freqtrade's calculate_sqn
    expected = freqtrade_sqn([float(p) for p in pnls], 1000.0)
    assert value == pytest.approx(D(str(round(expected, 6))), abs=D("1e-6"))
    # by hand: mean 7.616, sample std 19.3173 (both / 1000), x sqrt(5)
    assert value == D("0.881587")
    assert sqn(ClosedStats(count=1, pnl_usd=D(5), pnl_squares_usd=D(25)), bankroll=BANKROLL) is None
    assert sqn(ClosedStats(count=2, pnl_usd=D(10), pnl_squares_usd=None), bankroll=BANKROLL) is None
