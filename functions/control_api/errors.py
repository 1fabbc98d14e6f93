"""Error answers of the control API (DESIGN 4) and the checks that must run before the resolver parses.

One shape for every error: `{"error": {"code", "message", "details", "request_id"}}`. The early gate answers
401, 413 and 400 itself because the resolver's validation would otherwise see the request first (a request
without claims must get 401, not 422; a 1 MB body must not be parsed; malformed JSON is 400, not 422).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

try:  # imported as a package: tests, the local stack, the OpenAPI printer
    from functions.control_api.schemas import ErrorOut
except ImportError:  # in Lambda the function's folder is the task root, so its modules are top-level
    from schemas import ErrorOut  # type: ignore[no-redef]

MAX_BODY_BYTES = 256 * 1024
CONTENT_TYPE = "application/json"
GENERIC_500 = "Something went wrong on our side. Quote the request id if you report it."

STATUS_OF: dict[str, int] = {
    "invalid_json": 400,
    "invalid_next_token": 400,
    "unauthorized": 401,
    "strategy_not_found": 404,
    "backtest_not_found": 404,
    "execution_not_found": 404,
    "not_found": 404,
    "invalid_transition": 409,
    "conflict": 409,
    "live_trading_unavailable": 409,
    "kill_switch_active": 409,
    "precondition_failed": 412,
    "payload_too_large": 413,
    "validation_error": 422,
    "quota_exceeded": 429,
    "rate_limited": 429,
    "internal_error": 500,
    "market_data_unavailable": 503,
}

_DESCRIPTIONS: dict[int, str] = {
    400: "invalid_json or invalid_next_token",
    401: "unauthorized: no JWT claims",
    404: "strategy_not_found (missing, or not the caller's), backtest_not_found, execution_not_found, or "
    "not_found (a resource under it, a watchlist)",
    409: "invalid_transition, conflict, live_trading_unavailable or kill_switch_active",
    412: "precondition_failed: If-Match is not the strategy's version",
    413: "payload_too_large: body over 256 KB",
    422: "validation_error: details carry the field path",
    429: "quota_exceeded (the per-user strategy, running backtest or watchlist quota, or a watchlist's item "
    "limit) or rate_limited (a cooldown; Retry-After: seconds)",
    500: "internal_error: generic text and the request id",
    503: "market_data_unavailable: the market data source cannot be reached",
}


def error_payload(code: str, message: str, *, request_id: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details, "request_id": request_id}}


def error_response(code: str, message: str, *, request_id: str, details: Any = None) -> Response[Any]:
    """The resolver's answer for an error code."""
    return Response(
        status_code=STATUS_OF[code],
        content_type=CONTENT_TYPE,
        body=json.dumps(error_payload(code, message, request_id=request_id, details=details), default=str),
    )


def raw_error(code: str, message: str, *, request_id: str, details: Any = None) -> dict[str, Any]:
    """An error as an HTTP API payload 2.0 answer, for the gate that runs before the resolver."""
    return {
        "statusCode": STATUS_OF[code],
        "headers": {"Content-Type": CONTENT_TYPE},
        "body": json.dumps(error_payload(code, message, request_id=request_id, details=details)),
        "isBase64Encoded": False,
    }


def route_docs(ok: int, model: Any, *statuses: int) -> dict[int, OpenAPIResponse]:
    """OpenAPI `responses=`: the success answer (`model` None: no body) and the error statuses the route
    answers (401 and 500 on every route), each with the error model."""
    documented: dict[int, OpenAPIResponse] = {ok: {"description": "success"}}
    if model is not None:
        documented[ok]["content"] = {CONTENT_TYPE: {"model": model}}
    for status in sorted({401, 500, *statuses}):
        documented[status] = {
            "description": _DESCRIPTIONS[status],
            "content": {CONTENT_TYPE: {"model": ErrorOut}},
        }
    return documented


def request_id_of(event: Mapping[str, Any]) -> str:
    context = event.get("requestContext")
    return str(context.get("requestId", "")) if isinstance(context, Mapping) else ""


def caller_of(event: Mapping[str, Any]) -> str | None:
    """The JWT `sub` claim, or None when the event carries no usable claims."""
    node: Any = event
    for key in ("requestContext", "authorizer", "jwt", "claims"):
        node = node.get(key) if isinstance(node, Mapping) else None
    sub = node.get("sub") if isinstance(node, Mapping) else None
    return sub if isinstance(sub, str) and sub.strip() else None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def body_size(body: str, *, base64_encoded: bool) -> int:
    """Bytes of the body as sent, computed without decoding it (a huge body is never decoded)."""
    if base64_encoded:
        stripped = body.rstrip()
        padding = len(stripped) - len(stripped.rstrip("="))
        return len(stripped) * 3 // 4 - padding
    return len(body.encode("utf-8", errors="surrogatepass"))


def early_rejection(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """401 without claims, 413 over 256 KB, 400 for a body that is not JSON, 422 for JSON that is not an
    object; None lets the request on."""
    request_id = request_id_of(event)
    if caller_of(event) is None:
        return raw_error("unauthorized", "this API needs a signed-in caller", request_id=request_id)
    body = event.get("body")
    if not body:
        return None
    if not isinstance(body, str):
        return raw_error("invalid_json", "the body is not JSON text", request_id=request_id)
    encoded = bool(event.get("isBase64Encoded"))
    size = body_size(body, base64_encoded=encoded)
    if size > MAX_BODY_BYTES:
        return raw_error(
            "payload_too_large",
            f"the body is {size} bytes; at most {MAX_BODY_BYTES} are accepted",
            request_id=request_id,
            details={"max_bytes": MAX_BODY_BYTES},
        )
    try:
        text = base64.b64decode(body, validate=True).decode("utf-8") if encoded else body
        parsed = json.loads(text, parse_constant=_reject_constant)
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        return raw_error("invalid_json", "the body is not valid JSON", request_id=request_id)
    if not isinstance(parsed, dict):
        # every body of this API is an object; the resolver would otherwise try to read a list as one
        return raw_error(
            "validation_error",
            "the body must be a JSON object",
            request_id=request_id,
            details=[{"loc": ["body"], "msg": "must be a JSON object", "type": "model_type"}],
        )
    return None
