"""Trades table: the paper ledger (ordered by the `by_seq` index) and the per-strategy `~marks` item."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.models.trading import Trade
from engine.storage.dynamo import StorageClients
from engine.storage.pages import Page

MARKS_ID = "~marks"


def seq_key(epoch: int, seq: int) -> str:
    return f"{epoch:06d}#{seq:010d}"


class TradeRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        raise NotImplementedError

    def item_for(self, trade: Trade) -> dict[str, Any]:
        raise NotImplementedError

    def marks_item(
        self, strategy_id: str, marks: Mapping[str, Mapping[str, Any]], marked_at: datetime
    ) -> dict[str, Any]:
        raise NotImplementedError

    def list(self, strategy_id: str, *, limit: int, next_token: str | None, scope: str) -> Page[Trade]:
        """Trades newest first."""
        raise NotImplementedError

    def after_seq(
        self, strategy_id: str, *, epoch: int, after_seq: int, limit: int = 1000
    ) -> builtins.list[Trade]:
        """Trades of `epoch` with seq > after_seq, in seq order."""
        raise NotImplementedError

    def ledger(self, strategy_id: str, *, epoch: int) -> builtins.list[Trade]:
        raise NotImplementedError

    def get_marks(self, strategy_id: str) -> dict[str, Any] | None:
        """{"marked_at": datetime, "marks": {token_id: {"price": Decimal, "status": str}}} or None."""
        raise NotImplementedError
