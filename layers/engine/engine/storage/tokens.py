"""Signed, scoped `next_token` values: a token only opens the next page of the list it came from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def encode_next_token(last_key: Mapping[str, Any], *, scope: str, key: str) -> str:
    """url-safe base64 of the key's JSON plus an HMAC-SHA256 over scope and payload."""
    raise NotImplementedError


def decode_next_token(token: str, *, scope: str, key: str) -> dict[str, Any]:
    """The key a token carries; InvalidNextToken when it is malformed, tampered or from another scope."""
    raise NotImplementedError


def signing_key() -> str:
    """The HMAC key: settings.token_signing_key, or a per-deployment fallback derived from the table names."""
    raise NotImplementedError
