"""A minimal OAuth 2.0 server for the local stack, so the web dashboard signs in locally through the same
authorization-code + PKCE path as with Cognito's hosted UI deployed.

- `GET /_local/oauth/authorize?response_type=code&client_id&redirect_uri&code_challenge
  &code_challenge_method=S256&state`: a page that picks the development user (no password: the stack binds
  127.0.0.1).
- `POST /_local/oauth/authorize` (the picker's form): 302 to `redirect_uri?code&state`.
- `POST /_local/oauth/token` (form: `grant_type=authorization_code`, `code`, `redirect_uri`, `client_id`,
  `code_verifier`): `{access_token, token_type, expires_in}`. A code works once, for 5 minutes, and only
  with the verifier whose S256 hash is its challenge.
- `GET /_local/oauth/logout?logout_uri=...`: 302 back (the app forgets its token itself).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from local.auth import DevTokenIssuer

OAUTH_PREFIX = "/_local/oauth/"
LOCAL_CLIENT_ID = "autopilot-web-local"
DEFAULT_USERS = ("alice", "bob")
CODE_SECONDS = 300
TOKEN_HOURS = 8.0
_PAGE_CSP = "default-src 'none'; style-src 'self'; form-action 'self'"

Answer = tuple[int, list[tuple[str, str]], bytes]


@dataclass(frozen=True)
class _Grant:
    user: str
    challenge: str
    redirect_uri: str
    client_id: str
    expires: float


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _json(status: int, payload: object) -> Answer:
    return (
        status,
        [("content-type", "application/json"), ("cache-control", "no-store")],
        json.dumps(payload).encode(),
    )


def _error(status: int, code: str, description: str) -> Answer:
    return _json(status, {"error": code, "error_description": description})


def _local_redirect(uri: str) -> bool:
    """Only back to this machine: the stack never sends a code elsewhere."""
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")


class LocalOAuth:
    def __init__(self, issuer: DevTokenIssuer, users: tuple[str, ...] = DEFAULT_USERS) -> None:
        self.issuer = issuer
        self.users = users
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()

    def handle(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Answer:
        action = path[len(OAUTH_PREFIX) :]
        if action == "authorize" and method == "GET":
            return self._picker(dict(parse_qsl(query)))
        if action == "authorize" and method == "POST":
            return self._approve(dict(parse_qsl(body.decode("utf-8", "replace"))))
        if action == "token" and method == "POST":
            return self._token(dict(parse_qsl(body.decode("utf-8", "replace"))))
        if action == "logout" and method == "GET":
            target = dict(parse_qsl(query)).get("logout_uri", "")
            if not _local_redirect(target):
                return _error(400, "invalid_request", "logout_uri must be a local http URL")
            return 302, [("location", target), ("cache-control", "no-store")], b""
        return _error(404, "not_found", f"no {method} {path}")

    def _check(self, params: dict[str, str]) -> str | None:
        if params.get("response_type") != "code":
            return "response_type must be code"
        if params.get("client_id") != LOCAL_CLIENT_ID:
            return f"unknown client_id (the local client is {LOCAL_CLIENT_ID})"
        if not _local_redirect(params.get("redirect_uri", "")):
            return "redirect_uri must be a local http URL"
        if params.get("code_challenge_method") != "S256" or len(params.get("code_challenge", "")) < 43:
            return "PKCE is required: code_challenge (43+ characters) with code_challenge_method=S256"
        return None

    def _picker(self, params: dict[str, str]) -> Answer:
        problem = self._check(params)
        if problem:
            return _error(400, "invalid_request", problem)
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
            if k
            in (
                "response_type",
                "client_id",
                "redirect_uri",
                "code_challenge",
                "code_challenge_method",
                "state",
            )
        )
        buttons = "".join(
            f'<p><button type="submit" name="user" value="{html.escape(u)}">'
            f"Sign in as {html.escape(u)}</button></p>"
            for u in self.users
        )
        page = (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            "<title>Autopilot local sign-in</title></head><body>"
            "<main><h1>Autopilot local sign-in</h1>"
            "<p>Development users of this local stack (no password).</p>"
            f'<form method="post" action="{OAUTH_PREFIX}authorize">{hidden}{buttons}'
            '<p><label>Another user <input name="other_user" autocomplete="off"></label> '
            '<button type="submit" name="user" value="">Sign in</button></p></form></main></body></html>'
        )
        return (
            200,
            [
                ("content-type", "text/html; charset=utf-8"),
                ("cache-control", "no-store"),
                ("content-security-policy", _PAGE_CSP),
            ],
            page.encode(),
        )

    def _approve(self, form: dict[str, str]) -> Answer:
        problem = self._check(form)
        if problem:
            return _error(400, "invalid_request", problem)
        user = (form.get("user") or form.get("other_user") or "").strip()
        if not user or len(user) > 128:
            return _error(400, "invalid_request", "pick a user (1..128 characters)")
        code = secrets.token_urlsafe(24)
        with self._lock:
            now = time.monotonic()
            self._grants = {k: g for k, g in self._grants.items() if g.expires > now}
            self._grants[code] = _Grant(
                user, form["code_challenge"], form["redirect_uri"], form["client_id"], now + CODE_SECONDS
            )
        query = {"code": code}
        if form.get("state"):
            query["state"] = form["state"]
        separator = "&" if "?" in form["redirect_uri"] else "?"
        location = form["redirect_uri"] + separator + urlencode(query)
        return 302, [("location", location), ("cache-control", "no-store")], b""

    def _token(self, form: dict[str, str]) -> Answer:
        if form.get("grant_type") != "authorization_code":
            return _error(400, "unsupported_grant_type", "only authorization_code")
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)  # a code works once, right or wrong
        if grant is None or grant.expires <= time.monotonic():
            return _error(400, "invalid_grant", "unknown, used or expired code")
        if form.get("redirect_uri") != grant.redirect_uri or form.get("client_id") != grant.client_id:
            return _error(
                400, "invalid_grant", "redirect_uri or client_id differs from the authorize request"
            )
        if s256(form.get("code_verifier", "")) != grant.challenge:
            return _error(400, "invalid_grant", "code_verifier does not match the code_challenge")
        token = self.issuer.issue(grant.user, hours=TOKEN_HOURS)
        return _json(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": int(TOKEN_HOURS * 3600)}
        )
