"""Watchlist use cases: a user's lists and items, the graph check that a strategy names only its owner's
lists, and what a run does with them (read a list's live markets, stage WATCHLIST writes, move statuses)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from engine.clock import Deadline
from engine.errors import Conflict, QuotaExceeded, StorageError, ValidationFailed
from engine.market.types import Market
from engine.models.strategy import NodeGraph, StrategyStatus
from engine.models.trading import Side, Trade
from engine.models.watchlist import (
    MAX_ITEMS_PER_LIST,
    MAX_LISTS_PER_USER,
    USER_ADDED,
    ItemStatus,
    MarketSnapshotInfo,
    Watchlist,
    WatchlistItem,
    new_watchlist_id,
)
from engine.nodes.watchlist import WatchlistWrite
from engine.storage.pages import Page
from engine.storage.strategies import StrategyRepository
from engine.storage.watchlists import WatchlistRepository

logger = logging.getLogger(__name__)

READ_SOURCE = "watchlist"  # DATA_SOURCE `source` that reads a list
SINK_TYPE = "WATCHLIST"


class EventMarkets(Protocol):
    """A market data provider that can also resolve an event slug to its markets (Polymarket's Gamma)."""

    def get_markets(self, market_ids: Sequence[str], *, deadline: Deadline) -> list[Market]: ...

    def get_event_markets(self, slug: str, *, deadline: Deadline) -> list[Market]: ...


# -- graph references -----------------------------------------------------------------------------------


def graph_watchlist_refs(graph: NodeGraph) -> list[tuple[int, str, bool]]:
    """(node index, watchlist_id, reads) for every node naming a list: DATA_SOURCE reads, WATCHLIST writes."""
    refs: list[tuple[int, str, bool]] = []
    for i, node in enumerate(graph.nodes):
        wid = node.config.get("watchlist_id")
        if not isinstance(wid, str):
            continue
        if node.type == "DATA_SOURCE" and node.config.get("source") == READ_SOURCE:
            refs.append((i, wid, True))
        elif node.type == SINK_TYPE:
            refs.append((i, wid, False))
    return refs


def check_graph_watchlists(graph: NodeGraph, *, owner: str, repo: WatchlistRepository) -> None:
    """ValidationFailed (loc ending in `watchlist_id`) for a node naming a list that is not the owner's."""
    refs = graph_watchlist_refs(graph)
    unnamed = [
        i
        for i, node in enumerate(graph.nodes)
        if node.type == "DATA_SOURCE"
        and node.config.get("source") == READ_SOURCE
        and not isinstance(node.config.get("watchlist_id"), str)
    ]
    if unnamed:
        raise ValidationFailed(
            f"node '{graph.nodes[unnamed[0]].id}': source watchlist needs a watchlist_id",
            details=[
                {
                    "loc": ["node_graph", "nodes", i, "config", "watchlist_id"],
                    "msg": "required with source watchlist",
                }
                for i in unnamed
            ],
        )
    if not refs:
        return
    owned = repo.owned_ids(owner, [wid for _, wid, _ in refs])
    missing = [(i, wid) for i, wid, _ in refs if wid not in owned]
    if missing:
        messages = [f"node '{graph.nodes[i].id}': no watchlist '{wid}' of yours" for i, wid in missing]
        details = [
            {"loc": ["node_graph", "nodes", i, "config", "watchlist_id"], "msg": message}
            for (i, _), message in zip(missing, messages, strict=True)
        ]
        raise ValidationFailed(messages[0], details=details)


# -- lists ----------------------------------------------------------------------------------------------


def create_watchlist(
    *, owner: str, name: str, description: str | None, now: datetime, repo: WatchlistRepository
) -> Watchlist:
    watchlist = Watchlist(
        watchlist_id=new_watchlist_id(now),
        owner=owner,
        name=name,
        description=description,
        created_at=now,
        updated_at=now,
    )
    repo.create(watchlist, max_lists=MAX_LISTS_PER_USER)
    return watchlist


def update_watchlist(
    watchlist_id: str, *, owner: str, changes: Mapping[str, Any], now: datetime, repo: WatchlistRepository
) -> Watchlist:
    if not changes:
        return repo.get(watchlist_id, owner=owner)
    return repo.update(watchlist_id, owner=owner, set_fields=changes, now=now)


def readers_of(watchlist_id: str, *, owner: str, strategies: StrategyRepository) -> list[str]:
    """The owner's deployed strategies (any status but DRAFT) whose graph reads this list."""
    readers: list[str] = []
    token: str | None = None
    while True:
        page = strategies.list_by_owner(owner, limit=100, next_token=token)
        for strategy in page.items:
            if strategy.status is StrategyStatus.DRAFT:
                continue
            if any(
                reads and wid == watchlist_id for _, wid, reads in graph_watchlist_refs(strategy.node_graph)
            ):
                readers.append(strategy.strategy_id)
        token = page.next_token
        if token is None:
            return readers


def delete_watchlist(
    watchlist_id: str, *, owner: str, repo: WatchlistRepository, strategies: StrategyRepository
) -> None:
    """Delete a list and its items; Conflict naming the deployed strategies that read it."""
    repo.get(watchlist_id, owner=owner)
    readers = readers_of(watchlist_id, owner=owner, strategies=strategies)
    if readers:
        raise Conflict(
            f"deployed strategies read this watchlist: {', '.join(readers)}",
            details={"strategies": readers},
        )
    repo.delete(watchlist_id, owner=owner)


# -- items ----------------------------------------------------------------------------------------------


def snapshot_of(market: Market) -> MarketSnapshotInfo:
    return MarketSnapshotInfo(
        question=market.question,
        slug=market.slug or None,
        yes_price=market.yes_price,
        no_price=market.no_price,
        volume=market.volume,
        end_date=market.end_date,
    )


def add_items(
    watchlist_id: str,
    *,
    owner: str,
    market_ids: Sequence[str],
    event_slugs: Sequence[str],
    reason: str | None,
    ttl_hours: float | None,
    now: datetime,
    provider: EventMarkets,
    deadline: Deadline,
    repo: WatchlistRepository,
) -> list[WatchlistItem]:
    """Add markets by id and the markets of events by slug, each with a snapshot taken now.

    MarketDataUnavailable when the source cannot be reached to resolve them; ValidationFailed naming an id or
    slug it does not know; QuotaExceeded once the list holds its limit (what was added before stays).
    Returns the items added (a market already on the list is left as it is).
    """
    repo.get(watchlist_id, owner=owner)
    resolved: list[tuple[Market, str | None]] = []
    if market_ids:
        found = {m.market_id: m for m in provider.get_markets(list(market_ids), deadline=deadline)}
        unknown = [(i, m) for i, m in enumerate(market_ids) if m not in found]
        if unknown:
            raise ValidationFailed(
                f"unknown market '{unknown[0][1]}'",
                details=[
                    {"loc": ["body", "market_ids", i], "msg": f"unknown market '{m}'"} for i, m in unknown
                ],
            )
        resolved += [(found[m], None) for m in dict.fromkeys(market_ids)]
    for i, slug in enumerate(event_slugs):
        markets = provider.get_event_markets(slug, deadline=deadline)
        if not markets:
            raise ValidationFailed(
                f"unknown event '{slug}'",
                details=[{"loc": ["body", "event_slugs", i], "msg": "unknown event"}],
            )
        resolved += [(m, slug) for m in markets]
    expires = now + timedelta(hours=ttl_hours) if ttl_hours is not None else None
    added: list[WatchlistItem] = []
    for market, from_event in resolved:
        item = WatchlistItem(
            watchlist_id=watchlist_id,
            market_id=market.market_id,
            added_at=now,
            added_by=USER_ADDED,
            reason=reason,
            event_slug=from_event,
            snapshot=snapshot_of(market),
            expires_at=expires,
        )
        if repo.add_item(item, owner=owner, max_items=MAX_ITEMS_PER_LIST):
            added.append(item)
    return added


def list_items(
    watchlist_id: str, *, owner: str, limit: int, next_token: str | None, repo: WatchlistRepository
) -> Page[WatchlistItem]:
    repo.get(watchlist_id, owner=owner)
    return repo.list_items(watchlist_id, scope=owner, limit=limit, next_token=next_token)


def remove_item(watchlist_id: str, market_id: str, *, owner: str, repo: WatchlistRepository) -> bool:
    repo.get(watchlist_id, owner=owner)
    return repo.remove_item(watchlist_id, market_id, owner=owner)


# -- runs -----------------------------------------------------------------------------------------------


@dataclass
class RunWatchlists:
    """A run's view of its owner's watchlists: reads are scoped to the owner (a list that is not theirs
    reads as empty, never someone else's), writes are staged and applied after the commit."""

    owner: str
    repo: WatchlistRepository
    now: datetime
    staged: list[WatchlistWrite] = field(default_factory=list)
    _lists: dict[str, Watchlist | None] = field(default_factory=dict)
    _items: dict[str, list[WatchlistItem]] = field(default_factory=dict)

    def _list(self, watchlist_id: str) -> Watchlist | None:
        if watchlist_id not in self._lists:
            self._lists[watchlist_id] = self.repo.find(watchlist_id, owner=self.owner)
        return self._lists[watchlist_id]

    def items(self, watchlist_id: str) -> list[WatchlistItem]:
        if watchlist_id not in self._items:
            mine = self._list(watchlist_id) is not None
            self._items[watchlist_id] = self.repo.all_items(watchlist_id) if mine else []
        return self._items[watchlist_id]

    def live_market_ids(self, watchlist_id: str) -> list[str]:
        return [i.market_id for i in self.items(watchlist_id) if i.live(self.now)]

    def room(self, watchlist_id: str) -> int:
        """How many more items the list takes (after what this run staged already)."""
        watchlist = self._list(watchlist_id)
        if watchlist is None:
            return 0
        on_list = {i.market_id for i in self.items(watchlist_id)}
        staged = {
            s.market.market_id
            for s in self.staged
            if s.watchlist_id == watchlist_id and s.action == "add" and s.market.market_id not in on_list
        }
        return max(0, MAX_ITEMS_PER_LIST - watchlist.items_count - len(staged))

    def on_list(self, watchlist_id: str, market_id: str) -> bool:
        return any(i.market_id == market_id for i in self.items(watchlist_id))

    def stage(self, write: WatchlistWrite) -> None:
        self.staged.append(write)


def apply_staged(
    staged: Iterable[WatchlistWrite],
    *,
    owner: str,
    execution_id: str,
    now: datetime,
    repo: WatchlistRepository,
) -> int:
    """Apply a committed run's WATCHLIST writes (idempotent: an add of a listed market, a remove of an
    absent one, an escalate of an escalated one change nothing). Returns how many changed something."""
    changed = 0
    for write in staged:
        try:
            if write.action == "add":
                expires = now + timedelta(hours=write.ttl_hours) if write.ttl_hours is not None else None
                item = WatchlistItem(
                    watchlist_id=write.watchlist_id,
                    market_id=write.market.market_id,
                    added_at=now,
                    added_by=execution_id,
                    reason=write.reason,
                    snapshot=snapshot_of(write.market),
                    expires_at=expires,
                )
                changed += repo.add_item(item, owner=owner, max_items=MAX_ITEMS_PER_LIST)
            elif write.action == "remove":
                changed += repo.remove_item(write.watchlist_id, write.market.market_id, owner=owner)
            else:
                changed += repo.set_status(
                    write.watchlist_id, write.market.market_id, ItemStatus.ESCALATED, now=now
                )
        except (QuotaExceeded, Conflict, StorageError) as exc:
            # the run is committed; a list that filled up or went away meanwhile skips this write
            logger.info(
                "watchlist write skipped", extra={"watchlist_id": write.watchlist_id, "error": exc.message}
            )
    return changed


def move_statuses(
    graph: NodeGraph, trades: Iterable[Trade], *, owner: str, now: datetime, repo: WatchlistRepository
) -> int:
    """After a run's commit: an item whose market the strategy entered is `entered`, left is `exited`, on
    every list its DATA_SOURCE nodes read. Idempotent; outside the run's transaction."""
    read = [wid for _, wid, reads in graph_watchlist_refs(graph) if reads]
    if not read:
        return 0
    moves: dict[str, ItemStatus] = {}
    for trade in trades:  # in ledger order: the last move of a market wins
        moves[trade.market_id] = ItemStatus.ENTERED if trade.side is Side.BUY else ItemStatus.EXITED
    moved = 0
    for wid in dict.fromkeys(read):
        if repo.find(wid, owner=owner) is None:
            continue
        for market_id, status in moves.items():
            try:
                moved += repo.set_status(wid, market_id, status, now=now)
            except StorageError as exc:
                logger.info("watchlist status not moved", extra={"watchlist_id": wid, "error": exc.message})
    return moved


__all__ = [
    "EventMarkets",
    "RunWatchlists",
    "add_items",
    "apply_staged",
    "check_graph_watchlists",
    "create_watchlist",
    "delete_watchlist",
    "graph_watchlist_refs",
    "list_items",
    "move_statuses",
    "readers_of",
    "remove_item",
    "update_watchlist",
]
