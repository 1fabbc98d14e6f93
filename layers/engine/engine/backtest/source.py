"""The past as a MarketSource: the universe, prices and books as they were at one slot, and no later.

A market is visible only between its start and its close (no survivorship bias). Its outcome prices at a
slot are the last history point at or before the slot (the first outcome's series; the second outcome is its
complement). Books are synthesised from that price with the fill model, so the paper broker fills them with
its own rules (tick, minimum size, fees). After its close a market shows its final state, from which the
broker settles at 1/0 or the split; a market past its end date that had not closed waits for resolution.
Fields with no history (volume, liquidity, spread, bid/ask) carry the values known now only when the
backtest allows proxies, and are blanked otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

from engine.backtest.history import PriceSeries
from engine.market.snapshot import order_markets
from engine.market.types import (
    INTERVAL_SECONDS,
    BookLevel,
    HistoryWindow,
    Market,
    MarketEvent,
    MarketQuery,
    OrderBook,
    OutcomeToken,
    PriceHistory,
    PricePoint,
)
from engine.money import ONE, ZERO

BPS = Decimal(10_000)
BOOK_DEPTH = Decimal(1_000_000_000)  # one deep level: the model prices the fill, not the book's depth
PRICE_PLACES = Decimal("0.000001")
STATE_CACHE_SIZE = 200_000


@dataclass(frozen=True)
class FillModel:
    """How a backtest fills: the price at the slot, plus half the spread and the slippage, on each side."""

    half_spread_bps: Decimal = Decimal(100)
    slippage_bps: Decimal = Decimal(25)
    fees: Literal["market", "none"] = "market"

    def ask(self, price: Decimal) -> Decimal:
        return min(ONE, price * (ONE + (self.half_spread_bps + self.slippage_bps) / BPS)).quantize(
            PRICE_PLACES, rounding=ROUND_HALF_EVEN
        )

    def bid(self, price: Decimal) -> Decimal:
        return max(ZERO, price * (ONE - (self.half_spread_bps + self.slippage_bps) / BPS)).quantize(
            PRICE_PLACES, rounding=ROUND_HALF_EVEN
        )


_MARKET_FIELDS = tuple(f.name for f in fields(Market))


def _setter(cls: type, name: str) -> Callable[[object, object], None]:
    """A field's slot descriptor setter: setting a frozen slotted dataclass's fields through them skips the
    frozen __setattr__ and the keyword plumbing of __init__ / dataclasses.replace (a slot builds hundreds of
    states; the objects are the same, field for field)."""
    setter: Callable[[object, object], None] = getattr(cls, name).__set__
    return setter


_SLOT_SETTERS = {name: _setter(Market, name) for name in _MARKET_FIELDS}
_new = object.__new__

Template = tuple[tuple[Callable[[object, object], None], object], ...]


def _with_outcomes(template: Template, outcomes: tuple[OutcomeToken, ...]) -> Market:
    """A market from a template's (setter, value) pairs with other outcome prices: what `dataclasses.replace`
    does, a few times faster."""
    state = _new(Market)
    for set_field, value in template:
        set_field(state, value)
    _SLOT_SETTERS["outcomes"](state, outcomes)
    return state


_set_token_id = _setter(OutcomeToken, "token_id")
_set_label = _setter(OutcomeToken, "label")
_set_price = _setter(OutcomeToken, "price")


def _token(token_id: str, label: str, price: Decimal) -> OutcomeToken:
    """OutcomeToken(token_id, label, price), through the slot descriptors (as `_with_outcomes`)."""
    token = _new(OutcomeToken)
    _set_token_id(token, token_id)
    _set_label(token, label)
    _set_price(token, price)
    return token


def _pairs(market: Market) -> Template:
    return tuple(
        (_SLOT_SETTERS[name], getattr(market, name)) for name in _MARKET_FIELDS if name != "outcomes"
    )


def _ts(at: datetime | None) -> float | None:
    """Epoch seconds, an int when whole (compared with a slot's int seconds: exact, as the datetimes)."""
    if at is None:
        return None
    ts = at.timestamp()
    return int(ts) if ts.is_integer() else ts


@dataclass(frozen=True)
class _Phases:
    """One market's states, all but the prices fixed in advance: trading, waiting for resolution, final; and
    the times that pick one (epoch seconds: a slot compares numbers, not datetimes)."""

    final: Market
    trading: Template
    awaiting: Template
    close: datetime | None
    series: PriceSeries | None
    start_ts: float | None  # not visible before
    final_ts: float | None  # its final state from (closed markets: their close)
    close_ts: float | None  # trading until (then awaiting resolution)


class HistoricalUniverse:
    """Every market the backtest may see (each in its final state) and the first outcome's price series."""

    def __init__(
        self,
        markets: Iterable[Market],
        series: dict[str, PriceSeries],
        *,
        fill_model: FillModel,
        allow_proxies: bool,
    ) -> None:
        self.markets = [m for m in markets if len(m.outcomes) >= 2 and m.outcomes[0].token_id]
        self.series = series
        self.fill_model = fill_model
        self.allow_proxies = allow_proxies
        self.by_id = {m.market_id: m for m in self.markets}
        self.token_market = {t.token_id: m.market_id for m in self.markets for t in m.outcomes[:2]}
        self.phases = {m.market_id: self._phases(m) for m in self.markets}
        # the state of a market at a price: reused by every slot that sees the same price (a coarse history
        # shows one price for many slots), bounded so a long fine-grained backtest does not hoard them
        self.states: dict[tuple[str, Decimal, bool], Market] = {}

    def _phases(self, final: Market) -> _Phases:
        charged = self.fill_model.fees == "market"
        base = self._blank(
            replace(
                final,
                fee_schedule=final.fee_schedule if charged else None,
                fees_enabled=final.fees_enabled if charged else False,
            )
        )
        trading = replace(base, active=True, closed=False, accepting_orders=True, uma_resolution_status=None)
        # past its end date but not closed yet: it waits for resolution, it is not resolved
        awaiting = replace(
            base, active=True, closed=True, accepting_orders=False, uma_resolution_status="proposed"
        )
        close = _close(final)
        return _Phases(
            final=base,
            trading=_pairs(trading),
            awaiting=_pairs(awaiting),
            close=close,
            series=self.series.get(final.outcomes[0].token_id),
            start_ts=_ts(final.start_date),
            final_ts=_ts(final.closed_time) if final.closed else None,
            close_ts=_ts(close),
        )

    def _blank(self, market: Market) -> Market:
        if self.allow_proxies:
            return market
        return replace(
            market,
            volume=ZERO,
            volume_24h=ZERO,
            liquidity=ZERO,
            spread=None,
            best_bid=None,
            best_ask=None,
            last_trade_price=None,
            price_change_1h=None,
            price_change_24h=None,
            price_change_7d=None,
        )

    def at(self, slot: datetime) -> SlotView:
        return SlotView(self, slot)


def _close(market: Market) -> datetime | None:
    """When trading stopped: its end date, or its close when it closed earlier."""
    if (
        market.closed
        and market.closed_time is not None
        and (market.end_date is None or market.closed_time < market.end_date)
    ):
        return market.closed_time
    return market.end_date


_UNSEEN: Market | None = _new(Market)  # a view's "not looked at yet" (None means "not visible")


class SlotView:
    """The MarketSource (with `prefetch`) one backtest run sees: the universe at `slot`."""

    def __init__(self, universe: HistoricalUniverse, slot: datetime) -> None:
        self._u = universe
        self._slot = slot
        self._slot_ts = int(slot.timestamp())  # an int: the series' times are ints (no mixed compares)
        self._states: dict[str, Market | None] = {}
        self.book_reads = 0

    @property
    def fetched_at(self) -> datetime:
        return self._slot

    def _state(self, market: Market) -> Market | None:
        """The market as it was at the slot; None before it started or while it has no price yet."""
        market_id = market.market_id
        state = self._states.get(market_id, _UNSEEN)
        if state is _UNSEEN:
            state = self._states[market_id] = self._build(market_id, market)
        return state

    def _build(self, market_id: str, final: Market) -> Market | None:
        slot_ts = self._slot_ts
        phases = self._u.phases[market_id]
        if phases.start_ts is not None and slot_ts < phases.start_ts:
            return None
        if phases.final_ts is not None and slot_ts >= phases.final_ts:
            return phases.final
        series = phases.series
        point = series.index_at_or_before(slot_ts) if series is not None else None
        if point is None:
            return None
        assert series is not None
        price = series.price(point)
        trading = phases.close_ts is None or slot_ts < phases.close_ts
        key = (market_id, price, trading)
        states = self._u.states
        cached = states.get(key)
        if cached is not None:
            return cached
        yes, no = final.outcomes[0], final.outcomes[1]
        outcomes = (
            _token(yes.token_id, yes.label, price),
            _token(no.token_id, no.label, ONE - price),
            *final.outcomes[2:],
        )
        state = _with_outcomes(phases.trading if trading else phases.awaiting, outcomes)
        if len(states) >= STATE_CACHE_SIZE:
            states.clear()
        states[key] = state
        return state

    # -- MarketSource

    def query(self, query: MarketQuery) -> list[Market]:
        visible: list[Market] = []
        for final in self._u.markets:
            state = self._state(final)
            if state is None:
                continue
            if query.active_only and (state.closed or not state.accepting_orders):
                continue
            if query.tag is not None:
                wanted = query.tag.casefold()
                if not any(t.casefold() == wanted for t in state.tags) and (
                    state.category is None or state.category.casefold() != wanted
                ):
                    continue
            visible.append(state)
        return order_markets(visible, query.order_by, ascending=query.ascending)[: max(query.limit, 0)]

    def market(self, market_id: str) -> Market | None:
        final = self._u.by_id.get(market_id)
        return self._state(final) if final is not None else None

    def prefetch(self, market_ids: Iterable[str]) -> list[Market]:
        found = (self.market(m) for m in dict.fromkeys(market_ids))
        return [m for m in found if m is not None]

    def book(self, token_id: str) -> OrderBook | None:
        """A one-level book around the token's price at the slot (the fill model's half-spread+slippage)."""
        self.book_reads += 1
        market_id = self._u.token_market.get(token_id)
        state = self.market(market_id) if market_id is not None else None
        if state is None or state.closed:
            return None
        found = state.outcome_for_token(token_id)
        if found is None or found[1].price is None:
            return None
        price = found[1].price
        model = self._u.fill_model
        ask, bid = model.ask(price), model.bid(price)
        slot_ms = int(self._slot.timestamp() * 1000)
        return OrderBook(
            token_id=token_id,
            market=state.condition_id,
            bids=(BookLevel(bid, BOOK_DEPTH),) if bid > ZERO else (),
            asks=(BookLevel(ask, BOOK_DEPTH),),
            timestamp_ms=slot_ms,
            hash=f"backtest:{price}",
            tick_size=state.tick_size,
            min_order_size=state.min_order_size,
            synthetic=True,
            fetched_at=self._slot,
        )

    def price_history(self, token_id: str, window: HistoryWindow) -> PriceHistory | None:
        """The token's points in the window, cut at the slot: an `interval` ends at the slot, a range is
        clipped to it. The second outcome's series is the complement of the first's."""
        market_id = self._u.token_market.get(token_id)
        final = self._u.by_id.get(market_id) if market_id is not None else None
        if final is None:
            return None
        series = self._u.series.get(final.outcomes[0].token_id)
        if series is None:
            return None
        slot_ts = int(self._slot.timestamp())
        if window.interval is not None:
            lo, hi = slot_ts - INTERVAL_SECONDS[window.interval], slot_ts
        else:
            lo, hi = window.start_ts or 0, min(window.end_ts or slot_ts, slot_ts)
        points = series.between(lo, hi)
        if token_id != final.outcomes[0].token_id:
            points = tuple(PricePoint(p.t, ONE - p.p) for p in points)
        return PriceHistory(token_id=token_id, points=points)

    def events(self, *, slug: str | None = None, tag_slug: str | None = None) -> list[MarketEvent]:
        """The events of the markets trading at the slot, from their event fields (as Gamma groups them)."""
        grouped: dict[str, list[Market]] = {}
        for final in self._u.markets:
            state = self._state(final)
            if state is None or state.closed or state.event_id is None:
                continue
            if slug is not None and state.event_slug != slug:
                continue
            if tag_slug is not None and tag_slug.casefold() not in (t.casefold() for t in state.tags):
                continue
            grouped.setdefault(state.event_id, []).append(state)
        return [
            MarketEvent(
                event_id=event_id,
                slug=markets[0].event_slug or "",
                title=markets[0].event_title or "",
                tags=markets[0].tags,
                markets=tuple(markets),
            )
            for event_id, markets in grouped.items()
        ]


def tokens_to_load(markets: Sequence[Market], start: datetime, end: datetime) -> list[str]:
    """The first outcome's token of every market that could be visible between start and end."""
    wanted: list[str] = []
    for market in markets:
        if len(market.outcomes) < 2:
            continue
        if market.start_date is not None and market.start_date > end:
            continue
        close = _close(market)
        if close is not None and close < start and not market.closed:
            continue
        if market.closed and market.closed_time is not None and market.closed_time < start:
            continue
        wanted.append(market.outcomes[0].token_id)
    return wanted
