"""DESIGN 5's example graph, on the recorded Polymarket data at its recording time, trades for real."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from engine.broker import PaperBroker
from engine.clock import Deadline
from engine.graph.runner import run_graph
from engine.graph.validate import validate_graph
from engine.market.snapshot import MarketSnapshot
from engine.models.trading import Account, Side
from engine.nodes.base import RunContext
from tests.support.builders import EXAMPLE_GRAPH
from tests.support.polymarket import client_for, recorded_polymarket

RECORDED_AT = datetime(2026, 2, 7, 12, 50, tzinfo=UTC)  # when the open markets of the sample were fetched


def test_the_design_example_graph_orders_and_fills_on_the_recorded_markets() -> None:
    with recorded_polymarket() as server:
        # Given the example graph, the real client on the recorded data, and a $1,000 paper account
        graph = validate_graph(EXAMPLE_GRAPH, for_deploy=True)
        snapshot = MarketSnapshot(
            client_for(server), fetched_at=RECORDED_AT, max_markets=1000, deadline=Deadline(20)
        )
        account = Account(strategy_id="s-example", bankroll_usd=Decimal(1000), cash_usd=Decimal(1000))
        ctx = RunContext(
            strategy_id="s-example",
            slot=RECORDED_AT,
            slot_key=RECORDED_AT.isoformat(),
            markets=snapshot,
            account=account,
            bankroll_usd=Decimal(1000),
            deadline=Deadline(20),
        )
        # When it runs and the paper broker fills its orders
        result = run_graph(graph, ctx)
        filled = PaperBroker().fill(
            result.orders, account, snapshot, strategy_id="s-example", slot_key=ctx.slot_key, now=RECORDED_AT
        )
    # Then it entered the configured five positions of $100 of YES, each in a market the filter kept
    assert result.status == "completed"
    assert len(result.orders) == 5
    assert all(o.side == "BUY" and o.outcome == "YES" and o.usd == Decimal(100) for o in result.orders)
    for order in result.orders:
        market = snapshot.market(order.market_id)
        assert market is not None and market.volume >= 10_000
        assert market.yes_price is not None and Decimal("0.2") <= market.yes_price <= Decimal("0.8")
    # and the fills are real: priced from a book of the tick, never beyond the cash
    assert filled.trades and all(t.side is Side.BUY for t in filled.trades)
    assert all(t.fill is not None and t.fill.levels >= 1 and t.fill.book_hash for t in filled.trades)
    assert filled.account.cash_usd >= 0
    assert filled.account.cash_usd == Decimal(1000) - sum(t.notional_usd + t.fee_usd for t in filled.trades)
