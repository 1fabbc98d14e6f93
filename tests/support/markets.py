"""Test builders for market data: a Market with valid defaults, an in-memory MarketSource, a RunContext."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from engine.clock import Deadline
from engine.market.types import (
    HistoryWindow,
    Market,
    MarketEvent,
    MarketQuery,
    OrderBook,
    OutcomeToken,
    PriceHistory,
)
from engine.models.trading import Account
from engine.nodes.base import RunContext

SLOT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
_DECIMAL_FIELDS = frozenset(
    {"volume", "volume_24h", "liquidity", "spread", "best_bid", "best_ask", "tick_size", "min_order_size"}
)


def make_market(market_id: str = "m1", **overrides: Any) -> Market:
    """A live binary market; `yes_price`/`no_price`/`labels` shape its two outcomes."""
    yes_price = overrides.pop("yes_price", Decimal("0.40"))
    no_price = overrides.pop("no_price", None if yes_price is None else Decimal(1) - Decimal(str(yes_price)))
    labels = overrides.pop("labels", ("Yes", "No"))
    values: dict[str, Any] = {
        "market_id": market_id,
        "condition_id": f"0xcond{market_id}",
        "question": f"Will {market_id} happen?",
        "slug": f"will-{market_id}-happen",
        "outcomes": (
            OutcomeToken(
                f"{market_id}-yes", labels[0], None if yes_price is None else Decimal(str(yes_price))
            ),
            OutcomeToken(f"{market_id}-no", labels[1], None if no_price is None else Decimal(str(no_price))),
        ),
        "volume": Decimal(50_000),
        "volume_24h": Decimal(5_000),
        "liquidity": Decimal(20_000),
        "spread": Decimal("0.01"),
        "best_bid": Decimal("0.39"),
        "best_ask": Decimal("0.41"),
        "end_date": SLOT + timedelta(days=30),
        "active": True,
        "closed": False,
        "accepting_orders": True,
        "category": "Politics",
        "tags": ("politics",),
        "tick_size": Decimal("0.01"),
        "min_order_size": Decimal(5),
        "neg_risk": False,
        "fees_enabled": False,
        "fee_schedule": None,
        "uma_resolution_status": None,
        "updated_at": SLOT,
    }
    for key, value in overrides.items():
        exact = key in _DECIMAL_FIELDS and value is not None
        values[key] = Decimal(str(value)) if exact else value
    return Market(**values)


class InMemoryMarkets:
    """A MarketSource over a fixed list: answers queries like the tick snapshot does, and records them."""

    def __init__(
        self,
        markets: list[Market],
        fetched_at: datetime = SLOT,
        *,
        histories: dict[str, PriceHistory] | None = None,
        events: list[MarketEvent] | None = None,
        books: dict[str, OrderBook] | None = None,
    ) -> None:
        self._markets = list(markets)
        self._fetched_at = fetched_at
        self.queries: list[MarketQuery] = []
        self.histories = histories or {}
        self.event_list = events or []
        self.books = books or {}
        self.history_requests: list[tuple[str, HistoryWindow]] = []

    @property
    def fetched_at(self) -> datetime:
        return self._fetched_at

    def query(self, query: MarketQuery) -> list[Market]:
        self.queries.append(query)
        found = [m for m in self._markets if not query.active_only or (m.active and not m.closed)]
        if query.tag is not None:
            found = [m for m in found if query.tag.casefold() in (t.casefold() for t in m.tags)]
        far = datetime.max.replace(tzinfo=UTC)
        found.sort(
            key=lambda m: (m.end_date or far) if query.order_by == "end_date" else getattr(m, query.order_by),
            reverse=not query.ascending,
        )
        return found[: query.limit]

    def market(self, market_id: str) -> Market | None:
        return next((m for m in self._markets if m.market_id == market_id), None)

    def book(self, token_id: str) -> OrderBook | None:
        return self.books.get(token_id)

    def price_history(self, token_id: str, window: HistoryWindow) -> PriceHistory | None:
        self.history_requests.append((token_id, window))
        return self.histories.get(token_id)

    def events(self, *, slug: str | None = None, tag_slug: str | None = None) -> list[MarketEvent]:
        wanted = (tag_slug or "").casefold()
        return [
            e
            for e in self.event_list
            if (slug is not None and e.slug == slug)
            or (tag_slug is not None and wanted in (t.casefold() for t in e.tags))
        ]


def make_context(
    markets: list[Market] | None = None, *, deadline_s: float = 30.0, **overrides: Any
) -> RunContext:
    values: dict[str, Any] = {
        "strategy_id": "s-1",
        "slot": SLOT,
        "slot_key": SLOT.isoformat(),
        "markets": InMemoryMarkets(markets or []),
        "account": Account(strategy_id="s-1", bankroll_usd=Decimal(1000), cash_usd=Decimal(1000)),
        "bankroll_usd": Decimal(1000),
        "deadline": Deadline(deadline_s),
    }
    values.update(overrides)
    return RunContext(**values)
