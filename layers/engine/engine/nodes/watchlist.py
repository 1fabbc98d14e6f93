"""Watchlists in a graph: DATA_SOURCE `source: watchlist` reads a list's live markets, and the WATCHLIST sink
writes to a list (add, remove, escalate). Reads and writes go through the run's `RunContext.watchlists`, which
only ever sees the strategy owner's lists; writes are staged and applied after the run's commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from engine.market.types import Market
from engine.models.base import Model
from engine.nodes.base import NodeOutput, RunContext
from engine.nodes.registry import register

if TYPE_CHECKING:
    from engine.nodes.data_source import DataSourceConfig

WatchlistAction = Literal["add", "remove", "escalate"]


@dataclass(frozen=True)
class WatchlistWrite:
    """What a WATCHLIST node decided for one market; applied after the run's commit."""

    action: WatchlistAction
    watchlist_id: str
    market: Market
    reason: str | None
    ttl_hours: float | None


class WatchlistAccess(Protocol):
    """The run's view of its owner's watchlists (a list that is not the owner's reads as empty)."""

    def live_market_ids(self, watchlist_id: str) -> list[str]: ...

    def on_list(self, watchlist_id: str, market_id: str) -> bool: ...

    def room(self, watchlist_id: str) -> int: ...

    def stage(self, write: WatchlistWrite) -> None: ...


class NoWatchlists(Exception):
    """The run was given no watchlist access (a graph naming a list is always run with one)."""


def watchlist_markets(config: DataSourceConfig, ctx: RunContext) -> NodeOutput:
    """DATA_SOURCE with `source: watchlist`: the list's live markets (not expired, not exited), as the
    tick's snapshot has them now; closed ones left out when `active_only`."""
    if ctx.watchlists is None or config.watchlist_id is None:
        raise NoWatchlists("this run has no access to watchlists")
    ids = ctx.watchlists.live_market_ids(config.watchlist_id)
    prefetch = getattr(ctx.markets, "prefetch", None)
    if callable(prefetch):
        found = {m.market_id: m for m in prefetch(ids)}
        markets = [found[i] for i in ids if i in found]
    else:
        markets = [m for m in (ctx.markets.market(i) for i in ids) if m is not None]
    if config.active_only:
        markets = [m for m in markets if m.active and not m.closed]
    markets = markets[: config.limit]
    decision = {"watchlist_id": config.watchlist_id, "live_items": len(ids), "markets": len(markets)}
    return NodeOutput(markets=markets, decisions=[decision])


class WatchlistConfig(Model):
    model_config = ConfigDict(extra="forbid")

    action: WatchlistAction = "add"
    watchlist_id: str = Field(min_length=1, max_length=64)
    reason: str | None = Field(default=None, max_length=500)
    ttl_hours: float | None = Field(default=None, gt=0, le=24 * 365)


@register
class WatchlistSink:
    """WATCHLIST: writes the markets it receives to one of the owner's lists (an alert strategy's sink)."""

    type_name: ClassVar[str] = "WATCHLIST"
    config_model: ClassVar[type[BaseModel]] = WatchlistConfig
    is_source: ClassVar[bool] = False
    is_sink: ClassVar[bool] = True
    category: ClassVar[str] = "sink"
    title: ClassVar[str] = "Watchlist"
    description: ClassVar[str] = (
        "Adds the markets it receives to one of your watchlists (or removes or escalates them). Items beyond "
        "a list's limit of 1,000 are skipped, and the run's trace says so."
    )
    inputs: ClassVar[tuple[int, int | None]] = (1, None)
    handles: ClassVar[tuple[str, ...]] = ("include",)
    example: ClassVar[dict[str, Any]] = {
        "action": "add",
        "watchlist_id": "w_20261124T120000000000_1a2b3c4d",
        "reason": "liquid and undecided",
        "ttl_hours": 48,
    }

    def run(self, config: WatchlistConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        if ctx.watchlists is None:
            raise NoWatchlists("this run has no access to watchlists")
        access = ctx.watchlists
        staged = 0
        already = 0
        over_limit: list[str] = []
        for market in inputs:
            listed = access.on_list(config.watchlist_id, market.market_id)
            if config.action == "add":
                if listed:
                    already += 1
                    continue
                if access.room(config.watchlist_id) <= 0:
                    over_limit.append(market.market_id)
                    continue
            elif not listed:
                continue  # nothing to remove or escalate
            access.stage(
                WatchlistWrite(
                    action=config.action,
                    watchlist_id=config.watchlist_id,
                    market=market,
                    reason=config.reason,
                    ttl_hours=config.ttl_hours,
                )
            )
            staged += 1
        decision: dict[str, Any] = {
            "watchlist_id": config.watchlist_id,
            "action": config.action,
            "staged": staged,
            "already_listed": already,
        }
        if over_limit:
            decision["skipped_over_limit"] = len(over_limit)
            decision["skipped_markets"] = over_limit[:20]
            decision["reason"] = "the watchlist is at its limit of 1,000 items"
        return NodeOutput(decisions=[decision])


__all__ = [
    "NoWatchlists",
    "WatchlistAccess",
    "WatchlistConfig",
    "WatchlistSink",
    "WatchlistWrite",
    "watchlist_markets",
]
