"""POST /schedules/preview through the control API's handler: the next slots of a preset or a cron in a zone,
by the scheduler's own rule; bad input is a 422 naming the field; no token is a 401."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from functions.control_api import app as app_module
from tests.support.aws import AwsEnv, moto_stack
from tests.support.http import Api, unique_users

NOW = datetime(2026, 3, 28, 23, 10, 30, tzinfo=UTC)  # the eve of Europe's spring change (29 March 01:00Z)


@pytest.fixture(scope="module")
def stack() -> Iterator[AwsEnv]:
    with moto_stack() as aws:
        yield aws


@pytest.fixture
def api(stack: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setattr(app_module.schedule_routes, "utc_now", lambda: NOW)
    user, other = unique_users()
    return Api(stack, app_module.lambda_handler, user=user, other=other)


def test_a_preset_previews_the_next_five_slots_strictly_after_now(api: Api) -> None:
    # When
    answer = api("POST", "/schedules/preview", body={"frequency": "15m"})
    # Then
    assert answer.status == 200, answer.body
    assert answer.body == {
        "next_slots": [
            "2026-03-28T23:15:00Z",
            "2026-03-28T23:30:00Z",
            "2026-03-28T23:45:00Z",
            "2026-03-29T00:00:00Z",
            "2026-03-29T00:15:00Z",
        ]
    }


def test_a_cron_in_a_zone_follows_the_daylight_saving_change(api: Api) -> None:
    # Given 02:30 every day in Paris: it does not exist on 29 March, so it runs at the next valid time
    body = {"schedule_cron": "30 2 * * *", "timezone": "Europe/Paris", "count": 3}
    # When
    answer = api("POST", "/schedules/preview", body=body)
    # Then
    assert answer.status == 200, answer.body
    assert answer.body["next_slots"] == [
        "2026-03-29T01:00:00Z",  # 03:00 CEST, the first valid local time after the skipped 02:30
        "2026-03-30T00:30:00Z",
        "2026-03-31T00:30:00Z",
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"schedule_cron": "61 * * * *"}, "body"),
        ({"frequency": "2m"}, "frequency"),
        ({"frequency": "5m", "timezone": "Mars/Olympus"}, "timezone"),
        ({"frequency": "5m", "count": 21}, "count"),
        ({"frequency": "5m", "schedule_cron": "* * * * *"}, "body"),
        ({"schedule_cron": "0 0 30 2 *"}, "body"),
        ({"frequency": "5m", "bankroll": 3}, "bankroll"),
    ],
)
def test_bad_schedules_are_422_naming_what_is_wrong(api: Api, body: dict[str, object], field: str) -> None:
    # When
    answer = api("POST", "/schedules/preview", body=body)
    # Then
    assert answer.status == 422, answer.body
    assert answer.error_code == "validation_error"
    assert any(field in [str(part) for part in d["loc"]] for d in answer.body["error"]["details"])


def test_no_token_is_401(api: Api) -> None:
    # When
    answer = api("POST", "/schedules/preview", sub=None, body={"frequency": "5m"})
    # Then
    assert (answer.status, answer.error_code) == (401, "unauthorized")
