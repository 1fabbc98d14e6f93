"""Run moto's requests one at a time, so a concurrency test proves our conditions, not the scheduler's luck.

moto does not make a conditional write atomic against a concurrent request (TOOLING.md): with a lock around
`BaseResponse.call_action` every request is evaluated alone, as DynamoDB evaluates a condition atomically.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.responses import BaseResponse

_patch_lock = threading.Lock()


@contextmanager
def serial_moto() -> Iterator[None]:
    """While active, moto handles one request at a time (reentrant: nested use is harmless)."""
    with _patch_lock:
        original = BaseResponse.call_action
        if getattr(original, "_serialized", False):
            yield
            return
        request_lock = threading.RLock()

        def call_action(self: BaseResponse, *args: Any, **kwargs: Any) -> Any:
            with request_lock:
                return original(self, *args, **kwargs)

        call_action._serialized = True  # type: ignore[attr-defined]
        BaseResponse.call_action = call_action  # type: ignore[method-assign]
    try:
        yield
    finally:
        with _patch_lock:
            BaseResponse.call_action = original  # type: ignore[method-assign]
