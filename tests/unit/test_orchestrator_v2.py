"""ORCHESTRATOR v2 sections: sizing (fixed, pct of equity, fractional Kelly, fee-aware), exits (trailing stop,
max hold, hold to resolution) and risk (event exposure, cooldown, daily loss stop, drawdown pause over runs).
Every expected number is computed by hand in the test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from engine.clock import Deadline
from engine.market.types import FeeSchedule, Market, OrderBook
from engine.models.trading import Account, Holding, TradeReason
from engine.nodes.base import NodeOutput, RunContext
from engine.nodes.orchestrator import Orchestrator, OrchestratorConfig
from tests.support.books import NOW, FakeMarketData, make_book, make_market

D = Decimal
NY = "America/New_York"


def cfg(**values: Any) -> OrchestratorConfig:
    return OrchestratorConfig.model_validate({"outcome": "YES", **values})


def holding(
    market_id: str, *, shares: str = "100", cost: str = "50", opened: datetime | None = None
) -> Holding:
    return Holding(
        token_id=f"{market_id}-yes",
        market_id=market_id,
        outcome="YES",
        outcome_label="Yes",
        shares=D(shares),
        cost_usd=D(cost),
        opened_at=opened or NOW - timedelta(days=2),
    )


def run(
    config: OrchestratorConfig,
    inputs: list[Market],
    *,
    cash: str = "1000",
    holdings: Sequence[Holding] = (),
    known: Sequence[Market] = (),
    books: Sequence[OrderBook] = (),
    at: datetime = NOW,
    risk_state: dict[str, Any] | None = None,
    annotations: dict[str, dict[str, Any]] | None = None,
    tz: str = "UTC",
) -> tuple[NodeOutput, RunContext]:
    account = Account(
        strategy_id="s1",
        bankroll_usd=D(1000),
        cash_usd=D(cash),
        positions={h.token_id: h for h in holdings},
        risk_state=risk_state,
    )
    ctx = RunContext(
        strategy_id="s1",
        slot=at,
        slot_key=at.isoformat(),
        markets=FakeMarketData([*inputs, *known], books, at=at),
        account=account,
        bankroll_usd=D(1000),
        deadline=Deadline(10),
        risk_state=dict(risk_state or {}),
        annotations=annotations or {},
        timezone=tz,
    )
    return Orchestrator().run(config, inputs, ctx), ctx


def usd_of(output: NodeOutput) -> dict[str, Decimal]:
    return {o.market_id: o.usd for o in output.orders if o.side == "BUY" and o.usd is not None}


def skipped(output: NodeOutput) -> dict[str, str]:
    return {d["market_id"]: d["why"] for d in output.decisions if d.get("action") == "skip"}


# ------------------------------------------------------------------ config


@pytest.mark.parametrize(
    "values",
    [
        {},  # no size at all
        {"position_size_usd": 10, "sizing": {"mode": "fixed_usd", "usd": 10}},
        {"sizing": {"mode": "kelly"}},  # kelly without a probability source
        {"sizing": {"mode": "kelly", "edge": 0.05, "probability_field": "p"}},
        {"sizing": {"mode": "pct_equity"}},
        {"position_size_usd": 10, "take_profit_pct": 10, "exits": {"stop_loss_pct": 5}},
        {"position_size_usd": 10, "max_positions": 3, "risk": {"max_positions": 2}},
        {"position_size_usd": 10, "exits": {"hold_to_resolution": True, "take_profit_pct": 5}},
    ],
)
def test_config_rules(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        cfg(**values)


def test_flat_v1_keys_mean_the_same_as_the_sections() -> None:
    flat = cfg(position_size_usd=50, take_profit_pct=20, max_positions=2, cash_reserve_pct=10)
    assert flat.is_v1 and flat.effective_exits.take_profit_pct == 20
    assert flat.effective_risk.max_positions == 2 and flat.effective_risk.cash_reserve_pct == 10


# ------------------------------------------------------------------ sizing


def test_pct_equity_sizes_on_cash_plus_positions_at_their_bid() -> None:
    # Given cash 800 and 100 shares of a held market bid at 0.60: equity 860; 10% = 86
    held = make_market("h", prices=("0.6", "0.4"))
    new = make_market("n")
    out, _ = run(
        cfg(sizing={"mode": "pct_equity", "pct": 10}),
        [new],
        cash="800",
        holdings=[holding("h")],
        known=[held],
        books=[make_book("h-yes", bids=[("0.6", "1000")])],
    )
    assert usd_of(out) == {"n": D("86.00")}


def test_kelly_from_price_plus_edge_by_hand() -> None:
    # Given a YES ask of 0.40 and an edge of 0.10: q = 0.50, c = 0.40, f* = (0.5-0.4)/(1-0.4) = 1/6
    market = make_market("k", prices=("0.4", "0.6"))
    book = make_book("k-yes", asks=[("0.40", "10000")])
    out, _ = run(cfg(sizing={"mode": "kelly", "edge": 0.1, "kelly_fraction": 0.5}), [market], books=[book])
    # Then half Kelly on equity 1000 = 1000 / 12 = 83.33
    assert usd_of(out) == {"k": D("83.33")}
    enter = next(d for d in out.decisions if d.get("action") == "enter")
    assert enter["kelly"] == "0.1667" and enter["probability"] == "0.5"


def test_kelly_is_fee_aware_and_skips_without_edge() -> None:
    # Given fees rate 0.25 * (p(1-p))^1 at p = 0.5: 0.0625 per share; q = 0.55 from the annotated field
    fees = FeeSchedule(rate=D("0.25"))
    market = replace(make_market("f", prices=("0.5", "0.5")), fee_schedule=fees, fees_enabled=True)
    book = make_book("f-yes", asks=[("0.5", "10000")])
    config = cfg(sizing={"mode": "kelly", "probability_field": "p_yes", "kelly_fraction": 1})
    out, _ = run(config, [market], books=[book], annotations={"f": {"p_yes": D("0.55")}})
    # Then c = 0.5625 > q = 0.55: no bet
    assert usd_of(out) == {} and skipped(out) == {"f": "no_edge"}
    # And with q = 0.70: f* = (0.70 - 0.5625) / 0.4375 = 0.3142857..; stake 314.28 (cents, down)
    out, _ = run(config, [market], books=[book], annotations={"f": {"p_yes": D("0.70")}})
    assert usd_of(out) == {"f": D("314.28")}


def test_sizes_are_capped_by_max_usd_and_cash_above_reserve_and_floored_by_min_usd() -> None:
    markets = [make_market("a"), make_market("b")]
    config = cfg(
        sizing={"mode": "fixed_usd", "usd": 300, "max_usd": 250, "min_usd": 100},
        risk={"cash_reserve_pct": 50},
    )
    # cash 600, reserve 500: 100 spendable -> a gets 100 (>= min), b gets nothing
    out, _ = run(config, markets, cash="600")
    assert usd_of(out) == {"a": D("100.00")} and skipped(out) == {"b": "insufficient_cash"}
    out, _ = run(config, markets, cash="590")
    assert usd_of(out) == {} and skipped(out)["a"] == "below_min_usd"


# ------------------------------------------------------------------ exits


def test_trailing_stop_follows_the_peak_bid_across_runs() -> None:
    market = make_market("t")
    config = cfg(position_size_usd=10, exits={"trailing_stop_pct": 10})
    # Run 1: bid 0.70 sets the peak
    out, ctx = run(
        config,
        [],
        holdings=[holding("t")],
        known=[market],
        books=[make_book("t-yes", bids=[("0.70", "500")])],
    )
    assert out.orders == [] and ctx.risk_state["position_peaks"] == {"t-yes": "0.7"}
    # Run 2: bid 0.64 is 8.6% under the peak: hold; Run 3: bid 0.63 is 10% under: sell (stop_loss, trailing)
    state = ctx.risk_state
    out, ctx = run(
        config,
        [],
        holdings=[holding("t")],
        known=[market],
        books=[make_book("t-yes", bids=[("0.64", "500")])],
        risk_state=state,
    )
    assert out.orders == []
    out, _ = run(
        config,
        [],
        holdings=[holding("t")],
        known=[market],
        books=[make_book("t-yes", bids=[("0.63", "500")])],
        risk_state=ctx.risk_state,
    )
    exit_line = next(d for d in out.decisions if d.get("action") == "exit")
    assert out.orders[0].reason == TradeReason.STOP_LOSS and exit_line["rule"] == "trailing_stop"


def test_max_hold_and_hold_to_resolution() -> None:
    market = make_market("m")
    book = make_book("m-yes", bids=[("0.5", "500")])
    old = holding("m", opened=NOW - timedelta(hours=49))
    out, _ = run(
        cfg(position_size_usd=10, exits={"max_hold_hours": 48}),
        [],
        holdings=[old],
        known=[market],
        books=[book],
    )
    assert [o.reason for o in out.orders] == [TradeReason.TIME_EXIT]
    # hold_to_resolution ignores even a 90% loss
    crash = make_book("m-yes", bids=[("0.05", "500")])
    out, _ = run(
        cfg(position_size_usd=10, exits={"hold_to_resolution": True}),
        [],
        holdings=[old],
        known=[market],
        books=[crash],
    )
    assert out.orders == []


# ------------------------------------------------------------------ risk


def test_event_exposure_caps_entries_in_one_event() -> None:
    # Given a held market of event E costing 50, equity 1000 (held at its cost), max 10% per event
    held = replace(make_market("h"), event_id="E")
    same = [replace(make_market(f"e{i}"), event_id="E") for i in range(2)]
    other = replace(make_market("x"), event_id="F")
    out, _ = run(
        cfg(position_size_usd=40, risk={"max_event_exposure_pct": 10, "max_positions": 10}),
        [*same, other],
        cash="950",
        holdings=[holding("h")],
        known=[held],
        books=[make_book("h-yes", bids=[("0.5", "500")])],
    )
    # Then E has room 100 - 50 = 50: e0 gets 40, e1 the last 10; F is untouched
    assert usd_of(out) == {"e0": D("40.00"), "e1": D("10.00"), "x": D("40.00")}


def test_cooldown_blocks_reentry_after_an_exit() -> None:
    market = make_market("c")
    config = cfg(position_size_usd=10, exits={"take_profit_pct": 10}, risk={"cooldown_minutes": 60})
    # Run 1 exits c at a profit
    out, ctx = run(
        config, [], holdings=[holding("c")], known=[market], books=[make_book("c-yes", bids=[("0.9", "500")])]
    )
    assert out.orders and ctx.risk_state["exits"] == {"c": "2026-02-28T22:40:00Z"}
    # Run 2, 30 minutes later: c is offered again but skipped; Run 3, 61 minutes later: entered
    out, ctx2 = run(config, [market], at=NOW + timedelta(minutes=30), risk_state=ctx.risk_state)
    assert skipped(out) == {"c": "cooldown"}
    out, _ = run(config, [market], at=NOW + timedelta(minutes=61), risk_state=ctx2.risk_state)
    assert usd_of(out) == {"c": D("10.00")}


def test_daily_loss_stop_over_a_sequence_of_runs() -> None:
    config = cfg(position_size_usd=10, risk={"daily_loss_stop_pct": 5, "max_positions": 10})
    offer = [make_market("new")]
    # 08:00 New York: first run of the day, equity 1000 (day start)
    day = datetime(2026, 3, 2, 13, 0, tzinfo=NOW.tzinfo)  # 08:00 EST
    out, ctx = run(config, offer, at=day, tz=NY)
    assert ctx.risk_state["day_start_equity"] == "1000" and usd_of(out)
    # 12:00: equity 940 (6% down): no entries for the rest of the day
    out, ctx = run(config, offer, cash="940", at=day + timedelta(hours=4), risk_state=ctx.risk_state, tz=NY)
    assert skipped(out) == {"new": "daily_loss_stop"}
    # 23:30 New York is still the same day there (04:30 UTC next day): still blocked
    out, ctx = run(
        config, offer, cash="940", at=day + timedelta(hours=15, minutes=30), risk_state=ctx.risk_state, tz=NY
    )
    assert skipped(out) == {"new": "daily_loss_stop"}
    # Next New York day: the day starts again at 940, entries resume
    out, ctx = run(config, offer, cash="940", at=day + timedelta(hours=17), risk_state=ctx.risk_state, tz=NY)
    assert usd_of(out) and ctx.risk_state["day_start_equity"] == "940"


def test_daily_loss_day_is_the_strategy_timezone() -> None:
    config = cfg(position_size_usd=10, risk={"daily_loss_stop_pct": 5})
    at = datetime(2026, 3, 3, 4, 30, tzinfo=NOW.tzinfo)
    account = Account(strategy_id="s1", bankroll_usd=D(1000), cash_usd=D(1000))
    ctx = RunContext(
        "s1",
        at,
        "k",
        FakeMarketData([], [], at=at),
        account,
        D(1000),
        Deadline(10),
        timezone="America/New_York",
    )
    Orchestrator().run(config, [], ctx)
    assert ctx.risk_state["day"] == "2026-03-02"


def test_drawdown_pause_keeps_the_peak_and_pauses_at_the_threshold() -> None:
    config = cfg(position_size_usd=10, risk={"max_drawdown_pause_pct": 20, "max_positions": 10})
    offer = [make_market("new")]
    out, ctx = run(config, offer, cash="1000")
    out, ctx = run(config, offer, cash="1200", risk_state=ctx.risk_state)  # new peak 1200
    assert ctx.risk_state["peak_equity"] == "1200" and "pause_reason" not in ctx.risk_state
    out, ctx = run(config, offer, cash="1000", risk_state=ctx.risk_state)  # 16.7% down: trades on
    assert usd_of(out) and "pause_reason" not in ctx.risk_state
    out, ctx = run(config, offer, cash="960", risk_state=ctx.risk_state)  # 20% down: pause, no entries
    assert ctx.risk_state["pause_reason"] == "auto:max_drawdown" and skipped(out) == {"new": "max_drawdown"}
    assert ctx.risk_state["peak_equity"] == "1200"
