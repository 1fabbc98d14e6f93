"""The webhook signature scheme and URL rules, without AWS."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from engine.errors import ValidationFailed
from engine.services.webhooks import check_webhook_url, new_secret, signature, verify


def test_the_signature_is_hmac_sha256_of_t_dot_body_in_hex() -> None:
    # Given a secret, a body and a time
    secret, body, t = "whsec_test", b'{"id":"x:alert"}', 1_764_590_400
    # When signed / Then it is exactly the documented scheme, computed by hand
    expected = hmac.new(b"whsec_test", b"1764590400." + body, hashlib.sha256).hexdigest()
    assert signature(secret, body, timestamp=t) == f"t={t},v1={expected}"


def test_verify_refuses_a_changed_body_another_secret_a_stale_stamp_and_garbage() -> None:
    secret, body, t = new_secret(), b"{}", 1_000_000
    header = signature(secret, body, timestamp=t)
    assert verify(secret, body, header, now=t + 10)
    assert not verify(secret, b"{ }", header, now=t)
    assert not verify(new_secret(), body, header, now=t)
    assert not verify(secret, body, header, now=t + 301)
    for bad in ("", "t=abc,v1=00", "v1=00", f"t={t}"):
        assert not verify(secret, body, bad, now=t)


def test_secrets_are_fresh_and_long() -> None:
    first, second = new_secret(), new_secret()
    assert first != second and len(first) == len("whsec_") + 64


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8123/hook", "http://localhost:9000/x", "https://10.0.0.5/x", "https://[::1]/x"]
)
def test_the_local_setting_admits_http_and_private_addresses(url: str) -> None:
    assert check_webhook_url(url, allow_private=True) == url
    with pytest.raises(ValidationFailed):
        check_webhook_url(url, allow_private=False)


def test_a_public_https_url_is_accepted_as_given() -> None:
    url = "https://hooks.example.com:8443/services/T0/B1/xyz?kind=autopilot"
    assert check_webhook_url(url, allow_private=False) == url
