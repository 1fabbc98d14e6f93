"""Signed, scoped `next_token` values: a token only opens the next page of the list it came from."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from engine.errors import InvalidNextToken
from engine.settings import Settings, get_settings

MAX_TOKEN_CHARS = 2048
_ATTRIBUTE_TYPES = frozenset({"S", "N"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(payload: str, *, scope: str, key: str) -> str:
    # the scope is signed, not carried: a token presented on any other list fails verification
    message = json.dumps([scope, payload]).encode()
    return _b64(hmac.new(key.encode(), message, hashlib.sha256).digest())


def encode_next_token(last_key: Mapping[str, Any], *, scope: str, key: str) -> str:
    """url-safe base64 of the key's JSON plus an HMAC-SHA256 over scope and payload."""
    payload = _b64(json.dumps(dict(last_key), sort_keys=True, separators=(",", ":")).encode())
    return f"{payload}.{_mac(payload, scope=scope, key=key)}"


def decode_next_token(token: str, *, scope: str, key: str) -> dict[str, Any]:
    """The key a token carries; InvalidNextToken when it is malformed, tampered or from another scope."""
    invalid = InvalidNextToken("next_token is not valid for this list")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise invalid
    if not token.isascii():  # hmac.compare_digest raises on non-ASCII text; ours are base64url only
        raise invalid
    payload, mac = token.split(".")
    if not hmac.compare_digest(mac, _mac(payload, scope=scope, key=key)):
        raise invalid
    try:
        last_key = json.loads(_unb64(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise invalid from exc
    # a signed token is one we wrote, but a leaked key must still not smuggle odd shapes into a query
    if not isinstance(last_key, dict) or not last_key:
        raise invalid
    for value in last_key.values():
        if not (
            isinstance(value, dict)
            and len(value) == 1
            and next(iter(value)) in _ATTRIBUTE_TYPES
            and isinstance(next(iter(value.values())), str)
        ):
            raise invalid
    return last_key


def signing_key(settings: Settings | None = None) -> str:
    """The HMAC key: settings.token_signing_key, or a per-deployment fallback derived from the table names."""
    settings = settings or get_settings()
    if settings.token_signing_key:
        return settings.token_signing_key
    # Fallback until the template passes a generated secret: stable per deployment (the table names carry
    # the stack name) so tokens survive cold starts, but guessable; the scope still binds owner and list.
    tables = (settings.strategies_table, settings.executions_table, settings.trades_table)
    names = "|".join((*tables, settings.portfolios_table))
    return hashlib.sha256(f"autopilot-next-token|{names}".encode()).hexdigest()


def scoped_key_matches(last_key: Mapping[str, Any], attribute: str, expected: str) -> bool:
    """True when the decoded key's `attribute` is the string `expected` (belt and braces after the MAC)."""
    value = last_key.get(attribute)
    return isinstance(value, dict) and value.get("S") == expected
