"""The auto-pause notification (DESIGN 6): one SNS message naming the strategy and its owner."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Protocol

from engine.clock import iso
from engine.errors import StorageError
from engine.models.strategy import Strategy
from engine.storage.runs import AUTO_PAUSE_REASON

logger = logging.getLogger(__name__)

AUTO_PAUSED_EVENT = "auto_paused"


class Publisher(Protocol):
    def publish(self, message: str, *, subject: str, attributes: dict[str, str]) -> str: ...


def auto_pause_message(
    strategy: Strategy,
    *,
    failures: int,
    at: datetime,
    last_error: str | None,
    reason: str = AUTO_PAUSE_REASON,
) -> str:
    return json.dumps(
        {
            "event": AUTO_PAUSED_EVENT,
            "strategy_id": strategy.strategy_id,
            "strategy_name": strategy.strategy_name,
            "owner": strategy.created_by,
            "pause_reason": reason,
            "consecutive_failures": failures,
            "last_error_code": last_error,
            "paused_at": iso(at),
        },
        sort_keys=True,
    )


def notify_auto_paused(
    publisher: Publisher,
    strategy: Strategy,
    *,
    failures: int,
    at: datetime,
    last_error: str | None,
    reason: str = AUTO_PAUSE_REASON,
) -> bool:
    """Publish the notification; False when SNS failed (the pause itself is already committed, so a lost
    notification is logged, not retried into a second pause)."""
    message = auto_pause_message(strategy, failures=failures, at=at, last_error=last_error, reason=reason)
    subject = f"Autopilot paused strategy {strategy.strategy_name}"
    try:
        publisher.publish(message, subject=subject, attributes={"owner": strategy.created_by})
    except StorageError as exc:
        logger.error(
            "auto-pause notification not published",
            extra={"strategy_id": strategy.strategy_id, "error": exc.message},
        )
        return False
    return True


__all__ = ["AUTO_PAUSED_EVENT", "Publisher", "auto_pause_message", "notify_auto_paused"]
