"""HTTP API (payload format 2.0) events as the JWT authorizer delivers them, and a Lambda context."""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

API_ID = "a1b2c3d4e5"
# The contract's routes (DESIGN 4 and on), as the template declares them and API Gateway names them in
# `routeKey` (its path parameter is `{id}`); tests/infra checks the template against this one list.
ROUTES = (
    # static routes first: API Gateway prefers them to `/strategies/{id}` (issue 14)
    ("GET", "/strategies/compare"),
    ("GET", "/node-types"),
    ("POST", "/strategies/validate"),
    ("POST", "/strategies/preview"),
    ("POST", "/schedules/preview"),
    ("GET", "/portfolio"),
    ("GET", "/portfolio/performance"),
    ("PUT", "/risk-limits"),
    ("GET", "/risk-limits"),
    ("POST", "/kill-switch"),
    ("DELETE", "/kill-switch"),
    ("POST", "/strategies"),
    ("GET", "/strategies"),
    ("GET", "/strategies/{id}"),
    ("PATCH", "/strategies/{id}"),
    ("DELETE", "/strategies/{id}"),
    ("POST", "/strategies/{id}/deploy"),
    ("POST", "/strategies/{id}/start"),
    ("POST", "/strategies/{id}/pause"),
    ("POST", "/strategies/{id}/stop"),
    ("POST", "/strategies/{id}/resume"),
    ("POST", "/strategies/{id}/run"),
    ("GET", "/strategies/{id}/executions"),
    ("GET", "/strategies/{id}/executions/{execution_id}"),
    ("GET", "/strategies/{id}/trades"),
    ("GET", "/strategies/{id}/portfolio"),
    ("GET", "/strategies/{id}/performance"),
    ("PUT", "/notification-settings"),
    ("GET", "/notification-settings"),
    ("DELETE", "/notification-settings"),
    ("GET", "/strategies/{id}/deployments"),
    ("GET", "/strategies/{id}/deployments/{deployment_id}"),
    ("GET", "/strategies/{id}/versions"),
    ("GET", "/strategies/{id}/versions/{graph_version}"),
    ("POST", "/strategies/{id}/versions/{graph_version}/restore"),
    ("GET", "/strategies/{id}/events"),
    ("POST", "/watchlists"),
    ("GET", "/watchlists"),
    ("GET", "/watchlists/{watchlist_id}"),
    ("PATCH", "/watchlists/{watchlist_id}"),
    ("DELETE", "/watchlists/{watchlist_id}"),
    ("POST", "/watchlists/{watchlist_id}/items"),
    ("GET", "/watchlists/{watchlist_id}/items"),
    ("DELETE", "/watchlists/{watchlist_id}/items/{market_id}"),
    ("POST", "/strategies/{id}/backtests"),
    ("GET", "/strategies/{id}/backtests"),
    ("GET", "/strategies/{id}/backtests/{backtest_id}/comparison"),
    ("POST", "/backtests"),
    ("GET", "/backtests/{backtest_id}"),
    ("DELETE", "/backtests/{backtest_id}"),
    ("GET", "/backtests/{backtest_id}/trades"),
    ("GET", "/backtests/{backtest_id}/executions"),
)


def _route_of(method: str, path: str) -> tuple[str, dict[str, str] | None]:
    """The template route a concrete path matches, and its path parameters."""
    for route_method, template in ROUTES:
        if route_method != method:
            continue
        pattern = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"
        match = re.match(pattern, path)
        if match:
            return f"{method} {template}", (match.groupdict() or None)
    return f"{method} {path}", None


def http_event(
    method: str,
    path: str,
    *,
    sub: str | None = "user-a",
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    raw_body: str | None = None,
    base64_body: bool = False,
    claims: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An HTTP API 2.0 event. `body` is sent as JSON; `raw_body` as given (malformed JSON); `sub=None` gives
    an event with no authorizer block at all (what a route without the JWT authorizer would deliver)."""
    route_key, path_parameters = _route_of(method, path)
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    if text is not None and base64_body:
        text = base64.b64encode(text.encode()).decode()
    request_id = f"req-{uuid.uuid4().hex[:16]}"
    all_headers = {
        "accept": "application/json",
        "authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig",
        "content-length": str(len(text or "")),
        "content-type": "application/json",
        "host": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
        "user-agent": "pytest",
        "x-amzn-trace-id": "Root=1-67891233-abcdef012345678912345678",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    # HTTP API lowercases header names
    all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
    request_context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": API_ID,
        "domainName": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": API_ID,
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.7",
            "userAgent": "pytest",
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": "24/Nov/2026:12:00:00 +0000",
        "timeEpoch": 1795003200000,
    }
    if sub is not None or claims is not None:
        request_context["authorizer"] = {
            "jwt": {
                "claims": claims
                if claims is not None
                else {
                    "sub": sub,
                    "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example",
                    "aud": "example-client",
                    "token_use": "id",
                    "exp": "1795006800",
                    "iat": "1795003200",
                },
                "scopes": None,
            }
        }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": all_headers,
        "requestContext": request_context,
        "isBase64Encoded": base64_body,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if path_parameters:
        event["pathParameters"] = path_parameters
    if text is not None:
        event["body"] = text
    return event


@dataclass
class FakeLambdaContext:
    """What Powertools reads from a Lambda context; `remaining_ms` feeds get_remaining_time_in_millis."""

    remaining_ms: int = 28_000
    function_name: str = "autopilot-control-api"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:autopilot-control-api"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/autopilot-control-api"
    log_stream_name: str = "2026/11/24/[$LATEST]abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def json_body(answer: dict[str, Any]) -> Any:
    body = answer.get("body")
    if not body:
        return None
    if answer.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)


@dataclass
class Answer:
    """An answer as a client reads it."""

    status: int
    body: Any
    headers: dict[str, str]
    raw: dict[str, Any]

    @property
    def error_code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"]["code"])
        return None


def call(handler: Any, event: dict[str, Any], *, remaining_ms: int = 28_000) -> Answer:
    """Invoke a Lambda handler with an HTTP API event, the way the Lambda runtime does."""
    raw = handler(event, FakeLambdaContext(remaining_ms=remaining_ms))
    return Answer(
        status=int(raw["statusCode"]),
        body=json_body(raw),
        headers={k.lower(): v for k, v in (raw.get("headers") or {}).items()},
        raw=raw,
    )


def scan_tables(client: Any, tables: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every item of every table (sorted), to prove a request changed nothing."""
    snapshot: dict[str, list[dict[str, Any]]] = {}
    for table in tables:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        while True:
            page = client.scan(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        snapshot[table] = sorted(items, key=lambda i: json.dumps(i, sort_keys=True))
    return snapshot


TABLE_RESOURCES = (
    "StrategiesTable",
    "ExecutionLogsTable",
    "TradesTable",
    "PortfoliosTable",
    "IdempotencyTable",
    "WatchlistsTable",
)
DEPLOY_BODY: dict[str, Any] = {"paper_bankroll_usd": 1000, "frequency": "5m"}


class Api:
    """The control API's handler on a moto stack: send requests as a user, put strategies in a status."""

    def __init__(self, aws: Any, handler: Any, *, user: str = "user-a", other: str = "user-b") -> None:
        self.aws = aws
        self.handler = handler
        self.tables = [aws.names.table(name) for name in TABLE_RESOURCES]
        self.dynamodb = aws.session.client("dynamodb")
        # tests sharing one stack stay apart by using users of their own
        self.user = user
        self.other = other

    def __call__(self, method: str, path: str, **kwargs: Any) -> Answer:
        remaining_ms = kwargs.pop("remaining_ms", 28_000)
        kwargs.setdefault("sub", self.user)
        return call(self.handler, http_event(method, path, **kwargs), remaining_ms=remaining_ms)

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        return scan_tables(self.dynamodb, self.tables)

    def create(self, *, sub: str | None = None, graph: dict[str, Any] | None = None, **fields: Any) -> str:
        from tests.support.builders import EXAMPLE_GRAPH

        body = {"strategy_name": "Momentum", "node_graph": graph or EXAMPLE_GRAPH, **fields}
        answer = self("POST", "/strategies", sub=sub or self.user, body=body)
        assert answer.status == 201, answer.body
        return str(answer.body["strategy_id"])

    def in_status(self, status: str, *, sub: str | None = None) -> str:
        """A strategy of `sub` (default: the test's user) brought to `status` through the API itself."""
        sub = sub or self.user
        strategy_id = self.create(sub=sub)
        steps = {
            "DRAFT": [],
            "DEPLOYED": [("deploy", DEPLOY_BODY)],
            "RUNNING": [("deploy", {**DEPLOY_BODY, "auto_start": True})],
            "PAUSED": [("deploy", {**DEPLOY_BODY, "auto_start": True}), ("pause", None)],
            "STOPPED": [("deploy", {**DEPLOY_BODY, "auto_start": True}), ("stop", None)],
        }[status]
        for action, body in steps:
            answer = self("POST", f"/strategies/{strategy_id}/{action}", sub=sub, body=body)
            assert answer.status == 200, answer.body
        return strategy_id


def unique_users() -> tuple[str, str]:
    """Two fresh subs for a test on a shared stack."""
    tag = uuid.uuid4().hex[:8]
    return f"user-a-{tag}", f"user-b-{tag}"
