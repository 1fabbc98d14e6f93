"""The ledger arithmetic: cash flows, holdings, realized P&L, wins and losses, refusals, replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from engine.ledger import LedgerError, LedgerState, apply_to_account, apply_trade, replay
from engine.models.trading import Account, Side, Trade, TradeReason

D = Decimal
T0 = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)


def _trade(
    seq: int,
    side: Side,
    shares: str,
    price: str,
    *,
    fee: str = "0",
    token: str = "tok-a",
    market: str = "m-a",
    reason: TradeReason | None = None,
) -> Trade:
    shares_d, price_d = D(shares), D(price)
    return Trade(
        trade_id=f"t{seq}",
        strategy_id="s1",
        seq=seq,
        market_id=market,
        token_id=token,
        outcome="YES",
        outcome_label="Yes",
        question=f"{market}?",
        side=side,
        shares=shares_d,
        price=price_d,
        fee_usd=D(fee),
        notional_usd=shares_d * price_d,
        created_at=T0 + timedelta(minutes=seq),
        reason=reason or (TradeReason.ENTRY if side is Side.BUY else TradeReason.TAKE_PROFIT),
    )


def test_buy_costs_notional_plus_fee_and_opens_a_holding_at_that_cost() -> None:
    # Given a fresh $1,000 ledger
    state = LedgerState.opening(D(1000))

    # When 100 shares are bought at 0.40 with a $0.50 fee
    apply_trade(state, _trade(1, Side.BUY, "100", "0.40", fee="0.5"))

    # Then cash falls by 40.50 and the holding carries the fee in its cost but not in its notional
    holding = state.positions["tok-a"]
    assert state.cash_usd == D("959.5")
    assert (holding.shares, holding.cost_usd, holding.bought_notional_usd) == (D(100), D("40.5"), D(40))
    assert holding.avg_price == D("0.405")
    assert state.fees_paid_usd == D("0.5")
    assert (state.applied_seq, state.trades_count) == (1, 1)


def test_buys_into_one_token_average_their_cost() -> None:
    # Given two buys of one token at different prices
    state = replay(D(1000), [_trade(1, Side.BUY, "100", "0.40"), _trade(2, Side.BUY, "100", "0.60")])

    # When / Then one holding of 200 shares at 0.50
    holding = state.positions["tok-a"]
    assert (holding.shares, holding.cost_usd, holding.avg_price) == (D(200), D(100), D("0.5"))


def test_partial_sell_books_realized_pnl_on_the_released_cost_only() -> None:
    # Given 100 shares held at 0.40
    state = replay(D(1000), [_trade(1, Side.BUY, "100", "0.40")])

    # When 25 are sold at 0.60 with a $0.10 fee
    apply_trade(state, _trade(2, Side.SELL, "25", "0.60", fee="0.1"))

    # Then 15 - 0.10 comes in, the released cost is 10, the rest stays open, no round trip is closed yet
    assert state.cash_usd == D(1000) - D(40) + D("14.9")
    assert state.realized_pnl_usd == D("4.9")
    assert (state.positions["tok-a"].shares, state.positions["tok-a"].cost_usd) == (D(75), D(30))
    assert (state.wins, state.losses, state.closed) == (0, 0, [])


def test_closing_sell_records_a_winning_round_trip() -> None:
    # Given 100 shares bought at 0.40 (+ $1 fee), 40 sold at 0.50, then 60 at 0.70
    trades = [
        _trade(1, Side.BUY, "100", "0.40", fee="1"),
        _trade(2, Side.SELL, "40", "0.50"),
        _trade(3, Side.SELL, "60", "0.70"),
    ]

    # When replayed
    state = replay(D(1000), trades)

    # Then the position is closed with its whole-life figures: paid 41, received 20 + 42
    assert state.positions == {}
    assert state.cash_usd == D(1000) - D(41) + D(20) + D(42)
    assert state.realized_pnl_usd == D(21)
    assert (state.wins, state.losses) == (1, 0)
    (closed,) = state.closed
    assert (closed.shares, closed.cost_usd, closed.proceeds_usd, closed.pnl_usd) == (
        D(100),
        D(41),
        D(62),
        D(21),
    )
    assert closed.entry_price == D("0.41")
    assert closed.entry_notional_usd == D(40)
    assert (closed.exit_reason, closed.settled_price) == ("take_profit", None)
    assert (closed.opened_at, closed.closed_at) == (T0 + timedelta(minutes=1), T0 + timedelta(minutes=3))


def test_settlement_at_zero_is_a_loss_and_marks_the_market_settled() -> None:
    # Given 50 shares held at 0.30
    state = replay(D(100), [_trade(1, Side.BUY, "50", "0.30")])

    # When the market resolves against them
    apply_trade(state, _trade(2, Side.SETTLE, "50", "0", reason=TradeReason.RESOLUTION))

    # Then the whole cost is lost
    assert state.cash_usd == D(85)
    assert state.realized_pnl_usd == D(-15)
    assert (state.wins, state.losses) == (0, 1)
    assert state.settled_markets == {"m-a"}
    assert state.closed[0].settled_price == 0
    assert state.closed[0].exit_reason == "resolution"


def test_a_round_trip_that_only_loses_its_fees_is_a_loss() -> None:
    # Given a buy and a sell at the same price with fees
    trades = [_trade(1, Side.BUY, "10", "0.5", fee="0.01"), _trade(2, Side.SELL, "10", "0.5", fee="0.01")]

    # When replayed
    state = replay(D(100), trades)

    # Then it counts as a loss of the fees
    assert state.realized_pnl_usd == D("-0.02")
    assert (state.wins, state.losses) == (0, 1)
    assert state.fees_paid_usd == D("0.02")


def test_a_trade_that_would_make_cash_negative_is_refused_and_changes_nothing() -> None:
    # Given $10 of cash and a holding
    state = replay(D(30), [_trade(1, Side.BUY, "40", "0.5")])

    # When a buy costing $10.01 is applied
    with pytest.raises(LedgerError, match="cash"):
        apply_trade(state, _trade(2, Side.BUY, "20", "0.5", fee="0.01", token="tok-b"))

    # Then the state is as it was
    assert state.cash_usd == D(10)
    assert list(state.positions) == ["tok-a"]
    assert (state.applied_seq, state.trades_count, state.fees_paid_usd) == (1, 1, D(0))


def test_selling_more_than_held_or_an_unheld_token_is_refused() -> None:
    # Given 40 shares held
    state = replay(D(30), [_trade(1, Side.BUY, "40", "0.5")])

    # When 41 are sold, or a token never bought
    # Then both are refused and the holding is untouched
    with pytest.raises(LedgerError, match="held 40"):
        apply_trade(state, _trade(2, Side.SELL, "41", "0.5"))
    with pytest.raises(LedgerError, match="held 0"):
        apply_trade(state, _trade(2, Side.SETTLE, "1", "1", token="tok-b"))
    assert state.positions["tok-a"].shares == D(40)
    assert state.cash_usd == D(10)


def test_replay_applies_trades_in_seq_order_whatever_order_they_arrive_in() -> None:
    # Given a buy (seq 1) and the sell that closes it (seq 2), delivered sell first
    buy, sell = _trade(1, Side.BUY, "10", "0.5"), _trade(2, Side.SELL, "10", "0.8")

    # When replayed
    state = replay(D(100), [sell, buy])

    # Then the sell did not fail: the ledger sorted them
    assert state.cash_usd == D(103)
    assert state.applied_seq == 2


def test_apply_to_account_returns_a_new_account_and_leaves_the_input_alone() -> None:
    # Given an account with a holding
    start = replay(D(100), [_trade(1, Side.BUY, "10", "0.5")])
    account = Account(
        strategy_id="s1", bankroll_usd=D(100), cash_usd=start.cash_usd, positions=start.positions, trade_seq=1
    )

    # When a partial sell and a new buy are applied
    after = apply_to_account(
        account, [_trade(2, Side.SELL, "4", "0.6"), _trade(3, Side.BUY, "10", "0.2", token="b")]
    )

    # Then the new account has them, with trade_seq moved on; the old one is unchanged
    assert after.cash_usd == D(95) + D("2.4") - D(2)
    assert (after.positions["tok-a"].shares, after.positions["b"].shares, after.trade_seq) == (D(6), D(10), 3)
    assert (account.cash_usd, account.positions["tok-a"].shares, account.trade_seq) == (D(95), D(10), 1)


def test_apply_to_account_refuses_a_negative_cash() -> None:
    # Given an account with $1
    account = Account(strategy_id="s1", bankroll_usd=D(100), cash_usd=D(1))

    # When a $2 buy is applied
    # Then it is refused
    with pytest.raises(LedgerError):
        apply_to_account(account, [_trade(1, Side.BUY, "4", "0.5")])
