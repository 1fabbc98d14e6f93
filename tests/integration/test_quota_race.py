"""The per-user strategy quota holds under races (DESIGN 4.1): a counter item changed in the same
transaction as the put, taken down by a delete's transaction, and counted on a user's first use."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.settings import reset_settings
from engine.storage.quota import counter_key
from engine.storage.strategies import StrategyRepository
from functions.control_api import app as app_module
from tests.support.aws import moto_stack
from tests.support.builders import EXAMPLE_GRAPH, make_strategy
from tests.support.http import Api, unique_users
from tests.support.serial_moto import serial_moto

QUOTA = 5
CREATE = {"strategy_name": "Momentum", "node_graph": EXAMPLE_GRAPH}


@pytest.fixture(scope="module")
def stack() -> Iterator[object]:
    saved = os.environ.get("STRATEGY_QUOTA")
    os.environ["STRATEGY_QUOTA"] = str(QUOTA)
    try:
        with moto_stack() as aws, serial_moto():
            yield aws
    finally:
        if saved is None:
            os.environ.pop("STRATEGY_QUOTA", None)
        else:
            os.environ["STRATEGY_QUOTA"] = saved
        reset_settings()


@pytest.fixture
def api(stack: object) -> Api:
    user, other = unique_users()
    return Api(stack, app_module.lambda_handler, user=user, other=other)


def count(api: Api) -> int:
    return len(api("GET", "/strategies", query={"limit": "100"}).body["items"])


def stored_counter(api: Api) -> int | None:
    item = api.dynamodb.get_item(TableName=api.tables[0], Key=counter_key(api.user), ConsistentRead=True)
    return int(item["Item"]["strategy_count"]["N"]) if "Item" in item else None


def test_twenty_concurrent_creates_one_below_the_quota_leave_exactly_one_created(api: Api) -> None:
    # Given a user one below the quota
    for _ in range(QUOTA - 1):
        api.create()

    # When twenty creates race
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: api("POST", "/strategies", body=CREATE), range(20)))

    # Then exactly one is created, the others answer 429 quota_exceeded, and the counter says the quota
    statuses = sorted(a.status for a in answers)
    assert statuses == [201] + [429] * 19, statuses
    assert {a.error_code for a in answers if a.status == 429} == {"quota_exceeded"}
    assert count(api) == QUOTA
    assert stored_counter(api) == QUOTA


def test_a_delete_gives_a_place_back_in_the_same_transaction(api: Api) -> None:
    # Given a user at the quota
    ids = [api.create() for _ in range(QUOTA)]
    assert api("POST", "/strategies", body=CREATE).status == 429

    # When one strategy is deleted
    assert api("DELETE", f"/strategies/{ids[0]}").status == 204

    # Then the counter is one less and one create goes through again
    assert stored_counter(api) == QUOTA - 1
    assert api("POST", "/strategies", body=CREATE).status == 201
    assert api("POST", "/strategies", body=CREATE).status == 429


def test_a_user_without_a_counter_gets_one_from_a_count_on_first_use(api: Api) -> None:
    # Given a user whose strategies were stored before counters existed (no counter item)
    StrategyRepository().put_many([make_strategy(owner=api.user) for _ in range(QUOTA - 2)])
    assert stored_counter(api) is None

    # When they create two strategies, then a third
    first, second, third = (api("POST", "/strategies", body=CREATE) for _ in range(3))

    # Then the counter started from the count: two fit, the third is over the quota
    assert (first.status, second.status, third.status) == (201, 201, 429)
    assert stored_counter(api) == QUOTA
