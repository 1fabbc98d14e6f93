"""The next_token signing key lives in Secrets Manager (DESIGN 4.1): read at run time, AWSCURRENT and
AWSPREVIOUS accepted, refetched once on a failed signature; no key and the control API refuses to start."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from engine.settings import get_settings
from engine.storage.executions import ExecutionLogRepository
from engine.storage.tokens import (
    SigningKeys,
    SigningKeyUnavailable,
    encode_next_token,
    reset_signing_keys,
    signing_keys,
    verify_next_token,
)
from functions.control_api import app as app_module
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import T0, make_log
from tests.support.http import Api

LAST_KEY = {"pk": {"S": "owner"}, "sk": {"S": "2026-01-01T00:00:00Z"}}


@pytest.fixture
def aws() -> Iterator[AwsEnv]:
    with moto_stack() as aws:
        yield aws


def secret_id(aws: AwsEnv) -> str:
    return aws.names.secrets["TokenSigningSecret"]


def rotate(aws: AwsEnv, new_key: str) -> None:
    """What a rotation does: the new version gets AWSCURRENT, the old one becomes AWSPREVIOUS."""
    client = aws.session.client("secretsmanager")
    current = next(
        version
        for version, stages in client.describe_secret(SecretId=secret_id(aws))["VersionIdsToStages"].items()
        if "AWSCURRENT" in stages
    )
    pending = client.put_secret_value(
        SecretId=secret_id(aws), SecretString=new_key, VersionStages=["AWSPENDING"]
    )
    client.update_secret_version_stage(
        SecretId=secret_id(aws),
        VersionStage="AWSCURRENT",
        MoveToVersionId=pending["VersionId"],
        RemoveFromVersionId=current,
    )


def api_with_logs(aws: AwsEnv, user: str) -> tuple[Api, str]:
    api = Api(aws, app_module.lambda_handler, user=user)
    strategy_id = api.create()
    logs = ExecutionLogRepository()
    for i in range(4):
        logs.put(make_log(strategy_id, scheduled_for=T0 + timedelta(minutes=5 * i)))
    return api, strategy_id


def page(api: Api, strategy_id: str, token: str | None = None) -> Any:
    query = {"limit": "1", **({"next_token": token} if token else {})}
    return api("GET", f"/strategies/{strategy_id}/executions", query=query)


def test_a_token_signed_before_a_rotation_still_pages_after_it_on_a_fresh_instance(aws: AwsEnv) -> None:
    # Given a first page, then a rotation, then an instance that never saw the old key as current
    api, strategy_id = api_with_logs(aws, "user-rotation")
    first = page(api, strategy_id)
    assert first.status == 200, first.body
    rotate(aws, "k" * 64)
    reset_signing_keys()
    # When the client asks for the next pages with the token it holds
    second = page(api, strategy_id, first.body["next_token"])
    third = page(api, strategy_id, second.body["next_token"])
    # Then the old token verifies as AWSPREVIOUS and the new one is signed with AWSCURRENT
    assert second.status == 200, second.body
    assert third.status == 200, third.body
    seen = [first.body["items"][0]["execution_id"], second.body["items"][0]["execution_id"]]
    assert third.body["items"][0]["execution_id"] not in seen
    assert seen[0] != seen[1]
    assert signing_keys().current() == "k" * 64


def test_an_instance_holding_the_old_key_refetches_once_to_verify_a_token_signed_after_a_rotation(
    aws: AwsEnv,
) -> None:
    # Given an instance that cached the key before the rotation (for the next five minutes)
    cached = signing_keys()
    old_key = cached.current()
    rotate(aws, "n" * 64)
    client = aws.session.client("secretsmanager")
    elsewhere = SigningKeys(secret_id(aws), client, max_age=300)
    token = encode_next_token(LAST_KEY, scope="owner|executions", key=elsewhere.current())
    # When it meets a token another instance signed with the new key
    last_key = verify_next_token(token, scope="owner|executions", keys=cached)
    # Then the failed signature refetched the secret, and the token opened its page
    assert last_key == LAST_KEY
    assert cached.current() == "n" * 64
    assert cached.accepted() == ["n" * 64, old_key]


def test_a_key_two_rotations_old_or_a_tampered_token_is_invalid_next_token(aws: AwsEnv) -> None:
    # Given a token from before two rotations, and a tampered copy of a fresh one
    api, strategy_id = api_with_logs(aws, "user-two-rotations")
    stale = page(api, strategy_id).body["next_token"]
    rotate(aws, "a" * 64)
    rotate(aws, "b" * 64)
    reset_signing_keys()
    fresh = page(api, strategy_id).body["next_token"]
    payload, mac = fresh.split(".")
    tampered = f"{payload}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}"
    # When they are presented
    answers = [page(api, strategy_id, token) for token in (stale, tampered)]
    # Then each is 400 invalid_next_token, never a 5xx
    for answer in answers:
        assert answer.status == 400, answer.body
        assert answer.body["error"]["code"] == "invalid_next_token"


@pytest.mark.parametrize("how", ["unset", "deleted"])
def test_without_a_signing_key_the_control_api_refuses_to_start(
    aws: AwsEnv, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    # Given a cold instance whose secret is not configured, or gone
    monkeypatch.setattr(app_module, "_signing_key_ready", False)
    if how == "unset":
        monkeypatch.setenv("TOKEN_SIGNING_SECRET_ID", "")
    else:
        aws.session.client("secretsmanager").delete_secret(
            SecretId=secret_id(aws), ForceDeleteWithoutRecovery=True
        )
    get_settings.cache_clear()
    reset_signing_keys()
    api = Api(aws, app_module.lambda_handler, user="user-no-key")
    # When a request arrives
    with pytest.raises(SigningKeyUnavailable) as raised:
        api("GET", "/strategies")
    # Then the invocation fails with the reason (and not the key), and nothing falls back to a derived key
    assert "next_token" in str(raised.value)
    assert app_module._signing_key_ready is False
    get_settings.cache_clear()
    reset_signing_keys()
