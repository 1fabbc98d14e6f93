"""DATA_SOURCE: the markets a strategy starts from, taken from the tick's shared snapshot (DESIGN 5).

v1 keys ask the snapshot exactly as before. v2 keys: `tag` also collects the markets of the open Gamma events
carrying that tag (tags live on events, not on their markets); `event_slug` takes one event's markets;
`end_within_hours` and `min_liquidity` narrow the set before `limit`; `source: positions` is the markets
this strategy holds.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.clock import iso
from engine.errors import MarketDataUnavailable
from engine.market.snapshot import order_markets
from engine.market.types import Market, MarketQuery, OrderBy
from engine.models.base import Model
from engine.nodes.base import INCLUDE, Category, NodeOutput, RunContext
from engine.nodes.registry import register

V1_KEYS = {"source", "active_only", "limit", "tag", "order_by", "ascending"}
MAX_QUERY = 10_000  # with v2 narrowing the query takes everything, and `limit` applies after


class DataSourceConfig(Model):
    model_config = ConfigDict(extra="forbid")

    source: Literal["polymarket", "positions", "watchlist"] = Field(
        default="polymarket",
        description="`polymarket`: the tick's markets; `positions`: the markets held; `watchlist`: the live "
        "markets of the owner's list `watchlist_id`.",
    )
    watchlist_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="With `source: watchlist`: the list to read."
    )
    active_only: bool = Field(default=True, description="Only open markets.")
    limit: int = Field(default=200, ge=1, le=1000, description="At most this many markets, after ordering.")
    tag: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="A Gamma tag slug or label (e.g. `crypto`), resolved through the events that carry it.",
    )
    event_slug: str | None = Field(
        default=None, min_length=1, max_length=200, description="Only the markets of this Gamma event."
    )
    end_within_hours: Decimal | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="Only markets closing within this many hours."
    )
    min_liquidity: Decimal | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="Only markets with at least this liquidity (USD).",
    )
    order_by: OrderBy = Field(default="volume", description="How the markets are ordered before `limit`.")
    ascending: bool = Field(default=False, description="Smallest first.")

    @property
    def is_v1(self) -> bool:
        return self.event_slug is None and self.end_within_hours is None and self.min_liquidity is None


@register
class DataSource:
    type_name: ClassVar[str] = "DATA_SOURCE"
    config_model: ClassVar[type[BaseModel]] = DataSourceConfig
    is_source: ClassVar[bool] = True
    is_sink: ClassVar[bool] = False
    category: ClassVar[Category] = "source"
    title: ClassVar[str] = "Data source"
    description: ClassVar[str] = (
        "Makes the set of markets a strategy starts from: the tick's active Polymarket markets (optionally "
        "by tag, event, closing window or liquidity), or the markets this strategy holds."
    )
    inputs: ClassVar[tuple[int, int | None]] = (0, 0)
    handles: ClassVar[tuple[str, ...]] = (INCLUDE,)
    example: ClassVar[dict[str, Any]] = {
        "limit": 100,
        "order_by": "volume_24h",
        "min_liquidity": 5000,
        "end_within_hours": 720,
    }

    def run(self, config: DataSourceConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        if config.source == "watchlist":
            from engine.nodes.watchlist import watchlist_markets

            return watchlist_markets(config, ctx)
        notes: list[str] = []
        if config.source == "positions":
            markets = self._held(config, ctx)
        elif config.is_v1:
            # v1: exactly the query it always made; MarketDataUnavailable propagates (the run fails)
            markets = ctx.markets.query(self._query(config, config.limit))
            if config.tag is not None:
                markets = self._with_tagged_events(config, markets, ctx, notes)
        else:
            markets = self._narrowed(config, ctx, notes)
        decision: dict[str, Any] = {
            "query": config.model_dump(mode="json", exclude_none=True)
            if not config.is_v1
            else config.model_dump(include=V1_KEYS),
            "markets": len(markets),
            "snapshot_at": iso(ctx.markets.fetched_at),
        }
        if notes:
            decision["notes"] = notes
        return NodeOutput(markets=list(markets), decisions=[decision])

    @staticmethod
    def _query(config: DataSourceConfig, limit: int) -> MarketQuery:
        return MarketQuery(
            active_only=config.active_only,
            limit=limit,
            tag=config.tag,
            order_by=config.order_by,
            ascending=config.ascending,
        )

    def _narrowed(self, config: DataSourceConfig, ctx: RunContext, notes: list[str]) -> list[Market]:
        if config.event_slug is not None:
            candidates = [m for e in ctx.markets.events(slug=config.event_slug) for m in e.markets]
            if config.tag is not None:
                wanted = config.tag.casefold()
                candidates = [m for m in candidates if any(t.casefold() == wanted for t in m.tags)]
            return self._finish(config, candidates, ctx)
        candidates = ctx.markets.query(self._query(config, MAX_QUERY))
        if config.tag is not None:
            candidates = self._with_tagged_events(config, candidates, ctx, notes)
        return self._finish(config, candidates, ctx, ordered=True)  # the query (and the merge) ordered them

    def _with_tagged_events(
        self, config: DataSourceConfig, markets: list[Market], ctx: RunContext, notes: list[str]
    ) -> list[Market]:
        """The snapshot's own tag/category matches plus the markets of the open events carrying the tag,
        ordered and limited again. Unchanged when the events add nothing (a v1 graph keeps its markets)."""
        try:
            events = ctx.markets.events(tag_slug=config.tag)
        except MarketDataUnavailable as exc:
            notes.append(f"events for tag {config.tag!r} unavailable: {exc.message}")
            return markets
        known = {m.market_id for m in markets}
        added: list[Market] = []
        for event in events:
            for market in event.markets:
                if market.market_id not in known:
                    known.add(market.market_id)
                    added.append(market)
        if not added:
            return markets
        return self._finish(config, [*markets, *added], ctx)

    def _held(self, config: DataSourceConfig, ctx: RunContext) -> list[Market]:
        held = dict.fromkeys(h.market_id for h in ctx.account.positions.values())
        markets = [m for m in (ctx.markets.market(market_id) for market_id in held) if m is not None]
        return self._finish(config, markets, ctx)

    @staticmethod
    def _finish(
        config: DataSourceConfig, markets: list[Market], ctx: RunContext, *, ordered: bool = False
    ) -> list[Market]:
        seen: set[str] = set()
        kept: list[Market] = []
        for market in markets:
            if market.market_id in seen:
                continue
            seen.add(market.market_id)
            if config.active_only and (market.closed or not market.active):
                continue
            if config.min_liquidity is not None and market.liquidity < config.min_liquidity:
                continue
            if config.end_within_hours is not None:
                hours = market.hours_to_close(ctx.slot)
                if hours is None or hours < 0 or hours > config.end_within_hours:
                    continue
            kept.append(market)
            if ordered and len(kept) >= config.limit:
                break
        if not ordered:
            kept = order_markets(kept, config.order_by, ascending=config.ascending)
        return kept[: config.limit]
