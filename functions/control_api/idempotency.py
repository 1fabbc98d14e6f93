"""`Idempotency-Key` on the POST routes that create or act, with Powertools idempotency on DynamoDB.

A route middleware: with the header, the route runs inside `idempotent_function`, keyed on (caller, method
and path, key), and its answer (status, headers, body) is stored; a retry with the same key gets that answer
back and the route does not run again. Payload validation hashes the request body, so the same key with a
different body is refused: 422 `validation_error` on the `Idempotency-Key` header (the IETF
Idempotency-Key draft's answer for a reused key); a retry while the first request still runs is 409
`conflict`. Only successful answers are stored: a request that failed changed nothing, so running it again
is safe and says what is true now.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from engine.errors import ValidationFailed
from engine.settings import get_settings
from engine.storage.dynamo import get_clients

HEADER = "idempotency-key"
MAX_KEY_CHARS = 255
KEPT_SECONDS = 24 * 60 * 60  # a client retries within minutes; a day covers an outage on its side
KEY_PREFIX = "control-api"  # stable across packagings (module `app` in Lambda, a package in tests)

_CONFIG = IdempotencyConfig(
    event_key_jmespath="[caller, route, key]",
    payload_validation_jmespath="body",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=KEPT_SECONDS,
)


class _NotStored(Exception):
    """Carries a non-success answer out of the idempotent function, so Powertools does not store it."""

    def __init__(self, response: Response[Any]) -> None:
        super().__init__("answer not stored")
        self.response = response


@lru_cache(maxsize=4)
def _persistence(table: str, endpoint: str | None) -> DynamoDBPersistenceLayer:
    # the engine's client honours DYNAMODB_ENDPOINT_URL (the local stack), so records land next to the tables
    del endpoint  # part of the cache key only
    return DynamoDBPersistenceLayer(table_name=table, boto3_client=get_clients().dynamodb)


def persistence() -> DynamoDBPersistenceLayer:
    settings = get_settings()
    return _persistence(settings.idempotency_table, settings.dynamodb_endpoint_url)


def register_context(context: Any) -> None:
    """Lets Powertools expire an in-progress record with the invocation (a crashed request frees its key)."""
    _CONFIG.register_lambda_context(context)


def idempotency_key(app: APIGatewayHttpResolver) -> str | None:
    """The header's value; ValidationFailed when it is empty, too long or not printable ASCII."""
    key = app.current_event.headers.get(HEADER)
    if key is None:
        return None
    if not (0 < len(key) <= MAX_KEY_CHARS and key.isascii() and key.isprintable()):
        raise ValidationFailed(
            "Idempotency-Key must be 1..255 printable ASCII characters",
            details=[{"loc": ["header", "Idempotency-Key"], "msg": "1..255 printable ASCII characters"}],
        )
    return key


def _canonical_body(app: APIGatewayHttpResolver) -> Any:
    # the same JSON with other spacing or key order is the same request
    body = app.current_event.json_body
    return None if body is None else json.dumps(body, sort_keys=True, separators=(",", ":"))


def idempotent_route(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Route middleware: run once per (caller, route, Idempotency-Key) and replay the stored answer."""
    key = idempotency_key(app)
    if key is None:
        return next_middleware(app)
    event = app.current_event
    request = {
        "caller": event.request_context.authorizer.jwt_claim.get("sub"),
        "route": f"{event.http_method} {event.path}",
        "key": key,
        "body": _canonical_body(app),
    }

    @idempotent_function(
        data_keyword_argument="request",
        persistence_store=persistence(),
        config=_CONFIG,
        key_prefix=KEY_PREFIX,
    )
    def answer_once(request: dict[str, Any]) -> dict[str, Any]:
        response = next_middleware(app)
        if response.status_code >= 300:
            raise _NotStored(response)
        return {
            "status_code": response.status_code,
            "headers": {k: v for k, v in response.headers.items() if isinstance(v, str)},
            "body": response.body,
        }

    try:
        stored = answer_once(request=request)
    except _NotStored as carried:
        return carried.response
    return Response(
        status_code=int(stored["status_code"]),
        headers=stored["headers"],
        body=stored["body"],
    )
