"""The due read at scale: every shard read in parallel, in bounded pages, merged oldest first."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from engine.models.strategy import StrategyStatus
from engine.storage.dynamo import reset_clients
from engine.storage.strategies import DUE_PAGE_SIZE, StrategyRepository
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import T0, make_strategy


@pytest.fixture
def aws() -> Iterator[AwsEnv]:
    reset_clients()
    with moto_stack() as env:
        yield env
    reset_clients()


def test_the_due_read_pages_every_shard_in_bounded_pages_and_keeps_the_order(aws: AwsEnv) -> None:
    # Given 40 running strategies due at different minutes, spread over the shards, and pages of 3 items
    repo = StrategyRepository()
    repo.due_page_size = 3
    strategies = [
        make_strategy(status=StrategyStatus.RUNNING, due_at=T0 + timedelta(minutes=i % 7)) for i in range(40)
    ]
    repo.put_many(strategies)
    limits: list[int] = []
    threads: set[str] = set()

    def record(params: dict[str, Any], **_: Any) -> None:
        limits.append(params["Limit"])
        threads.add(threading.current_thread().name)

    repo.db.meta.events.register("provide-client-params.dynamodb.Query", record)

    # When the tick reads everything due, 35 of the 40 at most
    due = repo.query_due(now=T0 + timedelta(minutes=10), limit=35)

    # Then no page asked for more than 3 items, the shards were read on their own threads, and the
    # merged answer is the 35 oldest, oldest first
    assert limits and max(limits) <= 3
    assert len(threads) > 1
    expected = sorted((s.due_at, s.strategy_id) for s in strategies)[:35]
    assert [(r.due_at, r.strategy_id) for r in due] == expected


def test_the_default_page_is_bounded() -> None:
    # A page of at most a few hundred index items keeps each request small whatever the number due
    assert 100 <= DUE_PAGE_SIZE <= 1000
