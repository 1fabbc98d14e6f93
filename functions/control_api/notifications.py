"""/notification-settings: the caller's webhook for NOTIFY's alerts (DESIGN 4, "Notification settings").

Every read and write is the caller's own (keyed by the JWT `sub`): there is no id in the path to guess.
PUT makes a new signing secret each time and answers it once; GET and the logs never show it.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import AwareDatetime, ConfigDict, Field

from engine.clock import utc_now
from engine.models.base import Model
from engine.services import webhooks
from engine.settings import get_settings
from engine.storage.user_settings import SecretBox, UserSettingsRepository

try:  # imported as a package: tests, the local stack, the OpenAPI printer
    from functions.control_api import errors
except ImportError:  # in Lambda the function's folder is the task root
    import errors  # type: ignore[no-redef]

router = Router()  # type: ignore[no-untyped-call]


class NotificationSettingsIn(Model):
    """PUT /notification-settings."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: str = Field(
        min_length=1,
        max_length=webhooks.MAX_URL_CHARS,
        description="https URL that receives the alerts (no private, loopback or link-local address)",
    )


class NotificationSettingsOut(Model):
    """GET /notification-settings: `webhook_url` null when none is registered. Never the secret."""

    webhook_url: str | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None


class WebhookRegisteredOut(NotificationSettingsOut):
    """PUT's answer: the settings and the signing secret, shown this once."""

    webhook_secret: str = Field(
        description="HMAC-SHA256 key of the X-Autopilot-Signature header; shown only in this answer"
    )
    signature_header: str = webhooks.SIGNATURE_HEADER
    idempotency_header: str = webhooks.IDEMPOTENCY_HEADER


def _caller() -> str:
    """The JWT `sub`; the early gate already answered 401 for events without it."""
    return str(errors.caller_of(router.current_event.raw_event))


def _out(found: webhooks.NotificationSettings) -> NotificationSettingsOut:
    return NotificationSettingsOut(
        webhook_url=found.webhook_url, created_at=found.created_at, updated_at=found.updated_at
    )


@router.put(
    "/notification-settings",
    summary="Register (or replace) the caller's webhook; answers a new signing secret, once",
    responses=errors.route_docs(200, WebhookRegisteredOut, 400, 413, 422),
)
def put_notification_settings(body: NotificationSettingsIn) -> WebhookRegisteredOut:
    settings = get_settings()
    saved, secret = webhooks.set_webhook(
        _caller(),
        body.webhook_url,
        now=utc_now(),
        repo=UserSettingsRepository(),
        box=SecretBox(settings),
        allow_private=settings.webhook_allow_private_urls,
    )
    return WebhookRegisteredOut(**_out(saved).model_dump(), webhook_secret=secret)


@router.get(
    "/notification-settings",
    summary="The caller's notification settings (never the secret)",
    responses=errors.route_docs(200, NotificationSettingsOut),
)
def get_notification_settings() -> NotificationSettingsOut:
    return _out(webhooks.get_settings_of(_caller(), repo=UserSettingsRepository()))


@router.delete(
    "/notification-settings",
    status_code=204,
    summary="Remove the caller's webhook (alerts still go to the notifications topic)",
    responses=errors.route_docs(204, None),
)
def delete_notification_settings() -> Response[None]:
    webhooks.delete_webhook(_caller(), repo=UserSettingsRepository())
    return Response(status_code=204)
