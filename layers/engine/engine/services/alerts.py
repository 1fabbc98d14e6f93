"""Sending NOTIFY's alerts to their owner, after the run that decided them is committed (DESIGN 6).

Each alert becomes one message: published to the user-notifications topic (never the operator's alarms
topic) with the owner as the message attribute `owner`, and queued for the owner's webhook (the
notification worker looks the webhook up, signs and posts it). Its `id` is the execution id and the node id,
so every copy of it can be recognised. Only a committed run sends: a retried run finds its log already
written (a duplicate) or its claim completed, and sends nothing again. A failure to send is logged, not
raised: the run is committed and is not undone for a message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from engine.clock import iso
from engine.errors import StorageError
from engine.models.alerts import Alert, alert_idempotency_id
from engine.models.strategy import Strategy
from engine.nodes.notify import render

logger = logging.getLogger(__name__)

ALERT_EVENT = "strategy_alert"
TEXT_CHARS = 4000  # far below SNS's 256 KB, and readable in an email or a chat message


class AlertPorts(Protocol):
    """The two outbound ports (engine.storage.messaging.Messaging implements them)."""

    def publish_user(self, message: str, *, subject: str, attributes: dict[str, str]) -> str: ...

    def enqueue_webhook(self, body: str) -> None: ...


def alert_message(
    alert: Alert, strategy: Strategy, *, execution_id: str, scheduled_for: datetime, now: datetime
) -> dict[str, Any]:
    """The message (the webhook's JSON body and the SNS message are the same document)."""
    title = render(
        alert.title_template,
        {"strategy_name": strategy.strategy_name, "count": str(alert.total), "node_id": alert.node_id},
    )
    more = alert.total - len(alert.lines)
    lines = [*alert.lines, *([f"... and {more} more"] if more > 0 else [])]
    return {
        "event": ALERT_EVENT,
        "id": alert_idempotency_id(execution_id, alert.node_id),
        "strategy_id": strategy.strategy_id,
        "strategy_name": strategy.strategy_name,
        "owner": strategy.created_by,
        "node_id": alert.node_id,
        "execution_id": execution_id,
        "scheduled_for": iso(scheduled_for),
        "sent_at": iso(now),
        "on": alert.on,
        "title": title,
        "text": "\n".join(lines)[:TEXT_CHARS],
        "count": alert.total,
        "markets": list(alert.markets),
    }


def send_alerts(
    ports: AlertPorts,
    alerts: Sequence[Alert],
    strategy: Strategy,
    *,
    execution_id: str,
    scheduled_for: datetime,
    now: datetime,
) -> int:
    """Send every alert that has something to say; the number sent to both ports."""
    sent = 0
    for alert in alerts:
        if not alert.has_news:
            continue
        message = alert_message(
            alert, strategy, execution_id=execution_id, scheduled_for=scheduled_for, now=now
        )
        body = json.dumps(message, sort_keys=True, separators=(",", ":"))
        ok = True
        try:
            ports.publish_user(
                body,
                subject=message["title"],
                attributes={"owner": strategy.created_by, "event": ALERT_EVENT},
            )
        except StorageError as exc:
            ok = False
            logger.error(
                "alert not published",
                extra={"strategy_id": strategy.strategy_id, "alert_id": message["id"], "error": exc.message},
            )
        try:
            ports.enqueue_webhook(body)
        except StorageError as exc:
            ok = False
            logger.error(
                "alert not queued for the webhook",
                extra={"strategy_id": strategy.strategy_id, "alert_id": message["id"], "error": exc.message},
            )
        sent += ok
    return sent


__all__ = ["ALERT_EVENT", "AlertPorts", "alert_message", "send_alerts"]
