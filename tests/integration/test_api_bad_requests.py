"""Bad requests change nothing (DESIGN 7): each answers its code of DESIGN 4, with the field path for 422s,
and every table is the same before and after (full scans compared)."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from functions.control_api import app as app_module
from tests.support.aws import moto_stack
from tests.support.builders import EXAMPLE_GRAPH
from tests.support.http import Api, call, http_event

USER = "user-bad-requests"


@dataclass(frozen=True)
class Bad:
    """A bad request: where it goes (`{draft}`, `{partial}` name strategies), what it sends, what it gets."""

    name: str
    method: str
    path: str
    status: int
    code: str
    body: Any = None
    raw_body: str | None = None
    base64_body: bool = False
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    loc: tuple[Any, ...] | None = None  # the first error's path must start with this


def graph_with(**changes: Any) -> dict[str, Any]:
    graph = copy.deepcopy(EXAMPLE_GRAPH)
    for key, value in changes.items():
        graph[key] = value
    return graph


def _node(i: int) -> dict[str, str]:
    # as small as a node can be, so 10,000 of them stay under the 256 KB body limit
    return {"id": str(i), "type": "X"}


CYCLIC = graph_with(edges=[*EXAMPLE_GRAPH["edges"], {"source": "orc", "target": "src"}])
UNKNOWN_TYPE = graph_with(
    nodes=[*EXAMPLE_GRAPH["nodes"][:2], {"id": "orc", "type": "MARTINGALE", "config": {}}]
)
UNKNOWN_KEY = copy.deepcopy(EXAMPLE_GRAPH)
UNKNOWN_KEY["nodes"][0]["config"]["leverage"] = 10
DUPLICATE_IDS = graph_with(
    nodes=[*EXAMPLE_GRAPH["nodes"], {"id": "src", "type": "DATA_SOURCE", "config": {}}]
)
DANGLING_EDGE = graph_with(edges=[{"source": "src", "target": "nowhere"}])
BIG_GRAPH = {"nodes": [_node(i) for i in range(10_000)], "edges": []}
CREATE = {"strategy_name": "Momentum", "node_graph": EXAMPLE_GRAPH}
DEPLOY = {"paper_bankroll_usd": 1000, "frequency": "5m"}
ONE_MB = {"strategy_name": "x" * (1024 * 1024), "node_graph": EXAMPLE_GRAPH}


def deploy(**changes: Any) -> dict[str, Any]:
    body = {**DEPLOY, **changes}
    return {k: v for k, v in body.items() if v is not None}


D = "/strategies/{draft}"
DEPLOY_PATH = f"{D}/deploy"
POST, S, V = "POST", "/strategies", "validation_error"
TOKEN = "invalid_next_token"
CASES = [
    # POST /strategies: shapes and types
    Bad("missing name", POST, S, 422, V, {"node_graph": EXAMPLE_GRAPH}),
    Bad("name of wrong type", POST, S, 422, V, {**CREATE, "strategy_name": 7},
        loc=("body", "strategy_name")),
    Bad("empty name", POST, S, 422, V, {**CREATE, "strategy_name": ""}),
    Bad("name of 121 chars", POST, S, 422, V, {**CREATE, "strategy_name": "n" * 121}),
    Bad("missing graph", POST, S, 422, V, {"strategy_name": "x"}),
    Bad("graph of wrong type", POST, S, 422, V, {**CREATE, "node_graph": []}),
    Bad("unknown field", POST, S, 422, V, {**CREATE, "status": "RUNNING"}),
    Bad("empty body", POST, S, 422, V),
    Bad("JSON array body", POST, S, 422, V, [CREATE], loc=("body",)),
    Bad("JSON string body", POST, DEPLOY_PATH, 422, V, "1000", loc=("body",)),
    # POST /strategies: the graph
    Bad("cyclic graph", POST, S, 422, V, {**CREATE, "node_graph": CYCLIC},
        loc=("body", "node_graph", "edges")),
    Bad("unknown node type", POST, S, 422, V, {**CREATE, "node_graph": UNKNOWN_TYPE},
        loc=("body", "node_graph", "nodes", 2, "type")),
    Bad("unknown config key", POST, S, 422, V, {**CREATE, "node_graph": UNKNOWN_KEY},
        loc=("body", "node_graph", "nodes", 0, "config")),
    Bad("duplicate node ids", POST, S, 422, V,
        {**CREATE, "node_graph": DUPLICATE_IDS}),
    Bad("edge to a missing node", POST, S, 422, V,
        {**CREATE, "node_graph": DANGLING_EDGE}),
    Bad("graph of 10,000 nodes", POST, S, 422, V, {**CREATE, "node_graph": BIG_GRAPH},
        loc=("body", "node_graph", "nodes")),
    # POST /strategies: the body itself
    Bad("1 MB body", POST, S, 413, "payload_too_large", ONE_MB),
    Bad("1 MB base64 body", POST, S, 413, "payload_too_large", ONE_MB, base64_body=True),
    Bad("malformed JSON", POST, S, 400, "invalid_json", raw_body='{"strategy_name": "x",'),
    Bad("malformed base64 JSON", POST, S, 400, "invalid_json", raw_body="{'single': 'quotes'}",
        base64_body=True),
    Bad("NaN is not JSON", POST, S, 400, "invalid_json",
        raw_body='{"strategy_name": "x", "node_graph": {"nodes": [], "x": NaN}}'),
    Bad("deeply nested JSON", POST, S, 400, "invalid_json", raw_body="[" * 100_000 + "]" * 100_000),
    Bad("Idempotency-Key too long", POST, S, 422, V, CREATE,
        headers={"Idempotency-Key": "k" * 300}),
    # POST /strategies/{id}/deploy
    Bad("bankroll 99", POST, DEPLOY_PATH, 422, V, deploy(paper_bankroll_usd=99),
        loc=("body", "paper_bankroll_usd")),
    Bad("bankroll 1,000,001", POST, DEPLOY_PATH, 422, V,
        deploy(paper_bankroll_usd=1_000_001), loc=("body", "paper_bankroll_usd")),
    Bad("bankroll not a number", POST, DEPLOY_PATH, 422, V, deploy(paper_bankroll_usd="lots")),
    Bad("bankroll missing", POST, DEPLOY_PATH, 422, V, {"frequency": "5m"}),
    Bad("cron step 0", POST, DEPLOY_PATH, 422, V,
        deploy(frequency=None, schedule_cron="*/0 * * * *"), loc=("body", "schedule_cron")),
    Bad("6-field cron", POST, DEPLOY_PATH, 422, V,
        deploy(frequency=None, schedule_cron="*/5 * * * * *"), loc=("body", "schedule_cron")),
    Bad("cron that never fires", POST, DEPLOY_PATH, 422, V,
        deploy(frequency=None, schedule_cron="0 0 30 2 *")),
    Bad("unknown timezone", POST, DEPLOY_PATH, 422, V, deploy(timezone="Mars/Olympus_Mons"),
        loc=("body", "timezone")),
    Bad("unknown trading mode", POST, DEPLOY_PATH, 422, V, deploy(trading_mode="margin"),
        loc=("body", "trading_mode")),
    Bad("frequency and cron", POST, DEPLOY_PATH, 422, V, deploy(schedule_cron="0 * * * *")),
    Bad("neither frequency nor cron", POST, DEPLOY_PATH, 422, V, deploy(frequency=None)),
    Bad("unknown frequency", POST, DEPLOY_PATH, 422, V, deploy(frequency="2m")),
    Bad("max failures 0", POST, DEPLOY_PATH, 422, V, deploy(max_consecutive_failures=0)),
    Bad("auto_start not a boolean", POST, DEPLOY_PATH, 422, V, deploy(auto_start="sure")),
    Bad("If-Match not a version", POST, DEPLOY_PATH, 422, V, DEPLOY,
        headers={"If-Match": "abc"}, loc=("header", "If-Match")),
    Bad("graph not deployable", "POST", "/strategies/{partial}/deploy", 422, V, DEPLOY,
        loc=("node_graph", "nodes")),
    # PATCH /strategies/{id}
    Bad("patch nothing", "PATCH", D, 422, V, {}),
    Bad("patch name null", "PATCH", D, 422, V, {"strategy_name": None}),
    Bad("patch cyclic graph", "PATCH", D, 422, V, {"node_graph": CYCLIC},
        loc=("body", "node_graph", "edges")),
    Bad("patch status", "PATCH", D, 422, V, {"status": "RUNNING"}),
    # lists
    Bad("tampered next_token", "GET", "/strategies", 400, TOKEN, query={"next_token": "{tampered}"}),
    Bad("garbage next_token", "GET", "/strategies", 400, TOKEN, query={"next_token": "abc.def"}),
    Bad("limit 0", "GET", "/strategies", 422, V, query={"limit": "0"}, loc=("query", "limit")),
    Bad("limit 101", "GET", "/strategies", 422, V, query={"limit": "101"}),
    Bad("limit not a number", "GET", "/strategies", 422, V, query={"limit": "ten"}),
    Bad("unknown log status", "GET", f"{D}/executions", 422, V, query={"status": "bogus"},
        loc=("query", "status")),
    Bad("since not a time", "GET", f"{D}/executions", 422, V, query={"since": "yesterday"}),
    Bad("since without zone", "GET", f"{D}/executions", 422, V,
        query={"since": "2026-11-24T00:00:00"}),
    Bad("foreign list's token on logs", "GET", f"{D}/executions", 400, TOKEN,
        query={"next_token": "{tampered}"}),
    Bad("garbage token on trades", "GET", f"{D}/trades", 400, TOKEN, query={"next_token": "x.y"}),
    Bad("strategy id too long", "GET", "/strategies/" + "x" * 65, 422, V),
]  # fmt: skip


@pytest.fixture(scope="module")
def prepared() -> Iterator[tuple[Api, dict[str, str]]]:
    with moto_stack() as aws:
        api = Api(aws, app_module.lambda_handler, user=USER)
        partial = {"nodes": [EXAMPLE_GRAPH["nodes"][0]], "edges": []}
        ids = {"draft": api.create(), "partial": api.create(graph=partial)}
        api.create()
        token = api("GET", "/strategies", query={"limit": "1"}).body["next_token"]
        # one character changed in the signed part: the MAC no longer matches
        ids["tampered"] = token[:-1] + ("A" if token[-1] != "A" else "B")
        yield api, ids


def _send(api: Api, case: Bad, ids: dict[str, str]) -> Any:
    path = case.path.format(**ids)
    query = {k: v.format(**ids) for k, v in case.query.items()}
    raw = (
        case.raw_body
        if case.raw_body is not None
        else (None if case.body is None else json.dumps(case.body, separators=(",", ":")))
    )
    event = http_event(
        case.method,
        path,
        sub=USER,
        raw_body=raw,
        base64_body=case.base64_body,
        query=query,
        headers=case.headers,
    )
    return call(app_module.lambda_handler, event)


def test_there_are_at_least_30_bad_requests() -> None:
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_bad_request_answers_its_code_and_changes_nothing(
    prepared: tuple[Api, dict[str, str]], case: Bad
) -> None:
    # Given the stack as it is
    api, ids = prepared
    before = api.snapshot()

    # When the bad request arrives
    answer = _send(api, case, ids)

    # Then it answers its status and code in the error shape, and no table changed
    assert (answer.status, answer.error_code) == (case.status, case.code), answer.body
    error = answer.body["error"]
    assert set(error) == {"code", "message", "details", "request_id"} and error["request_id"]
    if case.status == 422:
        assert isinstance(error["details"], list) and error["details"]
        assert all("loc" in d and "msg" in d for d in error["details"])
    if case.loc is not None:
        assert tuple(error["details"][0]["loc"][: len(case.loc)]) == case.loc, error["details"]
    assert api.snapshot() == before


def test_the_10000_node_graph_is_within_the_body_limit_so_the_graph_rule_answers() -> None:
    # the 10,000-node case must prove the 50-node rule, not the 256 KB one
    size = len(json.dumps({**CREATE, "node_graph": BIG_GRAPH}, separators=(",", ":")))
    assert size < 256 * 1024


@pytest.mark.usefixtures("prepared")
def test_a_body_of_exactly_256_kb_is_read() -> None:
    # Given a body padded to exactly 256 KB with a name that is too long
    body = json.dumps({**CREATE, "strategy_name": ""})
    padded = body[:-1] + " " * (256 * 1024 - len(body)) + "}"
    assert len(padded) == 256 * 1024

    # When it is sent, plain and base64-encoded
    plain = call(app_module.lambda_handler, http_event("POST", "/strategies", sub=USER, raw_body=padded))
    encoded = base64.b64encode(padded.encode()).decode()
    b64 = call(
        app_module.lambda_handler,
        http_event("POST", "/strategies", sub=USER, raw_body=padded, base64_body=True),
    )

    # Then it is parsed (422 for the empty name), not refused for its size
    assert plain.status == b64.status == 422
    assert len(encoded) > 256 * 1024  # the limit is on the body, not on its base64 text
