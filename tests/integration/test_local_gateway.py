"""The local gateway: template routes, exact HTTP API 2.0 events, and the JWT check before the function."""

from __future__ import annotations

import base64
import http.client
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from local.auth import LOCAL_AUDIENCE, LOCAL_ISSUER, DevTokenIssuer
from local.clock import FastClock
from local.gateway import Gateway, GatewayServer, routes_from_template
from local.infra import load_template
from tests.support.http import ROUTES

START = datetime(2026, 2, 7, 12, 50, tzinfo=UTC)


@dataclass
class Captured:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answer: Any = None
    error: Exception | None = None

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        self.events.append((function, event))
        if self.error is not None:
            raise self.error
        if self.answer is not None:
            return self.answer
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/json"},
            "body": json.dumps({"ok": True}),
        }


@dataclass
class Running:
    url: str
    clock: FastClock
    issuer: DevTokenIssuer
    captured: Captured
    port: int


@pytest.fixture
def gateway() -> Iterator[Running]:
    clock = FastClock(START)
    issuer = DevTokenIssuer(now=clock.now)
    captured = Captured()
    server = GatewayServer(Gateway(captured.invoke, issuer)).start()
    try:
        yield Running(server.url, clock, issuer, captured, int(server.url.rsplit(":", 1)[1]))
    finally:
        server.stop()


def request(
    url: str,
    method: str = "GET",
    token: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method=method, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def test_a_request_becomes_an_exact_payload_2_0_event(gateway: Running) -> None:
    # Given a valid token and a request with repeated headers and query parameters, cookies and a JSON body
    token = gateway.issuer.issue("alice")
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    body = b'{"paper_bankroll_usd": 1000, "frequency": "5m"}'
    connection.putrequest("POST", "/strategies/abc-123/deploy?x=1&x=2&empty=", skip_accept_encoding=True)
    for name, value in [
        ("Authorization", f"Bearer {token}"),
        ("Content-Type", "application/json"),
        ("X-Trace", "a"),
        ("X-Trace", "b"),
        ("Cookie", "c1=v1; c2=v2"),
        ("Idempotency-Key", "k-1"),
        ("Content-Length", str(len(body))),
    ]:
        connection.putheader(name, value)
    connection.endheaders(body)

    # When the gateway answers
    answer = connection.getresponse()
    answer.read()
    connection.close()

    # Then the function got the 2.0 event API Gateway would send
    assert answer.status == 200
    ((function, event),) = gateway.captured.events
    assert function == "ControlApiFunction"
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /strategies/{id}/deploy"
    assert event["rawPath"] == "/strategies/abc-123/deploy"
    assert event["rawQueryString"] == "x=1&x=2&empty="
    assert event["queryStringParameters"] == {"x": "1,2", "empty": ""}
    assert event["pathParameters"] == {"id": "abc-123"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-trace"] == "a,b"
    assert event["headers"]["idempotency-key"] == "k-1"
    assert event["headers"]["content-type"] == "application/json"
    assert all(name == name.lower() for name in event["headers"])
    assert "cookie" not in event["headers"]
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"paper_bankroll_usd": 1000, "frequency": "5m"}
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/strategies/abc-123/deploy",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "",
    }
    assert context["routeKey"] == "POST /strategies/{id}/deploy"
    assert context["stage"] == "$default"
    assert context["requestId"] == answer.getheader("apigw-requestid")
    assert context["timeEpoch"] == int(START.timestamp() * 1000)  # the stack's clock, not the wall clock
    assert context["time"] == "07/Feb/2026:12:50:00 +0000"
    claims = context["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "alice"
    assert claims["iss"] == LOCAL_ISSUER
    assert claims["aud"] == LOCAL_AUDIENCE
    assert claims["exp"] == str(int((START + timedelta(hours=24)).timestamp()))  # strings, as API Gateway
    assert context["authorizer"]["jwt"]["scopes"] == ["autopilot/api"]


def test_a_get_without_body_or_query_leaves_those_fields_out(gateway: Running) -> None:
    # Given a plain GET
    token = gateway.issuer.issue("bob")

    # When it is sent
    status, _, _ = request(f"{gateway.url}/strategies", token=token)

    # Then the event has no body, query or path parameters, as API Gateway leaves them out
    assert status == 200
    event = gateway.captured.events[0][1]
    assert event["routeKey"] == "GET /strategies"
    assert event["rawQueryString"] == ""
    assert "queryStringParameters" not in event
    assert "pathParameters" not in event
    assert "body" not in event
    assert event["isBase64Encoded"] is False


def test_a_binary_body_arrives_base64_encoded(gateway: Running) -> None:
    # Given a body that is not text
    token = gateway.issuer.issue("alice")
    payload = bytes(range(256))

    # When it is posted
    request(f"{gateway.url}/strategies", "POST", token, payload, {"Content-Type": "application/octet-stream"})

    # Then the function gets it base64-encoded and flagged
    event = gateway.captured.events[0][1]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_every_template_route_reaches_its_function_and_nothing_else_does() -> None:
    # Given the routes read from template.yaml
    template = load_template()
    declared = {
        f"{e['Properties']['Method'].upper()} {e['Properties']['Path']}"
        for res in template["Resources"].values()
        if res.get("Type") == "AWS::Serverless::Function"
        for e in (res["Properties"].get("Events") or {}).values()
        if e.get("Type") == "HttpApi" and e["Properties"]["Path"] != "$default"
    }
    gateway = Gateway(lambda f, e: None, DevTokenIssuer(now=lambda: START))

    # When each is matched with a concrete path
    matched = {}
    for route in routes_from_template(template):
        if route.path == "$default":
            continue
        path = route.path.replace("{id}", "s-1").replace("{execution_id}", "x-1")
        found = gateway.match(route.method, path)
        assert found is not None
        matched[route.route_key] = found

    # Then each route key maps to itself, with the id as path parameter, and nothing else matches
    assert set(matched) == declared
    # the contract's owner-scoped routes, the caller-independent ones and the dashboard's two, each once
    independent = {
        "GET /node-types",
        "POST /strategies/validate",
        "POST /strategies/preview",
        "POST /schedules/preview",
        "GET /app",
        "GET /app/{proxy+}",
    }
    assert declared == {f"{method} {path}" for method, path in ROUTES} | independent
    for key, (route, params) in matched.items():
        assert route.route_key == key
        # each path parameter: `id` and `execution_id` as given, the others as the literal `{name}`
        names = re.findall(r"\{(\w+\+?)\}", key)
        given = {"id": "s-1", "execution_id": "x-1"}
        assert params == {name.rstrip("+"): given.get(name, f"{{{name}}}") for name in names}
    # and anything else reaches `$default` (the control API, whose resolver answers 404), as in API Gateway
    for method, path in (("PUT", "/strategies"), ("GET", "/strategies/s-1/unknown")):
        found = gateway.match(method, path)
        assert found is not None and found[0].route_key == "$default"
        assert found[0].function == "ControlApiFunction"
    assert gateway.match("GET", "/strategies/") is not None  # `$default` too


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/nowhere"), ("PUT", "/strategies"), ("GET", "/strategies/a/b/c")]
)
def test_an_unknown_route_meets_the_authorizer_of_the_default_route(
    gateway: Running, method: str, path: str
) -> None:
    # Given no token at all
    # When a route the template does not declare is asked for
    status, _, body = request(gateway.url + path, method)

    # Then it is `$default`'s (the control API's, behind the JWT authorizer): 401, and no function runs
    assert status == 401
    assert json.loads(body) == {"message": "Unauthorized"}
    assert gateway.captured.events == []


def _token(secret: str, **changes: Any) -> str:
    claims = {
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "sub": "mallory",
        "exp": int((START + timedelta(hours=1)).timestamp()),
    }
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm="HS256")


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "not a jwt",
        "bad signature",
        "expired",
        "wrong audience",
        "wrong issuer",
        "no sub",
        "no bearer",
    ],
)
def test_an_invalid_token_is_401_and_the_function_is_not_called(gateway: Running, case: str) -> None:
    # Given a token API Gateway's JWT authorizer would refuse
    secret = gateway.issuer.secret
    headers: dict[str, str] = {}
    tokens = {
        "not a jwt": "Bearer abc.def",
        "bad signature": "Bearer " + _token("another-secret-that-is-long-enough-for-hs256"),
        "expired": "Bearer " + _token(secret, exp=int((START - timedelta(seconds=1)).timestamp())),
        "wrong audience": "Bearer " + _token(secret, aud="someone-else"),
        "wrong issuer": "Bearer " + _token(secret, iss="https://evil.example"),
        "no sub": "Bearer " + _token(secret, sub=None),
        "no bearer": "Bearer ",
    }
    if case in tokens:
        headers["Authorization"] = tokens[case]

    # When it calls a protected route
    status, answer_headers, body = request(f"{gateway.url}/strategies", headers=headers)

    # Then the answer is API Gateway's 401 and the function never ran
    assert status == 401
    assert json.loads(body) == {"message": "Unauthorized"}
    assert "apigw-requestid" in answer_headers
    assert gateway.captured.events == []


def test_a_token_expires_on_the_stacks_clock(gateway: Running) -> None:
    # Given a one-hour token
    token = gateway.issuer.issue("alice", hours=1)
    assert request(f"{gateway.url}/strategies", token=token)[0] == 200

    # When the shared clock moves past its expiry
    gateway.clock.advance(timedelta(hours=1, seconds=1))

    # Then it is refused, whatever the wall clock says
    assert request(f"{gateway.url}/strategies", token=token)[0] == 401


def test_a_bare_token_without_bearer_is_accepted_like_api_gateway(gateway: Running) -> None:
    # Given a token sent without the Bearer prefix
    token = gateway.issuer.issue("carol")

    # When it calls the API
    status, _, _ = request(f"{gateway.url}/strategies", headers={"Authorization": token})

    # Then the caller is its sub
    assert status == 200
    assert gateway.captured.events[0][1]["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "carol"


def test_the_functions_answer_becomes_the_http_response(gateway: Running) -> None:
    # Given a function answering 201 with headers and cookies
    gateway.captured.answer = {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json", "ETag": '"3"'},
        "cookies": ["a=b"],
        "body": '{"strategy_id": "s-1"}',
        "isBase64Encoded": False,
    }

    # When it is called
    status, headers, body = request(f"{gateway.url}/strategies", "POST", gateway.issuer.issue("alice"), b"{}")

    # Then the status, headers, cookies and body pass through
    assert status == 201
    assert headers["etag"] == '"3"'
    assert headers["set-cookie"] == "a=b"
    assert json.loads(body) == {"strategy_id": "s-1"}


def test_an_answer_without_status_code_is_a_200_json_body(gateway: Running) -> None:
    # Given a function that returns a plain value (API Gateway infers the response)
    gateway.captured.answer = {"items": [], "next_token": None}

    # When it is called
    status, headers, body = request(f"{gateway.url}/strategies", token=gateway.issuer.issue("alice"))

    # Then it is sent as JSON with 200
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"items": [], "next_token": None}


def test_a_function_error_is_api_gateways_500(gateway: Running) -> None:
    # Given a function that raises
    gateway.captured.error = RuntimeError("boom")

    # When it is called
    status, _, body = request(f"{gateway.url}/strategies", token=gateway.issuer.issue("alice"))

    # Then the client sees the generic 500 and nothing of the error
    assert status == 500
    assert json.loads(body) == {"message": "Internal Server Error"}


def test_the_local_token_endpoint_issues_a_token_the_gateway_accepts(gateway: Running) -> None:
    # Given no token
    # When one is asked for a local user
    status, _, body = request(f"{gateway.url}/_local/token?user=alice")

    # Then it is accepted, and names the user as sub
    assert status == 200
    issued = json.loads(body)
    assert issued["user"] == "alice"
    assert issued["expires_at"] == "2026-02-08T12:50:00Z"
    assert request(f"{gateway.url}/strategies", token=issued["token"])[0] == 200
    assert gateway.captured.events[0][1]["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "alice"
    assert request(f"{gateway.url}/_local/token?user=")[0] == 400


def test_a_cors_preflight_from_an_allowed_origin_is_answered_by_the_gateway(gateway: Running) -> None:
    # Given the template's default allowed origin
    headers = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}

    # When a browser sends a preflight
    status, answer_headers, _ = request(f"{gateway.url}/strategies", "OPTIONS", headers=headers)

    # Then the gateway answers it without calling the function
    assert status == 204
    assert answer_headers["access-control-allow-origin"] == "http://localhost:3000"
    assert gateway.captured.events == []


def test_the_dashboard_with_a_trailing_slash_reaches_the_static_function_without_a_token() -> None:
    # Given the template's routes (a route path cannot end in `/`: `/app/` has no route of its own)
    gateway = Gateway(lambda f, e: None, DevTokenIssuer(now=lambda: START))

    # When `/app/` is asked for, and a path under it
    bare = gateway.match("GET", "/app/")
    page = gateway.match("GET", "/app/overview")

    # Then both reach the open greedy route of the static function (an empty rest for the bare slash), not
    # `$default` behind the JWT authorizer
    assert bare is not None and page is not None
    route, params = bare
    assert (route.route_key, route.function) == ("GET /app/{proxy+}", "WebStaticFunction")
    assert route.authorizer is None
    assert params == {"proxy": ""}
    assert page[0].route_key == "GET /app/{proxy+}" and page[1] == {"proxy": "overview"}
