"""Normalized market data shared by nodes, broker and settlement, and the provider interface.

Polymarket quirks are handled where raw JSON is parsed (engine.market.polymarket); everything downstream
sees these types only. YES is a market's first listed outcome, NO its second.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

from engine.clock import Deadline

OrderBy = Literal["volume", "volume_24h", "liquidity", "end_date"]
DEFAULT_MIN_ORDER_SIZE = Decimal(5)
DEFAULT_TICK_SIZE = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class OutcomeToken:
    token_id: str  # always a string: Polymarket token ids overflow 64-bit integers
    label: str  # the market's own word: Yes, Over, Up, a team
    price: Decimal | None  # the market's listed outcome price (outcomePrices), if any


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Taker fee `shares * rate * (p * (1 - p)) ** exponent`."""

    rate: Decimal
    exponent: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class Market:
    market_id: str
    condition_id: str
    question: str
    slug: str
    outcomes: tuple[OutcomeToken, ...]
    volume: Decimal
    volume_24h: Decimal
    liquidity: Decimal
    spread: Decimal | None
    best_bid: Decimal | None  # of the first (YES) outcome, as Gamma reports it
    best_ask: Decimal | None
    end_date: datetime | None
    active: bool
    closed: bool
    accepting_orders: bool
    category: str | None
    tags: tuple[str, ...]
    tick_size: Decimal
    min_order_size: Decimal
    neg_risk: bool
    fees_enabled: bool
    fee_schedule: FeeSchedule | None
    uma_resolution_status: str | None
    updated_at: datetime | None
    event_id: str | None = None  # the first event the market belongs to (account-wide exposure by event)

    @property
    def yes(self) -> OutcomeToken | None:
        return self.outcomes[0] if self.outcomes else None

    @property
    def no(self) -> OutcomeToken | None:
        return self.outcomes[1] if len(self.outcomes) > 1 else None

    @property
    def yes_price(self) -> Decimal | None:
        return self.outcomes[0].price if self.outcomes else None

    @property
    def no_price(self) -> Decimal | None:
        return self.outcomes[1].price if len(self.outcomes) > 1 else None

    def outcome_for_token(self, token_id: str) -> tuple[str, OutcomeToken] | None:
        """("YES" | "NO", token) for one of this market's tokens."""
        for index, token in enumerate(self.outcomes[:2]):
            if token.token_id == token_id:
                return ("YES" if index == 0 else "NO", token)
        return None

    def hours_to_close(self, at: datetime) -> Decimal | None:
        if self.end_date is None:
            return None
        return Decimal((self.end_date - at).total_seconds()) / Decimal(3600)

    def resolution_prices(self) -> dict[str, Decimal] | None:
        """Final price per token when the market is resolved (DESIGN 6), else None.

        Resolved: closed, UMA status `resolved` or absent, and final prices that round to 0 and 1
        (or 0.5 each for a split).
        """
        if not self.closed or self.uma_resolution_status not in (None, "", "resolved"):
            return None
        prices = [t.price for t in self.outcomes[:2]]
        if len(prices) != 2 or any(p is None for p in prices):
            return None
        rounded = [Decimal(round(p * 2)) / 2 for p in prices if p is not None]  # nearest of 0, 0.5, 1
        if sorted(rounded) not in ([Decimal(0), Decimal(1)], [Decimal("0.5"), Decimal("0.5")]):
            return None
        if any(abs(r - p) > Decimal("0.01") for r, p in zip(rounded, prices, strict=True) if p is not None):
            return None
        return {t.token_id: r for t, r in zip(self.outcomes[:2], rounded, strict=True)}

    def awaiting_resolution(self) -> bool:
        """Closed (or disputed / proposed) but not resolved: positions wait for settlement."""
        return (self.closed or self.uma_resolution_status in ("proposed", "disputed")) and (
            self.resolution_prices() is None
        )


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class OrderBook:
    """A CLOB book. Levels keep the real API's order: the best bid and best ask are the LAST levels."""

    token_id: str
    market: str  # condition id
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    timestamp_ms: int
    hash: str
    tick_size: Decimal | None = None
    min_order_size: Decimal | None = None
    synthetic: bool = False  # synthesised by the recorded server, not a real recording
    fetched_at: datetime | None = None

    @property
    def best_bid(self) -> BookLevel | None:
        return self.bids[-1] if self.bids else None

    @property
    def best_ask(self) -> BookLevel | None:
        return self.asks[-1] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        bid, ask = self.best_bid, self.best_ask
        if bid and ask:
            return (bid.price + ask.price) / 2
        if bid:
            return bid.price
        if ask:
            return ask.price
        return None


@dataclass(frozen=True, slots=True)
class MarketQuery:
    """What a DATA_SOURCE asks the snapshot for."""

    active_only: bool = True
    limit: int = 200
    tag: str | None = None
    order_by: OrderBy = "volume"
    ascending: bool = False


class MarketDataProvider(Protocol):
    """The source of market data. Every call is bounded by the caller's deadline.

    Implementations raise engine.errors.MarketDataUnavailable on HTTP errors, timeouts or garbage.
    """

    def list_markets(self, *, active_only: bool, max_markets: int, deadline: Deadline) -> list[Market]:
        """Markets ordered by volume (descending), paginated up to `max_markets`."""
        ...

    def get_markets(self, market_ids: Sequence[str], *, deadline: Deadline) -> list[Market]:
        """The markets with these ids (open or closed), for settlement and marks."""
        ...

    def get_book(self, token_id: str, *, deadline: Deadline) -> OrderBook: ...


@dataclass(frozen=True)
class MarketSet:
    """An immutable list of markets with an id index."""

    markets: tuple[Market, ...]
    by_id: dict[str, Market] = field(default_factory=dict)

    @classmethod
    def of(cls, markets: Iterable[Market]) -> MarketSet:
        items = tuple(markets)
        return cls(items, {m.market_id: m for m in items})


class MarketSource(Protocol):
    """What a run sees of the market: the tick's shared snapshot and its book cache.

    Raises engine.errors.MarketDataUnavailable when the snapshot could not be had (an outage); `book`
    returns None for a token whose book cannot be had (that order is skipped with a reason).
    """

    @property
    def fetched_at(self) -> datetime: ...

    def query(self, query: MarketQuery) -> list[Market]: ...

    def market(self, market_id: str) -> Market | None: ...

    def book(self, token_id: str) -> OrderBook | None: ...
