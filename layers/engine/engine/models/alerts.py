"""What a NOTIFY node decided in a run: an alert for its owner, sent only after the run is committed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

NotifyOn = Literal["new", "every_run"]


@dataclass(frozen=True)
class Alert:
    """One NOTIFY node's message for one run.

    `markets` are the markets told about (those that entered the set for `on: new`, the whole set for
    `every_run`); `lines` their rendered text, at most the node's `max_markets`. `seen` is the node's whole
    current set (market ids): with `on: new` it becomes the node's durable state in the run's commit, so the
    next run compares against it.
    """

    node_id: str
    on: NotifyOn
    title_template: str
    lines: tuple[str, ...]
    markets: tuple[dict[str, Any], ...]
    total: int  # markets told about (lines and markets may be capped)
    seen: frozenset[str] = field(default_factory=frozenset)

    @property
    def has_news(self) -> bool:
        return self.total > 0


def alert_idempotency_id(execution_id: str, node_id: str) -> str:
    """The id every delivery of this alert carries: the execution id and the node id (stable on retry)."""
    return f"{execution_id}:{node_id}"


__all__ = ["Alert", "NotifyOn", "alert_idempotency_id"]
