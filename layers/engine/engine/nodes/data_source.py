"""DATA_SOURCE: the markets a strategy starts from, taken from the tick's shared snapshot (DESIGN 5)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.clock import iso
from engine.market.types import Market, MarketQuery, OrderBy
from engine.nodes.base import NodeOutput, RunContext
from engine.nodes.registry import register


class DataSourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Literal["polymarket", "watchlist"] = "polymarket"
    watchlist_id: str | None = Field(default=None, min_length=1, max_length=64)  # with source watchlist
    active_only: bool = True
    limit: int = Field(default=200, ge=1, le=1000)
    tag: str | None = Field(default=None, min_length=1, max_length=100)
    order_by: OrderBy = "volume"
    ascending: bool = False


@register
class DataSource:
    type_name: ClassVar[str] = "DATA_SOURCE"
    config_model: ClassVar[type[BaseModel]] = DataSourceConfig
    is_source: ClassVar[bool] = True
    is_sink: ClassVar[bool] = False

    def run(self, config: DataSourceConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        if config.source == "watchlist":
            from engine.nodes.watchlist import watchlist_markets

            return watchlist_markets(config, ctx)
        query = MarketQuery(
            active_only=config.active_only,
            limit=config.limit,
            tag=config.tag,
            order_by=config.order_by,
            ascending=config.ascending,
        )
        # MarketDataUnavailable propagates: the runner turns it into a `market_data_unavailable` failure.
        markets = ctx.markets.query(query)
        decision = {
            "query": config.model_dump(),
            "markets": len(markets),
            "snapshot_at": iso(ctx.markets.fetched_at),
        }
        return NodeOutput(markets=list(markets), decisions=[decision])
