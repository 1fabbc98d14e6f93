"""Test builders for the paper broker: the REAL recorded CLOB books as OrderBooks, a fake market feed.

The books come from tests/fixtures/polymarket/clob_books_sample.json, a copy of three recorded
`GET https://clob.polymarket.com/book` responses (sources credited in ../shared/data/polymarket/SOURCES.md):

- `FED_NO`: the No token of "Will the Fed decrease interest rates by 50+ bps after the March 2026 meeting?",
  117 bids / 5 asks, tick 0.001, min size 5.
- `BTC_UP`: the Up token of market 1669969 (BTC Up or Down, 5 minutes) after its window: no bids, 104 asks.
- `ELECTION`: an outcome token of "Will Donald Trump win the 2024 US Presidential Election?", 162 bids /
  95 asks, in the older format without tick or minimum size.

Levels keep the API's order: the best bid and best ask are the LAST levels.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from engine.market.types import (
    BookLevel,
    FeeSchedule,
    HistoryWindow,
    Market,
    MarketEvent,
    MarketQuery,
    OrderBook,
    OutcomeToken,
    PriceHistory,
)

BOOKS_FILE = Path(__file__).resolve().parent.parent / "fixtures" / "polymarket" / "clob_books_sample.json"
FED_NO = "48458075019957098166340475646923389496510427632693703161736892736757168972646"
BTC_UP = "94242206871221370391055736153305071391564432448684801902267396130896523340261"
ELECTION = "21742633143463906290569050155826241533067272736897614950488156847949938836455"
# market 1669969's recorded feeSchedule in gamma_markets_sample.json
BTC_FEE_SCHEDULE = FeeSchedule(rate=Decimal("0.25"), exponent=Decimal(2))
NOW = datetime(2026, 2, 28, 22, 40, tzinfo=UTC)


@cache
def _recorded() -> dict[str, dict[str, Any]]:
    raw: list[dict[str, Any]] = json.loads(BOOKS_FILE.read_text())
    return {item["asset_id"]: item for item in raw}


def _levels(raw: list[dict[str, str]]) -> tuple[BookLevel, ...]:
    return tuple(BookLevel(price=Decimal(level["price"]), size=Decimal(level["size"])) for level in raw)


def book_from_json(raw: dict[str, Any]) -> OrderBook:
    """One `/book` response as an OrderBook (numbers are strings in the API; keep them exact)."""
    return OrderBook(
        token_id=str(raw["asset_id"]),
        market=str(raw["market"]),
        bids=_levels(raw.get("bids") or []),
        asks=_levels(raw.get("asks") or []),
        timestamp_ms=int(raw["timestamp"]),
        hash=str(raw["hash"]),
        tick_size=Decimal(raw["tick_size"]) if raw.get("tick_size") else None,
        min_order_size=Decimal(raw["min_order_size"]) if raw.get("min_order_size") else None,
    )


def recorded_book(token_id: str) -> OrderBook:
    """The recorded book of one of FED_NO, BTC_UP, ELECTION."""
    return book_from_json(_recorded()[token_id])


def recorded_token_ids() -> list[str]:
    return list(_recorded())


def make_book(
    token_id: str,
    *,
    bids: Iterable[tuple[str | Decimal, str | Decimal]] = (),
    asks: Iterable[tuple[str | Decimal, str | Decimal]] = (),
    tick_size: str | None = "0.01",
    min_order_size: str | None = "5",
) -> OrderBook:
    """A small hand-made book; pass levels best-LAST like the API (bids ascending, asks descending)."""
    return OrderBook(
        token_id=token_id,
        market=f"0xcond-{token_id}",
        bids=tuple(BookLevel(Decimal(p), Decimal(s)) for p, s in bids),
        asks=tuple(BookLevel(Decimal(p), Decimal(s)) for p, s in asks),
        timestamp_ms=1772318263027,
        hash=f"hash-{token_id}",
        tick_size=Decimal(tick_size) if tick_size else None,
        min_order_size=Decimal(min_order_size) if min_order_size else None,
    )


def make_market(
    market_id: str,
    *,
    yes_token: str | None = None,
    no_token: str | None = None,
    labels: tuple[str, str] = ("Yes", "No"),
    prices: tuple[str | None, str | None] = ("0.5", "0.5"),
    end_date: datetime | None = None,
    closed: bool = False,
    accepting_orders: bool = True,
    uma_resolution_status: str | None = None,
    tick_size: str = "0.001",
    min_order_size: str = "5",
    fee_schedule: FeeSchedule | None = None,
    fees_enabled: bool = False,
    question: str | None = None,
) -> Market:
    """A binary market shaped like a parsed Gamma market; only what orchestrator and broker read varies."""
    tokens = (yes_token or f"{market_id}-yes", no_token or f"{market_id}-no")
    return Market(
        market_id=market_id,
        condition_id=f"0xcond-{market_id}",
        question=question or f"Will {market_id} happen?",
        slug=f"will-{market_id}-happen",
        outcomes=tuple(
            OutcomeToken(token, label, Decimal(price) if price is not None else None)
            for token, label, price in zip(tokens, labels, prices, strict=True)
        ),
        volume=Decimal(100_000),
        volume_24h=Decimal(10_000),
        liquidity=Decimal(20_000),
        spread=Decimal("0.01"),
        best_bid=None,
        best_ask=None,
        end_date=end_date if end_date is not None else NOW + timedelta(days=30),
        active=not closed,
        closed=closed,
        accepting_orders=accepting_orders and not closed,
        category="Politics",
        tags=(),
        tick_size=Decimal(tick_size),
        min_order_size=Decimal(min_order_size),
        neg_risk=False,
        fees_enabled=fees_enabled,
        fee_schedule=fee_schedule,
        uma_resolution_status=uma_resolution_status,
        updated_at=NOW,
    )


class FakeMarketData:
    """An in-memory MarketSource: fakes the external market data (markets and books), not our code."""

    def __init__(
        self, markets: Iterable[Market] = (), books: Iterable[OrderBook] = (), *, at: datetime = NOW
    ):
        self.markets = {m.market_id: m for m in markets}
        self.books = {b.token_id: b for b in books}
        self.at = at
        self.book_requests: list[str] = []

    @property
    def fetched_at(self) -> datetime:
        return self.at

    def query(self, query: MarketQuery) -> list[Market]:
        return list(self.markets.values())[: query.limit]

    def market(self, market_id: str) -> Market | None:
        return self.markets.get(market_id)

    def book(self, token_id: str) -> OrderBook | None:
        self.book_requests.append(token_id)
        return self.books.get(token_id)

    def price_history(self, token_id: str, window: HistoryWindow) -> PriceHistory | None:
        return None

    def events(self, *, slug: str | None = None, tag_slug: str | None = None) -> list[MarketEvent]:
        return []
