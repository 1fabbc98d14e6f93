"""The ORCHESTRATOR node: config rules, exits before entries, outcome choice, sizing and limits, decisions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from engine.broker import PaperBroker
from engine.clock import Deadline
from engine.market.types import Market, OrderBook
from engine.models.trading import Account, Holding, OutcomeSide, TradeReason
from engine.nodes.base import NodeOutput, RunContext
from engine.nodes.orchestrator import Orchestrator, OrchestratorConfig
from tests.support.books import FED_NO, NOW, FakeMarketData, make_book, make_market, recorded_book

D = Decimal


def _config(**values: Any) -> OrchestratorConfig:
    return OrchestratorConfig.model_validate({"outcome": "YES", "position_size_usd": 100, **values})


def _holding(
    market_id: str, *, shares: str = "100", cost: str = "50", outcome: OutcomeSide = "YES"
) -> Holding:
    return Holding(
        token_id=f"{market_id}-{outcome.lower()}",
        market_id=market_id,
        outcome=outcome,
        outcome_label="Yes" if outcome == "YES" else "No",
        question=f"Will {market_id} happen?",
        shares=D(shares),
        cost_usd=D(cost),
        opened_at=NOW - timedelta(days=2),
    )


def _run(
    config: OrchestratorConfig,
    inputs: list[Market],
    *,
    cash: str = "1000",
    bankroll: str = "1000",
    holdings: Sequence[Holding] = (),
    known: Sequence[Market] = (),
    books: Sequence[OrderBook] = (),
) -> tuple[NodeOutput, RunContext]:
    feed = FakeMarketData([*inputs, *known], books)
    account = Account(
        strategy_id="s1",
        bankroll_usd=D(bankroll),
        cash_usd=D(cash),
        positions={h.token_id: h for h in holdings},
    )
    ctx = RunContext(
        strategy_id="s1",
        slot=NOW,
        slot_key="2026-02-28T22:40:00Z",
        markets=feed,
        account=account,
        bankroll_usd=D(bankroll),
        deadline=Deadline(10),
    )
    return Orchestrator().run(config, inputs, ctx), ctx


def _by_market(output: NodeOutput, action: str) -> dict[str, dict[str, Any]]:
    return {d["market_id"]: d for d in output.decisions if d.get("action") == action}


# ------------------------------------------------------------------ config


def test_the_design_example_config_is_accepted() -> None:
    # Given the ORCHESTRATOR config of DESIGN 5's example graph
    raw = {
        "outcome": "YES",
        "position_size_usd": 100,
        "max_positions": 5,
        "take_profit_pct": 20,
        "stop_loss_pct": 15,
    }

    # When validated
    config = OrchestratorConfig.model_validate(raw)

    # Then the values are kept as Decimals and the defaults fill in
    assert config.position_size_usd == D(100)
    assert config.cash_reserve_pct == 0
    assert config.max_positions == 5


@pytest.mark.parametrize(
    "raw",
    [
        {"outcome": "YES"},  # no size
        {"outcome": "YES", "position_size_usd": 10, "position_size_pct": 5},  # both sizes
        {"outcome": "YES", "position_size_usd": 0},
        {"outcome": "YES", "position_size_pct": 101},
        {"outcome": "YES", "position_size_usd": 10, "max_positions": 0},
        {"outcome": "YES", "position_size_usd": 10, "cash_reserve_pct": -1},
        {"outcome": "MAYBE", "position_size_usd": 10},
        {"outcome": "YES", "position_size_usd": 10, "leverage": 3},  # unknown key
        {"outcome": "YES", "position_size_usd": "NaN"},
    ],
)
def test_invalid_configs_are_rejected(raw: dict[str, Any]) -> None:
    # Given a config that breaks a rule of DESIGN 5
    # When validated
    # Then it is rejected
    with pytest.raises(ValidationError):
        OrchestratorConfig.model_validate(raw)


def test_orchestrator_is_registered_as_the_sink_type() -> None:
    # Given the node registry
    from engine.nodes.registry import get_node_type

    # When ORCHESTRATOR is looked up
    node_type = get_node_type("ORCHESTRATOR")

    # Then it is this class, a sink that takes inputs
    assert isinstance(node_type, Orchestrator)
    assert node_type.is_sink and not node_type.is_source
    assert node_type.config_model is OrchestratorConfig


# ---------------------------------------------------------------- entries


@pytest.mark.parametrize(
    ("outcome", "prices", "token", "side", "label"),
    [
        ("YES", ("0.3", "0.7"), "m-yes", "YES", "Over"),
        ("NO", ("0.3", "0.7"), "m-no", "NO", "Under"),
        ("CHEAPER", ("0.3", "0.7"), "m-yes", "YES", "Over"),
        ("CHEAPER", ("0.65", "0.35"), "m-no", "NO", "Under"),
    ],
)
def test_outcome_choice_keeps_the_markets_own_label(
    outcome: str, prices: tuple[str, str], token: str, side: str, label: str
) -> None:
    # Given an Over/Under market
    market = make_market("m", labels=("Over", "Under"), prices=prices, question="Over 2.5 goals?")

    # When the orchestrator picks an outcome
    output, _ = _run(_config(outcome=outcome), [market])

    # Then YES is the first outcome, NO the second, CHEAPER the lower listed price; the label is the market's
    (order,) = output.orders
    assert (order.token_id, order.outcome, order.outcome_label) == (token, side, label)
    assert order.question == "Over 2.5 goals?"
    assert order.side == "BUY" and order.reason is TradeReason.ENTRY and order.usd == D(100)


def test_entries_skip_held_closed_not_accepting_tokenless_and_closing_soon_markets() -> None:
    # Given one good market and one of each kind the orchestrator must not enter
    good = make_market("good")
    held = make_market("held")
    closed = make_market("closed", closed=True)
    paused = make_market("paused", accepting_orders=False)
    tokenless = replace(make_market("tokenless"), outcomes=())  # Gamma listed no clobTokenIds
    soon = make_market("soon", end_date=NOW + timedelta(hours=3))
    inputs = [good, held, closed, paused, tokenless, soon]

    # When it runs with exit_hours_before_close = 6
    output, _ = _run(
        _config(exit_hours_before_close=6),
        inputs,
        holdings=[_holding("held", cost="50")],
        books=[make_book("held-yes", bids=[("0.5", "1000")], asks=[("0.51", "1000")])],
    )

    # Then only the good market is entered, and each skip says why
    assert [o.market_id for o in output.orders] == ["good"]
    skips = {k: v["why"] for k, v in _by_market(output, "skip").items()}
    assert skips == {
        "held": "already_held",
        "closed": "not_accepting_orders",
        "paused": "not_accepting_orders",
        "tokenless": "missing_token",
        "soon": "closing_soon",
    }
    assert output.decisions[0]["skipped_by"]["not_accepting_orders"] == 2
    assert [m.market_id for m in output.markets] == ["good"]


def test_no_entry_past_the_end_date_or_awaiting_resolution_unless_allowed() -> None:
    # Given markets still accepting orders: one past its end date, one whose outcome is proposed, one good
    past = make_market("past", end_date=NOW - timedelta(minutes=1))
    proposed = make_market("proposed", uma_resolution_status="proposed", end_date=NOW + timedelta(days=1))
    good = make_market("good", end_date=NOW + timedelta(days=1))
    inputs = [past, proposed, good]

    # When it runs with the default config
    output, _ = _run(_config(), inputs)

    # Then only the good market is entered, and the others say why
    assert [o.market_id for o in output.orders] == ["good"]
    skips = {k: v["why"] for k, v in _by_market(output, "skip").items()}
    assert skips == {"past": "past_end_date", "proposed": "awaiting_resolution"}

    # And with allow_entries_past_end_date, all three are entered
    allowed, _ = _run(_config(allow_entries_past_end_date=True), inputs)
    assert [o.market_id for o in allowed.orders] == ["past", "proposed", "good"]


def test_cheaper_without_listed_prices_is_skipped() -> None:
    # Given a market with no outcome prices
    market = make_market("m", prices=(None, None))

    # When CHEAPER is asked for
    output, _ = _run(_config(outcome="CHEAPER"), [market])

    # Then there is nothing to compare, so no entry
    assert output.orders == []
    assert _by_market(output, "skip")["m"]["why"] == "missing_price"


def test_max_positions_counts_holdings_left_after_exits() -> None:
    # Given max 3 positions, 2 held, one of which hits its take profit (bid 0.7 vs avg 0.5)
    holdings = [_holding("h1", cost="50"), _holding("h2", cost="50")]
    books = [
        make_book("h1-yes", bids=[("0.70", "1000")], asks=[("0.72", "1000")]),
        make_book("h2-yes", bids=[("0.50", "1000")], asks=[("0.52", "1000")]),
    ]
    inputs = [make_market(f"n{i}") for i in range(4)]

    # When it runs
    output, _ = _run(
        _config(max_positions=3, take_profit_pct=20),
        inputs,
        holdings=holdings,
        known=[make_market("h1"), make_market("h2")],
        books=books,
    )

    # Then h1 is sold and two new markets are entered: 1 kept + 2 new = 3
    assert [(o.side, o.market_id) for o in output.orders] == [("SELL", "h1"), ("BUY", "n0"), ("BUY", "n1")]
    assert _by_market(output, "skip")["n2"]["why"] == "max_positions"


def test_size_from_pct_of_bankroll_is_capped_by_max_position_usd() -> None:
    # Given 10% of a $5,000 bankroll ($500), capped at $300
    config = _config(position_size_usd=None, position_size_pct=10, max_position_usd=300)

    # When entering two markets with plenty of cash
    output, _ = _run(config, [make_market("a"), make_market("b")], cash="5000", bankroll="5000")

    # Then each order is $300
    assert [o.usd for o in output.orders] == [D(300), D(300)]


def test_entries_keep_the_cash_reserve_and_stop_when_cash_runs_out() -> None:
    # Given $1,000 of bankroll, a 25% reserve ($250) and $650 of cash: $400 is spendable
    config = _config(position_size_usd=150, cash_reserve_pct=25)
    inputs = [make_market(m) for m in ("a", "b", "c", "d")]

    # When it runs
    output, _ = _run(config, inputs, cash="650", bankroll="1000")

    # Then $150 + $150 + the $100 left, and the fourth market is skipped for cash
    assert [o.usd for o in output.orders] == [D(150), D(150), D(100)]
    assert _by_market(output, "skip")["d"] == {
        "market_id": "d",
        "action": "skip",
        "why": "insufficient_cash",
        "spendable_usd": "0",
    }


def test_duplicate_input_markets_are_entered_once() -> None:
    # Given the same market twice (several inputs unite; the runner should dedupe, this is a second line)
    market = make_market("a")

    # When it runs
    output, _ = _run(_config(), [market, market])

    # Then one order
    assert len(output.orders) == 1


# ------------------------------------------------------------------ exits


def test_take_profit_values_the_holding_at_the_best_bid_of_the_real_book() -> None:
    # Given 1,000 Fed No shares bought at 0.80 average; the recorded book's best bid is its last: 0.994
    holding = Holding(
        token_id=FED_NO,
        market_id="fed50",
        outcome="NO",
        outcome_label="No",
        question="Fed 50+ bps?",
        shares=D(1000),
        cost_usd=D(800),
        opened_at=NOW - timedelta(days=10),
    )
    fed = make_market("fed50", no_token=FED_NO)

    # When the orchestrator runs with take profit at 20%
    output, ctx = _run(
        _config(take_profit_pct=20), [], holdings=[holding], known=[fed], books=[recorded_book(FED_NO)]
    )

    # Then it sells every share, for take profit, with the gain in the trace
    (order,) = output.orders
    assert (order.side, order.shares, order.reason) == ("SELL", D(1000), TradeReason.TAKE_PROFIT)
    assert (order.outcome, order.outcome_label) == ("NO", "No")
    exit_line = _by_market(output, "exit")["fed50"]
    assert exit_line["bid"] == "0.994"
    assert exit_line["change_pct"] == "24.25"

    # And the paper broker fills it at the recorded bids
    filled = PaperBroker().fill(
        output.orders, ctx.account, ctx.markets, strategy_id="s1", slot_key="k", now=NOW
    )
    assert filled.trades[0].price == D("0.994")
    assert filled.account.cash_usd == D(1000) + D(994)


def test_stop_loss_and_time_exit() -> None:
    # Given one holding down 30% and one up 1% in a market closing in 2 hours
    holdings = [_holding("down", cost="50"), _holding("late", cost="50")]
    known = [make_market("down"), make_market("late", end_date=NOW + timedelta(hours=2))]
    books = [
        make_book("down-yes", bids=[("0.35", "1000")], asks=[("0.36", "1000")]),
        make_book("late-yes", bids=[("0.505", "1000")], asks=[("0.51", "1000")], tick_size="0.001"),
    ]

    # When it runs with a 15% stop loss and an exit 6 hours before close
    output, _ = _run(
        _config(stop_loss_pct=15, take_profit_pct=50, exit_hours_before_close=6),
        [],
        holdings=holdings,
        known=known,
        books=books,
    )

    # Then both are sold, each with its own reason
    assert {o.market_id: o.reason for o in output.orders} == {
        "down": TradeReason.STOP_LOSS,
        "late": TradeReason.TIME_EXIT,
    }
    assert _by_market(output, "exit")["late"]["hours_to_close"] == "2"


def test_holdings_without_an_exit_condition_are_held_with_the_reason() -> None:
    # Given a holding up 4% with take profit at 20% and stop loss at 15%
    output, _ = _run(
        _config(take_profit_pct=20, stop_loss_pct=15),
        [],
        holdings=[_holding("m", cost="50")],
        known=[make_market("m")],
        books=[make_book("m-yes", bids=[("0.52", "1000")], asks=[("0.53", "1000")])],
    )

    # When / Then nothing is sold and the trace shows the change
    assert output.orders == []
    hold = _by_market(output, "hold")["m"]
    assert (hold["why"], hold["change_pct"]) == ("no_exit_condition", "4")


def test_markets_closed_or_awaiting_resolution_are_left_to_settlement() -> None:
    # Given holdings in a closed market and one whose UMA result is proposed, both deep in loss
    holdings = [_holding("closed", cost="90"), _holding("proposed", cost="90")]
    known = [
        make_market("closed", closed=True, prices=("0.4", "0.6"), uma_resolution_status="proposed"),
        make_market("proposed", prices=("0.4", "0.6"), uma_resolution_status="proposed"),
    ]
    books = [
        make_book(f"{m}-yes", bids=[("0.40", "1000")], asks=[("0.41", "1000")])
        for m in ("closed", "proposed")
    ]

    # When the orchestrator runs with a stop loss
    output, _ = _run(_config(stop_loss_pct=10), [], holdings=holdings, known=known, books=books)

    # Then it sells neither
    assert output.orders == []
    assert {k: v["why"] for k, v in _by_market(output, "hold").items()} == {
        "closed": "awaiting_resolution",
        "proposed": "awaiting_resolution",
    }


def test_a_market_being_exited_is_not_entered_again_in_the_same_run() -> None:
    # Given a held market that hits its stop loss and is also among the filtered inputs
    market = make_market("m")
    output, _ = _run(
        _config(stop_loss_pct=10),
        [market],
        holdings=[_holding("m", cost="50")],
        books=[make_book("m-yes", bids=[("0.30", "1000")], asks=[("0.31", "1000")])],
    )

    # When / Then it is sold and not bought back
    assert [(o.side, o.market_id) for o in output.orders] == [("SELL", "m")]
    assert _by_market(output, "skip")["m"]["why"] == "exiting_this_run"


def test_no_bid_means_no_exit() -> None:
    # Given a holding whose book has only asks
    output, _ = _run(
        _config(stop_loss_pct=10),
        [],
        holdings=[_holding("m", cost="90")],
        known=[make_market("m")],
        books=[make_book("m-yes", asks=[("0.31", "1000")])],
    )

    # When / Then nothing is sold and the trace says why
    assert output.orders == []
    assert _by_market(output, "hold")["m"]["why"] == "no_bid"


def test_summary_comes_first_in_the_decisions() -> None:
    # Given two markets
    output, _ = _run(_config(), [make_market("a"), make_market("b", closed=True)])

    # When / Then the summary line leads, so it survives trace capping
    assert output.decisions[0] == {
        "received": 2,
        "holdings": 0,
        "exits": 0,
        "entries": 1,
        "skipped_by": {"not_accepting_orders": 1},
        "cash_usd": "1000",
    }
