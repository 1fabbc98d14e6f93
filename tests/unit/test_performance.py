"""Performance metrics checked against values computed by hand on a small ledger and curve."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from engine.ledger import LedgerState
from engine.models.portfolio import EquityPoint
from engine.performance import brier_score, compute_performance, max_drawdown
from engine.portfolio import build_portfolio
from tests.unit.test_portfolio import BANKROLL, HAND_MARKS, T0, hand_state

D = Decimal
H = timedelta(hours=1)


def point(hours: int, equity: str) -> EquityPoint:
    return EquityPoint(at=T0 + hours * H, equity_usd=D(equity), cash_usd=D(equity), positions_value_usd=D(0))


# Peak 1050 at +28h, trough 990 at +48h: a drop of 60 (60 / 1050 = 0.0571428...). The later dip from 1060 to
# 1030 is smaller, so it is not the maximum.
HAND_CURVE = [
    point(0, "1000"),
    point(24, "1030"),
    point(28, "1050"),
    point(30, "1020"),
    point(48, "990"),
    point(60, "1040"),
    point(72, "1060"),
    point(73, "1030"),
]


def test_profit_counts_and_rates_match_the_hand_ledger() -> None:
    # Given the hand ledger (wins A +39.30, E +11.48; losing streak B -10.10, C -2.00, D -0.60)
    state = hand_state()
    portfolio = build_portfolio(state, strategy_id="s-1", marks=HAND_MARKS, updated_at=T0 + 74 * H)

    # When the metrics are computed
    perf = compute_performance(state, HAND_CURVE, bankroll=BANKROLL, open_positions=portfolio.positions)

    # Then total profit is equity - bankroll (1042.87 - 1000) and closed profit the closed positions' 38.08
    assert (perf.equity_usd, perf.total_profit_usd, perf.total_profit_pct) == (
        D("1042.87"),
        D("42.87"),
        D("4.287"),
    )
    assert (perf.closed_profit_usd, perf.closed_profit_pct) == (D("38.08"), D("3.808"))
    assert (perf.ledger_trades_count, perf.closed_trades_count, perf.open_positions_count) == (13, 5, 2)
    assert (perf.wins, perf.losses, perf.draws, perf.win_rate) == (2, 3, 0, D("0.4"))
    # gross profit 50.78 / gross loss 12.70 = 3.9984251...
    assert perf.profit_factor == D("3.998425")
    # avg win 50.78 / 2 = 25.39; avg loss 12.70 / 3 = 4.2333...
    assert (perf.avg_win_usd, perf.avg_loss_usd) == (D("25.39"), D("4.233333"))
    # expectancy: 0.4 x 25.39 - 0.6 x 4.2333... = 10.156 - 2.54 = 7.616
    assert perf.expectancy_usd == D("7.616")
    # expectancy ratio: (1 + 25.39 / 4.2333...) x 0.4 - 1 = (1 + 5.9976378) x 0.4 - 1 = 1.7990551...
    assert perf.expectancy_ratio == D("1.799055")
    assert perf.fees_paid_usd == D("1.63")


def test_holding_time_best_and_worst_trade_match_the_hand_ledger() -> None:
    # Given the hand ledger
    state = hand_state()

    # When the metrics are computed
    perf = compute_performance(state, HAND_CURVE, bankroll=BANKROLL, open_positions=[])

    # Then holding: A 24h + B 22h + C 2h + D 1h + E 12h = 61h over 5 = 12.2h = 43,920 s
    assert perf.avg_holding_seconds == 43_920
    # best by P&L %: A 39.30 / 40.40 = 97.2772%; worst: B -10.10 / 10.10 = -100%
    assert perf.best_trade is not None and perf.worst_trade is not None
    assert (perf.best_trade.market_id, perf.best_trade.pnl_usd, perf.best_trade.pnl_pct) == (
        "m-A",
        D("39.3"),
        D("97.277228"),
    )
    assert (perf.worst_trade.market_id, perf.worst_trade.pnl_pct, perf.worst_trade.exit_reason) == (
        "m-B",
        D("-100"),
        "resolution",
    )
    assert perf.best_trade.question == "Will A happen?"


def test_max_drawdown_runs_from_the_peak_to_the_trough() -> None:
    # Given a curve peaking at 1050 (+28h) and bottoming at 990 (+48h), with a smaller dip later
    state = hand_state()

    # When the metrics are computed
    perf = compute_performance(state, HAND_CURVE, bankroll=BANKROLL, open_positions=[])

    # Then the drawdown is 60, 60 / 1050 of the peak, from the peak's time to the trough's
    assert (perf.max_drawdown_usd, perf.max_drawdown_relative) == (D("60"), D("0.057143"))
    assert (perf.max_drawdown_start, perf.max_drawdown_end) == (T0 + 28 * H, T0 + 48 * H)
    assert (perf.max_drawdown_peak_usd, perf.max_drawdown_trough_usd) == (D("1050"), D("990"))
    assert [p.equity_usd for p in perf.equity_curve] == [p.equity_usd for p in HAND_CURVE]


def test_drawdown_keeps_the_first_peak_and_trough_on_ties_and_reads_the_curve_in_time_order() -> None:
    # Given a curve delivered out of order with two equal peaks and two equal troughs
    curve = [point(3, "1100"), point(1, "1100"), point(4, "1000"), point(2, "1000"), point(0, "1000")]

    # When the drawdown is computed
    drawdown = max_drawdown(curve)

    # Then it runs from the first peak (+1h) to the first trough after it (+2h)
    assert drawdown.peak is not None and drawdown.trough is not None
    assert (drawdown.drop_usd, drawdown.peak.at, drawdown.trough.at) == (D(100), T0 + H, T0 + 2 * H)


def test_rising_curve_has_no_drawdown() -> None:
    # Given an equity curve that only rises
    curve = [point(0, "1000"), point(1, "1001"), point(2, "1010")]

    # When the metrics are computed
    perf = compute_performance(LedgerState.opening(BANKROLL), curve, bankroll=BANKROLL, open_positions=[])

    # Then the drawdown is zero with no dates, as Freqtrade reports it
    assert (perf.max_drawdown_usd, perf.max_drawdown_relative) == (D(0), D(0))
    assert (perf.max_drawdown_start, perf.max_drawdown_end) == (None, None)


def test_capital_locked_counts_awaiting_resolution_and_all_open_positions() -> None:
    # Given F (cost 30.21) awaiting resolution and G (cost 6) open
    state = hand_state()
    portfolio = build_portfolio(state, strategy_id="s-1", marks=HAND_MARKS, updated_at=T0)

    # When the metrics are computed
    perf = compute_performance(state, HAND_CURVE, bankroll=BANKROLL, open_positions=portfolio.positions)

    # Then 30.21 is locked until resolution and 36.21 in open positions
    assert perf.capital_locked_awaiting_resolution_usd == D("30.21")
    assert perf.capital_locked_open_usd == D("36.21")


def test_brier_score_uses_entry_prices_without_fees() -> None:
    # Given A entered at 0.40 a share (0.404 with fees) and settled at 1, B at 0.20 (0.202) settled at 0
    state = hand_state()

    # When the metrics are computed
    perf = compute_performance(state, HAND_CURVE, bankroll=BANKROLL, open_positions=[])

    # Then the Brier score is ((0.40 - 1)^2 + (0.20 - 0)^2) / 2 = (0.36 + 0.04) / 2 = 0.2
    assert (perf.brier_score, perf.resolved_positions_count) == (D("0.2"), 2)


def test_brier_score_falls_back_to_fee_inclusive_prices_for_untracked_notional() -> None:
    # Given the same closed positions as stored before the ledger tracked the notional
    closed = [replace(c, entry_notional_usd=None) for c in hand_state().closed]

    # When the Brier score is computed
    score, count = brier_score(closed)

    # Then it uses 0.404 and 0.202 (fees in): ((0.404 - 1)^2 + 0.202^2) / 2 = (0.355216 + 0.040804) / 2
    assert (score, count) == (D("0.19801"), 2)


def test_fresh_strategy_has_no_rates_and_no_brier_score() -> None:
    # Given a strategy that has not traded
    state = LedgerState.opening(BANKROLL)

    # When the metrics are computed
    perf = compute_performance(state, [], bankroll=BANKROLL, open_positions=[])

    # Then ratios that need closed trades or losses are None, amounts are zero
    assert (perf.win_rate, perf.profit_factor, perf.expectancy_ratio, perf.brier_score) == (
        None,
        None,
        None,
        None,
    )
    assert (perf.total_profit_usd, perf.expectancy_usd, perf.avg_holding_seconds) == (D(0), D(0), None)
    assert (perf.best_trade, perf.worst_trade, perf.equity_curve) == (None, None, [])


def test_performance_serialises_money_as_json_numbers() -> None:
    # Given the hand performance
    state = hand_state()
    perf = compute_performance(state, HAND_CURVE, bankroll=BANKROLL, open_positions=[])

    # When it is dumped for a response
    body = perf.model_dump(mode="json")

    # Then money and ratios are numbers, times end in Z
    assert (body["total_profit_usd"], body["profit_factor"], body["brier_score"]) == (1.87, 3.998425, 0.2)
    assert body["max_drawdown_start"] == "2026-01-02T04:00:00Z"
    assert body["equity_curve"][0] == {
        "at": "2026-01-01T00:00:00Z",
        "equity_usd": 1000,
        "realized_equity_usd": None,
    }
