"""The backtest engine: past slots through the live run path, on constructed series and the recorded one."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.backtest.history import MemoryHistoryCache, window_starts
from engine.backtest.models import BacktestSpec
from engine.backtest.replay import Prepared, check_graph, prepare, run_whole
from engine.backtest.run import Checkpoint, backtest_strategy, ledger_summary, run_slots
from engine.clock import Deadline
from engine.errors import ValidationFailed
from engine.market.types import HistoryWindow, Market, MarketQuery, OutcomeToken, PriceHistory, PricePoint
from engine.models.strategy import NodeGraph
from engine.money import shares_floor, usd
from tests.support.markets import make_market

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 1, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "polymarket"


class FakeHistory:
    """A PriceHistoryProvider over fixed series; counts requests like the HTTP client would make them."""

    def __init__(self, series: dict[str, list[tuple[datetime, str]]]) -> None:
        self.series = {
            token: [PricePoint(int(at.timestamp()), Decimal(p)) for at, p in points]
            for token, points in series.items()
        }
        self.requests: list[tuple[str, datetime, datetime]] = []

    def get_price_history(self, token_id: str, window: HistoryWindow, *, deadline: Deadline) -> PriceHistory:
        assert window.start_ts is not None and window.end_ts is not None
        lo, hi = window.start_ts, window.end_ts
        self.requests.append((token_id, datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(hi, UTC)))
        return PriceHistory(token_id, tuple(p for p in self.series.get(token_id, []) if lo <= p.t <= hi))


def graph(orchestrator: dict[str, Any], conditions: list[dict[str, Any]] | None = None) -> NodeGraph:
    nodes: list[dict[str, Any]] = [
        {"id": "src", "type": "DATA_SOURCE", "config": {"order_by": "end_date", "ascending": True}}
    ]
    edges = []
    last = "src"
    if conditions:
        nodes.append({"id": "flt", "type": "FILTER", "config": {"conditions": conditions}})
        edges.append({"source": "src", "target": "flt"})
        last = "flt"
    nodes.append({"id": "orc", "type": "ORCHESTRATOR", "config": orchestrator})
    edges.append({"source": last, "target": "orc"})
    return NodeGraph.model_validate({"nodes": nodes, "edges": edges})


BUY_AND_HOLD = {"outcome": "YES", "position_size_usd": 100, "max_positions": 1}
NO_COSTS = {"half_spread_bps": 0, "slippage_bps": 0, "fees": "none"}


def spec(start: datetime, end: datetime, **extra: Any) -> BacktestSpec:
    body: dict[str, Any] = {
        "start": start,
        "end": end,
        "frequency": "1h",
        "paper_bankroll_usd": 1000,
        **extra,
    }
    return BacktestSpec.model_validate(body)


def resolved_market(market_id: str, *, start: datetime, closed_at: datetime, yes_wins: bool) -> Market:
    """A market in its final state: closed at `closed_at`, resolved YES (1/0) or NO (0/1)."""
    final = make_market(market_id, yes_price=1 if yes_wins else 0, end_date=closed_at)
    return replace(
        final,
        active=True,
        closed=True,
        accepting_orders=False,
        uma_resolution_status="resolved",
        start_date=start,
        closed_time=closed_at,
    )


def prepared_for(
    markets: list[Market], history: FakeHistory, the_spec: BacktestSpec, the_graph: NodeGraph
) -> Prepared:
    return prepare(
        the_graph,
        the_spec,
        markets=markets,
        history=history,
        cache=MemoryHistoryCache(),
        now=NOW,
        deadline=Deadline(30),
    )


def test_buy_and_hold_to_resolution_pnl_equals_the_hand_computation() -> None:
    # Given a market priced 0.40 from its start that resolves YES after 5 hours, and the default fill model
    market = resolved_market("m1", start=T0, closed_at=T0 + timedelta(hours=5, minutes=30), yes_wins=True)
    history = FakeHistory({"m1-yes": [(T0 + timedelta(minutes=m), "0.40") for m in range(0, 330, 30)]})
    the_spec = spec(T0, T0 + timedelta(hours=8))
    # When the strategy buys $100 of YES at the first slot and holds
    outcome = run_whole(
        "bt1", graph(BUY_AND_HOLD), the_spec, prepared_for([market], history, the_spec, graph(BUY_AND_HOLD))
    )
    # Then: ask = 0.40 x (1 + 125 bps) = 0.405; shares = floor(100 / 0.405); settled at 1 with no fee
    ask = Decimal("0.405")
    shares = shares_floor(Decimal(100) / ask)
    cost = usd(shares * ask)
    trades = outcome.chunk.trades
    assert [(t.side.value, t.reason.value) for t in trades] == [("BUY", "entry"), ("SETTLE", "resolution")]
    assert trades[0].shares == shares and trades[0].price == ask and trades[0].created_at == T0
    assert trades[1].created_at == T0 + timedelta(hours=6)  # the first slot after the close
    assert outcome.performance.total_profit_usd == usd(shares - cost)
    assert outcome.performance.closed_trades_count == 1 and outcome.performance.wins == 1


def test_a_strategy_that_needs_the_next_point_earns_nothing() -> None:
    # Given a price of 0.50 at every slot, with a spike to 0.95 half an hour after each slot (between slots)
    points = []
    for h in range(12):
        points += [(T0 + timedelta(hours=h), "0.50"), (T0 + timedelta(hours=h, minutes=30), "0.95")]
    points.append((T0 + timedelta(hours=12), "0.50"))
    market = make_market("m1", end_date=T0 + timedelta(days=30))
    market = replace(market, start_date=T0 - timedelta(days=1))
    history = FakeHistory({"m1-yes": points})
    the_graph = graph(BUY_AND_HOLD, [{"field": "yes_price", "op": ">=", "value": 0.9}])
    the_spec = spec(T0, T0 + timedelta(hours=12))
    # When it backtests a strategy that buys only when it sees the spike
    outcome = run_whole("bt1", the_graph, the_spec, prepared_for([market], history, the_spec, the_graph))
    # Then no slot ever saw a later point: nothing traded, nothing earned
    assert outcome.chunk.trades == []
    assert outcome.performance.total_profit_usd == 0


def test_the_final_resolution_stays_hidden_until_the_market_closes() -> None:
    # Given a market that will resolve YES, priced 0.30 before its close
    closed_at = T0 + timedelta(hours=10)
    market = resolved_market("m1", start=T0, closed_at=closed_at, yes_wins=True)
    history = FakeHistory({"m1-yes": [(T0, "0.30")]})
    the_spec = spec(T0, T0 + timedelta(hours=12))
    prepared = prepared_for([market], history, the_spec, graph(BUY_AND_HOLD))
    # When the market is looked at one second before and at its close
    before = prepared.universe.at(closed_at - timedelta(seconds=1)).market("m1")
    after = prepared.universe.at(closed_at).market("m1")
    # Then before it is open at the recorded price, after it shows its final state
    assert before is not None and not before.closed and before.yes_price == Decimal("0.30")
    assert before.resolution_prices() is None
    assert after is not None and after.resolution_prices() == {"m1-yes": 1, "m1-no": 0}


def test_a_market_is_visible_only_between_its_start_and_its_close() -> None:
    # Given a market that started at T0+2h and closed at T0+5h
    market = resolved_market(
        "m1", start=T0 + timedelta(hours=2), closed_at=T0 + timedelta(hours=5), yes_wins=False
    )
    history = FakeHistory({"m1-yes": [(T0 + timedelta(hours=2), "0.60")]})
    the_spec = spec(T0, T0 + timedelta(hours=8))
    prepared = prepared_for([market], history, the_spec, graph(BUY_AND_HOLD))
    # When a DATA_SOURCE asks for active markets at several slots
    seen = {
        h: [
            m.market_id
            for m in prepared.universe.at(T0 + timedelta(hours=h)).query(MarketQuery(order_by="end_date"))
        ]
        for h in range(8)
    }
    # Then it lists the market only while it traded
    assert {h for h, ids in seen.items() if ids} == {2, 3, 4}


def test_take_profit_fires_on_the_first_slot_past_its_threshold() -> None:
    # Given a market bought at 0.40 whose price climbs 0.44, 0.47, 0.479, 0.49, 0.55 at the next slots
    prices = ["0.40", "0.44", "0.47", "0.479", "0.49", "0.55"]
    market = replace(make_market("m1", end_date=T0 + timedelta(days=30)), start_date=T0 - timedelta(days=1))
    history = FakeHistory({"m1-yes": [(T0 + timedelta(hours=i), p) for i, p in enumerate(prices)]})
    the_graph = graph({**BUY_AND_HOLD, "take_profit_pct": 20})
    the_spec = spec(T0, T0 + timedelta(hours=5), fill_model=NO_COSTS)
    # When it is backtested with a take profit of 20% (a bid of 0.48 or more) and no trading costs
    outcome = run_whole("bt1", the_graph, the_spec, prepared_for([market], history, the_spec, the_graph))
    # Then the exit happens at the 0.49 slot, not at 0.479 nor later
    sells = [t for t in outcome.chunk.trades if t.side.value == "SELL"]
    assert len(sells) == 1
    assert sells[0].reason.value == "take_profit"
    assert sells[0].created_at == T0 + timedelta(hours=4)
    assert sells[0].price == Decimal("0.49")


def test_chunked_and_unchunked_runs_give_identical_ledgers() -> None:
    # Given three markets with moving prices over two days and a strategy that enters and exits
    markets, series = [], {}
    for i in range(3):
        market = replace(
            make_market(f"m{i}", end_date=T0 + timedelta(days=40)), start_date=T0 - timedelta(days=1)
        )
        markets.append(market)
        series[f"m{i}-yes"] = [
            (T0 + timedelta(hours=h), str(Decimal("0.30") + Decimal((h * (i + 3)) % 17) / 100))
            for h in range(49)
        ]
    the_graph = graph({"outcome": "YES", "position_size_usd": 50, "take_profit_pct": 15, "stop_loss_pct": 10})
    the_spec = spec(T0, T0 + timedelta(hours=48))
    prepared = prepared_for(markets, FakeHistory(series), the_spec, the_graph)
    strategy = backtest_strategy("bt1", the_graph, owner="u", at=T0)
    # When it runs whole, and in chunks of 7 slots with the checkpoint stored and read back between them
    whole = run_slots(strategy, prepared.universe, prepared.slots, Checkpoint.opening("bt1", Decimal(1000)))
    checkpoint = Checkpoint.opening("bt1", Decimal(1000))
    chunked = []
    for i in range(0, len(prepared.slots), 7):
        part = run_slots(strategy, prepared.universe, prepared.slots[i : i + 7], checkpoint)
        chunked += part.trades
        checkpoint = Checkpoint.model_validate_json(part.checkpoint.model_dump_json())
    # Then the ledgers are the same trade for trade, and so are the accounts
    assert len(whole.trades) > 4
    assert ledger_summary(chunked) == ledger_summary(whole.trades)
    assert checkpoint.account == whole.checkpoint.account


def test_fields_without_history_are_refused_naming_the_node_and_field() -> None:
    # Given a graph that filters on volume
    the_graph = graph(BUY_AND_HOLD, [{"field": "volume", "op": ">=", "value": 1000}])
    # When it is checked without proxies allowed
    with pytest.raises(ValidationFailed) as refused:
        check_graph(the_graph, allow_proxies=False)
    # Then the error names the node and the field
    assert "node 'flt' field 'volume'" in refused.value.message
    assert refused.value.details[0]["node_id"] == "flt"


def test_proxies_allowed_become_look_ahead_warnings() -> None:
    # Given a source ordered by today's volume (the default) and a liquidity filter
    the_graph = NodeGraph.model_validate(
        {
            "nodes": [
                {"id": "src", "type": "DATA_SOURCE", "config": {}},
                {
                    "id": "flt",
                    "type": "FILTER",
                    "config": {"conditions": [{"field": "liquidity", "op": ">", "value": 1}]},
                },
                {"id": "orc", "type": "ORCHESTRATOR", "config": BUY_AND_HOLD},
            ],
            "edges": [{"source": "src", "target": "flt"}, {"source": "flt", "target": "orc"}],
        }
    )
    # When it is checked with allow_proxies
    warnings = check_graph(the_graph, allow_proxies=True)
    # Then each use is a look-ahead warning
    assert [(w["node_id"], w["field"]) for w in warnings] == [("src", "volume"), ("flt", "liquidity")]
    assert all(w["code"] == "look_ahead_proxy" for w in warnings)


def test_without_proxies_the_fields_without_history_are_blank() -> None:
    # Given a market whose final state has a volume and a spread
    market = replace(make_market("m1", end_date=T0 + timedelta(days=3)), start_date=T0 - timedelta(days=1))
    history = FakeHistory({"m1-yes": [(T0, "0.5")]})
    the_spec = spec(T0, T0 + timedelta(hours=2))
    prepared = prepared_for([market], history, the_spec, graph(BUY_AND_HOLD))
    # When it is seen at a slot
    seen = prepared.universe.at(T0).market("m1")
    # Then today's values are not shown as the past's
    assert seen is not None and seen.volume == 0 and seen.spread is None and seen.best_bid is None


def test_data_fidelity_is_reported_and_finer_slots_warn() -> None:
    # Given a history with a point every 12 hours and hourly slots
    market = replace(make_market("m1", end_date=T0 + timedelta(days=30)), start_date=T0 - timedelta(days=5))
    history = FakeHistory({"m1-yes": [(T0 + timedelta(hours=12 * i), "0.5") for i in range(-4, 10)]})
    the_spec = spec(T0, T0 + timedelta(days=4))
    # When the backtest is prepared
    prepared = prepared_for([market], history, the_spec, graph(BUY_AND_HOLD))
    # Then the fidelity says 60-minute slots over 720-minute data, with a warning
    assert prepared.data_fidelity["slot_minutes"] == 60
    assert prepared.data_fidelity["history_median_minutes"] == 720
    assert [w["code"] for w in prepared.warnings] == ["slots_finer_than_data"]


def test_history_is_requested_once_per_token_and_window_and_then_cached() -> None:
    # Given two markets over 30 days
    markets = [
        replace(make_market(f"m{i}", end_date=T0 + timedelta(days=60)), start_date=T0 - timedelta(days=1))
        for i in range(2)
    ]
    history = FakeHistory({f"m{i}-yes": [(T0, "0.5")] for i in range(2)})
    the_spec = spec(T0, T0 + timedelta(days=30))
    cache = MemoryHistoryCache()
    # When two backtests are prepared with the same cache
    for _ in range(2):
        prepare(
            graph(BUY_AND_HOLD),
            the_spec,
            markets=markets,
            history=history,
            cache=cache,
            now=NOW,
            deadline=Deadline(30),
        )
    # Then the first asked once per token and 14-day window, the second asked nothing
    windows = {(t, s) for t, s, _ in history.requests}
    per_token = len(window_starts(T0 - timedelta(days=1), T0 + timedelta(days=30)))
    assert per_token == 3
    assert len(history.requests) == len(windows) == 2 * per_token
    assert len(cache.windows) == 2 * per_token


def _recorded_series() -> list[tuple[datetime, str]]:
    series = json.loads((FIXTURES / "prices_history_sample.json").read_text())
    hourly = next(s for s in series if s["request"] and s["request"].get("fidelity") == 10)
    return [(datetime.fromtimestamp(p["t"], UTC), str(p["p"])) for p in hourly["response"]["history"]]


def test_buy_and_hold_on_the_recorded_series_equals_the_hand_computation() -> None:
    # Given the recorded month of "MicroStrategy sells any Bitcoin by December 31, 2026?" (Yes token), and
    # a final state constructed for the test: it closed one day after the recording and resolved NO
    points = _recorded_series()
    token = "111128191581505463501777127559667396812474366956707382672202929745167742497287"
    first, last = points[0][0], points[-1][0]
    start = (first + timedelta(hours=1)).replace(minute=0, second=0)
    closed_at = last + timedelta(days=1)
    final = resolved_market("824952", start=first - timedelta(days=30), closed_at=closed_at, yes_wins=False)
    final = replace(
        final,
        outcomes=(OutcomeToken(token, "Yes", Decimal(0)), OutcomeToken("998075", "No", Decimal(1))),
        fee_schedule=None,
    )
    history = FakeHistory({token: points})
    the_spec = spec(start, closed_at + timedelta(hours=2))
    # When a $100 YES buy-and-hold is backtested hourly
    outcome = run_whole(
        "bt1", graph(BUY_AND_HOLD), the_spec, prepared_for([final], history, the_spec, graph(BUY_AND_HOLD))
    )
    # Then it bought at the last recorded price at or before the first slot (+125 bps) and lost the cost
    price = Decimal([p for at, p in points if at <= start][-1])
    ask = (price * Decimal("1.0125")).quantize(Decimal("0.000001"))
    shares = shares_floor(Decimal(100) / ask)
    buy, settle = outcome.chunk.trades
    assert (buy.price, buy.shares) == (ask, shares)
    assert settle.side.value == "SETTLE" and settle.price == 0
    assert outcome.performance.total_profit_usd == -usd(shares * ask)
    # and the equity curve followed the recorded price in between
    mid = outcome.chunk.curve[len(outcome.chunk.curve) // 2]
    seen = Decimal([p for at, p in points if at <= mid.at][-1])
    assert mid.equity_usd == usd(Decimal(1000) - usd(shares * ask) + usd(shares * seen))


def test_price_history_seen_by_signals_ends_at_the_slot() -> None:
    # Given a series with a point every hour over a day
    market = replace(make_market("m1", end_date=T0 + timedelta(days=30)), start_date=T0 - timedelta(days=2))
    history = FakeHistory({"m1-yes": [(T0 + timedelta(hours=h), f"0.{10 + h}") for h in range(24)]})
    the_spec = spec(T0, T0 + timedelta(hours=23))
    view = prepared_for([market], history, the_spec, graph(BUY_AND_HOLD)).universe.at(T0 + timedelta(hours=5))
    # When a signal asks for the last day, and for a range reaching past the slot
    day = view.price_history("m1-yes", HistoryWindow(interval="1d"))
    ranged = view.price_history("m1-no", HistoryWindow(start_ts=int(T0.timestamp()), end_ts=2_000_000_000))
    # Then neither holds a point after the slot; the second outcome is the complement
    assert day is not None and [p.p for p in day.points][-1] == Decimal("0.15") and len(day.points) == 6
    assert ranged is not None and ranged.points[-1].p == Decimal("0.85")
    assert max(p.t for p in ranged.points) == int((T0 + timedelta(hours=5)).timestamp())


def test_an_order_below_the_markets_minimum_size_is_not_filled() -> None:
    # Given a market priced 0.50 with a minimum order of 5 shares, and an order of $2 (about 4 shares)
    market = replace(make_market("m1", end_date=T0 + timedelta(days=3)), start_date=T0 - timedelta(days=1))
    history = FakeHistory({"m1-yes": [(T0, "0.50")]})
    the_graph = graph({"outcome": "YES", "position_size_usd": 2, "max_positions": 1})
    the_spec = spec(T0, T0 + timedelta(hours=1), fill_model=NO_COSTS)
    # When it is backtested
    outcome = run_whole("bt1", the_graph, the_spec, prepared_for([market], history, the_spec, the_graph))
    # Then the broker's minimum size refuses it: nothing traded
    assert outcome.chunk.trades == []


def test_a_fine_history_window_is_stored_well_under_dynamodbs_item_limit() -> None:
    from engine.storage.backtests import _decode, _encode

    # Given 14 days of one-minute points (the finest a window holds)
    start = int(T0.timestamp())
    points = [PricePoint(start + 60 * i, Decimal(f"0.{(i * 7919) % 1000:03d}")) for i in range(14 * 24 * 60)]
    # When it is encoded for the cache
    blob = _encode(points)
    # Then it is well under 400 KB and decodes to the same points
    assert len(blob) < 150_000
    assert _decode(blob) == points
