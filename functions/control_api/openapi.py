"""Prints the control API's OpenAPI document (`make openapi` writes it to docs/openapi.json)."""

from __future__ import annotations

import json
import sys

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from functions.control_api.app import app

TITLE = "Autopilot control API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Strategies, deployment, state changes, runs, logs, trades, portfolio and performance (DESIGN 4). "
    "Every route needs a JWT; the caller is its `sub` claim. Errors answer "
    '`{"error": {"code", "message", "details", "request_id"}}`.'
)


def document() -> str:
    """The OpenAPI 3.1 document as stable, indented JSON (the committed file is compared to this)."""
    raw = app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        security_schemes={"jwt": HTTPBearer(bearerFormat="JWT")},
        security=[{"jwt": []}],
    )
    return json.dumps(json.loads(raw), indent=2, sort_keys=True) + "\n"


def main() -> None:
    sys.stdout.write(document())


if __name__ == "__main__":
    main()
