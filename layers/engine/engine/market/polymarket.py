"""Polymarket market data: Gamma market and CLOB book parsing, and the HTTP client behind the provider.

Every Polymarket quirk is handled here (DESIGN 6), so nothing downstream sees raw JSON:
- `outcomes`, `outcomePrices`, `clobTokenIds` are JSON strings inside the JSON;
- markets marked `version: "v2"` list their outcome ids in `positionIds` (a real array) instead;
- token ids stay strings (they overflow 64-bit integers);
- numbers arrive as strings or numbers and become Decimal (never float);
- old markets lack many fields (volume24hr, liquidity, bestBid, endDate, feesEnabled...).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

import urllib3

from engine.clock import Deadline, parse_iso
from engine.errors import MarketDataUnavailable
from engine.market.types import (
    DEFAULT_MIN_ORDER_SIZE,
    DEFAULT_TICK_SIZE,
    BookLevel,
    FeeSchedule,
    Market,
    OrderBook,
    OutcomeToken,
)
from engine.money import to_decimal
from engine.settings import Settings, get_settings

logger = logging.getLogger(__name__)

SYNTHETIC_HASH_PREFIX = "synthetic-"  # books made up by the recorded server carry this hash prefix
_MIN_ATTEMPT_SECONDS = 0.01  # below this an attempt cannot succeed: give up instead of starting it


class MarketParseError(ValueError):
    """A Gamma market or CLOB book object that cannot be understood."""


# ---------------------------------------------------------------------------------------------- parsing


def _decimal_or_none(value: object) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = to_decimal(value)
    except (TypeError, ValueError, InvalidOperation):
        return None
    return number if number.is_finite() else None


def _first(raw: Mapping[str, Any], *keys: str) -> object:
    """The first of these fields that is present and not null (the *Num fields are missing in old markets)."""
    for key in keys:
        if raw.get(key) is not None:
            return raw[key]
    return None


def _decimal(value: object, default: Decimal) -> Decimal:
    number = _decimal_or_none(value)
    return default if number is None else number


def _json_list(value: object) -> list[Any]:
    """A list that Gamma sends either as a JSON string (`'["Yes", "No"]'`) or as a real array."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        try:
            decoded = json.loads(value, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise MarketParseError(f"not a JSON list: {value[:60]!r}") from exc
        if isinstance(decoded, list):
            return decoded
    raise MarketParseError(f"not a list: {str(value)[:60]!r}")


def _datetime_or_none(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


def _token_ids(raw: Mapping[str, Any]) -> list[str]:
    # V2 markets name their outcome ids positionIds (a real array); read the field the version names
    field = "positionIds" if str(raw.get("version") or "").lower() == "v2" else "clobTokenIds"
    ids = _json_list(raw.get(field))
    if any(isinstance(item, bool | float | Decimal) for item in ids):
        raise MarketParseError(f"{field} holds a non-integer id")  # a float id has already lost digits
    return [str(item) for item in ids]


def _events(raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    events = raw.get("events")
    return [e for e in events if isinstance(e, Mapping)] if isinstance(events, list) else []


def _tags(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """Labels and slugs of the market's own tags and its events' tags, without case-insensitive repeats."""
    sources: list[object] = [raw.get("tags")]
    sources.extend(event.get("tags") for event in _events(raw))
    seen: set[str] = set()
    tags: list[str] = []
    for source in sources:
        if not isinstance(source, list):
            continue
        for tag in source:
            words = [tag.get("label"), tag.get("slug")] if isinstance(tag, Mapping) else [tag]
            for word in words:
                if isinstance(word, str) and word and word.casefold() not in seen:
                    seen.add(word.casefold())
                    tags.append(word)
    return tuple(tags)


def _category(raw: Mapping[str, Any]) -> str | None:
    category = raw.get("category")
    if isinstance(category, str) and category:
        return category
    for event in _events(raw):
        category = event.get("category")
        if isinstance(category, str) and category:
            return category
    return None


def _fee_schedule(raw: Mapping[str, Any]) -> FeeSchedule | None:
    if raw.get("feesEnabled") is not True:
        return None
    schedule = raw.get("feeSchedule")
    if not isinstance(schedule, Mapping):
        return None
    rate = _decimal_or_none(schedule.get("rate"))
    if rate is None:
        return None
    return FeeSchedule(rate=rate, exponent=_decimal(schedule.get("exponent"), Decimal(1)))


def parse_market(raw: Mapping[str, Any]) -> Market:
    """One Gamma `/markets` object as a Market. Raises MarketParseError when it has no id."""
    if not isinstance(raw, Mapping):
        raise MarketParseError("a market is not a JSON object")
    market_id = raw.get("id")
    if market_id is None or market_id == "":
        raise MarketParseError("a market without an id")
    labels = [str(label) for label in _json_list(raw.get("outcomes"))]
    token_ids = _token_ids(raw)
    prices = [_decimal_or_none(p) for p in _json_list(raw.get("outcomePrices"))]
    if len(prices) != len(labels):
        prices = [None] * len(labels)  # a partial price list cannot be matched to outcomes safely
    # a market without token ids (or with a mismatched list) cannot be traded: it has no outcomes
    outcomes = (
        tuple(
            OutcomeToken(token_id=tid, label=label, price=price)
            for tid, label, price in zip(token_ids, labels, prices, strict=True)
        )
        if len(token_ids) == len(labels)
        else ()
    )
    active = raw.get("active") is True
    closed = raw.get("closed") is True
    uma_status = raw.get("umaResolutionStatus")
    return Market(
        market_id=str(market_id),
        condition_id=str(raw.get("conditionId") or ""),
        question=str(raw.get("question") or ""),
        slug=str(raw.get("slug") or ""),
        outcomes=outcomes,
        volume=_decimal(_first(raw, "volumeNum", "volume"), Decimal(0)),
        volume_24h=_decimal(raw.get("volume24hr"), Decimal(0)),
        liquidity=_decimal(_first(raw, "liquidityNum", "liquidity"), Decimal(0)),
        spread=_decimal_or_none(raw.get("spread")),
        best_bid=_decimal_or_none(raw.get("bestBid")),
        best_ask=_decimal_or_none(raw.get("bestAsk")),
        end_date=_datetime_or_none(raw.get("endDate")),
        active=active,
        closed=closed,
        accepting_orders=raw.get("acceptingOrders") is True,
        category=_category(raw),
        tags=_tags(raw),
        tick_size=_decimal(raw.get("orderPriceMinTickSize"), DEFAULT_TICK_SIZE),
        min_order_size=_decimal(raw.get("orderMinSize"), DEFAULT_MIN_ORDER_SIZE),
        neg_risk=raw.get("negRisk") is True,
        fees_enabled=raw.get("feesEnabled") is True,
        fee_schedule=_fee_schedule(raw),
        uma_resolution_status=uma_status if isinstance(uma_status, str) and uma_status else None,
        updated_at=_datetime_or_none(raw.get("updatedAt")),
        event_id=_event_id(raw),
    )


def _event_id(raw: Mapping[str, Any]) -> str | None:
    for event in _events(raw):
        value = event.get("id")
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def _levels(raw: object, side: str) -> tuple[BookLevel, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise MarketParseError(f"book {side} is not a list")
    levels: list[BookLevel] = []
    for level in raw:
        price = _decimal_or_none(level.get("price")) if isinstance(level, Mapping) else None
        size = _decimal_or_none(level.get("size")) if isinstance(level, Mapping) else None
        if price is None or size is None:
            raise MarketParseError(f"book {side} level without a price or size")
        levels.append(BookLevel(price=price, size=size))
    return tuple(levels)  # API order kept: the best level is the LAST


def parse_book(raw: Mapping[str, Any]) -> OrderBook:
    """One CLOB `/book` response as an OrderBook. Old books lack min_order_size and tick_size."""
    if not isinstance(raw, Mapping) or not raw.get("asset_id"):
        raise MarketParseError("a book without an asset_id")
    timestamp = _decimal_or_none(raw.get("timestamp"))
    book_hash = str(raw.get("hash") or "")
    return OrderBook(
        token_id=str(raw["asset_id"]),
        market=str(raw.get("market") or ""),
        bids=_levels(raw.get("bids"), "bids"),
        asks=_levels(raw.get("asks"), "asks"),
        timestamp_ms=int(timestamp) if timestamp is not None else 0,
        hash=book_hash,
        tick_size=_decimal_or_none(raw.get("tick_size")),
        min_order_size=_decimal_or_none(raw.get("min_order_size")),
        synthetic=book_hash.startswith(SYNTHETIC_HASH_PREFIX),
    )


# ---------------------------------------------------------------------------------------------- client


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class PolymarketClient:
    """The MarketDataProvider over Polymarket's Gamma API (markets) and CLOB (books).

    Thread-safe: one urllib3 PoolManager per client. Every call is bounded by the caller's Deadline: an
    attempt never waits longer than the time left, and no retry or backoff sleep runs past it. 5xx, 429 and
    connection errors are retried (bounded, exponential backoff); other 4xx are not.
    """

    def __init__(
        self,
        gamma_url: str,
        clob_url: str,
        *,
        timeout_seconds: float,
        retries: int = 2,
        backoff_seconds: float = 0.2,
        page_size: int = 100,
        ids_per_request: int = 50,
        max_connections: int = 16,
    ) -> None:
        if timeout_seconds <= 0 or retries < 0 or backoff_seconds < 0 or page_size < 1 or ids_per_request < 1:
            raise ValueError("timeout must be positive; retries, backoff, page and chunk sizes non-negative")
        self.gamma_url = gamma_url.rstrip("/")
        self.clob_url = clob_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.page_size = page_size
        self.ids_per_request = ids_per_request
        # urllib3's own retries are off: ours respect the deadline; block=False never waits for a slot
        self._http = urllib3.PoolManager(
            num_pools=4,
            maxsize=max_connections,
            block=False,
            retries=False,
            headers={"Accept": "application/json"},
        )
        self._lock = threading.Lock()
        self.requests_made = 0

    # -- the provider interface

    def list_markets(self, *, active_only: bool, max_markets: int, deadline: Deadline) -> list[Market]:
        markets: list[Market] = []
        seen: set[str] = set()
        offset = 0
        while len(markets) < max_markets:
            limit = min(self.page_size, max_markets - len(markets))
            params: list[tuple[str, str]] = [
                ("limit", str(limit)),
                ("offset", str(offset)),
                ("order", "volumeNum"),
                ("ascending", "false"),
            ]
            if active_only:
                params.append(("closed", "false"))
            page = self._get_list("Gamma", self.gamma_url, "/markets", params, deadline)
            for market in self._parse_markets(page):
                # offset paging can repeat a market whose rank moved between pages: keep the first copy
                if market.market_id not in seen and len(markets) < max_markets:
                    seen.add(market.market_id)
                    markets.append(market)
            if len(page) < limit:
                break  # a short page is the last one
            offset += len(page)
        return markets

    def get_markets(self, market_ids: Sequence[str], *, deadline: Deadline) -> list[Market]:
        wanted = list(dict.fromkeys(str(m) for m in market_ids))
        markets: dict[str, Market] = {}
        for chunk in _chunks(wanted, self.ids_per_request):
            params = [("id", market_id) for market_id in chunk]
            params.append(("limit", str(len(chunk))))
            page = self._get_list("Gamma", self.gamma_url, "/markets", params, deadline)
            for market in self._parse_markets(page):
                markets.setdefault(market.market_id, market)
        return [markets[m] for m in wanted if m in markets]

    def get_book(self, token_id: str, *, deadline: Deadline) -> OrderBook:
        path = "/book"
        body = self._get_json("CLOB", self.clob_url, path, [("token_id", token_id)], deadline)
        try:
            if not isinstance(body, Mapping):
                raise MarketParseError("the body is not a JSON object")
            return parse_book(body)
        except (MarketParseError, ValueError) as exc:
            raise MarketDataUnavailable(f"CLOB GET {path}: unexpected book ({exc})") from exc

    # -- plumbing

    @staticmethod
    def _parse_markets(page: list[Any]) -> list[Market]:
        markets: list[Market] = []
        for raw in page:
            try:
                markets.append(parse_market(raw))
            except MarketParseError as exc:
                # one odd market must not cost the whole snapshot
                logger.warning("skipping a Gamma market that cannot be parsed: %s", exc)
        return markets

    def _get_list(
        self, api: str, base: str, path: str, params: list[tuple[str, str]], deadline: Deadline
    ) -> list[Any]:
        body = self._get_json(api, base, path, params, deadline)
        if not isinstance(body, list):
            raise MarketDataUnavailable(f"{api} GET {path}: expected a JSON array")
        return body

    def _get_json(
        self, api: str, base: str, path: str, params: list[tuple[str, str]], deadline: Deadline
    ) -> Any:
        query = urlencode(params)
        url = f"{base}{path}?{query}" if query else f"{base}{path}"
        shown = f"{api} GET {path}"  # the query may be long (ids); the path says what failed
        last_error = "no attempt was made"
        for attempt in range(self.retries + 1):
            remaining = deadline.remaining()
            if remaining < _MIN_ATTEMPT_SECONDS:
                raise MarketDataUnavailable(f"{shown}: deadline exceeded ({last_error})")
            per_attempt = min(self.timeout_seconds, remaining)
            retry_after = 0.0
            try:
                with self._lock:
                    self.requests_made += 1
                response = self._http.request(
                    "GET",
                    url,
                    timeout=urllib3.Timeout(total=per_attempt),
                    redirect=False,
                    preload_content=True,
                )
            except urllib3.exceptions.NewConnectionError:  # before TimeoutError: urllib3 makes it a subclass
                last_error = "connection failed"
            except urllib3.exceptions.TimeoutError:
                last_error = f"timed out after {per_attempt:.2f}s"
            except urllib3.exceptions.HTTPError as exc:
                last_error = f"connection failed ({type(exc).__name__})"
            else:
                status = response.status
                if 200 <= status < 300:
                    try:
                        return json.loads(response.data, parse_float=Decimal)
                    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                        raise MarketDataUnavailable(f"{shown}: invalid JSON in the response") from exc
                last_error = f"HTTP {status}"
                if status != 429 and status < 500:
                    raise MarketDataUnavailable(f"{shown}: {last_error}")
                retry_after = _retry_after(response.headers.get("Retry-After"))
            if attempt == self.retries:
                break
            pause = max(self.backoff_seconds * (2**attempt), retry_after)
            if pause >= deadline.remaining():
                raise MarketDataUnavailable(f"{shown}: {last_error}; no time left to retry")
            time.sleep(pause)
        raise MarketDataUnavailable(f"{shown}: {last_error} ({self.retries + 1} attempts)")


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0  # an HTTP date: fall back to our own backoff


def client_from_settings(settings: Settings | None = None) -> PolymarketClient:
    """The client for the configured Polymarket endpoints (POLYMARKET_GAMMA_URL, POLYMARKET_CLOB_URL)."""
    settings = settings or get_settings()
    return PolymarketClient(
        settings.polymarket_gamma_url,
        settings.polymarket_clob_url,
        timeout_seconds=settings.http_timeout_seconds,
    )
