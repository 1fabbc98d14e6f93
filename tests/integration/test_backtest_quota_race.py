"""The running-backtest quota holds under races (DESIGN 9): a counter item in the Backtests table changed in
the same transaction as the backtest's put, and in the same transaction as each move to a final status."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.services import backtests as backtest_service
from engine.settings import get_settings, reset_settings
from engine.storage.backtest_quota import running_key
from functions.control_api import app as app_module
from functions.control_api import backtests as routes_module
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import BACKTEST_NOW, SHORT_BACKTEST, TWO_NODE_GRAPH
from tests.support.http import Api, unique_users
from tests.support.serial_moto import serial_moto

NOW, BODY, GRAPH = BACKTEST_NOW, SHORT_BACKTEST, TWO_NODE_GRAPH


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsEnv]:
    with moto_stack() as env, serial_moto():
        reset_settings()
        yield env
    reset_settings()


@pytest.fixture
def api(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setattr(routes_module, "utc_now", lambda: NOW)
    user, other = unique_users()
    return Api(aws, app_module.lambda_handler, user=user, other=other)


def start(api: Api, strategy_id: str) -> tuple[int, str | None]:
    answer = api("POST", f"/strategies/{strategy_id}/backtests", body=BODY)
    return answer.status, answer.body.get("backtest_id") if answer.status == 202 else answer.error_code


def stores() -> backtest_service.BacktestStores:
    return backtest_service.BacktestStores.default(get_settings())


def counted(api: Api) -> set[str]:
    item = api.dynamodb.get_item(
        TableName=get_settings().backtests_table, Key=running_key(api.user), ConsistentRead=True
    ).get("Item", {})
    return set(item.get("running", {}).get("SS", []))


def test_ten_concurrent_starts_with_one_running_leave_exactly_one_more(api: Api) -> None:
    # Given a user with one running backtest (the quota is two)
    strategy_id = api.create(graph=GRAPH)
    status, running = start(api, strategy_id)
    assert status == 202
    # When ten starts race
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: start(api, strategy_id), range(10)))
    # Then exactly one is accepted and nine answer 429 quota_exceeded
    assert sorted(a[0] for a in answers) == [202] + [429] * 9, answers
    assert {a[1] for a in answers if a[0] == 429} == {"quota_exceeded"}
    accepted = next(a[1] for a in answers if a[0] == 202)
    listed = api("GET", f"/strategies/{strategy_id}/backtests").body["items"]
    assert sorted(b["backtest_id"] for b in listed) == sorted([running, accepted])
    assert counted(api) == {running, accepted}


@pytest.mark.parametrize("final", ["completed", "failed", "cancelled"])
def test_a_final_status_frees_one_place_exactly_once_even_when_retried(api: Api, final: str) -> None:
    # Given a user at the quota
    strategy_id = api.create(graph=GRAPH)
    first, second = (start(api, strategy_id)[1] for _ in range(2))
    assert first and second
    # When one backtest reaches a final status, and the same move is retried twice
    record = stores().backtests.find(first)
    assert record is not None
    moved = [backtest_service._end(first, record, final, {}, stores=stores(), now=NOW) for _ in range(3)]
    # Then only the first move happened, and it gave back exactly one place
    assert moved == [True, False, False]
    assert counted(api) == {second}
    assert start(api, strategy_id)[0] == 202
    assert start(api, strategy_id) == (429, "quota_exceeded")


def test_deleting_a_strategy_with_a_running_backtest_frees_its_place(api: Api) -> None:
    # Given a user at the quota, one backtest of a strategy that is then deleted
    doomed = api.create(graph=GRAPH)
    kept = api.create(graph=GRAPH)
    start(api, doomed)
    _, other = start(api, kept)
    # When the strategy is deleted
    assert api("DELETE", f"/strategies/{doomed}").status == 204
    # Then its running backtest no longer counts
    assert counted(api) == {other}
    assert start(api, kept)[0] == 202


def test_a_user_without_a_counter_is_counted_from_their_running_backtests_on_first_use(api: Api) -> None:
    # Given two running backtests stored before the counter existed (no counter item)
    strategy_id = api.create(graph=GRAPH)
    ids = [start(api, strategy_id)[1] for _ in range(2)]
    api.dynamodb.delete_item(TableName=get_settings().backtests_table, Key=running_key(api.user))
    # When another is started, one is cancelled, and another is started
    refused = start(api, strategy_id)
    assert api("DELETE", f"/backtests/{ids[0]}").body["status"] == "cancelled"
    accepted = start(api, strategy_id)
    # Then the counter began from the two running: the first is refused, the second accepted
    assert refused == (429, "quota_exceeded")
    assert accepted[0] == 202
    assert counted(api) == {ids[1], accepted[1]}


def test_a_place_held_by_a_backtest_that_no_longer_runs_is_taken_back(api: Api) -> None:
    # Given a user whose counter names a backtest that was removed without ending (a lost place)
    strategy_id = api.create(graph=GRAPH)
    lost, other = (start(api, strategy_id)[1] for _ in range(2))
    assert lost
    stores().backtests.delete(lost)
    # When another is started
    status, accepted = start(api, strategy_id)
    # Then the lost place is freed and the start accepted
    assert status == 202
    assert counted(api) == {other, accepted}
