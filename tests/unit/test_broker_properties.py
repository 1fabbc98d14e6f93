"""Property: whatever orders and settlements come, cash stays >= 0 and the account is its ledger replay."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.broker import PaperBroker
from engine.ledger import replay
from engine.market.types import FeeSchedule, Market, OrderBook
from engine.models.trading import Account, Order, OutcomeSide, Trade, TradeReason
from tests.support.books import NOW, FakeMarketData, make_book, make_market

D = Decimal
MARKETS = ("m0", "m1", "m2")


@st.composite
def books_for(draw: st.DrawFn, token_id: str) -> OrderBook:
    """A random book in the API's order (best LAST), prices on the 0.01 grid; now and then one-sided."""
    one_sided = draw(st.integers(0, 9)) == 0
    depth = st.lists(st.integers(0, 20), min_size=0 if one_sided else 1, max_size=4)
    best_ask = draw(st.integers(min_value=7, max_value=99))
    ask_prices = [p for p in sorted({best_ask + step for step in draw(depth)}, reverse=True) if p <= 99]
    best_bid = best_ask - draw(st.integers(min_value=1, max_value=5))
    bid_prices = [p for p in sorted({best_bid - step for step in draw(depth)}) if p >= 1]
    size = st.integers(min_value=1, max_value=300_000).map(lambda s: D(s) / 100)
    return make_book(
        token_id,
        asks=[(D(p) / 100, draw(size)) for p in ask_prices],
        bids=[(D(p) / 100, draw(size)) for p in bid_prices],
        min_order_size=draw(st.sampled_from(["5", "1", None])),
    )


@st.composite
def market_data(draw: st.DrawFn) -> FakeMarketData:
    markets: list[Market] = []
    books: list[OrderBook] = []
    for market_id in MARKETS:
        fees = draw(
            st.one_of(
                st.none(),
                st.builds(
                    FeeSchedule,
                    rate=st.sampled_from([D("0.02"), D("0.1"), D("0.25")]),
                    exponent=st.sampled_from([D(1), D(2)]),
                ),
            )
        )
        markets.append(
            make_market(market_id, tick_size="0.01", fee_schedule=fees, fees_enabled=fees is not None)
        )
        for outcome in ("yes", "no"):
            if draw(st.integers(0, 4)) > 0:  # now and then a token has no book
                books.append(draw(books_for(f"{market_id}-{outcome}")))
    return FakeMarketData(markets, books)


buy_step = st.tuples(
    st.just("buy"), st.sampled_from(MARKETS), st.sampled_from(["YES", "NO"]), st.integers(1, 1500).map(D)
)
# a sell names the n-th held token (any token when nothing is held) and a fraction of its shares
sell_step = st.tuples(st.just("sell"), st.integers(0, 5), st.sampled_from([D("0.3"), D(1), D(2)]))
settle_step = st.tuples(
    st.just("settle"), st.sampled_from(MARKETS), st.sampled_from([("1", "0"), ("0", "1"), ("0.5", "0.5")])
)
batch = st.lists(st.one_of(buy_step, sell_step), min_size=1, max_size=3)
steps = st.lists(st.one_of(batch, batch, batch, settle_step), min_size=1, max_size=8)


def _order(step: tuple[Any, ...], account: Account) -> Order:
    if step[0] == "buy":
        _, market_id, outcome, usd = step
        token = f"{market_id}-{outcome.lower()}"
        return Order(**_names(market_id, token, outcome), side="BUY", reason=TradeReason.ENTRY, usd=usd)
    _, index, fraction = step
    held = sorted(account.positions.values(), key=lambda h: h.token_id)
    if not held:
        market_id = MARKETS[index % len(MARKETS)]
        return Order(
            **_names(market_id, f"{market_id}-yes", "YES"),
            side="SELL",
            reason=TradeReason.STOP_LOSS,
            shares=D(3),
        )
    holding = held[index % len(held)]
    shares = (holding.shares * fraction).quantize(D("0.000001"))
    names = _names(holding.market_id, holding.token_id, holding.outcome)
    return Order(**names, side="SELL", reason=TradeReason.STOP_LOSS, shares=shares)


def _names(market_id: str, token_id: str, outcome: OutcomeSide) -> dict[str, Any]:
    return {
        "market_id": market_id,
        "token_id": token_id,
        "outcome": outcome,
        "outcome_label": outcome.title(),
        "question": f"{market_id}?",
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    feed=market_data(),
    plan=steps,
    bankroll=st.integers(100, 800).map(D),
    slippage=st.sampled_from([D(0), D(50), D(500), D(2000)]),
)
def test_random_orders_never_make_cash_negative_and_the_account_equals_its_replay(
    feed: FakeMarketData, plan: list[Any], bankroll: Decimal, slippage: Decimal
) -> None:
    # Given a fresh account and a broker
    broker = PaperBroker(max_slippage_bps=slippage)
    account = Account(strategy_id="s1", bankroll_usd=bankroll, cash_usd=bankroll)
    trades: list[Trade] = []

    # When batches of orders and settlements are applied one after another
    for index, step in enumerate(plan):
        if isinstance(step, tuple) and step[0] == "settle":
            _, market_id, prices = step
            resolved = make_market(market_id, prices=prices, closed=True, uma_resolution_status="resolved")
            feed.markets[market_id] = replace(resolved, fee_schedule=feed.markets[market_id].fee_schedule)
            result = broker.settle(account, feed.markets, strategy_id="s1", now=NOW)
        else:
            orders = [_order(s, account) for s in step]
            result = broker.fill(orders, account, feed, strategy_id="s1", slot_key=f"slot-{index}", now=NOW)
        account = result.account
        trades.extend(result.trades)
        # Then cash is never negative, at any point
        assert account.cash_usd >= 0

    # Then the ledger replay from the bankroll is the account, trade ids are unique and seq is contiguous
    state = replay(bankroll, trades)
    assert state.cash_usd == account.cash_usd
    assert {k: (h.shares, h.cost_usd) for k, h in state.positions.items()} == {
        k: (h.shares, h.cost_usd) for k, h in account.positions.items()
    }
    assert [t.seq for t in trades] == list(range(1, len(trades) + 1))
    assert account.trade_seq == len(trades)
    assert len({t.trade_id for t in trades}) == len(trades)
    for trade in trades:
        assert trade.notional_usd == (trade.shares * trade.price).quantize(D("0.000001"))
        assert trade.fee_usd >= 0 and trade.shares > 0
