"""The paper broker: prices orders against the tick's order books into trades (DESIGN 6), and settles.

A BUY walks the asks from the best level (the LAST one in the API's order) towards worse prices until the
order's USD is spent or the next level's price is beyond the slippage cap; a SELL walks the bids the same
way. Every fill records the book it was priced from. Trades are applied to the account one by one, so a
later order sees the cash an earlier one left, and no trade is ever allowed to take cash below zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

from engine.ledger import LedgerError, apply_to_account
from engine.market.types import (
    DEFAULT_MIN_ORDER_SIZE,
    DEFAULT_TICK_SIZE,
    BookLevel,
    Market,
    MarketSource,
)
from engine.models.trading import (
    Account,
    Fill,
    Order,
    Side,
    Trade,
    TradeReason,
    settlement_trade_id,
    trade_id_for,
)
from engine.money import CENT, ONE, SHARE_PLACES, ZERO, shares_floor, usd

BPS = Decimal(10_000)
# VWAPs keep more places than money so `notional = shares x price` stays within a cent of the levels' sum.
PRICE_PLACES = Decimal("0.0000000001")
MARK_PLACES = Decimal("0.000001")
SLIPPAGE_PLACES = Decimal("0.01")
TAGS_KEPT = 5  # tags copied onto a trade for exposure by tag; a market lists a handful


@dataclass
class BrokerResult:
    trades: list[Trade]
    account: Account  # the input account with `trades` applied
    decisions: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Walk:
    """The part of a book an order consumed."""

    shares: Decimal
    cost: Decimal  # sum of level price x shares taken, exact
    levels: int


class _Rejected(Exception):
    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


def _shown(value: Decimal) -> str:
    """Decimals in the trace as plain strings without trailing zeros (JSON and DynamoDB safe)."""
    return format(value.normalize(), "f")


def taker_fee(market: Market | None, shares: Decimal, price: Decimal) -> Decimal:
    """`shares x rate x (p x (1 - p)) ** exponent` from the market's fee schedule; 0 without one or when the
    market has fees disabled."""
    if market is None or market.fee_schedule is None or not market.fees_enabled or shares <= ZERO:
        return ZERO
    schedule = market.fee_schedule
    base = price * (ONE - price)
    if base <= ZERO:
        return ZERO
    factor = ONE if schedule.exponent == ZERO else base**schedule.exponent
    return usd(shares * schedule.rate * factor)


def _walk(
    levels: Sequence[BookLevel],
    *,
    limit: Decimal,
    buy: bool,
    usd_budget: Decimal | None,
    max_shares: Decimal | None,
) -> _Walk:
    """Consume `levels` (best first) up to the limit price, a USD budget or a share count."""
    taken = cost = ZERO
    used = 0
    for level in levels:
        if level.price <= ZERO or level.size <= ZERO:
            continue
        if (buy and level.price > limit) or (not buy and level.price < limit):
            break
        if usd_budget is not None:
            room = shares_floor((usd_budget - cost) / level.price)
        else:
            assert max_shares is not None
            room = max_shares - taken
        take = shares_floor(min(level.size, room))
        if take <= ZERO:
            break
        taken += take
        cost += take * level.price
        used += 1
        if take < level.size:  # the order ran out inside this level
            break
    return _Walk(taken, cost, used)


def _on_grid(price: Decimal, tick: Decimal, *, down: bool) -> Decimal:
    steps = (price / tick).to_integral_value(rounding=ROUND_FLOOR if down else ROUND_CEILING)
    return steps * tick


class PaperBroker:
    """Fills orders on paper against real books. Stateless: one instance serves every run."""

    def __init__(self, max_slippage_bps: Decimal = Decimal(500)) -> None:
        if max_slippage_bps < ZERO:
            raise ValueError("max_slippage_bps must be >= 0")
        self.max_slippage_bps = Decimal(max_slippage_bps)

    # ------------------------------------------------------------------ fills

    def fill(
        self,
        orders: Iterable[Order],
        account: Account,
        markets: MarketSource,
        *,
        strategy_id: str,
        slot_key: str,
        now: datetime,
        execution_id: str | None = None,
    ) -> BrokerResult:
        """Price each order against its token's book, in order; rejected orders leave a reason in
        `decisions` and change nothing."""
        trades: list[Trade] = []
        decisions: list[dict[str, Any]] = []
        seen_ids: set[str] = set()
        for order in orders:
            trade_id = trade_id_for(strategy_id, slot_key, order.market_id, order.outcome, order.side)
            head = {"market_id": order.market_id, "token_id": order.token_id, "side": order.side}
            try:
                if trade_id in seen_ids:
                    # the id is the run's idempotency key: a second order with it would be silently lost
                    raise _Rejected("duplicate_order")
                trade, details = self._price(
                    order,
                    account,
                    markets,
                    stamp={
                        "trade_id": trade_id,
                        "strategy_id": strategy_id,
                        "seq": account.trade_seq + 1,
                        "epoch": account.epoch,
                        "created_at": now,
                        "slot_key": slot_key,
                        "execution_id": execution_id,
                    },
                )
                try:
                    account = apply_to_account(account, [trade])
                except LedgerError as exc:  # the last guard: never a negative cash or an oversold holding
                    raise _Rejected("ledger_refused", error=str(exc)) from exc
            except _Rejected as rejected:
                decisions.append(
                    {**head, "status": "rejected", "reason": rejected.reason, **rejected.details}
                )
                continue
            seen_ids.add(trade_id)
            trades.append(trade)
            decisions.append({**head, "trade_id": trade_id, **details})
        return BrokerResult(trades=trades, account=account, decisions=decisions)

    def _price(
        self, order: Order, account: Account, markets: MarketSource, *, stamp: dict[str, Any]
    ) -> tuple[Trade, dict[str, Any]]:
        """The trade for one order (stamped with its id, seq and time), or _Rejected with the reason."""
        buy = order.side == "BUY"
        if buy and (order.usd is None or order.usd <= ZERO):
            raise _Rejected("invalid_order", why="a BUY needs a positive usd")
        if not buy and (order.shares is None or order.shares <= ZERO):
            raise _Rejected("invalid_order", why="a SELL needs a positive share count")
        market = markets.market(order.market_id)
        if market is None:
            raise _Rejected("market_unavailable")
        if market.closed or not market.accepting_orders:
            raise _Rejected("market_not_accepting_orders")
        found = market.outcome_for_token(order.token_id)
        if found is None:
            raise _Rejected("unknown_token")
        if found[0] != order.outcome:  # a trade must never book one side's token as the other side
            raise _Rejected("outcome_mismatch", token_outcome=found[0])
        book = markets.book(order.token_id)
        if book is None:
            raise _Rejected("no_book")
        side_levels = book.asks if buy else book.bids
        if not side_levels:
            raise _Rejected("no_asks" if buy else "no_bids")
        levels = list(reversed(side_levels))  # the API lists the best level last
        best = levels[0].price
        tick = book.tick_size or market.tick_size or DEFAULT_TICK_SIZE
        min_size = book.min_order_size or market.min_order_size or DEFAULT_MIN_ORDER_SIZE
        limit = self._limit_price(best, tick, buy=buy)
        details: dict[str, Any] = {"status": "filled", "limit_price": _shown(limit)}

        if buy:
            assert order.usd is not None
            walk = _walk(levels, limit=limit, buy=True, usd_budget=order.usd, max_shares=None)

            def cost_of(w: _Walk) -> Decimal:
                notional, fee = self._money(w, market)
                return notional + fee

            if walk.shares > ZERO and cost_of(walk) > account.cash_usd:
                walk = self._largest_affordable(levels, limit, walk.shares, account.cash_usd, cost_of)
                details.update(
                    status="reduced", reason="insufficient_cash", cash_usd=_shown(account.cash_usd)
                )
            elif order.usd - walk.cost >= CENT:
                details.update(
                    status="partial", reason="slippage_cap", unspent_usd=_shown(usd(order.usd - walk.cost))
                )
        else:
            assert order.shares is not None
            holding = account.positions.get(order.token_id)
            if holding is None or holding.shares <= ZERO:
                raise _Rejected("not_held")
            wanted = min(order.shares, holding.shares)
            walk = _walk(levels, limit=limit, buy=False, usd_budget=None, max_shares=wanted)
            if walk.shares < wanted:
                details.update(
                    status="partial", reason="slippage_cap", unfilled_shares=_shown(wanted - walk.shares)
                )

        if walk.shares < min_size:
            raise _Rejected(
                "insufficient_cash" if details["status"] == "reduced" else "below_min_size",
                shares=_shown(walk.shares),
                min_order_size=_shown(min_size),
            )
        price = (walk.cost / walk.shares).quantize(PRICE_PLACES, rounding=ROUND_HALF_EVEN)
        notional, fee = self._money(walk, market)
        slippage = ((price - best) if buy else (best - price)) / best * BPS
        fill = Fill(
            levels=walk.levels,
            vwap=price,
            best_price=best,
            slippage_bps=slippage.quantize(SLIPPAGE_PLACES, rounding=ROUND_HALF_EVEN),
            book_timestamp=book.timestamp_ms,
            book_hash=book.hash,
            synthetic_book=book.synthetic,
        )
        trade = Trade(
            **stamp,
            market_id=order.market_id,
            token_id=order.token_id,
            outcome=order.outcome,
            outcome_label=order.outcome_label,
            question=order.question,
            event_id=market.event_id,
            tags=list(market.tags[:TAGS_KEPT]),
            side=Side.BUY if buy else Side.SELL,
            shares=walk.shares,
            price=price,
            fee_usd=fee,
            notional_usd=notional,
            reason=order.reason,
            fill=fill,
        )
        details.update(
            shares=_shown(walk.shares),
            price=_shown(price),
            fee_usd=_shown(fee),
            notional_usd=_shown(notional),
            levels=walk.levels,
            slippage_bps=_shown(fill.slippage_bps),
        )
        return trade, details

    def _limit_price(self, best: Decimal, tick: Decimal, *, buy: bool) -> Decimal:
        """The worst price the cap allows, on the tick grid (rounded towards the best price)."""
        if buy:
            return max(best, _on_grid(best * (ONE + self.max_slippage_bps / BPS), tick, down=True))
        return min(best, _on_grid(best * (ONE - self.max_slippage_bps / BPS), tick, down=False))

    @staticmethod
    def _money(walk: _Walk, market: Market) -> tuple[Decimal, Decimal]:
        """(notional, fee) of a walk, with notional = shares x VWAP as DESIGN 2 defines it."""
        if walk.shares <= ZERO:
            return ZERO, ZERO
        price = (walk.cost / walk.shares).quantize(PRICE_PLACES, rounding=ROUND_HALF_EVEN)
        return usd(walk.shares * price), taker_fee(market, walk.shares, price)

    @staticmethod
    def _largest_affordable(
        levels: Sequence[BookLevel],
        limit: Decimal,
        max_shares: Decimal,
        cash: Decimal,
        cost_of: Callable[[_Walk], Decimal],
    ) -> _Walk:
        """The biggest walk (to the share's last decimal) whose notional + fee fits in `cash`.

        Fees depend on the VWAP, which moves with the size, so the size is found by bisection on whole
        micro-shares rather than by dividing the cash by a price.
        """
        unit = SHARE_PLACES
        lo, hi = 0, int(max_shares / unit)
        best = _Walk(ZERO, ZERO, 0)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            walk = _walk(levels, limit=limit, buy=True, usd_budget=None, max_shares=mid * unit)
            if cost_of(walk) <= cash:
                lo, best = mid, walk
            else:
                hi = mid - 1
        return best

    # ------------------------------------------------------------- settlement

    def settle(
        self, account: Account, markets: Mapping[str, Market], *, strategy_id: str, now: datetime
    ) -> BrokerResult:
        """SETTLE every holding whose market is resolved, at its resolution price, with no fee.

        The trade id has no slot in it, so however many runs see the resolution, a position settles once.
        """
        trades: list[Trade] = []
        decisions: list[dict[str, Any]] = []
        for holding in sorted(account.positions.values(), key=lambda h: (h.market_id, h.outcome, h.token_id)):
            market = markets.get(holding.market_id)
            prices = market.resolution_prices() if market is not None else None
            if market is None or prices is None:
                if market is not None and market.awaiting_resolution():
                    decisions.append(
                        {
                            "market_id": holding.market_id,
                            "token_id": holding.token_id,
                            "status": "awaiting_resolution",
                        }
                    )
                continue
            price = prices.get(holding.token_id)
            if price is None:  # a token the market does not list as a binary outcome
                decisions.append(
                    {"market_id": holding.market_id, "token_id": holding.token_id, "status": "unknown_token"}
                )
                continue
            trade = Trade(
                trade_id=settlement_trade_id(strategy_id, holding.market_id, holding.outcome, account.epoch),
                strategy_id=strategy_id,
                seq=account.trade_seq + 1,
                epoch=account.epoch,
                market_id=holding.market_id,
                token_id=holding.token_id,
                outcome=holding.outcome,
                outcome_label=holding.outcome_label,
                question=holding.question,
                side=Side.SETTLE,
                shares=holding.shares,
                price=price,
                fee_usd=ZERO,
                notional_usd=usd(holding.shares * price),
                created_at=now,
                reason=TradeReason.RESOLUTION,
            )
            account = apply_to_account(account, [trade])
            trades.append(trade)
            decisions.append(
                {
                    "market_id": holding.market_id,
                    "token_id": holding.token_id,
                    "status": "settled",
                    "price": _shown(price),
                    "shares": _shown(holding.shares),
                    "trade_id": trade.trade_id,
                }
            )
        return BrokerResult(trades=trades, account=account, decisions=decisions)

    # ------------------------------------------------------------------ marks

    def marks(self, account: Account, markets: MarketSource) -> dict[str, dict[str, Any]]:
        """{token_id: {"price", "status"}} for each holding.

        An open market is marked at its book's mid; a closed one (or one without a book) at its listed
        outcome price, since a closed market's book is what was left behind, not a price. A holding with
        neither gets no mark (the portfolio then values it at cost).
        """
        result: dict[str, dict[str, Any]] = {}
        for token_id, holding in account.positions.items():
            market = markets.market(holding.market_id)
            listed = None
            if market is not None:
                found = market.outcome_for_token(token_id)
                listed = found[1].price if found else None
            price: Decimal | None = None
            if market is None or not (market.closed or market.awaiting_resolution()):
                book = markets.book(token_id)
                price = book.mid if book is not None else None
            if price is None:
                price = listed
            if price is None:
                continue
            awaiting = market is not None and market.awaiting_resolution()
            result[token_id] = {
                "price": price.quantize(MARK_PLACES, rounding=ROUND_HALF_EVEN),
                "status": "awaiting_resolution" if awaiting else "open",
            }
        return result
