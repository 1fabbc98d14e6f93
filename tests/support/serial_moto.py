"""Run moto's requests one at a time per service, so a concurrency test proves our conditions, not the
scheduler's luck.

moto does not make a conditional write atomic against a concurrent request (TOOLING.md): with a lock around
`BaseResponse.call_action` every DynamoDB request is evaluated alone, as DynamoDB evaluates a condition
atomically. Each service has its own lock (DynamoDB with its streams; SQS with SNS, which delivers into SQS
queues inside moto; one for the rest), because AWS's services do not wait for each other: a cron sending
its overflow to SQS is not queued behind its runs' DynamoDB requests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.responses import BaseResponse

_patch_lock = threading.Lock()


def _group(module: str) -> str:
    """`moto.dynamodb.responses` -> dynamodb; the lock group of a moto response class's service."""
    service = module.split(".")[1] if module.count(".") >= 1 else module
    if service.startswith("dynamodb"):  # dynamodb, dynamodbstreams
        return "dynamodb"
    if service in ("sqs", "sns"):
        return "messaging"
    return "other"


@contextmanager
def serial_moto() -> Iterator[None]:
    """While active, moto handles one request at a time (reentrant: nested use is harmless)."""
    with _patch_lock:
        original = BaseResponse.call_action
        if getattr(original, "_serialized", False):
            yield
            return
        locks = {group: threading.RLock() for group in ("dynamodb", "messaging", "other")}

        def call_action(self: BaseResponse, *args: Any, **kwargs: Any) -> Any:
            with locks[_group(type(self).__module__)]:
                return original(self, *args, **kwargs)

        call_action._serialized = True  # type: ignore[attr-defined]
        BaseResponse.call_action = call_action  # type: ignore[method-assign]
    try:
        yield
    finally:
        with _patch_lock:
            BaseResponse.call_action = original  # type: ignore[method-assign]
