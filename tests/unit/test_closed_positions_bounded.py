"""The stored ledger state stays bounded however many positions close; the metrics still cover them all."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from boto3.dynamodb.types import TypeSerializer

from engine.ledger import RECENT_CLOSED_KEPT, replay
from engine.models.trading import Side, Trade, TradeReason
from engine.performance import compute_performance
from engine.services.portfolio_sync import state_from_item, state_to_item

T0 = datetime(2026, 2, 7, 12, 0, tzinfo=UTC)
ROUND_TRIPS = 500


def _trade(seq: int, market: int, side: Side, price: str, at: datetime) -> Trade:
    shares = Decimal(100)
    return Trade(
        trade_id=f"t{seq}",
        strategy_id="s",
        seq=seq,
        market_id=f"m{market}",
        token_id=f"tok{market}",
        outcome="YES",
        outcome_label="Yes",
        question=f"Will market {market} resolve yes? " + "x" * 80,
        side=side,
        shares=shares,
        price=Decimal(price),
        fee_usd=Decimal(0),
        notional_usd=shares * Decimal(price),
        created_at=at,
        reason=TradeReason.ENTRY if side is Side.BUY else TradeReason.RESOLUTION,
    )


def _ledger() -> list[Trade]:
    # Each market: buy 100 at 0.40, then settle at 1 (every third market) or 0.
    trades = []
    for market in range(ROUND_TRIPS):
        at = T0 + timedelta(minutes=market)
        trades.append(_trade(2 * market + 1, market, Side.BUY, "0.40", at))
        won = market % 3 == 0
        trades.append(
            _trade(2 * market + 2, market, Side.SETTLE, "1" if won else "0", at + timedelta(hours=1))
        )
    return trades


def test_state_keeps_recent_closed_positions_in_full_and_aggregates_all_of_them() -> None:
    # Given
    state = replay(Decimal(100_000), _ledger())
    # When
    stored = state_to_item(state)
    size = len(json.dumps(TypeSerializer().serialize(stored), default=str))
    restored = state_from_item(stored)
    # Then: bounded far below DynamoDB's 400 KB item limit, with every round trip counted
    assert len(restored.closed) == RECENT_CLOSED_KEPT
    assert restored.closed_stats.count == ROUND_TRIPS
    assert size < 100_000
    assert restored.closed_stats == state.closed_stats


def test_metrics_cover_every_closed_position_not_only_the_recent_ones() -> None:
    # Given: 167 winners (+60 each) and 333 losers (-40 each), all held one hour
    state = state_from_item(state_to_item(replay(Decimal(100_000), _ledger())))
    # When
    perf = compute_performance(state, [], bankroll=Decimal(100_000), open_positions=[])
    # Then
    assert (perf.closed_trades_count, perf.wins, perf.losses) == (500, 167, 333)
    assert perf.closed_profit_usd == Decimal(167 * 60 - 333 * 40)
    assert perf.profit_factor == (Decimal(167 * 60) / Decimal(333 * 40)).quantize(Decimal("0.000001"))
    assert perf.avg_holding_seconds == 3600
    # Brier: winners (0.4 - 1)^2 = 0.36, losers (0.4 - 0)^2 = 0.16
    assert perf.brier_score == ((Decimal("0.36") * 167 + Decimal("0.16") * 333) / 500).quantize(
        Decimal("0.000001")
    )
    assert perf.resolved_positions_count == 500


def _without_sqn_sum(stored: dict[str, object]) -> dict[str, object]:
    """The item as a state written before the ledger kept SQN's running sum of squares."""
    old = dict(stored)
    stats = dict(old["closed_stats"])  # type: ignore[call-overload]
    del stats["pnl_squares_usd"]
    old["closed_stats"] = stats
    return old


def test_a_state_stored_before_the_sqn_sum_reads_with_every_other_metric_and_a_null_sqn() -> None:
    # Given a state of 500 round trips (only the last 50 kept in full) stored without the sum of squares
    state = replay(Decimal(100_000), _ledger())
    old = _without_sqn_sum(state_to_item(state))

    # When it is read back and measured
    restored = state_from_item(old)
    perf = compute_performance(restored, [], bankroll=Decimal(100_000), open_positions=[])
    exact = compute_performance(state, [], bankroll=Decimal(100_000), open_positions=[])

    # Then SQN is unknown (the 450 positions no longer kept cannot give their spread), the rest is exact
    assert restored.closed_stats.pnl_squares_usd is None
    assert perf.sqn is None and exact.sqn is not None
    assert perf.model_dump(exclude={"sqn"}) == exact.model_dump(exclude={"sqn"})
    # and later closed positions neither fail nor make up a spread
    restored.closed_stats.add(state.closed[-1])
    assert restored.closed_stats.pnl_squares_usd is None


def test_a_state_stored_before_the_sqn_sum_that_kept_every_closed_position_rebuilds_it() -> None:
    # Given a state of 30 round trips, all still kept in full, stored without the sum of squares
    state = replay(Decimal(100_000), _ledger()[:60])
    old = _without_sqn_sum(state_to_item(state))

    # When it is read back
    restored = state_from_item(old)

    # Then the sum is rebuilt from them and SQN is the one the complete state gives
    assert restored.closed_stats == state.closed_stats
    bankroll = Decimal(100_000)
    assert compute_performance(restored, [], bankroll=bankroll, open_positions=[]).sqn == (
        compute_performance(state, [], bankroll=bankroll, open_positions=[]).sqn
    )
