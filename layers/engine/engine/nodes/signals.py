"""PRICE_SIGNAL and BOOK_SIGNAL: annotate each market with a number (a named field), optionally keep only the
markets past a threshold. A market whose history or book cannot be had is skipped, and the trace says why;
the run goes on."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine import indicators
from engine.market.types import INTERVAL_SECONDS, HistoryInterval, HistoryWindow, Market, OutcomeToken
from engine.models.base import Model
from engine.nodes.base import INCLUDE, Category, NodeOutput, RunContext
from engine.nodes.filter import FIELD_NAME, MARKET_FIELDS
from engine.nodes.registry import register

SIX_PLACES = Decimal("0.000001")
# the default resolution of each window: about 100-300 points, so indicators are cheap and windows shared
DEFAULT_FIDELITY: dict[str, int] = {"1h": 1, "6h": 5, "1d": 15, "1w": 60, "1m": 240, "max": 720}
INTERVALS: tuple[HistoryInterval, ...] = ("1h", "6h", "1d", "1w", "1m", "max")


def _output_field(value: str) -> str:
    if not FIELD_NAME.match(value):
        raise ValueError("a field name is 1-40 lowercase letters, digits or _, starting with a letter")
    if value in MARKET_FIELDS:
        raise ValueError(f"'{value}' is a market field; pick another name")
    return value


class _Threshold(Model):
    keep_above: Decimal | None = Field(
        default=None, allow_inf_nan=False, description="Keep only markets whose value is at least this."
    )
    keep_below: Decimal | None = Field(
        default=None, allow_inf_nan=False, description="Keep only markets whose value is at most this."
    )

    def passes(self, value: Decimal) -> bool:
        if self.keep_above is not None and value < self.keep_above:
            return False
        return not (self.keep_below is not None and value > self.keep_below)

    def describe(self) -> str:
        parts = []
        if self.keep_above is not None:
            parts.append(f">= {_shown(self.keep_above)}")
        if self.keep_below is not None:
            parts.append(f"<= {_shown(self.keep_below)}")
        return " and ".join(parts)


def _shown(value: Decimal) -> str:
    return format(value.quantize(SIX_PLACES).normalize(), "f")


def _token(market: Market, outcome: str) -> OutcomeToken | None:
    token = market.yes if outcome == "YES" else market.no
    return token if token is not None and token.token_id else None


class PriceSignalConfig(_Threshold):
    model_config = ConfigDict(extra="forbid")

    indicator: Literal["change", "ema_cross", "rsi", "zscore"] = Field(
        description="`change`: last price minus the price `lookback_hours` ago; `ema_cross`: EMA(fast) - "
        "EMA(slow) of the points; `rsi`: Wilder's RSI over `periods` points (0-100); `zscore`: (last - mean) "
        "/ std of the points within `lookback_hours`."
    )
    output_field: str = Field(description="The field the value is written to (unique in the graph).")
    outcome: Literal["YES", "NO"] = Field(default="YES", description="Whose token's price history.")
    lookback_hours: Decimal = Field(
        default=Decimal(24), gt=0, le=2160, allow_inf_nan=False, description="How far back the signal looks."
    )
    fidelity_minutes: int | None = Field(
        default=None, ge=1, le=1440, description="Minutes per point (default: set by the window's length)."
    )
    periods: int = Field(default=14, ge=2, le=500, description="RSI points.")
    fast: int = Field(default=12, ge=1, le=500, description="EMA cross: fast periods (points).")
    slow: int = Field(default=26, ge=2, le=1000, description="EMA cross: slow periods (points).")
    max_markets: int = Field(default=50, ge=1, le=500, description="At most this many markets get a signal.")

    @field_validator("output_field")
    @classmethod
    def _name(cls, value: str) -> str:
        return _output_field(value)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> PriceSignalConfig:
        if self.indicator == "ema_cross" and self.fast >= self.slow:
            raise ValueError("`fast` must be fewer periods than `slow`")
        if self.keep_above is not None and self.keep_below is not None and self.keep_above > self.keep_below:
            raise ValueError("`keep_above` must not exceed `keep_below`")
        return self

    def window(self) -> HistoryWindow:
        """The smallest CLOB interval that covers the lookback (and one more point): strategies with similar
        lookbacks share it."""
        seconds = int(self.lookback_hours * 3600)
        for interval in INTERVALS:
            fidelity = self.fidelity_minutes or DEFAULT_FIDELITY[interval]
            # one step more than the lookback, so a point at or before its start is in the window
            if INTERVAL_SECONDS[interval] >= seconds + fidelity * 60:
                return HistoryWindow(interval=interval, fidelity=fidelity)
        return HistoryWindow(interval="max", fidelity=self.fidelity_minutes or DEFAULT_FIDELITY["max"])


@register
class PriceSignal:
    type_name: ClassVar[str] = "PRICE_SIGNAL"
    config_model: ClassVar[type[BaseModel]] = PriceSignalConfig
    is_source: ClassVar[bool] = False
    is_sink: ClassVar[bool] = False
    category: ClassVar[Category] = "signal"
    title: ClassVar[str] = "Price signal"
    description: ClassVar[str] = (
        "Computes an indicator over each market's outcome price history (change over a lookback, EMA cross, "
        "RSI, z-score), writes it to a named field, and optionally keeps only markets past a threshold. A "
        "market whose history cannot be had is skipped (the trace says why)."
    )
    inputs: ClassVar[tuple[int, int | None]] = (1, None)
    handles: ClassVar[tuple[str, ...]] = (INCLUDE,)
    example: ClassVar[dict[str, Any]] = {
        "indicator": "change",
        "output_field": "momentum_24h",
        "lookback_hours": 24,
        "keep_above": 0.02,
    }

    def run(self, config: PriceSignalConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        window = config.window()
        lookback = int(config.lookback_hours * 3600)
        kept: list[Market] = []
        lines: list[dict[str, Any]] = []
        skipped_by: dict[str, int] = {}
        simulated = 0

        def skip(market: Market, why: str) -> None:
            skipped_by[why] = skipped_by.get(why, 0) + 1
            lines.append({"market_id": market.market_id, "skipped": why})

        for index, market in enumerate(inputs):
            if index >= config.max_markets:
                skip(market, "over_max_markets")
                continue
            token = _token(market, config.outcome)
            if token is None:
                skip(market, "missing_token")
                continue
            history = ctx.markets.price_history(token.token_id, window)
            if history is None:
                skip(market, "history_unavailable")
                continue
            simulated += history.simulated
            value = self._value(config, history.points, lookback)
            if value is None:
                skip(market, "not_enough_history")
                continue
            value = value.quantize(SIX_PLACES)
            ctx.annotate(market.market_id, config.output_field, value)
            if config.passes(value):
                kept.append(market)
            else:
                lines.append(
                    {"market_id": market.market_id, "dropped": config.describe(), "was": _shown(value)}
                )
        if simulated:
            ctx.warnings.append(f"{simulated} price histories were simulated by the recorded-data server")
        summary: dict[str, Any] = {
            "received": len(inputs),
            "kept": len(kept),
            "field": config.output_field,
            "window": {"interval": window.interval, "fidelity": window.fidelity},
            "skipped_by": skipped_by,
        }
        values = [
            {
                "market_id": m.market_id,
                config.output_field: _shown(ctx.annotation(m.market_id, config.output_field)),
            }
            for m in kept
        ]
        return NodeOutput(markets=kept, decisions=[summary, *lines, *values])

    @staticmethod
    def _value(config: PriceSignalConfig, points: tuple[Any, ...], lookback: int) -> Decimal | None:
        if not points:
            return None
        if config.indicator == "change":
            return indicators.change(points, lookback)
        start = points[-1].t - lookback
        first = len(points) - 1
        while first > 0 and points[first - 1].t >= start:  # from the end: the lookback is the series' tail
            first -= 1
        recent = [p.p for p in points[first:]]
        if config.indicator == "zscore":
            return indicators.zscore(recent)
        if config.indicator == "rsi":
            return indicators.rsi(recent, config.periods)
        return indicators.ema_cross(recent, config.fast, config.slow)


class BookSignalConfig(_Threshold):
    model_config = ConfigDict(extra="forbid")

    metric: Literal["spread", "imbalance", "microprice"] = Field(
        description="`spread`: best ask - best bid; `imbalance`: (bid - ask depth) / total within `band` of "
        "the mid (-1..1); `microprice`: best prices weighted by the opposite side's size."
    )
    output_field: str = Field(description="The field the value is written to (unique in the graph).")
    outcome: Literal["YES", "NO"] = Field(default="YES", description="Whose token's book.")
    band: Decimal = Field(
        default=Decimal("0.05"),
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="Imbalance: price distance from mid.",
    )
    max_markets: int = Field(default=50, ge=1, le=500, description="At most this many books are read.")

    @field_validator("output_field")
    @classmethod
    def _name(cls, value: str) -> str:
        return _output_field(value)

    @model_validator(mode="after")
    def _ordered_threshold(self) -> BookSignalConfig:
        if self.keep_above is not None and self.keep_below is not None and self.keep_above > self.keep_below:
            raise ValueError("`keep_above` must not exceed `keep_below`")
        return self


@register
class BookSignal:
    type_name: ClassVar[str] = "BOOK_SIGNAL"
    config_model: ClassVar[type[BaseModel]] = BookSignalConfig
    is_source: ClassVar[bool] = False
    is_sink: ClassVar[bool] = False
    category: ClassVar[Category] = "signal"
    title: ClassVar[str] = "Book signal"
    description: ClassVar[str] = (
        "Reads each market's order book from the tick's shared books and writes its spread, depth imbalance "
        "within a band, or microprice to a named field; optionally keeps only markets past a threshold."
    )
    inputs: ClassVar[tuple[int, int | None]] = (1, None)
    handles: ClassVar[tuple[str, ...]] = (INCLUDE,)
    example: ClassVar[dict[str, Any]] = {
        "metric": "imbalance",
        "output_field": "bid_pressure",
        "band": 0.05,
        "keep_above": 0.2,
    }

    def run(self, config: BookSignalConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        kept: list[Market] = []
        lines: list[dict[str, Any]] = []
        skipped_by: dict[str, int] = {}

        def skip(market: Market, why: str) -> None:
            skipped_by[why] = skipped_by.get(why, 0) + 1
            lines.append({"market_id": market.market_id, "skipped": why})

        for index, market in enumerate(inputs):
            if index >= config.max_markets:
                skip(market, "over_max_markets")
                continue
            token = _token(market, config.outcome)
            if token is None:
                skip(market, "missing_token")
                continue
            book = ctx.markets.book(token.token_id)
            if book is None:
                skip(market, "book_unavailable")
                continue
            if config.metric == "spread":
                value = indicators.spread(book)
            elif config.metric == "imbalance":
                value = indicators.depth_imbalance(book, config.band)
            else:
                value = indicators.microprice(book)
            if value is None:
                skip(market, "empty_book")
                continue
            value = value.quantize(SIX_PLACES)
            ctx.annotate(market.market_id, config.output_field, value)
            if config.passes(value):
                kept.append(market)
                lines.append({"market_id": market.market_id, config.output_field: _shown(value)})
            else:
                lines.append(
                    {"market_id": market.market_id, "dropped": config.describe(), "was": _shown(value)}
                )
        summary = {
            "received": len(inputs),
            "kept": len(kept),
            "field": config.output_field,
            "skipped_by": skipped_by,
        }
        return NodeOutput(markets=kept, decisions=[summary, *lines])
