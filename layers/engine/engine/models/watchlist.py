"""Watchlists: a user's lists of markets to watch, filled by hand or by a strategy's WATCHLIST node."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from engine.models.base import DomainModel, Money, UtcDatetime

MAX_LISTS_PER_USER = 50
MAX_ITEMS_PER_LIST = 1000
USER_ADDED = "user"


class ItemStatus(StrEnum):
    WATCHING = "watching"
    ESCALATED = "escalated"
    ENTERED = "entered"
    EXITED = "exited"


class Watchlist(DomainModel):
    watchlist_id: str
    owner: str
    name: str = Field(min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    items_count: int = 0
    created_at: UtcDatetime
    updated_at: UtcDatetime


class MarketSnapshotInfo(DomainModel):
    """The market as it was when the item was added."""

    question: str
    slug: str | None = None
    yes_price: Money | None = None
    no_price: Money | None = None
    volume: Money | None = None
    end_date: UtcDatetime | None = None


class WatchlistItem(DomainModel):
    watchlist_id: str
    market_id: str
    added_at: UtcDatetime
    added_by: str  # "user", or the execution id of the run that added it
    reason: str | None = None
    event_slug: str | None = None
    snapshot: MarketSnapshotInfo
    status: ItemStatus = ItemStatus.WATCHING
    status_changed_at: UtcDatetime | None = None
    expires_at: UtcDatetime | None = None

    def live(self, now: datetime) -> bool:
        """Still watched: not expired, and the strategy has not left the market."""
        return (self.expires_at is None or self.expires_at > now) and self.status is not ItemStatus.EXITED


def new_watchlist_id(now: datetime) -> str:
    """Ids sort by creation time (the list is newest first by id) and never collide."""
    return f"w_{now.strftime('%Y%m%dT%H%M%S%f')}_{uuid.uuid4().hex[:8]}"


__all__ = [
    "MAX_ITEMS_PER_LIST",
    "MAX_LISTS_PER_USER",
    "USER_ADDED",
    "ItemStatus",
    "MarketSnapshotInfo",
    "Watchlist",
    "WatchlistItem",
    "new_watchlist_id",
]
