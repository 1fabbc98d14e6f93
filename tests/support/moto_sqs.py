"""A test-only speedup of moto's SQS for benchmarks that queue thousands of messages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def retention_read_from_the_queue() -> Iterator[None]:
    """moto checks each message's retention, on every receive, by computing ALL the queue's attributes, among
    them the approximate counts, which walk every message: a receive costs O(messages^2), and with 10,000
    queued a batch of 10 takes seconds. While active, the check reads the one attribute it needs: the same
    answer in O(1)."""
    from moto.core.utils import unix_time
    from moto.sqs.models import Message, SQSBackend

    original = SQSBackend.is_message_valid_based_on_retention_period

    def is_valid(self: SQSBackend, queue_name: str, message: Message) -> bool:
        retention: Any = self.get_queue(queue_name).message_retention_period  # type: ignore[attr-defined]
        return bool(int(retention) + message.sent_timestamp / 1000 > unix_time())  # type: ignore[operator]

    SQSBackend.is_message_valid_based_on_retention_period = is_valid  # type: ignore[method-assign]
    try:
        yield
    finally:
        SQSBackend.is_message_valid_based_on_retention_period = original  # type: ignore[method-assign]
