"""Prints the control API's OpenAPI document (`make openapi` writes it to docs/openapi.json)."""

from __future__ import annotations

import json
import sys
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from functions.control_api.app import app

TITLE = "Autopilot control API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Strategies, deployment, state changes, runs, logs, trades, portfolio and performance (DESIGN 4). "
    "Every route needs a JWT; the caller is its `sub` claim. Errors answer "
    '`{"error": {"code", "message", "details", "request_id"}}`.'
)


# API Gateway's JWT authorizer answers a request without a valid token itself, before the function runs
GATEWAY_MESSAGE: dict[str, Any] = {
    "title": "GatewayMessage",
    "description": 'An answer of API Gateway itself, e.g. 401 `{"message": "Unauthorized"}` from the JWT '
    "authorizer when the token is missing, expired or not signed by the issuer.",
    "type": "object",
    "properties": {"message": {"title": "Message", "type": "string"}},
    "required": ["message"],
}


def as_deployed(doc: dict[str, Any]) -> dict[str, Any]:
    """What the generated document cannot know from the handler: a 204 has no body, and a 401 is usually
    API Gateway's own answer (GatewayMessage) rather than the function's error shape."""
    doc.setdefault("components", {}).setdefault("schemas", {})["GatewayMessage"] = GATEWAY_MESSAGE
    for path_item in doc.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            if "204" in responses:
                responses["204"].pop("content", None)
            media = responses.get("401", {}).get("content", {}).get("application/json")
            if media is not None and "schema" in media:
                media["schema"] = {
                    "anyOf": [media["schema"], {"$ref": "#/components/schemas/GatewayMessage"}]
                }
    return doc


def document() -> str:
    """The OpenAPI 3.1 document as stable, indented JSON (the committed file is compared to this)."""
    raw = app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        security_schemes={"jwt": HTTPBearer(bearerFormat="JWT")},
        security=[{"jwt": []}],
    )
    return json.dumps(as_deployed(json.loads(raw)), indent=2, sort_keys=True) + "\n"


def main() -> None:
    sys.stdout.write(document())


if __name__ == "__main__":
    main()
