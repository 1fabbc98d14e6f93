"""SQS and SNS: deferring (strategy, slot) pairs to the ExecutionQueue and publishing notifications."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from engine.errors import StorageError
from engine.settings import Settings, get_settings

SQS_BATCH = 10  # SendMessageBatch takes at most 10 entries
SNS_SUBJECT_CHARS = 100

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
_cache: dict[tuple[str, str], Any] = {}
_cache_lock = threading.Lock()


class MessagingError(StorageError):
    """SQS or SNS refused or failed a call."""


def _client(service: str, endpoint_url: str | None) -> Any:
    key = (service, endpoint_url or "")
    with _cache_lock:  # boto3 sessions are not thread-safe to create clients from
        client = _cache.get(key)
        if client is None:
            client = boto3.session.Session().client(service, endpoint_url=endpoint_url, config=_CONFIG)
            _cache[key] = client
        return client


def reset_messaging_clients() -> None:
    """Drop the cached clients (tests that change the environment or start a new moto)."""
    with _cache_lock:
        _cache.clear()


@dataclass(frozen=True)
class SendResult:
    sent: int
    failed: list[str]  # the bodies SQS did not take


class Messaging:
    """The two outbound ports of a run: the ExecutionQueue and the notifications topic."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()

    @property
    def sqs(self) -> Any:
        return _client("sqs", self.settings.sqs_endpoint_url)

    @property
    def sns(self) -> Any:
        return _client("sns", self.settings.sns_endpoint_url)

    def send_batch(self, bodies: Sequence[str], *, queue_url: str | None = None) -> SendResult:
        """Send each body as one message, 10 per SendMessageBatch call; entries SQS refuses are retried
        once, and what still fails is returned (the caller leaves those strategies due for the next tick)."""
        url = queue_url or self.settings.execution_queue_url
        if not url:
            raise MessagingError("no EXECUTION_QUEUE_URL is configured")
        sent = 0
        failed: list[str] = []
        for start in range(0, len(bodies), SQS_BATCH):
            chunk = list(bodies[start : start + SQS_BATCH])
            for attempt in range(2):
                refused = self._send_chunk(url, chunk)
                sent += len(chunk) - len(refused)
                chunk = refused
                if not chunk:
                    break
                if attempt == 1:
                    failed += chunk
        return SendResult(sent=sent, failed=failed)

    def _send_chunk(self, url: str, chunk: list[str]) -> list[str]:
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)]
        try:
            response = self.sqs.send_message_batch(QueueUrl=url, Entries=entries)
        except (ClientError, BotoCoreError) as exc:
            raise MessagingError(f"send to the execution queue failed: {exc}") from exc
        return [chunk[int(f["Id"])] for f in response.get("Failed", [])]

    def publish(
        self,
        message: str,
        *,
        subject: str,
        attributes: Mapping[str, str],
        topic_arn: str | None = None,
    ) -> str:
        """Publish to the notifications topic with string attributes (subscriptions filter on them)."""
        arn = topic_arn or self.settings.notifications_topic_arn
        if not arn:
            raise MessagingError("no NOTIFICATIONS_TOPIC_ARN is configured")
        try:
            response = self.sns.publish(
                TopicArn=arn,
                Subject=subject[:SNS_SUBJECT_CHARS],
                Message=message,
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise MessagingError(f"publish to the topic failed: {exc}") from exc
        return str(response.get("MessageId", ""))

    # -- the owner's alerts (NOTIFY): a topic of their own and the webhook queue, never the alarms topic

    def publish_user(self, message: str, *, subject: str, attributes: Mapping[str, str]) -> str:
        """Publish to the user-notifications topic (subscriptions filter on the `owner` attribute)."""
        arn = self.settings.user_notifications_topic_arn
        if not arn:
            raise MessagingError("no USER_NOTIFICATIONS_TOPIC_ARN is configured")
        return self.publish(message, subject=subject, attributes=attributes, topic_arn=arn)

    def enqueue_webhook(self, body: str) -> None:
        """Queue one alert for the notification worker, which posts it to the owner's webhook."""
        url = self.settings.webhook_queue_url
        if not url:
            raise MessagingError("no WEBHOOK_QUEUE_URL is configured")
        try:
            self.sqs.send_message(QueueUrl=url, MessageBody=body)
        except (ClientError, BotoCoreError) as exc:
            raise MessagingError(f"send to the webhook queue failed: {exc}") from exc


__all__ = ["SQS_BATCH", "Messaging", "MessagingError", "SendResult", "reset_messaging_clients"]
