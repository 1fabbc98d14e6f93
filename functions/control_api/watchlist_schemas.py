"""Bodies and answers of the watchlist routes."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_validator

from engine.models.base import Model
from engine.models.watchlist import Watchlist, WatchlistItem

NAME_MAX = 120
DESCRIPTION_MAX = 2000
ID_MAX = 128
ITEMS_PER_REQUEST = 100


class _In(Model):
    model_config = ConfigDict(extra="forbid")


class CreateWatchlistIn(_In):
    """POST /watchlists."""

    name: str = Field(min_length=1, max_length=NAME_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)


class PatchWatchlistIn(_In):
    """PATCH /watchlists/{id}: name and/or description (null clears it)."""

    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)

    @model_validator(mode="after")
    def _something_to_change(self) -> PatchWatchlistIn:
        if not self.model_fields_set:
            raise ValueError("give at least one of name, description")
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class AddItemsIn(_In):
    """POST /watchlists/{id}/items: markets by id and/or the markets of events by slug, with a reason."""

    market_ids: list[str] = Field(default_factory=list, max_length=ITEMS_PER_REQUEST)
    event_slugs: list[str] = Field(default_factory=list, max_length=10)
    reason: str | None = Field(default=None, max_length=500)
    ttl_hours: float | None = Field(default=None, gt=0, le=24 * 365)

    @model_validator(mode="after")
    def _something_to_add(self) -> AddItemsIn:
        if not self.market_ids and not self.event_slugs:
            raise ValueError("give market_ids or event_slugs")
        for value in [*self.market_ids, *self.event_slugs]:
            if not 1 <= len(value) <= ID_MAX:
                raise ValueError(f"ids and slugs are 1..{ID_MAX} characters")
        return self


class WatchlistOut(Watchlist):
    """A watchlist: its name, description, item count and times."""


class WatchlistListOut(Model):
    items: list[WatchlistOut]
    next_token: str | None = None


class WatchlistItemOut(WatchlistItem):
    """One market on a list: who added it (`user` or the execution that did), why, its snapshot at add time,
    its status (watching, escalated, entered, exited) and when it expires."""


class WatchlistItemListOut(Model):
    items: list[WatchlistItemOut]
    next_token: str | None = None
