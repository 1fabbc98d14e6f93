"""A local HTTP server that answers like Polymarket's Gamma API and CLOB from recorded responses.

Used by the tests, the local stack and the demo, so nothing ever reaches the real Polymarket. One server
answers both APIs (their paths do not collide): point POLYMARKET_GAMMA_URL and POLYMARKET_CLOB_URL at `url`.

Data: `local/data/polymarket/` (sources credited in its SOURCES.md); the files are read once and never
written. The markets served are the 427 recorded Gamma market objects plus the markets nested in the
recorded events that are not among them; those get their event (without its market list, with its tags)
as `events`, like Gamma's own `/markets` answers.

Gamma: `GET /markets` (query `id` (repeatable), `closed`, `active`, `tag_id`, `tag_slug`, `order`
(volumeNum, volume24hr, liquidityNum, endDate; missing values last), `ascending`, `limit`, `offset`),
`GET /markets/{id}`, `GET /events` (`id`, `slug`, `closed`, `active`, `tag_id`, `tag_slug`, `limit`,
`offset`).

CLOB: `GET /book?token_id=`, `GET /price?token_id=&side=` (BUY answers the best bid, SELL the best ask),
`GET /midpoint?token_id=`, `GET /prices-history?market=<token>` with `interval` (1h, 6h, 1d, 1w, 1m,
max) or `startTs`/`endTs`, and `fidelity` (minutes): the real recorded series for the one recorded token;
for any other token of a known market a SIMULATED series that ends at the price the server serves for it
now, marked `"simulated": true` in the body (the real API has no such field); an unknown token gets an
empty history.
A closed market has no book (404, like the CLOB).

SYNTHETIC BOOKS: real recorded books exist for three tokens only. For any other token of a known open market
(and for every token of a market moved with `set_price`) the server synthesises a book from the market's
recorded bestBid/bestAsk (or outcome prices) and liquidity: several levels a side on the market's tick grid,
in the real API's order (bids ascending and asks descending, so the best level of each side is the LAST),
with sizes deterministic per token. Such a book is NOT marked in its body (the real API has no such field);
its `hash` starts with `synthetic-`, which is how engine.market.polymarket.parse_book recognises it.

Controls (thread-safe) for tests and the demo: `set_price` moves a market (outcomePrices, bestBid/bestAsk and
books follow), `resolve` closes and resolves one, `set_fault` injects "hang", "error500", "error429" or
"garbage" answers, `set_delay` slows every answer, and `request_count` reports requests per path.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data" / "polymarket"
SYNTHETIC_HASH_PREFIX = "synthetic-"
FaultMode = Literal["hang", "error500", "error429", "garbage"]
_ORDER_FIELDS = {"volumeNum", "volume24hr", "liquidityNum", "endDate"}
_DEFAULT_LIMIT = 100
_MAX_LIMIT = 500
_SYNTHETIC_LEVELS = 6
_INTERVAL_SECONDS = {
    "1h": 3600,
    "6h": 6 * 3600,
    "1d": 86400,
    "1w": 7 * 86400,
    "1m": 30 * 86400,
    "max": 90 * 86400,
}
_MAX_HISTORY_POINTS = 1500
_ONE = Decimal(1)


def _dec(value: object, default: Decimal | None = None) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return default
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def _fmt(value: Decimal) -> str:
    """A price or size as the CLOB writes it: plain digits, no trailing zeros."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _json_list(value: object) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str) and value:
        decoded = json.loads(value)
        return decoded if isinstance(decoded, list) else []
    return []


def _token_ids(market: dict[str, Any]) -> list[str]:
    field = "positionIds" if str(market.get("version") or "").lower() == "v2" else "clobTokenIds"
    return [str(t) for t in _json_list(market.get(field))]


def _flag(params: dict[str, list[str]], name: str) -> bool | None:
    values = params.get(name)
    return None if not values else values[0].strip().lower() == "true"


def _int_param(params: dict[str, list[str]], name: str, default: int, upper: int | None = None) -> int:
    try:
        value = int(params[name][0]) if params.get(name) else default
    except ValueError:
        value = default
    value = max(0, value)
    return min(value, upper) if upper is not None else value


def _page(items: list[dict[str, Any]], params: dict[str, list[str]]) -> list[dict[str, Any]]:
    offset = _int_param(params, "offset", 0)
    limit = _int_param(params, "limit", _DEFAULT_LIMIT, _MAX_LIMIT)
    return items[offset : offset + limit]


def _unit(token_id: str, salt: str) -> Decimal:
    """A deterministic number in [0, 1) from a token id: synthetic sizes are the same on every run."""
    digest = hashlib.sha256(f"{token_id}:{salt}".encode()).digest()
    return Decimal(int.from_bytes(digest[:4], "big")) / Decimal(2**32)


class _Recorded:
    """The recorded data in memory, with the changes the controls made. Guarded by the server's lock."""

    def __init__(self, data_dir: Path) -> None:
        markets: list[dict[str, Any]] = json.loads((data_dir / "gamma_markets_sample.json").read_text())
        self.events: list[dict[str, Any]] = json.loads((data_dir / "gamma_events_sample.json").read_text())
        books: list[dict[str, Any]] = json.loads((data_dir / "clob_books_sample.json").read_text())
        history: list[dict[str, Any]] = json.loads((data_dir / "prices_history_sample.json").read_text())
        self.markets: list[dict[str, Any]] = list(markets)
        self.by_id: dict[str, dict[str, Any]] = {str(m["id"]): m for m in markets}
        for event in self.events:
            summary = {k: v for k, v in event.items() if k != "markets"}
            for nested in event.get("markets") or []:
                if str(nested["id"]) not in self.by_id:
                    market = dict(nested)
                    market.setdefault("events", [summary])
                    self.markets.append(market)
                    self.by_id[str(market["id"])] = market
        event_tags = {str(e["id"]): e.get("tags") or [] for e in self.events}
        self.tags: dict[str, set[str]] = {}  # market id -> tag ids and slugs (casefolded)
        self.tokens: dict[str, tuple[str, int]] = {}  # token id -> (market id, outcome index)
        for market in self.markets:
            words: set[str] = set()
            for event in market.get("events") or []:
                for tag in list(event.get("tags") or []) + list(event_tags.get(str(event.get("id")), [])):
                    words.update(str(tag.get(k, "")).casefold() for k in ("id", "slug", "label"))
            self.tags[str(market["id"])] = words - {""}
            for index, token in enumerate(_token_ids(market)):
                self.tokens[token] = (str(market["id"]), index)
        self.books: dict[str, dict[str, Any]] = {str(b["asset_id"]): b for b in books}
        self.history: dict[str, list[dict[str, Any]]] = {}
        for series in history:
            if series.get("token_id"):
                self.history.setdefault(str(series["token_id"]), []).append(series)
        self.moved: set[str] = (
            set()
        )  # market ids whose prices the controls changed: recorded books no longer apply


class RecordedPolymarketServer:
    """Gamma and CLOB answers from recorded data on a local ThreadingHTTPServer (see the module docstring)."""

    def __init__(
        self,
        data_dir: Path | str = DEFAULT_DATA_DIR,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._data = _Recorded(Path(data_dir))
        self._host = host
        self._port = port
        # local infrastructure may read the wall clock; the demo passes its shared fast clock instead
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._counts: Counter[str] = Counter()
        self._fault: FaultMode | None = None
        self._fault_left: int | None = None
        self._fault_path: str | None = None
        self._delay_seconds = 0.0
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> RecordedPolymarketServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = ThreadingHTTPServer((self._host, self._port), _handler_for(self))
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="polymarket-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging requests
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> RecordedPolymarketServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- controls

    def set_price(self, key: str, yes_price: Decimal | str | float) -> None:
        """Move a market (by market id or any of its token ids) to a new first-outcome price."""
        price = _dec(yes_price)
        if price is None or not Decimal(0) < price < _ONE:
            raise ValueError("yes_price must be strictly between 0 and 1")
        with self._lock:
            market = self._market_for(key)
            tick = self._tick(market)
            bid = max(tick, ((price - tick) / tick).to_integral_value(ROUND_FLOOR) * tick)
            ask = min(_ONE - tick, ((price + tick) / tick).to_integral_value(ROUND_CEILING) * tick)
            labels = _json_list(market.get("outcomes"))
            prices = [price, _ONE - price] + [Decimal(0)] * max(0, len(labels) - 2)
            market["outcomePrices"] = json.dumps([_fmt(p) for p in prices[: max(len(labels), 2)]])
            market["bestBid"], market["bestAsk"] = float(bid), float(ask)
            market["spread"] = float(ask - bid)
            market["lastTradePrice"] = float(price)
            market["updatedAt"] = self._now_iso()
            self._data.moved.add(str(market["id"]))

    def resolve(
        self, market_id: str, winner: int | Literal["split"], *, uma_status: str = "resolved"
    ) -> None:
        """Close a market with final prices: 1 for the winning outcome index, or 0.5 each for a split."""
        with self._lock:
            market = self._market_for(market_id)
            count = max(len(_json_list(market.get("outcomes"))), 2)
            if winner == "split":
                prices = ["0.5", "0.5"] + ["0"] * (count - 2)
            else:
                if not 0 <= winner < count:
                    raise ValueError(f"winner index {winner} out of range")
                prices = ["1" if i == winner else "0" for i in range(count)]
            market.update(
                {
                    "outcomePrices": json.dumps(prices),
                    "closed": True,
                    "acceptingOrders": False,
                    "umaResolutionStatus": uma_status,
                    "closedTime": self._now_iso(),
                    "updatedAt": self._now_iso(),
                }
            )
            self._data.moved.add(str(market["id"]))

    def set_fault(self, mode: FaultMode | None, count: int | None = None, *, path: str | None = None) -> None:
        """Answer the next `count` requests (all while None) with a fault; `path` limits it to a prefix.

        "hang" never answers until the server stops, "error500" answers 500, "error429" answers 429 (rate
        limited, with Retry-After: 0), "garbage" answers 200 with invalid JSON. `set_fault(None)` clears it.
        """
        with self._lock:
            self._fault = mode
            self._fault_left = count if mode is not None else None
            self._fault_path = path if mode is not None else None

    def set_delay(self, seconds: float) -> None:
        """Answer every request `seconds` late (a slow Polymarket; 0 clears it). Stopping cuts it short."""
        with self._lock:
            self._delay_seconds = max(0.0, seconds)

    def request_count(self, path: str | None = None) -> int:
        """Requests received for a path (e.g. "/markets", "/book"), or in all when None."""
        with self._lock:
            return sum(self._counts.values()) if path is None else self._counts[path]

    def reset_counters(self) -> None:
        with self._lock:
            self._counts.clear()

    def market_ids(self) -> list[str]:
        with self._lock:
            return [str(m["id"]) for m in self._data.markets]

    def raw_market(self, market_id: str) -> dict[str, Any]:
        """A copy of a market as currently served (for tests and the demo's assertions)."""
        with self._lock:
            return copy.deepcopy(self._market_for(market_id))

    # -- request handling (called by the handler threads)

    def _take_fault(self, path: str) -> FaultMode | None:
        with self._lock:
            self._counts[path] += 1
            mode = self._fault
            if mode is None or (self._fault_path is not None and not path.startswith(self._fault_path)):
                return None
            if self._fault_left is not None:
                self._fault_left -= 1
                if self._fault_left <= 0:
                    self._fault, self._fault_left, self._fault_path = None, None, None
            return mode

    def _wait_until_stopped(self) -> None:
        self._stopping.wait()

    def _delay(self) -> None:
        with self._lock:
            seconds = self._delay_seconds
        if seconds:
            self._stopping.wait(seconds)

    def _answer(self, path: str, params: dict[str, list[str]]) -> tuple[int, Any]:
        with self._lock:
            if path == "/markets":
                return 200, self._markets(params)
            if path.startswith("/markets/"):
                market = self._data.by_id.get(path.removeprefix("/markets/"))
                return (200, copy.deepcopy(market)) if market else (404, {"error": "market not found"})
            if path == "/events":
                return 200, self._events(params)
            if path in ("/book", "/price", "/midpoint"):
                token_id = (params.get("token_id") or [""])[0]
                if not token_id:
                    return 400, {"error": "Invalid payload: token_id is required"}
                book = self._book(token_id)
                if book is None:
                    return 404, {"error": "No orderbook exists for the requested token id"}
                return self._book_answer(path, book, params)
            if path == "/prices-history":
                return self._prices_history(params)
        return 404, {"error": f"not found: {path}"}

    # -- Gamma

    def _market_for(self, key: str) -> dict[str, Any]:
        market = self._data.by_id.get(key)
        if market is None and key in self._data.tokens:
            market = self._data.by_id[self._data.tokens[key][0]]
        if market is None:
            raise KeyError(f"no recorded market or token {key!r}")
        return market

    def _markets(self, params: dict[str, list[str]]) -> list[dict[str, Any]]:
        items = self._data.markets
        ids = params.get("id")
        if ids:
            items = [self._data.by_id[i] for i in dict.fromkeys(ids) if i in self._data.by_id]
        for name in ("closed", "active"):
            wanted = _flag(params, name)
            if wanted is not None:
                items = [m for m in items if bool(m.get(name)) is wanted]
        for name in ("tag_id", "tag_slug"):
            if params.get(name):
                tag = params[name][0].casefold()
                items = [m for m in items if tag in self._data.tags.get(str(m["id"]), set())]
        order = (params.get("order") or [""])[0]
        if order in _ORDER_FIELDS:
            ascending = _flag(params, "ascending") is True
            present = [m for m in items if m.get(order) is not None]
            missing = [m for m in items if m.get(order) is None]
            present.sort(
                key=lambda m: str(m[order]) if order == "endDate" else float(m[order]), reverse=not ascending
            )
            items = present + missing
        return copy.deepcopy(_page(list(items), params))

    def _events(self, params: dict[str, list[str]]) -> list[dict[str, Any]]:
        items = self._data.events
        ids = params.get("id")
        if ids:
            items = [e for e in items if str(e["id"]) in ids]
        for name in ("closed", "active"):
            wanted = _flag(params, name)
            if wanted is not None:
                items = [e for e in items if bool(e.get(name)) is wanted]
        if params.get("slug"):
            slugs = {v.casefold() for v in params["slug"]}
            items = [e for e in items if str(e.get("slug", "")).casefold() in slugs]
        if params.get("tag_id"):
            tag_id = params["tag_id"][0]
            items = [e for e in items if any(str(t.get("id", "")) == tag_id for t in e.get("tags") or [])]
        if params.get("tag_slug"):
            slug = params["tag_slug"][0].casefold()
            items = [
                e
                for e in items
                if any(str(t.get("slug", "")).casefold() == slug for t in e.get("tags") or [])
            ]
        return copy.deepcopy(_page(list(items), params))

    # -- CLOB

    @staticmethod
    def _tick(market: dict[str, Any]) -> Decimal:
        return _dec(market.get("orderPriceMinTickSize"), Decimal("0.01")) or Decimal("0.01")

    def _now_iso(self) -> str:
        return self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _book(self, token_id: str) -> dict[str, Any] | None:
        located = self._data.tokens.get(token_id)
        if located is None:
            recorded = self._data.books.get(token_id)  # a recorded book whose market is not in the sample
            return copy.deepcopy(recorded) if recorded else None
        market_id, index = located
        market = self._data.by_id[market_id]
        if market.get("closed"):
            return None
        if market_id not in self._data.moved and token_id in self._data.books:
            return copy.deepcopy(self._data.books[token_id])
        return self._synthetic_book(market, token_id, index)

    def _synthetic_book(self, market: dict[str, Any], token_id: str, index: int) -> dict[str, Any]:
        tick = self._tick(market)
        prices = [_dec(p) for p in _json_list(market.get("outcomePrices"))]
        price = prices[index] if index < len(prices) and prices[index] is not None else Decimal("0.5")
        best_bid, best_ask = _dec(market.get("bestBid")), _dec(market.get("bestAsk"))
        if index == 0 and best_bid is not None and best_ask is not None:
            bid, ask = best_bid, best_ask
        elif index == 1 and best_bid is not None and best_ask is not None:
            bid, ask = _ONE - best_ask, _ONE - best_bid  # the second outcome mirrors the first
        else:
            bid, ask = (price or Decimal("0.5")) - tick, (price or Decimal("0.5")) + tick
        bid = max(tick, (bid / tick).to_integral_value(ROUND_FLOOR) * tick)
        ask = min(_ONE - tick, (ask / tick).to_integral_value(ROUND_CEILING) * tick)
        if bid >= ask:
            bid, ask = (ask - tick, ask) if ask - tick >= tick else (bid, bid + tick)
        liquidity = (
            _dec(market.get("liquidityNum"), None) or _dec(market.get("liquidity"), None) or Decimal(1000)
        )
        per_level_usd = max(liquidity / (2 * _SYNTHETIC_LEVELS), Decimal(50))

        def level(level_price: Decimal, side: str, depth: int) -> dict[str, str]:
            factor = (Decimal("0.5") + _unit(token_id, f"{side}{depth}")) * (1 + Decimal(depth) / 4)
            size = (per_level_usd * factor / level_price).quantize(Decimal("0.01"))
            return {"price": _fmt(level_price), "size": _fmt(size)}

        bid_prices = [bid - k * tick for k in range(_SYNTHETIC_LEVELS) if bid - k * tick >= tick]
        ask_prices = [ask + k * tick for k in range(_SYNTHETIC_LEVELS) if ask + k * tick <= _ONE - tick]
        # the real API's order: worst first, best LAST on both sides
        bids = [level(p, "b", k) for k, p in reversed(list(enumerate(bid_prices)))]
        asks = [level(p, "a", k) for k, p in reversed(list(enumerate(ask_prices)))]
        digest = hashlib.sha1(json.dumps([token_id, bids, asks]).encode(), usedforsecurity=False).hexdigest()
        return {
            "market": market.get("conditionId", ""),
            "asset_id": token_id,
            "timestamp": str(int(self._clock().timestamp() * 1000)),
            "hash": SYNTHETIC_HASH_PREFIX + digest,
            "bids": bids,
            "asks": asks,
            "min_order_size": _fmt(_dec(market.get("orderMinSize"), Decimal(5)) or Decimal(5)),
            "tick_size": _fmt(tick),
            "neg_risk": bool(market.get("negRisk")),
            "last_trade_price": _fmt(price or Decimal("0.5")),
        }

    @staticmethod
    def _book_answer(path: str, book: dict[str, Any], params: dict[str, list[str]]) -> tuple[int, Any]:
        if path == "/book":
            return 200, book
        best_bid = _dec(book["bids"][-1]["price"]) if book.get("bids") else None
        best_ask = _dec(book["asks"][-1]["price"]) if book.get("asks") else None
        if path == "/price":
            side = (params.get("side") or [""])[0].upper()
            if side not in ("BUY", "SELL"):
                return 400, {"error": "Invalid side"}
            price = best_bid if side == "BUY" else best_ask
            return (200, {"price": _fmt(price)}) if price is not None else (404, {"error": "No price"})
        if best_bid is None or best_ask is None:
            return 404, {"error": "No midpoint"}
        return 200, {"mid": _fmt((best_bid + best_ask) / 2)}

    def _prices_history(self, params: dict[str, list[str]]) -> tuple[int, Any]:
        token_id = (params.get("market") or [""])[0]
        if not token_id:
            return 400, {"error": "market is required"}
        interval = params["interval"][0] if params.get("interval") else None
        fidelity_text = params["fidelity"][0] if params.get("fidelity") else None
        start, end = _int_or_none(params, "startTs"), _int_or_none(params, "endTs")
        if interval is not None and interval not in _INTERVAL_SECONDS:
            return 400, {"error": f"invalid interval {interval!r}"}
        if interval is None and (start is None or end is None):
            return 400, {"error": "give interval, or startTs and endTs"}
        if start is not None and end is not None and start > end:
            return 400, {"error": "startTs is after endTs"}
        try:
            fidelity = int(fidelity_text) if fidelity_text is not None else None
        except ValueError:
            return 400, {"error": "fidelity must be an integer number of minutes"}
        series = self._data.history.get(token_id, [])
        if series:
            return 200, _recorded_history(series, interval, fidelity, start, end)
        if token_id not in self._data.tokens:
            return 200, {"history": []}  # unknown token: the CLOB answers an empty history
        market_id, index = self._data.tokens[token_id]
        return 200, self._simulated_history(
            self._data.by_id[market_id], token_id, index, interval, fidelity, start, end
        )

    def _simulated_history(  # noqa: PLR0917 - a private helper of _prices_history
        self,
        market: dict[str, Any],
        token_id: str,
        index: int,
        interval: str | None,
        fidelity: int | None,
        start: int | None,
        end: int | None,
    ) -> dict[str, Any]:
        """A made-up series that ends at the price the server serves for the token now (labelled simulated).

        The price at time t is a fixed function of (token, t): the same request answers the same series,
        and windows overlap consistently. Smooth waves of 3 hours to 4 days, scaled to stay inside (0, 1).
        """
        now = int(self._clock().timestamp())
        prices = [_dec(p) for p in _json_list(market.get("outcomePrices"))]
        current = prices[index] if index < len(prices) and prices[index] is not None else Decimal("0.5")
        current_f = min(max(float(current or Decimal("0.5")), 0.001), 0.999)
        if interval is not None:
            end = now
            start = now - _INTERVAL_SECONDS[interval]
        assert start is not None and end is not None
        end = min(end, now)
        span_minutes = max((end - start) // 60, 1)
        step = max(fidelity or 1, -(-span_minutes // _MAX_HISTORY_POINTS)) * 60
        if market.get("closed") or start > end:
            return {"history": [], "simulated": True}
        periods = [3 * 3600, 19 * 3600, 4 * 86400 + 7200]
        phases = [float(_unit(token_id, f"phase{k}")) * 2 * math.pi for k in range(3)]
        weights = [0.3, 0.4, 0.3]
        amplitude = min(0.08, 0.4 * min(current_f, 1 - current_f))

        def wave(t: int) -> float:
            return sum(
                w * math.sin(2 * math.pi * t / period + phase)
                for w, period, phase in zip(weights, periods, phases, strict=True)
            )

        anchor = wave(now)
        first = -(-start // step) * step  # on the step grid, so overlapping windows share their points
        points = []
        for t in range(first, end + 1, step):
            price = min(max(current_f + amplitude * (wave(t) - anchor), 0.001), 0.999)
            points.append({"t": t, "p": round(price, 4)})
        if (not points or points[-1]["t"] != end) and end == now:
            points.append({"t": now, "p": round(current_f, 4)})
        return {"history": points, "simulated": True}


def _int_or_none(params: dict[str, list[str]], name: str) -> int | None:
    try:
        return int(params[name][0]) if params.get(name) else None
    except ValueError:
        return None


def _recorded_history(
    series: list[dict[str, Any]],
    interval: str | None,
    fidelity: int | None,
    start: int | None,
    end: int | None,
) -> dict[str, Any]:
    """The recorded series: the recording made with this interval (and fidelity) as it was answered, else
    the union of the token's recordings cut to the window (an interval ends at the last recorded point) and
    thinned to one point per `fidelity` minutes."""
    for entry in series:
        request = entry.get("request") or {}
        same_fidelity = fidelity is None or str(request.get("fidelity")) == str(fidelity)
        if interval is not None and request.get("interval") == interval and same_fidelity:
            return copy.deepcopy(entry["response"])
    merged: dict[int, Any] = {}
    for entry in series:
        for point in entry["response"].get("history") or []:
            merged[int(point["t"])] = point["p"]
    times = sorted(merged)
    if not times:
        return {"history": []}
    if interval is not None:
        end = times[-1]
        start = end - _INTERVAL_SECONDS[interval]
    assert start is not None and end is not None
    step = (fidelity or 1) * 60
    points: list[dict[str, Any]] = []
    last_bucket: int | None = None
    for t in times:
        if start <= t <= end and (bucket := t // step) != last_bucket:
            last_bucket = bucket
            points.append({"t": t, "p": merged[t]})
    return {"history": points}


def _handler_for(server: RecordedPolymarketServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 30  # idle keep-alive connections do not hold a thread forever
        # headers and body go out in two writes: with Nagle on, a keep-alive client waits ~40 ms for the
        # delayed ACK on every answer
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            path = parts.path.rstrip("/") or "/"
            fault = server._take_fault(path)
            server._delay()
            if fault == "hang":
                server._wait_until_stopped()
                self.close_connection = True
                return
            if fault == "error500":
                self._send(500, b'{"error": "internal server error (injected)"}')
                return
            if fault == "error429":
                self._send(429, b'{"error": "Too Many Requests"}', retry_after="0")
                return
            if fault == "garbage":
                self._send(200, b'{"markets": [{"id": "1", <html>Bad gateway')
                return
            status, body = server._answer(path, parse_qs(parts.query, keep_blank_values=True))
            self._send(status, json.dumps(body).encode())

        def _send(self, status: int, body: bytes, *, retry_after: str | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (its deadline): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: tests and the demo print what matters

    return Handler


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve recorded Polymarket Gamma/CLOB responses locally.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    args = parser.parse_args(list(argv) if argv is not None else None)
    server = RecordedPolymarketServer(args.data_dir, host=args.host, port=args.port).start()
    print(f"recorded Polymarket (Gamma and CLOB) at {server.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
