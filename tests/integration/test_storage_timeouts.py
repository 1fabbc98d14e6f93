"""A DynamoDB that stops answering is a storage error the tick can log, not a crash of the cron handler."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError

from engine.errors import StorageError
from engine.storage.strategies import StrategyRepository
from tests.integration.test_executor_exactly_once import seed_running
from tests.support.builders import T0
from tests.support.lambda_context import handler_stack


def _time_out(**_: Any) -> None:
    raise ReadTimeoutError(endpoint_url="http://dynamodb")


def test_a_due_query_that_times_out_is_a_storage_error() -> None:
    with handler_stack():
        # Given a table whose index queries time out (after botocore's own retries)
        repo = StrategyRepository()
        repo.db.meta.events.register("before-send.dynamodb.Query", _time_out)
        # When / Then
        with pytest.raises(StorageError, match="did not answer"):
            repo.query_due(now=T0, limit=10)


def test_a_tick_whose_due_query_times_out_returns_and_leaves_every_strategy_due() -> None:
    with handler_stack() as stack:
        # Given due strategies and a due index that times out
        ids = seed_running(3)
        StrategyRepository().db.meta.events.register("before-send.dynamodb.Query", _time_out)
        # When the cron ticks
        report = stack.cron(T0 + timedelta(seconds=1), budget_seconds=20)
        # Then it answered (no crash), counted both failed index queries (due, then settlement), and claimed
        # nothing: the next tick takes them
        assert report["errors"] == 2 and report["due"] == 0
        for sid in ids:
            stored = StrategyRepository().find(sid)
            assert stored is not None and stored.due_at == T0 and stored.claim_token is None
