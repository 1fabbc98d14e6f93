"""The paper broker against the real recorded books: walks, slippage cap, tick grid, sizes, fees, cash, ids,
settlement and marks."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.broker import BrokerResult, PaperBroker, taker_fee
from engine.ledger import replay
from engine.market.types import FeeSchedule, Market
from engine.models.trading import (
    Account,
    Holding,
    Order,
    OutcomeSide,
    Side,
    TradeReason,
    settlement_trade_id,
    trade_id_for,
)
from tests.support.books import (
    BTC_FEE_SCHEDULE,
    BTC_UP,
    ELECTION,
    FED_NO,
    NOW,
    FakeMarketData,
    make_book,
    make_market,
    recorded_book,
)

D = Decimal
ELECTION_MARKET = make_market("election", yes_token=ELECTION, tick_size="0.001")
FED_MARKET = make_market("fed50", no_token=FED_NO, tick_size="0.001")
# market 1669969 as recorded in gamma_markets_sample.json: feesEnabled, feeSchedule exponent 2, rate 0.25
BTC_MARKET = make_market(
    "1669969",
    yes_token=BTC_UP,
    labels=("Up", "Down"),
    prices=("0.005", "0.995"),
    fee_schedule=BTC_FEE_SCHEDULE,
    fees_enabled=True,
)


def _feed() -> FakeMarketData:
    return FakeMarketData(
        [ELECTION_MARKET, FED_MARKET, BTC_MARKET],
        [recorded_book(ELECTION), recorded_book(FED_NO), recorded_book(BTC_UP)],
    )


def _account(cash: str = "1000000", **kwargs: Any) -> Account:
    return Account(strategy_id="s1", bankroll_usd=D(1_000_000), cash_usd=D(cash), **kwargs)


def _buy(market_id: str, token_id: str, usd: str, outcome: OutcomeSide = "YES") -> Order:
    return Order(
        market_id=market_id,
        token_id=token_id,
        outcome=outcome,
        outcome_label="Yes" if outcome == "YES" else "No",
        question=f"{market_id}?",
        side="BUY",
        reason=TradeReason.ENTRY,
        usd=D(usd),
    )


def _sell(market_id: str, token_id: str, shares: str, outcome: OutcomeSide = "NO") -> Order:
    return Order(
        market_id=market_id,
        token_id=token_id,
        outcome=outcome,
        outcome_label="No" if outcome == "NO" else "Yes",
        question=f"{market_id}?",
        side="SELL",
        reason=TradeReason.TAKE_PROFIT,
        shares=D(shares),
    )


def _holding(market_id: str, token_id: str, shares: str, cost: str, outcome: OutcomeSide = "NO") -> Holding:
    return Holding(
        token_id=token_id,
        market_id=market_id,
        outcome=outcome,
        outcome_label="No" if outcome == "NO" else "Yes",
        shares=D(shares),
        cost_usd=D(cost),
        opened_at=NOW - timedelta(days=1),
    )


def _fill(
    orders: list[Order], account: Account, broker: PaperBroker | None = None, slot: str = "slot-1"
) -> BrokerResult:
    return (broker or PaperBroker()).fill(orders, account, _feed(), strategy_id="s1", slot_key=slot, now=NOW)


def test_buy_walks_three_ask_levels_from_the_last_listed_one_and_prices_at_the_vwap() -> None:
    # Given the 2024 election book; its best asks are its LAST levels: 0.585 x 106195.43, 0.586 x 222098.75
    order = _buy("election", ELECTION, "200000")

    # When $200,000 is bought
    result = _fill([order], _account())

    # Then it takes both best levels whole and 13161.509284 shares at 0.587 (hand computed)
    trade = result.trades[0]
    assert trade.shares == D("106195.43") + D("222098.75") + D("13161.509284")
    assert trade.price == D("0.5857275374")  # 199999.999999708 / 341455.689284
    assert trade.notional_usd == (trade.shares * trade.price).quantize(D("0.000001"))
    assert trade.fill is not None
    assert trade.fill.levels == 3
    assert trade.fill.best_price == D("0.585")
    assert trade.fill.slippage_bps == D("12.44")
    assert trade.fill.book_timestamp == 1729124094656
    assert trade.fill.book_hash == "6b57f28fe93242322f8836463d3266551166f90b"
    assert trade.fill.synthetic_book is False
    assert trade.fee_usd == 0
    assert result.account.cash_usd == D(1_000_000) - trade.notional_usd
    assert result.account.positions[ELECTION].shares == trade.shares


def test_sell_walks_bids_down_from_the_best_last_level() -> None:
    # Given 800,000 Fed No shares; the book's best bids are 0.994 x 746139.26 then 0.993
    account = _account("0", positions={FED_NO: _holding("fed50", FED_NO, "800000", "780000")})

    # When they are all sold
    result = _fill([_sell("fed50", FED_NO, "800000")], account)

    # Then the whole best level and the rest at the next one are taken, at their VWAP
    trade = result.trades[0]
    assert trade.side is Side.SELL
    assert trade.shares == D(800000)
    assert trade.price == D("0.9939326741")  # 795152.67926 / 800000 = 0.993932674075, to 10 places
    assert trade.fill is not None
    assert (trade.fill.levels, trade.fill.best_price) == (2, D("0.994"))
    assert result.account.cash_usd == trade.notional_usd
    assert FED_NO not in result.account.positions


def test_slippage_cap_stops_the_walk_and_leaves_the_rest_of_the_usd_unspent() -> None:
    # Given a cap of 10 bps: 0.585 x 1.001 = 0.585585, so 0.586 is out of reach
    broker = PaperBroker(max_slippage_bps=D(10))

    # When $100,000 is bought on the election book
    result = _fill([_buy("election", ELECTION, "100000")], _account(), broker)

    # Then only the best level fills, and the trace says why the order was not filled whole
    trade = result.trades[0]
    assert trade.shares == D("106195.43")
    assert trade.price == D("0.585")
    assert trade.fill is not None and trade.fill.slippage_bps == 0
    decision = result.decisions[0]
    assert (decision["status"], decision["reason"]) == ("partial", "slippage_cap")
    assert decision["unspent_usd"] == "37875.67345"  # 100000 - 106195.43 x 0.585


@pytest.mark.parametrize(
    ("cap_bps", "limit", "levels"),
    [
        (D(17), "0.585", 1),  # 0.585 x 1.0017 = 0.5859945: floored to the 0.001 grid
        (D(18), "0.586", 2),  # 0.585 x 1.0018 = 0.586053
    ],
)
def test_the_limit_price_is_floored_to_the_tick_grid(cap_bps: Decimal, limit: str, levels: int) -> None:
    # Given a cap that lands between two ticks
    broker = PaperBroker(max_slippage_bps=cap_bps)

    # When a large buy walks the book
    result = _fill([_buy("election", ELECTION, "150000")], _account(), broker)

    # Then the walk stops at the last tick the cap reaches
    assert result.decisions[0]["limit_price"] == limit
    assert result.trades[0].fill is not None
    assert result.trades[0].fill.levels == levels


def test_sell_limit_is_rounded_up_to_the_tick_grid() -> None:
    # Given a 15 bps cap on the Fed No bids: 0.994 x 0.9985 = 0.992509, rounded UP to 0.993
    account = _account("0", positions={FED_NO: _holding("fed50", FED_NO, "1000000", "990000")})

    # When a million shares are offered
    result = _fill([_sell("fed50", FED_NO, "1000000")], account, PaperBroker(max_slippage_bps=D(15)))

    # Then 0.992 is never touched: only 0.994 and 0.993 fill, and the rest stays held
    trade = result.trades[0]
    assert trade.shares == D("746139.26") + D("217993.85")
    assert result.decisions[0]["limit_price"] == "0.993"
    assert result.decisions[0]["status"] == "partial"
    assert result.account.positions[FED_NO].shares == D(1_000_000) - trade.shares


def test_order_under_the_books_minimum_size_is_rejected() -> None:
    # Given the Fed No book says min_order_size 5 and its best ask is 0.995
    order = _buy("fed50", FED_NO, "4", outcome="NO")  # 4.020100 shares

    # When it is filled
    result = _fill([order], _account())

    # Then nothing trades and the trace says why
    assert result.trades == []
    assert result.decisions[0]["status"] == "rejected"
    assert result.decisions[0]["reason"] == "below_min_size"
    assert result.decisions[0]["min_order_size"] == "5"
    assert result.account.cash_usd == D(1_000_000)


def test_markets_minimum_size_applies_when_the_book_does_not_say() -> None:
    # Given the old-format election book (no min_order_size) on a market asking for 15 shares
    market = make_market("election", yes_token=ELECTION, min_order_size="15")
    feed = FakeMarketData([market], [recorded_book(ELECTION)])

    # When $8 (13.675213 shares at 0.585) is bought
    result = PaperBroker().fill(
        [_buy("election", ELECTION, "8")], _account(), feed, strategy_id="s1", slot_key="k", now=NOW
    )

    # Then the market's minimum rejects it
    assert result.trades == []
    assert result.decisions[0]["min_order_size"] == "15"


def test_taker_fee_follows_the_recorded_fee_schedule_of_market_1669969() -> None:
    # Given the BTC Up book (best ask 0.001 x 385409.39) and feeSchedule {"exponent": 2, "rate": 0.25}
    order = _buy("1669969", BTC_UP, "100")

    # When $100 is bought
    result = _fill([order], _account("1000"))

    # Then fee = shares x rate x (p x (1 - p)) ** exponent = 100000 x 0.25 x (0.001 x 0.999)^2 = 0.024950025
    trade = result.trades[0]
    assert trade.shares == D(100000)
    assert trade.price == D("0.001")
    assert trade.fee_usd == D("0.024950")
    assert result.account.cash_usd == D(1000) - D(100) - D("0.024950")
    assert result.account.positions[BTC_UP].cost_usd == D("100.024950")


def test_taker_fee_formula_at_an_even_price_and_without_a_schedule() -> None:
    # Given 1000 shares at 0.5 on markets with and without fees
    with_fees = BTC_MARKET
    disabled = make_market("x", fee_schedule=BTC_FEE_SCHEDULE, fees_enabled=False)
    no_schedule = make_market("y", fees_enabled=True)
    linear = make_market("z", fee_schedule=FeeSchedule(rate=D("0.02")), fees_enabled=True)

    # When the fee is computed
    # Then 1000 x 0.25 x 0.25^2, nothing when fees are off or absent, and exponent 1 by default
    assert taker_fee(with_fees, D(1000), D("0.5")) == D("15.625")
    assert taker_fee(disabled, D(1000), D("0.5")) == 0
    assert taker_fee(no_schedule, D(1000), D("0.5")) == 0
    assert taker_fee(linear, D(1000), D("0.5")) == D(5)


def test_buy_is_reduced_to_what_cash_allows_fees_included() -> None:
    # Given $50 of cash and a $100 order on the fee-charging BTC market
    account = _account("50")

    # When it is filled
    result = _fill([_buy("1669969", BTC_UP, "100")], account)

    # Then the order shrinks until notional + fee fits, and cash ends at (almost) zero, never below
    trade = result.trades[0]
    assert trade.notional_usd + trade.fee_usd <= D(50)
    assert D(50) - (trade.notional_usd + trade.fee_usd) < D("0.00001")
    assert result.account.cash_usd >= 0
    assert result.decisions[0]["status"] == "reduced"
    assert result.decisions[0]["reason"] == "insufficient_cash"


def test_buy_is_rejected_when_cash_allows_less_than_the_minimum_size() -> None:
    # Given $3 of cash: 3.015075 Fed No shares at 0.995, under the minimum of 5
    account = _account("3")

    # When a $100 order is filled
    result = _fill([_buy("fed50", FED_NO, "100", outcome="NO")], account)

    # Then it is rejected for cash and nothing changes
    assert result.trades == []
    assert result.decisions[0]["reason"] == "insufficient_cash"
    assert result.account.cash_usd == D(3)


def test_later_orders_see_the_cash_earlier_ones_spent() -> None:
    # Given $1,000 and two $800 orders
    orders = [_buy("election", ELECTION, "800"), _buy("fed50", FED_NO, "800", outcome="NO")]

    # When both are filled in one batch
    result = _fill(orders, _account("1000"))

    # Then the second is cut to the $200 left, and seq numbers follow each other
    first, second = result.trades
    assert first.notional_usd == pytest.approx(D(800), abs=D("0.001"))
    assert second.notional_usd <= D(200)
    assert result.account.cash_usd >= 0
    assert [t.seq for t in result.trades] == [1, 2]
    assert result.decisions[1]["status"] == "reduced"


def test_missing_book_unknown_market_unheld_sell_and_wrong_outcome_are_rejected_with_reasons() -> None:
    # Given orders on: a market without a book, an unknown market, nothing held, a foreign token, a wrong side
    feed = _feed()
    feed.markets["nobook"] = make_market("nobook")
    orders = [
        _buy("nobook", "nobook-yes", "100"),
        _buy("ghost", "ghost-yes", "100"),
        _sell("fed50", FED_NO, "10"),
        _buy("1669969", BTC_UP.replace("9", "8"), "100"),
        _buy("fed50", FED_NO, "100", outcome="YES"),
    ]

    # When they are filled
    result = PaperBroker().fill(orders, _account(), feed, strategy_id="s1", slot_key="k", now=NOW)

    # Then each is rejected with its own reason
    assert result.trades == []
    assert [d["reason"] for d in result.decisions] == [
        "no_book",
        "market_unavailable",
        "not_held",
        "unknown_token",
        "outcome_mismatch",
    ]


def test_sell_on_a_book_without_bids_is_rejected() -> None:
    # Given the BTC Up book after its window has no bids
    account = _account("0", positions={BTC_UP: _holding("1669969", BTC_UP, "100", "1", outcome="YES")})

    # When the holding is sold
    result = _fill([_sell("1669969", BTC_UP, "100", outcome="YES")], account)

    # Then it is rejected, and the holding stays
    assert result.decisions[0]["reason"] == "no_bids"
    assert result.account.positions[BTC_UP].shares == 100


def test_same_slot_gives_the_same_trade_ids_and_seq_continues_from_the_account() -> None:
    # Given an account that already has 7 trades in epoch 2
    account = _account(trade_seq=7, epoch=2)
    orders = [_buy("election", ELECTION, "1000"), _buy("fed50", FED_NO, "1000", outcome="NO")]

    # When the same slot is run twice, and another slot once
    first = _fill(orders, account, slot="2026-02-28T22:40:00Z")
    retry = _fill(orders, account, slot="2026-02-28T22:40:00Z")
    other = _fill(orders, account, slot="2026-02-28T22:41:00Z")

    # Then the retry reproduces the ids exactly; another slot does not
    ids = [t.trade_id for t in first.trades]
    assert ids == [t.trade_id for t in retry.trades]
    assert ids[0] == trade_id_for("s1", "2026-02-28T22:40:00Z", "election", "YES", "BUY")
    assert set(ids).isdisjoint(t.trade_id for t in other.trades)
    assert [(t.seq, t.epoch) for t in first.trades] == [(8, 2), (9, 2)]
    assert first.account.trade_seq == 9
    assert all(t.slot_key == "2026-02-28T22:40:00Z" and t.created_at == NOW for t in first.trades)


def test_a_second_order_with_the_same_id_in_one_run_is_rejected() -> None:
    # Given two buys of the same outcome of one market in one slot
    orders = [_buy("election", ELECTION, "100"), _buy("election", ELECTION, "100")]

    # When filled
    result = _fill(orders, _account())

    # Then only the first trades: the second would share its id
    assert len(result.trades) == 1
    assert result.decisions[1]["reason"] == "duplicate_order"


def _resolved(market_id: str, prices: tuple[str, str], status: str | None = "resolved") -> Market:
    return make_market(market_id, prices=prices, closed=True, uma_resolution_status=status)


@pytest.mark.parametrize(
    ("prices", "yes_price", "no_price"),
    [(("1", "0"), D(1), D(0)), (("0", "1"), D(0), D(1)), (("0.5", "0.5"), D("0.5"), D("0.5"))],
)
def test_settlement_pays_resolved_positions_at_the_resolution_price(
    prices: tuple[str, str], yes_price: Decimal, no_price: Decimal
) -> None:
    # Given 100 YES and 40 NO shares of a market that resolved
    account = _account(
        "10",
        trade_seq=3,
        positions={
            "m-yes": _holding("m", "m-yes", "100", "55", outcome="YES"),
            "m-no": _holding("m", "m-no", "40", "18"),
        },
    )
    markets = {"m": _resolved("m", prices)}

    # When settled
    result = PaperBroker().settle(account, markets, strategy_id="s1", now=NOW)

    # Then one SETTLE trade per holding, at the resolution price, without fee, with the settlement ids
    by_token = {t.token_id: t for t in result.trades}
    assert by_token["m-yes"].price == yes_price
    assert by_token["m-no"].price == no_price
    assert all(
        t.side is Side.SETTLE and t.fee_usd == 0 and t.reason is TradeReason.RESOLUTION for t in result.trades
    )
    assert by_token["m-yes"].trade_id == settlement_trade_id("s1", "m", "YES", 0)
    assert sorted(t.seq for t in result.trades) == [4, 5]
    assert result.account.positions == {}
    assert result.account.cash_usd == D(10) + 100 * yes_price + 40 * no_price


def test_settlement_waits_for_markets_awaiting_resolution_and_settles_once() -> None:
    # Given one market resolved and one closed with prices not yet final
    account = _account(
        "0",
        positions={
            "a-yes": _holding("a", "a-yes", "10", "5", outcome="YES"),
            "b-yes": _holding("b", "b-yes", "10", "5", outcome="YES"),
        },
    )
    markets = {"a": _resolved("a", ("1", "0")), "b": _resolved("b", ("0.7", "0.3"), status="proposed")}

    # When settled, and settled again from the result
    first = PaperBroker().settle(account, markets, strategy_id="s1", now=NOW)
    again = PaperBroker().settle(first.account, markets, strategy_id="s1", now=NOW + timedelta(minutes=1))

    # Then only the resolved one settles, once; the other is reported as awaiting resolution
    assert [t.market_id for t in first.trades] == ["a"]
    assert {"market_id": "b", "token_id": "b-yes", "status": "awaiting_resolution"} in first.decisions
    assert again.trades == []
    assert "b-yes" in again.account.positions


def test_account_after_fills_and_settlement_equals_the_ledger_replay() -> None:
    # Given buys on three recorded books, then the election market resolving YES
    account = _account("50000")
    bought = _fill(
        [
            _buy("election", ELECTION, "20000"),
            _buy("fed50", FED_NO, "20000", outcome="NO"),
            _buy("1669969", BTC_UP, "5000"),
        ],
        account,
    )
    settled = PaperBroker().settle(
        bought.account, {"election": _resolved("election", ("1", "0"))}, strategy_id="s1", now=NOW
    )

    # When the ledger is replayed from the bankroll
    state = replay(D(50000), [*bought.trades, *settled.trades])

    # Then it matches the account
    assert state.cash_usd == settled.account.cash_usd
    assert {k: v.shares for k, v in state.positions.items()} == {
        k: v.shares for k, v in settled.account.positions.items()
    }


def test_marks_use_the_book_mid_for_open_markets_and_the_listed_price_otherwise() -> None:
    # Given holdings in an open market with a book, an open market without one, and a closed unresolved one
    feed = _feed()
    feed.markets["nobook"] = make_market("nobook", prices=("0.42", "0.58"))
    feed.markets["closed"] = make_market(
        "closed", prices=("0.7", "0.3"), closed=True, uma_resolution_status="proposed"
    )
    account = _account(
        positions={
            FED_NO: _holding("fed50", FED_NO, "10", "9"),
            "nobook-yes": _holding("nobook", "nobook-yes", "10", "4", outcome="YES"),
            "closed-no": _holding("closed", "closed-no", "10", "3"),
        }
    )

    # When marked
    marks = PaperBroker().marks(account, feed)

    # Then the Fed No token is at (0.994 + 0.995) / 2, the others at their listed prices
    assert marks[FED_NO] == {"price": D("0.9945"), "status": "open"}
    assert marks["nobook-yes"] == {"price": D("0.42"), "status": "open"}
    assert marks["closed-no"] == {"price": D("0.3"), "status": "awaiting_resolution"}


def test_make_book_keeps_levels_best_last() -> None:
    # Given a hand-made book listed like the API
    book = make_book("t", bids=[("0.40", "10"), ("0.45", "5")], asks=[("0.55", "10"), ("0.50", "5")])

    # When its best levels are read
    # Then they are the last ones
    assert book.best_bid is not None and book.best_bid.price == D("0.45")
    assert book.best_ask is not None and book.best_ask.price == D("0.50")
