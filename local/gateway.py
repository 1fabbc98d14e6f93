"""A local stand-in for API Gateway's HTTP API: routes from template.yaml, the JWT authorizer, and exact
payload format 2.0 events for the function a route names.

What it copies from API Gateway: an unknown route goes to the `$default` route when one is declared, else it
is 404 `{"message":"Not Found"}` (before any auth check);
a route under the JWT authorizer without a valid token is 401 `{"message":"Unauthorized"}` and the function is
not called; claims reach the function as strings under `requestContext.authorizer.jwt.claims`; header names
are lowercased and repeated headers joined with commas; repeated query parameters are joined with commas in
`queryStringParameters`; the `cookie` header becomes `cookies`; a function error is 500
`{"message":"Internal Server Error"}`; a response without `statusCode` is sent as a 200 JSON body.

Local only: `GET /_local/token?user=alice` issues a development token (no auth; the stack binds 127.0.0.1),
and `/_local/oauth/...` plays a minimal OAuth server for the web dashboard (see local.oauth).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.auth import DevTokenIssuer, InvalidToken
from local.infra import load_template, parameter_defaults, resources_of_type
from local.oauth import OAUTH_PREFIX, LocalOAuth

logger = logging.getLogger(__name__)
Invoke = Callable[[str, dict[str, Any]], Any]  # (function logical id, event) -> the function's answer
TOKEN_PATH = "/_local/token"
_TEXT_TYPES = ("application/json", "application/xml", "application/x-www-form-urlencoded", "text/")


@dataclass(frozen=True)
class Route:
    method: str  # GET, POST... or ANY
    path: str  # /strategies/{id}
    function: str  # logical id of the function the route invokes
    authorizer: str | None  # None: the route is open
    pattern: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return self.path if self.path == "$default" else f"{self.method} {self.path}"

    @property
    def literal_segments(self) -> int:
        return sum(1 for part in self.path.split("/") if part and not part.startswith("{"))


DEFAULT_ROUTE = "$default"  # API Gateway's catch-all: any method and path no other route matches


def _path_pattern(path: str) -> re.Pattern[str]:
    if path == DEFAULT_ROUTE:
        return re.compile("^/.*$")
    parts = []
    for segment in path.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            # greedy {proxy+}: every child path, and the bare trailing slash (`/app/` reaches `/app/{proxy+}`
            # with an empty rest, as API Gateway routes it; a route path itself cannot end in `/`)
            parts.append(f"(?P<{segment[1:-2]}>.*)")
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "$")


def routes_from_template(template: dict[str, Any] | None = None) -> list[Route]:
    """The HttpApi routes of every function, most specific first (API Gateway prefers literal segments)."""
    template = template or load_template()
    default_authorizers = {
        logical: res.get("Properties", {}).get("Auth", {}).get("DefaultAuthorizer")
        for logical, res in resources_of_type(template, "AWS::Serverless::HttpApi").items()
    }
    routes: list[Route] = []
    for logical, res in resources_of_type(template, "AWS::Serverless::Function").items():
        for event in (res["Properties"].get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties", {})
            api = props.get("ApiId", {}).get("Ref") if isinstance(props.get("ApiId"), dict) else None
            authorizer = props.get("Auth", {}).get("Authorizer", default_authorizers.get(api or ""))
            method = str(props.get("Method", "ANY")).upper()
            path = str(props.get("Path", "/"))
            open_route = authorizer in (None, "NONE")
            routes.append(
                Route(method, path, logical, None if open_route else str(authorizer), _path_pattern(path))
            )
    return sorted(routes, key=lambda r: (r.path == DEFAULT_ROUTE, -r.literal_segments, r.method == "ANY"))


def cors_origins(template: dict[str, Any] | None = None) -> list[str]:
    template = template or load_template()
    value = parameter_defaults(template).get("CorsAllowOrigins") or ""
    return [o.strip() for o in str(value).split(",") if o.strip()]


def claims_as_strings(claims: dict[str, Any]) -> dict[str, str]:
    """API Gateway passes every claim as a string; arrays as `[a b]`."""
    out: dict[str, str] = {}
    for key, value in claims.items():
        if isinstance(value, list):
            out[key] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


def _is_text(content_type: str) -> bool:
    lowered = content_type.lower()
    return any(lowered.startswith(t) for t in _TEXT_TYPES) or "+json" in lowered


def new_request_id() -> str:
    # API Gateway's ids look like `JKJaXmPLvHcESHA=`: 10 random bytes in base64
    return base64.b64encode(secrets.token_bytes(10)).decode()


def build_http_event(
    *,
    route: Route,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    path_parameters: dict[str, str],
    claims: dict[str, Any] | None,
    source_ip: str,
    request_id: str,
    now: datetime,
    host: str,
) -> dict[str, Any]:
    """An HTTP API payload format 2.0 event, field for field as API Gateway sends it."""
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    merged.setdefault("host", host)
    merged["x-forwarded-for"] = source_ip
    merged["x-forwarded-proto"] = "http"
    merged["x-forwarded-port"] = host.rsplit(":", 1)[-1] if ":" in host else "80"
    merged.setdefault("content-length", str(len(body)))
    merged["x-amzn-trace-id"] = f"Root=1-{int(now.timestamp()):08x}-{secrets.token_hex(12)}"
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = merged
    if query:
        event["queryStringParameters"] = query
    authorizer: dict[str, Any] | None = None
    if claims is not None:
        scope = claims.get("scope")
        authorizer = {
            "jwt": {
                "claims": claims_as_strings(claims),
                "scopes": str(scope).split() if scope else None,
            }
        }
    now = now.astimezone(UTC)
    request_context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "local",
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0].split(":", 1)[0],
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": merged.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route.route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if authorizer is not None:
        request_context["authorizer"] = authorizer
    event["requestContext"] = request_context
    if body:
        if _is_text(merged.get("content-type", "application/json")):
            try:
                event["body"] = body.decode("utf-8")
                event["isBase64Encoded"] = False
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode()
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    if path_parameters:
        event["pathParameters"] = path_parameters
    return event


@dataclass
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _json_response(status: int, payload: Any, request_id: str) -> GatewayResponse:
    return GatewayResponse(
        status,
        [("content-type", "application/json"), ("apigw-requestid", request_id)],
        json.dumps(payload).encode(),
    )


def function_response(answer: Any, request_id: str) -> GatewayResponse:
    """The HTTP response for a 2.0 function answer (API Gateway's rules for both answer shapes)."""
    if not (isinstance(answer, dict) and "statusCode" in answer):
        return _json_response(200, answer, request_id)  # an inferred answer: the value is the JSON body
    headers = [(str(k).lower(), str(v)) for k, v in (answer.get("headers") or {}).items()]
    for key, values in (answer.get("multiValueHeaders") or {}).items():
        headers.extend((str(key).lower(), str(v)) for v in values)
    headers.extend(("set-cookie", str(c)) for c in answer.get("cookies") or [])
    headers.append(("apigw-requestid", request_id))
    raw = answer.get("body")
    if raw is None:
        body = b""
    elif answer.get("isBase64Encoded"):
        body = base64.b64decode(str(raw))
    else:
        body = str(raw).encode()
    return GatewayResponse(int(answer["statusCode"]), headers, body)


class Gateway:
    """Routes, authorizes and translates requests; `handle` is the whole of it, the HTTP server only moves
    bytes. `invoke(function_logical_id, event)` calls a function (the stack's, or a test's stand-in)."""

    def __init__(
        self,
        invoke: Invoke,
        issuer: DevTokenIssuer,
        *,
        routes: list[Route] | None = None,
        allowed_origins: list[str] | None = None,
        issue_tokens: bool = True,
    ) -> None:
        self.invoke = invoke
        self.issuer = issuer
        self.routes = routes if routes is not None else routes_from_template()
        self.allowed_origins = allowed_origins if allowed_origins is not None else cors_origins()
        self.issue_tokens = issue_tokens
        self.oauth = LocalOAuth(issuer)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method not in (method, "ANY"):
                continue
            found = route.pattern.match(path)
            if found:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def handle(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        source_ip: str,
        host: str,
    ) -> GatewayResponse:
        request_id = new_request_id()
        parts = urlsplit(target)
        raw_path, raw_query = parts.path or "/", parts.query
        lowered = {k.lower(): v for k, v in headers}
        origin = lowered.get("origin")
        cors = [("access-control-allow-origin", origin)] if origin and origin in self.allowed_origins else []
        if method == "OPTIONS" and cors and "access-control-request-method" in lowered:
            # preflight answered by the gateway itself, as with the template's CorsConfiguration
            return GatewayResponse(
                204,
                [
                    *cors,
                    ("access-control-allow-methods", "GET,POST,PATCH,DELETE,OPTIONS"),
                    ("access-control-allow-headers", "authorization,content-type,idempotency-key,if-match"),
                    ("access-control-max-age", "600"),
                ],
                b"",
            )
        if raw_path == TOKEN_PATH and method == "GET" and self.issue_tokens:
            return self._token(raw_query, request_id)
        if raw_path.startswith(OAUTH_PREFIX) and self.issue_tokens:
            status, answer_headers, answer = self.oauth.handle(method, raw_path, raw_query, lowered, body)
            return GatewayResponse(status, [*answer_headers, ("apigw-requestid", request_id)], answer)
        matched = self.match(method, raw_path)
        if matched is None:
            return self._with(_json_response(404, {"message": "Not Found"}, request_id), cors)
        route, path_parameters = matched
        claims: dict[str, Any] | None = None
        if route.authorizer is not None:
            try:
                claims = self.issuer.verify(lowered.get("authorization"))
            except InvalidToken:
                response = _json_response(401, {"message": "Unauthorized"}, request_id)
                response.headers.append(("www-authenticate", 'Bearer error="invalid_token"'))
                return self._with(response, cors)
        event = build_http_event(
            route=route,
            method=method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=headers,
            body=body,
            path_parameters=path_parameters,
            claims=claims,
            source_ip=source_ip,
            request_id=request_id,
            now=self.issuer.now(),
            host=host,
        )
        try:
            answer = self.invoke(route.function, event)
            response = function_response(answer, request_id)
        except Exception:
            logger.exception("%s failed on %s (request %s)", route.function, route.route_key, request_id)
            response = _json_response(500, {"message": "Internal Server Error"}, request_id)
        return self._with(response, cors)

    @staticmethod
    def _with(response: GatewayResponse, extra: list[tuple[str, str]]) -> GatewayResponse:
        response.headers.extend(extra)
        return response

    def _token(self, raw_query: str, request_id: str) -> GatewayResponse:
        params = dict(parse_qsl(raw_query))
        user = params.get("user", "")
        try:
            hours = float(params.get("hours", "24"))
            token = self.issuer.issue(user, hours=hours)
        except ValueError as exc:
            return _json_response(400, {"message": str(exc)}, request_id)
        claims = self.issuer.verify(token)
        expires = datetime.fromtimestamp(claims["exp"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return _json_response(200, {"user": user, "token": token, "expires_at": expires}, request_id)


class GatewayServer:
    """The gateway on a ThreadingHTTPServer bound to 127.0.0.1 (port 0 picks a free one)."""

    def __init__(self, gateway: Gateway, host: str = "127.0.0.1", port: int = 0) -> None:
        self.gateway = gateway
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(gateway))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> GatewayServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="local-gateway", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _handler_for(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 60
        # headers and body are two writes: without TCP_NODELAY a keep-alive client stalls ~40 ms per answer
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            host = self.headers.get("Host") or "127.0.0.1"
            response = gateway.handle(
                self.command,
                self.path,
                list(self.headers.items()),
                body,
                source_ip=self.client_address[0],
                host=host,
            )
            try:
                self.send_response(response.status)
                for name, value in response.headers:
                    self.send_header(name, value)
                self.send_header("content-length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_OPTIONS = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("gateway: " + format, *args)

    return Handler
