"""The local stack's OAuth stand-in: authorization code with PKCE (S256), a code works once and only with its
verifier, redirects stay on this machine; the token it issues is one the gateway accepts."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

from local.auth import DevTokenIssuer
from local.oauth import LOCAL_CLIENT_ID, LocalOAuth, s256

NOW = datetime(2026, 2, 7, 12, 50, tzinfo=UTC)
REDIRECT = "http://127.0.0.1:5000/app/"


def _authorize(oauth: LocalOAuth, verifier: str, user: str = "alice") -> str:
    form = {
        "response_type": "code",
        "client_id": LOCAL_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
        "state": "st-1",
        "user": user,
    }
    status, headers, _ = oauth.handle("POST", "/_local/oauth/authorize", "", {}, urlencode(form).encode())
    assert status == 302
    location = dict(headers)["location"]
    assert location.startswith(REDIRECT)
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def _token(oauth: LocalOAuth, code: str, verifier: str) -> tuple[int, dict[str, object]]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": LOCAL_CLIENT_ID,
        "code_verifier": verifier,
    }
    status, _, body = oauth.handle("POST", "/_local/oauth/token", "", {}, urlencode(form).encode())
    return status, json.loads(body)


def test_the_code_and_verifier_give_a_token_the_gateway_accepts_for_the_picked_user() -> None:
    # Given
    issuer = DevTokenIssuer(now=lambda: NOW)
    oauth = LocalOAuth(issuer)
    verifier = secrets.token_urlsafe(48)
    # When
    status, answer = _token(oauth, _authorize(oauth, verifier, "bob"), verifier)
    # Then
    assert status == 200 and answer["token_type"] == "Bearer"
    assert issuer.verify(f"Bearer {answer['access_token']}")["sub"] == "bob"


def test_a_wrong_verifier_or_a_second_use_of_a_code_is_refused() -> None:
    # Given
    oauth = LocalOAuth(DevTokenIssuer(now=lambda: NOW))
    verifier = secrets.token_urlsafe(48)
    code = _authorize(oauth, verifier)
    # When
    wrong = _token(oauth, code, secrets.token_urlsafe(48))
    again = _token(oauth, code, verifier)
    # Then: the failed attempt used the code up
    assert (wrong[0], wrong[1]["error"]) == (400, "invalid_grant")
    assert (again[0], again[1]["error"]) == (400, "invalid_grant")


def test_the_picker_needs_pkce_and_a_local_redirect() -> None:
    # Given
    oauth = LocalOAuth(DevTokenIssuer(now=lambda: NOW))
    base = {
        "response_type": "code",
        "client_id": LOCAL_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "code_challenge": s256("v" * 50),
        "code_challenge_method": "S256",
    }
    # When
    page = oauth.handle("GET", "/_local/oauth/authorize", urlencode(base), {}, b"")
    no_pkce = oauth.handle(
        "GET", "/_local/oauth/authorize", urlencode({**base, "code_challenge": ""}), {}, b""
    )
    elsewhere = oauth.handle(
        "GET",
        "/_local/oauth/authorize",
        urlencode({**base, "redirect_uri": "https://evil.example/"}),
        {},
        b"",
    )
    # Then
    assert page[0] == 200 and b"Sign in as alice" in page[2]
    assert no_pkce[0] == 400 and b"PKCE" in no_pkce[2]
    assert elsewhere[0] == 400
