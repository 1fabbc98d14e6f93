"""The storage-agnostic core of the portfolio stream: catching a ledger state up with the trade ledger, and
the ledger state's storage shape.

A stream record is only a trigger (INTERNALS "Portfolio read model"): whatever records arrive, twice or out
of order, the state advances by exactly the next contiguous seqs of its epoch, each applied once with
`ledger.apply_trade`, so it always equals `ledger.replay` of a prefix of the ledger.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from engine.clock import parse_iso, to_utc
from engine.ledger import (
    RECENT_CLOSED_KEPT,
    ClosedPosition,
    ClosedStats,
    LedgerError,
    LedgerState,
    apply_trade,
)
from engine.models.trading import Holding, Trade
from engine.money import ZERO, to_decimal


def copy_state(state: LedgerState) -> LedgerState:
    """An independent copy: holdings are mutable, closed positions are frozen and shared."""
    return dataclasses.replace(
        state,
        positions={token: holding.model_copy() for token, holding in state.positions.items()},
        closed=list(state.closed),
        closed_stats=dataclasses.replace(state.closed_stats),
        settled_markets=set(state.settled_markets),
    )


def catch_up(state: LedgerState, trades: Iterable[Trade], *, epoch: int) -> tuple[LedgerState, list[Trade]]:
    """Apply, in seq order, the trades of `epoch` that continue `state` without a gap: seq
    `applied_seq + 1`, `+ 2`, ... Duplicates, already applied seqs and other epochs are ignored; a gap stops
    the catch-up (the caller reads the missing seqs from the ledger and calls again).

    Returns a new state and the trades applied; `state` is not changed. Raises LedgerError when a trade cannot
    be applied (the ledger itself is broken) or when two different trades claim the same seq.
    """
    pending: dict[int, Trade] = {}
    for trade in trades:
        if trade.epoch != epoch or trade.seq <= state.applied_seq:
            continue
        seen = pending.setdefault(trade.seq, trade)
        if seen.trade_id != trade.trade_id:
            raise LedgerError(
                f"seq {trade.seq} of epoch {epoch} is both {seen.trade_id} and {trade.trade_id}"
            )
    caught_up = copy_state(state)
    applied: list[Trade] = []
    while (following := pending.get(caught_up.applied_seq + 1)) is not None:
        apply_trade(caught_up, following)
        applied.append(following)
    return caught_up, applied


# Storage shape. Attribute names that also appear on the portfolio read model (`cash_usd`, `wins`, ...) carry
# the same values there, so the state can share the PORTFOLIO item; holdings and closed positions use names
# of their own. Datetimes keep their microseconds so a state read back equals the one written.


def _stored_time(value: datetime) -> str:
    return to_utc(value).isoformat().replace("+00:00", "Z")


def _to_item_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _stored_time(value)
    if isinstance(value, Mapping):
        return {str(k): _to_item_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_item_value(v) for v in value]
    return value


def _optional_decimal(value: Any) -> Decimal | None:
    return None if value is None else to_decimal(value)


def _optional_time(value: Any) -> datetime | None:
    return None if value is None else parse_iso(str(value))


def state_to_item(state: LedgerState) -> dict[str, Any]:
    """The ledger state as DynamoDB attributes: Decimal money, int counters, ISO times, no floats, no sets
    (DynamoDB cannot store an empty set, so settled markets are a sorted list)."""
    return {
        "bankroll_usd": state.bankroll_usd,
        "cash_usd": state.cash_usd,
        "realized_pnl_usd": state.realized_pnl_usd,
        "fees_paid_usd": state.fees_paid_usd,
        "wins": state.wins,
        "losses": state.losses,
        "applied_seq": state.applied_seq,
        "trades_count": state.trades_count,
        "last_trade_at": None if state.last_trade_at is None else _stored_time(state.last_trade_at),
        "holdings": {
            token: _to_item_value(holding.model_dump(mode="python"))
            for token, holding in state.positions.items()
        },
        "closed_positions": [_to_item_value(dataclasses.asdict(c)) for c in state.closed],
        "closed_stats": _stats_to_item(state.closed_stats),
        "settled_markets": sorted(state.settled_markets),
    }


def _stats_to_item(stats: ClosedStats) -> dict[str, Any]:
    values = {
        f.name: getattr(stats, f.name) for f in dataclasses.fields(stats) if f.name not in ("best", "worst")
    }
    for name in ("best", "worst"):
        record = getattr(stats, name)
        values[name] = None if record is None else dataclasses.asdict(record)
    return dict(_to_item_value(values))


def _stats_from_item(item: Mapping[str, Any] | None, closed: list[ClosedPosition]) -> ClosedStats:
    if item is None:
        # a state stored before the aggregates existed kept every closed position: rebuild from them
        stats = ClosedStats()
        for record in closed:
            stats.add(record)
        return stats
    count = int(item["count"])
    squares = _optional_decimal(item.get("pnl_squares_usd"))
    if squares is None and len(closed) == count:
        # stored before SQN's sum was kept, but every closed position is still here: rebuild it from them
        squares = sum((c.pnl_usd * c.pnl_usd for c in closed), ZERO)
    return ClosedStats(
        count=count,
        winners=int(item["winners"]),
        losers=int(item["losers"]),
        gross_profit_usd=to_decimal(item["gross_profit_usd"]),
        gross_loss_usd=to_decimal(item["gross_loss_usd"]),
        pnl_usd=to_decimal(item["pnl_usd"]),
        holding_seconds=to_decimal(item["holding_seconds"]),
        best=None if item.get("best") is None else _closed_from_item(item["best"]),
        worst=None if item.get("worst") is None else _closed_from_item(item["worst"]),
        brier_sum=to_decimal(item["brier_sum"]),
        brier_count=int(item["brier_count"]),
        pnl_squares_usd=squares,
    )


def _closed_from_item(item: Mapping[str, Any]) -> ClosedPosition:
    return ClosedPosition(
        token_id=str(item["token_id"]),
        market_id=str(item["market_id"]),
        outcome=str(item["outcome"]),
        question=str(item.get("question", "")),
        opened_at=parse_iso(str(item["opened_at"])),
        closed_at=parse_iso(str(item["closed_at"])),
        shares=to_decimal(item["shares"]),
        cost_usd=to_decimal(item["cost_usd"]),
        proceeds_usd=to_decimal(item["proceeds_usd"]),
        pnl_usd=to_decimal(item["pnl_usd"]),
        entry_price=to_decimal(item["entry_price"]),
        exit_reason=str(item["exit_reason"]),
        settled_price=_optional_decimal(item.get("settled_price")),
        entry_notional_usd=_optional_decimal(item.get("entry_notional_usd")),
    )


def _holding_from_item(item: Mapping[str, Any]) -> Holding:
    values = dict(item)
    for key in ("opened_at", "end_date"):
        if values.get(key) is not None:
            values[key] = parse_iso(str(values[key]))
    return Holding.model_validate(values)


def state_from_item(item: Mapping[str, Any]) -> LedgerState:
    """The ledger state from `state_to_item`'s attributes as DynamoDB returns them (numbers as Decimal)."""
    closed = [_closed_from_item(c) for c in item.get("closed_positions") or []]
    return LedgerState(
        bankroll_usd=to_decimal(item["bankroll_usd"]),
        cash_usd=to_decimal(item["cash_usd"]),
        positions={str(k): _holding_from_item(v) for k, v in dict(item.get("holdings") or {}).items()},
        realized_pnl_usd=to_decimal(item.get("realized_pnl_usd", 0)),
        fees_paid_usd=to_decimal(item.get("fees_paid_usd", 0)),
        wins=int(item.get("wins", 0)),
        losses=int(item.get("losses", 0)),
        applied_seq=int(item.get("applied_seq", 0)),
        trades_count=int(item.get("trades_count", 0)),
        closed=closed[-RECENT_CLOSED_KEPT:],
        closed_stats=_stats_from_item(item.get("closed_stats"), closed),
        settled_markets={str(m) for m in item.get("settled_markets") or []},
        last_trade_at=_optional_time(item.get("last_trade_at")),
    )
