"""Signed, scoped `next_token` values: a token only opens the next page of the list it came from."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from engine.errors import InvalidNextToken
from engine.settings import Settings, get_settings

MAX_TOKEN_CHARS = 2048
_ATTRIBUTE_TYPES = frozenset({"S", "N"})
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=3)


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
    payload, mac = _split(token)
    if not hmac.compare_digest(mac, _mac(payload, scope=scope, key=key)):
        raise InvalidNextToken("next_token is not valid for this list")
    return _last_key(payload)


def _split(token: str) -> tuple[str, str]:
    """(payload, mac) of a well-formed token; InvalidNextToken otherwise."""
    invalid = InvalidNextToken("next_token is not valid for this list")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise invalid
    if not token.isascii():  # hmac.compare_digest raises on non-ASCII text; ours are base64url only
        raise invalid
    payload, mac = token.split(".")
    return payload, mac


def _last_key(payload: str) -> dict[str, Any]:
    """The DynamoDB key a verified payload carries."""
    invalid = InvalidNextToken("next_token is not valid for this list")
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


class SigningKeyUnavailable(RuntimeError):
    """No next_token signing key: TOKEN_SIGNING_SECRET_ID unset, or the secret unreadable. Not a request
    error: the control API refuses to start without a key (there is no derived fallback)."""


STAGES = ("AWSCURRENT", "AWSPREVIOUS")


class SigningKeys:
    """The HMAC keys of one Secrets Manager secret, read at run time through Powertools' SecretsProvider
    (cached `max_age` seconds). New tokens are signed with AWSCURRENT; tokens signed with AWSCURRENT or
    AWSPREVIOUS verify, so a rotation never breaks a client's paging."""

    def __init__(self, secret_id: str, client: Any, *, max_age: int) -> None:
        if not secret_id:
            raise SigningKeyUnavailable(
                "TOKEN_SIGNING_SECRET_ID is not set: no key to sign next_token values"
            )
        self.secret_id = secret_id
        self.max_age = max_age
        # imported here, not at module level: only the control API pages, every handler imports storage
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        # Powertools caches by name only (not VersionStage): one provider, so one cache, per stage
        self._providers = {stage: SecretsProvider(boto3_client=client) for stage in STAGES}

    def _fetch(self, stage: str, *, force: bool) -> str | None:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            value = self._providers[stage].get(
                self.secret_id, max_age=self.max_age, force_fetch=force, VersionStage=stage
            )
        except GetParameterError as exc:
            cause = exc.__cause__ or exc.__context__  # Powertools raises it inside its `except`, not `from`
            if stage != "AWSCURRENT" and isinstance(cause, ClientError) and _not_found(cause):
                return None  # never rotated: there is no previous version
            raise SigningKeyUnavailable(f"cannot read the next_token signing secret ({stage})") from exc
        if not isinstance(value, str) or not value:
            raise SigningKeyUnavailable(f"the next_token signing secret ({stage}) holds no string")
        return value

    def current(self, *, force: bool = False) -> str:
        """The key new tokens are signed with (AWSCURRENT)."""
        value = self._fetch("AWSCURRENT", force=force)
        assert value is not None  # AWSCURRENT always exists or _fetch raised
        return value

    def accepted(self, *, force: bool = False) -> list[str]:
        """The keys a token may be signed with: AWSCURRENT, then AWSPREVIOUS when there is one."""
        keys = [self.current(force=force)]
        previous = self._fetch("AWSPREVIOUS", force=force)
        if previous is not None and previous not in keys:
            keys.append(previous)
        return keys


def _not_found(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) == "ResourceNotFoundException"


_keys_cache: dict[str, SigningKeys] = {}
_keys_lock = threading.Lock()


def signing_keys(settings: Settings | None = None) -> SigningKeys:
    """The SigningKeys of `settings` (default: the environment's), kept per configuration so the cache
    outlives an invocation. Raises SigningKeyUnavailable when no secret is configured."""
    settings = settings or get_settings()
    cache_key = json.dumps(
        [settings.token_signing_secret_id, settings.secretsmanager_endpoint_url, settings.token_key_max_age]
    )
    with _keys_lock:
        keys = _keys_cache.get(cache_key)
        if keys is None:
            client = boto3.session.Session().client(
                "secretsmanager", endpoint_url=settings.secretsmanager_endpoint_url, config=_CONFIG
            )
            keys = SigningKeys(settings.token_signing_secret_id, client, max_age=settings.token_key_max_age)
            _keys_cache[cache_key] = keys
        return keys


def reset_signing_keys() -> None:
    """Drop the cached keys and clients (tests and the local stack change the environment)."""
    with _keys_lock:
        _keys_cache.clear()


def require_signing_key(settings: Settings | None = None) -> None:
    """Read the current key once; SigningKeyUnavailable (with the reason) when there is none."""
    signing_keys(settings).current()


def verify_next_token(token: str, *, scope: str, keys: SigningKeys) -> dict[str, Any]:
    """decode_next_token under any accepted key. When none verifies, the keys are fetched again once
    (another instance may already sign with a key rotated in after this one cached its own)."""
    invalid = InvalidNextToken("next_token is not valid for this list")
    payload, mac = _split(token)
    for force in (False, True):
        for key in keys.accepted(force=force):
            if hmac.compare_digest(mac, _mac(payload, scope=scope, key=key)):
                return _last_key(payload)
    raise invalid


def scoped_key_matches(last_key: Mapping[str, Any], attribute: str, expected: str) -> bool:
    """True when the decoded key's `attribute` is the string `expected` (belt and braces after the MAC)."""
    value = last_key.get(attribute)
    return isinstance(value, dict) and value.get("S") == expected
