"""The owner's webhook: its URL rules, its secret, the signature scheme and one delivery (DESIGN 6).

Signature: `X-Autopilot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`, the
scheme Stripe's webhooks made familiar; a receiver recomputes it over the raw body and refuses old `t`s.
Every request also carries `X-Autopilot-Idempotency-Id` (the execution id and node id): a receiver that
sees an id twice can drop the second. The secret is shown once, when it is made; the webhook URL itself may
hold a token (chat services put one in the path), so logs name only its host.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import urllib3

from engine.errors import ValidationFailed
from engine.storage.user_settings import SecretBox, UserSettingsRepository, WebhookSettings

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Autopilot-Signature"
IDEMPOTENCY_HEADER = "X-Autopilot-Idempotency-Id"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a label, not a secret
MAX_URL_CHARS = 2048
_LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".home.arpa")
_FIELD = ["body", "webhook_url"]

Resolver = Callable[[str], list[str]]


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_hex(32)


def signature(secret: str, body: bytes, *, timestamp: int) -> str:
    """The header value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str, *, now: int, tolerance_seconds: int = 300) -> bool:
    """What a receiver does: recompute over the raw body, compare in constant time, refuse stale stamps."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, body, timestamp=timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(f"webhook_url {message}", details=[{"loc": _FIELD, "msg": message}])


def _address_allowed(address: str, *, allow_private: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return allow_private or ip.is_global


def check_webhook_url(url: str, *, allow_private: bool) -> str:
    """The URL as given, or ValidationFailed naming `webhook_url` and what is wrong.

    Deployed: https only, no credentials in it, and no private, loopback, link-local or otherwise
    non-global address (literal or a local-only name). `allow_private` (local stack and tests only) also
    admits http:// and such addresses. Names are resolved and checked again at every delivery.
    """
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        raise _refuse(f"must be a URL of 1 to {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse("is not a valid URL") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise _refuse("must use https")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise _refuse("must name a host")
    if parts.username is not None or parts.password is not None:
        raise _refuse("must not carry credentials (user:password@); put a token in the path instead")
    if parts.fragment:
        raise _refuse("must not have a #fragment")
    del port  # parsed only to reject a malformed one
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None and not _address_allowed(str(literal), allow_private=allow_private):
        raise _refuse("must not point at a private, loopback or link-local address")
    if literal is None and not allow_private and (host.endswith(_LOCAL_NAMES) or host in _LOCAL_NAMES):
        raise _refuse("must not point at a local-only host name")
    return url


def resolve_host(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})


# ---------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class NotificationSettings:
    """What GET answers (never the secret)."""

    webhook_url: str | None
    created_at: datetime | None
    updated_at: datetime | None


def set_webhook(
    owner: str,
    webhook_url: str,
    *,
    now: datetime,
    repo: UserSettingsRepository,
    box: SecretBox,
    allow_private: bool,
) -> tuple[NotificationSettings, str]:
    """Register (or replace) the owner's webhook with a NEW secret: (settings, the secret shown once)."""
    check_webhook_url(webhook_url, allow_private=allow_private)
    secret = new_secret()
    existing = repo.get(owner)
    created = existing.created_at if existing is not None else now
    repo.put(
        WebhookSettings(
            owner=owner,
            webhook_url=webhook_url,
            secret_ciphertext=box.encrypt(owner, secret),
            created_at=created,
            updated_at=now,
        )
    )
    return NotificationSettings(webhook_url, created, now), secret


def get_settings_of(owner: str, *, repo: UserSettingsRepository) -> NotificationSettings:
    found = repo.get(owner)
    if found is None:
        return NotificationSettings(None, None, None)
    return NotificationSettings(found.webhook_url, found.created_at, found.updated_at)


def delete_webhook(owner: str, *, repo: UserSettingsRepository) -> None:
    repo.delete(owner)


# ---------------------------------------------------------------------------------------------- delivery


class WebhookHttp(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> int: ...


class Urllib3Http:
    """POST with urllib3: no redirects (a redirect could lead anywhere), no retries (the queue retries)."""

    def __init__(self) -> None:
        self._pool = urllib3.PoolManager(retries=False)

    def post(self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> int:
        try:
            response = self._pool.request(
                "POST",
                url,
                body=body,
                headers=dict(headers),
                timeout=urllib3.Timeout(total=timeout),
                redirect=False,
                retries=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise OSError(str(exc)) from exc
        return int(response.status)


class DeliveryFailed(Exception):
    """The receiver did not take it (network error, 5xx, 408, 429): the queue tries again later."""


DeliveryOutcome = Literal["delivered", "no_webhook", "refused_url", "rejected"]


@dataclass(frozen=True)
class Delivery:
    outcome: DeliveryOutcome
    alert_id: str
    status: int | None = None


def parse_alert(body: str) -> dict[str, Any]:
    """ValueError for a body that is not one of our alerts (a poison message)."""
    try:
        message = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not an alert message: {exc}") from exc
    if not isinstance(message, dict) or not all(
        isinstance(message.get(k), str) and message.get(k) for k in ("id", "owner")
    ):
        raise ValueError("not an alert message: it needs string `id` and `owner`")
    return message


def deliver(
    body: str,
    *,
    now: datetime,
    repo: UserSettingsRepository,
    box: SecretBox,
    http: WebhookHttp,
    allow_private: bool,
    timeout: float,
    resolver: Resolver = resolve_host,
) -> Delivery:
    """Post one queued alert to its owner's webhook, signed. Raises DeliveryFailed to be retried.

    No webhook registered: nothing to do. A URL that now resolves to a non-global address is not called.
    A 4xx other than 408 and 429 is the receiver's final word: logged, not retried.
    """
    message = parse_alert(body)
    alert_id, owner = message["id"], message["owner"]
    hook = repo.get(owner)
    if hook is None:
        return Delivery("no_webhook", alert_id)
    host = urlsplit(hook.webhook_url).hostname or ""
    try:
        addresses = resolver(host)
    except OSError as exc:
        raise DeliveryFailed(f"cannot resolve the webhook host {host}: {exc}") from exc
    if not addresses or not all(_address_allowed(a, allow_private=allow_private) for a in addresses):
        logger.warning(
            "webhook host resolves to a non-global address", extra={"alert_id": alert_id, "host": host}
        )
        return Delivery("refused_url", alert_id)
    secret = box.decrypt(owner, hook.secret_ciphertext)
    raw = body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Autopilot-Webhooks/1",
        SIGNATURE_HEADER: signature(secret, raw, timestamp=int(now.timestamp())),
        IDEMPOTENCY_HEADER: alert_id,
    }
    try:
        status = http.post(hook.webhook_url, raw, headers, timeout=timeout)
    except OSError as exc:
        raise DeliveryFailed(f"webhook at {host} unreachable: {type(exc).__name__}") from exc
    if 200 <= status < 300:
        logger.info("webhook delivered", extra={"alert_id": alert_id, "host": host, "status": status})
        return Delivery("delivered", alert_id, status)
    if status in (408, 429) or status >= 500:
        raise DeliveryFailed(f"webhook at {host} answered {status}")
    logger.warning("webhook refused the alert", extra={"alert_id": alert_id, "host": host, "status": status})
    return Delivery("rejected", alert_id, status)


__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "Delivery",
    "DeliveryFailed",
    "NotificationSettings",
    "Urllib3Http",
    "WebhookHttp",
    "check_webhook_url",
    "delete_webhook",
    "deliver",
    "get_settings_of",
    "new_secret",
    "parse_alert",
    "set_webhook",
    "signature",
    "verify",
]
