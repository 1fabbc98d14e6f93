"""/notification-settings through the control API: the caller's own webhook, a secret shown once and kept
encrypted, URLs a deployed stack refuses (422 naming the field), and no secret in any log line."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from engine.storage.user_settings import SecretBox, UserSettingsRepository
from functions.control_api import app as app_module
from functions.control_api import notifications
from tests.support.aws import AwsEnv, moto_stack
from tests.support.http import Api, unique_users

NOW = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)
URL = "https://hooks.example.com/autopilot/T0K3N"


@pytest.fixture(scope="module")
def stack() -> Iterator[AwsEnv]:
    with moto_stack() as aws:
        yield aws


@pytest.fixture
def api(stack: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setattr(notifications, "utc_now", lambda: NOW)
    user, other = unique_users()
    return Api(stack, app_module.lambda_handler, user=user, other=other)


@pytest.fixture
def all_logs() -> Iterator[io.StringIO]:
    """Every log line of the process (root and the function's Powertools logger), at DEBUG."""
    text = io.StringIO()
    handler = logging.StreamHandler(text)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    app_module.logger.addHandler(handler)
    try:
        yield text
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        app_module.logger.removeHandler(handler)


def test_put_answers_the_secret_once_and_get_never_shows_it(
    api: Api, all_logs: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no settings yet
    assert api("GET", "/notification-settings").body == {
        "webhook_url": None,
        "created_at": None,
        "updated_at": None,
    }
    # When the caller registers a webhook
    put = api("PUT", "/notification-settings", body={"webhook_url": URL})
    # Then the answer carries a fresh secret, once
    assert put.status == 200, put.body
    secret = put.body["webhook_secret"]
    assert secret.startswith("whsec_") and len(secret) == 6 + 64
    assert put.body["signature_header"] == "X-Autopilot-Signature"
    # And GET shows the URL but never the secret
    got = api("GET", "/notification-settings")
    assert got.body["webhook_url"] == URL and "webhook_secret" not in got.body
    # And the stored item holds only KMS ciphertext bound to the owner
    item = api.dynamodb.get_item(TableName=os.environ["USER_SETTINGS_TABLE"], Key={"owner": {"S": api.user}})
    assert secret not in str(item) and secret.encode() not in item["Item"]["secret_ciphertext"]["B"]
    stored = UserSettingsRepository().get(api.user)
    assert stored is not None and SecretBox().decrypt(api.user, stored.secret_ciphertext) == secret
    # And a second PUT rotates it
    again = api("PUT", "/notification-settings", body={"webhook_url": URL})
    assert again.body["webhook_secret"] != secret and again.body["created_at"] == put.body["created_at"]
    # And no log line nor printed output ever held a secret
    printed = capsys.readouterr()
    for text in (all_logs.getvalue(), printed.out, printed.err):
        assert secret not in text and again.body["webhook_secret"] not in text


def test_settings_are_the_callers_own(api: Api) -> None:
    # Given the user's webhook
    api("PUT", "/notification-settings", body={"webhook_url": URL})
    # When another user reads and deletes theirs / Then they see none, and the user's stays
    assert api("GET", "/notification-settings", sub=api.other).body["webhook_url"] is None
    assert api("DELETE", "/notification-settings", sub=api.other).status == 204
    assert api("GET", "/notification-settings").body["webhook_url"] == URL
    # And a ciphertext does not decrypt for another owner (the encryption context binds it)
    stored = UserSettingsRepository().get(api.user)
    assert stored is not None
    with pytest.raises(Exception, match="decrypting"):
        SecretBox().decrypt(api.other, stored.secret_ciphertext)
    # When the user deletes it / Then it is gone, and deleting again is still 204
    assert api("DELETE", "/notification-settings").status == 204
    assert api("GET", "/notification-settings").body["webhook_url"] is None
    assert api("DELETE", "/notification-settings").status == 204


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/x", "must use https"),
        ("ftp://hooks.example.com/x", "must use https"),
        ("https://127.0.0.1/x", "private, loopback or link-local"),
        ("https://10.1.2.3/x", "private, loopback or link-local"),
        ("https://192.168.0.10:8443/x", "private, loopback or link-local"),
        ("https://169.254.169.254/latest/meta-data", "private, loopback or link-local"),
        ("https://[::1]/x", "private, loopback or link-local"),
        ("https://[fe80::1]/x", "private, loopback or link-local"),
        ("https://localhost/x", "local-only host name"),
        ("https://metadata.google.internal/x", "local-only host name"),
        ("https://user:pw@hooks.example.com/x", "must not carry credentials"),
        ("https:///nohost", "must name a host"),
        ("https://hooks.example.com:99999/x", "not a valid URL"),
        ("not a url", "must use https"),
    ],
)
def test_bad_webhook_urls_are_422_naming_the_field_and_change_nothing(api: Api, url: str, why: str) -> None:
    # When the caller registers a URL a deployed stack must not call
    answer = api("PUT", "/notification-settings", body={"webhook_url": url})
    # Then 422 on body.webhook_url saying why, and nothing is stored
    assert answer.status == 422, answer.body
    assert answer.body["error"]["code"] == "validation_error"
    [detail] = answer.body["error"]["details"]
    assert detail["loc"] == ["body", "webhook_url"] and why in detail["msg"]
    assert api("GET", "/notification-settings").body["webhook_url"] is None


def test_a_body_without_a_url_or_with_other_keys_is_422(api: Api) -> None:
    for body in ({}, {"webhook_url": URL, "secret": "mine"}, {"webhook_url": ""}):
        answer = api("PUT", "/notification-settings", body=body)
        assert answer.status == 422, answer.body
        assert answer.body["error"]["details"][0]["loc"][0] == "body"
