"""Catching the portfolio ledger state up from stream records: exactly once, in order, equal to the replay."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.ledger import LedgerError, LedgerState, apply_trade, replay
from engine.models.trading import Side, Trade, TradeReason
from engine.services.portfolio_sync import catch_up, state_from_item, state_to_item
from tests.unit.test_portfolio import BANKROLL, T0, hand_ledger, hand_state, trade

D = Decimal
EPOCH = 1
STRATEGIES = ("s-0", "s-1", "s-2")
TOKENS = ("A", "B", "C", "D")


def through_dynamodb(item: dict[str, Any]) -> dict[str, Any]:
    """The item as boto3 would write and read it back (ints come back as Decimal, floats are refused)."""
    serializer, deserializer = TypeSerializer(), TypeDeserializer()
    return {key: deserializer.deserialize(serializer.serialize(value)) for key, value in item.items()}


def in_epoch(t: Trade, epoch: int, strategy_id: str = "s-1") -> Trade:
    return t.model_copy(
        update={"epoch": epoch, "strategy_id": strategy_id, "trade_id": f"{t.trade_id}-e{epoch}"}
    )


# --- examples -------------------------------------------------------------------------------------------


def test_catch_up_applies_contiguous_seqs_and_stops_at_a_gap() -> None:
    # Given a fresh state and records for seqs 1, 2 and 4 (3 not delivered yet)
    ledger = [in_epoch(t, EPOCH) for t in hand_ledger()]
    records = [ledger[0], ledger[1], ledger[3]]

    # When the state catches up
    state, applied = catch_up(LedgerState.opening(BANKROLL), records, epoch=EPOCH)

    # Then 1 and 2 are applied, 4 waits for 3
    assert [t.seq for t in applied] == [1, 2]
    assert state.applied_seq == 2
    assert state == replay(BANKROLL, ledger[:2])


def test_catch_up_ignores_duplicates_applied_seqs_and_other_epochs() -> None:
    # Given a state at seq 2 and records that repeat 1..3, twice, shuffled, plus old-epoch trades
    ledger = [in_epoch(t, EPOCH) for t in hand_ledger()]
    old_epoch = [in_epoch(t, EPOCH - 1) for t in hand_ledger()[:4]]
    state = replay(BANKROLL, ledger[:2])
    records = [ledger[2], ledger[0], *old_epoch, ledger[2], ledger[1], ledger[0]]

    # When the state catches up
    caught_up, applied = catch_up(state, records, epoch=EPOCH)

    # Then only seq 3 is applied, once
    assert [t.trade_id for t in applied] == [ledger[2].trade_id]
    assert caught_up == replay(BANKROLL, ledger[:3])


def test_catch_up_leaves_the_given_state_unchanged() -> None:
    # Given a state at seq 2
    ledger = [in_epoch(t, EPOCH) for t in hand_ledger()]
    state = replay(BANKROLL, ledger[:2])
    before = replay(BANKROLL, ledger[:2])

    # When it catches up with the rest
    caught_up, applied = catch_up(state, ledger, epoch=EPOCH)

    # Then the input is as it was and the result is the full replay
    assert state == before
    assert len(applied) == 11
    assert caught_up == replay(BANKROLL, ledger)


def test_two_trades_claiming_one_seq_are_refused() -> None:
    # Given two different trades with seq 1
    ledger = [in_epoch(t, EPOCH) for t in hand_ledger()]
    impostor = ledger[0].model_copy(update={"trade_id": "other"})

    # When / Then catching up refuses the broken ledger
    with pytest.raises(LedgerError, match="seq 1"):
        catch_up(LedgerState.opening(BANKROLL), [ledger[0], impostor], epoch=EPOCH)


def test_state_survives_a_round_trip_through_dynamodb_types() -> None:
    # Given the hand state: open and closed positions, partial sells, settled markets, sub-second times
    state = replay(
        BANKROLL,
        [
            t.model_copy(update={"created_at": t.created_at.replace(microsecond=123_456)})
            for t in hand_ledger()
        ],
    )

    # When it is stored and read back
    item = through_dynamodb(state_to_item(state))
    restored = state_from_item(item)

    # Then it is the same state, and numbers were stored as DynamoDB numbers
    assert restored == state
    assert restored.closed[0].entry_notional_usd == D(40)
    assert item["applied_seq"] == D(13)
    assert item["settled_markets"] == ["m-A", "m-B"]
    assert hand_state().cash_usd == restored.cash_usd


# --- properties -----------------------------------------------------------------------------------------

# A small bankroll, so that the cash condition refuses some buys.
SMALL_BANKROLL = D(100)

op = st.tuples(
    st.sampled_from(["buy", "buy", "sell", "settle"]),
    st.sampled_from(TOKENS),
    st.integers(min_value=1, max_value=60),  # shares
    st.integers(min_value=1, max_value=99),  # price in cents
    st.integers(min_value=0, max_value=40),  # fee in cents
    st.sampled_from([D("0.25"), D("0.5"), D(1)]),  # part of the holding sold
    st.sampled_from([D(0), D(1), D("0.5")]),  # settlement price
)


def build_ledger(
    strategy_id: str, ops: list[tuple[str, str, int, int, int, Decimal, Decimal]]
) -> list[Trade]:
    """A valid ledger from random intentions: what the account would have let through (no negative cash, no
    selling what is not held, no buying into a settled market), with contiguous seqs."""
    state = LedgerState.opening(SMALL_BANKROLL)
    ledger: list[Trade] = []
    settled: set[str] = set()
    for kind, token, shares, cents, fee_cents, part, settle_price in ops:
        seq = len(ledger) + 1
        at = T0 + timedelta(minutes=7 * seq)
        held = state.positions[token].shares if token in state.positions else D(0)
        if kind == "buy":
            if token in settled:
                continue
            t = trade(seq, Side.BUY, token, str(shares), str(D(cents) / 100), str(D(fee_cents) / 100), at)
        elif kind == "sell":
            if not held:
                continue
            sold = (held * part).quantize(D("0.000001"))
            if not sold:
                continue
            fee = min(D(fee_cents) / 1000, sold * D(cents) / 100)
            t = trade(
                seq, Side.SELL, token, str(sold), str(D(cents) / 100), str(fee), at, TradeReason.TAKE_PROFIT
            )
        else:
            if not held:
                continue
            t = trade(seq, Side.SETTLE, token, str(held), str(settle_price), "0", at, TradeReason.RESOLUTION)
            settled.add(token)
        t = t.model_copy(
            update={"strategy_id": strategy_id, "epoch": EPOCH, "trade_id": f"{strategy_id}-{seq}"}
        )
        try:
            apply_trade(state, t)
        except LedgerError:
            continue  # the account's cash condition would have refused it
        ledger.append(t)
    return ledger


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[dict[str, list[Trade]], list[list[Trade]]]:
    """Three strategies' ledgers, and their stream records (with duplicates and old-epoch records)
    shuffled across strategies and cut into batches."""
    ledgers = {sid: build_ledger(sid, draw(st.lists(op, min_size=4, max_size=30))) for sid in STRATEGIES}
    records = [t for ledger in ledgers.values() for t in ledger]
    # records left from the previous epoch (a redeploy started a fresh portfolio): other trades, same seqs
    stale = [
        in_epoch(t, EPOCH - 1, sid)
        for sid in STRATEGIES
        for t in build_ledger(sid, draw(st.lists(op, max_size=4)))
    ]
    duplicates = draw(st.lists(st.sampled_from(records), max_size=10)) if records else []
    shuffled = draw(st.permutations([*records, *stale, *duplicates]))
    batches: list[list[Trade]] = []
    while shuffled:
        size = draw(st.integers(min_value=1, max_value=8))
        batches.append(list(shuffled[:size]))
        shuffled = shuffled[size:]
    return ledgers, batches


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_any_delivery_order_ends_equal_to_the_replay_of_each_ledger(
    delivered: tuple[dict[str, list[Trade]], list[list[Trade]]],
) -> None:
    # Given three strategies' ledgers and their records delivered shuffled, duplicated, in batches
    ledgers, batches = delivered
    stored = {sid: through_dynamodb(state_to_item(LedgerState.opening(SMALL_BANKROLL))) for sid in STRATEGIES}
    written = dict.fromkeys(STRATEGIES, 0)  # the ledger holds at least every seq a record was seen for

    # When each batch is processed like the stream does: per strategy, catch up with the records, and
    # when a gap stops it, re-read the trades after applied_seq from the ledger and catch up again
    for batch in batches:
        by_strategy: dict[str, list[Trade]] = defaultdict(list)
        for record in batch:
            by_strategy[record.strategy_id].append(record)
        for sid, records in by_strategy.items():
            current = [r.seq for r in records if r.epoch == EPOCH]
            written[sid] = max([written[sid], *current])
            state, _ = catch_up(state_from_item(stored[sid]), records, epoch=EPOCH)
            if any(seq > state.applied_seq for seq in current):
                missing = [t for t in ledgers[sid] if state.applied_seq < t.seq <= written[sid]]
                state, _ = catch_up(state, missing, epoch=EPOCH)
            assert state.cash_usd >= 0
            assert state == replay(SMALL_BANKROLL, ledgers[sid][: state.applied_seq])
            stored[sid] = through_dynamodb(state_to_item(state))

    # Then every strategy's state equals the replay of its whole ledger
    for sid in STRATEGIES:
        state = state_from_item(stored[sid])
        expected = replay(SMALL_BANKROLL, ledgers[sid])
        assert (state.cash_usd, state.realized_pnl_usd, state.wins, state.losses) == (
            expected.cash_usd,
            expected.realized_pnl_usd,
            expected.wins,
            expected.losses,
        )
        assert state.positions == expected.positions
        assert state == expected
