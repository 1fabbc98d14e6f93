"""A next_token is bound to the filters of the list that issued it (DESIGN 4): `status` and `since` must be
the same on the next page, `limit` may change; other filters answer 400 invalid_next_token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from engine.models.execution import RunStatus
from engine.storage.executions import ExecutionLogRepository
from functions.control_api import app as app_module
from tests.support.aws import moto_stack
from tests.support.builders import T0, make_log
from tests.support.http import Api

SINCE = (T0 - timedelta(hours=1)).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def api_with_logs() -> Iterator[tuple[Api, str]]:
    with moto_stack() as aws:
        api = Api(aws, app_module.lambda_handler, user="user-token-binding")
        strategy_id = api.create()
        logs = ExecutionLogRepository()
        for i in range(6):
            status = RunStatus.COMPLETED if i % 2 else RunStatus.FAILED
            logs.put(make_log(strategy_id, scheduled_for=T0 + timedelta(minutes=5 * i), status=status))
        yield api, strategy_id


def first_page_token(api: Api, strategy_id: str, query: dict[str, str]) -> str:
    answer = api("GET", f"/strategies/{strategy_id}/executions", query={**query, "limit": "1"})
    assert answer.status == 200, answer.body
    token = answer.body["next_token"]
    assert token
    return str(token)


@pytest.mark.parametrize(
    ("issued", "reused"),
    [
        ({"status": "completed"}, {"status": "failed"}),
        ({"status": "completed"}, {}),
        ({}, {"status": "completed"}),
        ({"since": SINCE}, {}),
        ({}, {"since": SINCE}),
        ({"since": SINCE}, {"since": (T0 + timedelta(minutes=12)).isoformat()}),
        ({"status": "failed", "since": SINCE}, {"status": "failed"}),
    ],
)
def test_a_token_reused_with_other_filters_is_invalid_next_token(
    api_with_logs: tuple[Api, str], issued: dict[str, str], reused: dict[str, str]
) -> None:
    # Given a token from a filtered (or unfiltered) first page
    api, strategy_id = api_with_logs
    token = first_page_token(api, strategy_id, issued)

    # When the next page is asked for with other filters
    answer = api("GET", f"/strategies/{strategy_id}/executions", query={**reused, "next_token": token})

    # Then 400 invalid_next_token, never a storage error
    assert answer.status == 400, answer.body
    assert answer.error_code == "invalid_next_token"


def test_a_token_with_the_same_filters_and_another_limit_opens_the_next_page(
    api_with_logs: tuple[Api, str],
) -> None:
    # Given a token from the first page of completed logs since an hour before T0
    api, strategy_id = api_with_logs
    filters = {"status": "completed", "since": SINCE}
    token = first_page_token(api, strategy_id, filters)

    # When the next page is asked for with the same filters and a bigger limit
    answer = api(
        "GET", f"/strategies/{strategy_id}/executions", query={**filters, "limit": "10", "next_token": token}
    )

    # Then the rest of the completed logs, and no further token
    assert answer.status == 200, answer.body
    assert [item["status"] for item in answer.body["items"]] == ["completed", "completed"]
    assert answer.body["next_token"] is None
