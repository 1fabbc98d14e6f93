"""No request from a signed-in client answers 5xx (DESIGN 7): the cases that used to, and a property-based
sweep over every route's path, query, headers and body (non-ASCII text, extreme numbers, deep nesting),
through lambda_handler on moto. A 4xx leaves every table exactly as it was."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.control_api import app as app_module
from tests.support.aws import moto_stack
from tests.support.builders import EXAMPLE_GRAPH
from tests.support.http import DEPLOY_BODY, ROUTES, Api

USER = "user-no-5xx"
CREATE = {"strategy_name": "Momentum", "node_graph": EXAMPLE_GRAPH}


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    saved = {k: os.environ.get(k) for k in ("POLYMARKET_GAMMA_URL", "POLYMARKET_CLOB_URL")}
    # a run that reaches the market API fails fast (nothing listens there): a failed log, never a 5xx
    os.environ.update(
        {"POLYMARKET_GAMMA_URL": "http://127.0.0.1:9", "POLYMARKET_CLOB_URL": "http://127.0.0.1:9"}
    )
    try:
        with moto_stack() as aws:
            yield Api(aws, app_module.lambda_handler, user=USER, other="user-no-5xx-other")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def graph_with_extra(path: list[str | int], value: Any) -> dict[str, Any]:
    """EXAMPLE_GRAPH with `value` placed at `path` inside its first node (a builder's free-form keys)."""
    graph = copy.deepcopy(EXAMPLE_GRAPH)
    node: Any = graph["nodes"][0]
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return graph


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"d": value}
    return value


# -- the cases that answered 500 ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/strategies", "/strategies/{id}/executions", "/strategies/{id}/trades"])
@pytest.mark.parametrize("token", ["é.x", "ab.cdé", "\u00b2\u00b2.\u00b2", "token.\U0001f600"])
def test_a_non_ascii_next_token_is_invalid_next_token(api: Api, path: str, token: str) -> None:
    # Given a strategy of the caller's and a next_token holding non-ASCII characters
    strategy_id = api.create()
    before = api.snapshot()

    # When a list is asked for its next page with it
    answer = api("GET", path.replace("{id}", strategy_id), query={"next_token": token})

    # Then 400 invalid_next_token, nothing changed
    assert answer.status == 400, answer.body
    assert answer.error_code == "invalid_next_token"
    assert api.snapshot() == before


@pytest.mark.parametrize("if_match", ["\u00b2", '"\u0663"', 'W/"\u00b9\u00b2"', "1" * 40])
def test_an_if_match_that_is_no_ascii_version_is_a_422(api: Api, if_match: str) -> None:
    # Given a draft and an If-Match whose value is a Unicode digit (isdigit() is true, int() fails) or huge
    strategy_id = api.create()
    before = api.snapshot()

    # When it is patched with that If-Match
    answer = api(
        "PATCH", f"/strategies/{strategy_id}", body={"strategy_name": "x"}, headers={"If-Match": if_match}
    )

    # Then 422 on the header, nothing changed
    assert answer.status == 422, answer.body
    assert answer.body["error"]["details"][0]["loc"] == ["header", "If-Match"]
    assert api.snapshot() == before


UNSTORABLE = [
    pytest.param(["position", "x"], 1e200, "number", id="1e200"),
    pytest.param(["position", "y"], 10**40, "number", id="10**40"),
    pytest.param(["position", "y"], -(10**40), "number", id="-10**40"),
    pytest.param(["label"], 1e-200, "number", id="1e-200"),
    pytest.param(["meta", "deep"], nested(40), "nested", id="nested 40"),
]


@pytest.mark.parametrize(("path", "value", "words"), UNSTORABLE)
def test_a_graph_whose_extra_keys_dynamodb_cannot_store_is_a_422_naming_the_path(
    api: Api, path: list[str | int], value: Any, words: str
) -> None:
    # Given a graph whose first node carries a value DynamoDB refuses under a builder's own key
    graph = graph_with_extra(path, value)
    strategy_id = api.create()
    before = api.snapshot()

    # When it is created, and patched onto an existing draft
    created = api("POST", "/strategies", body={**CREATE, "node_graph": graph})
    patched = api("PATCH", f"/strategies/{strategy_id}", body={"node_graph": graph})

    # Then both answer 422 naming the path into the body, and nothing is written
    for answer in (created, patched):
        assert answer.status == 422, answer.body
        error = answer.body["error"]
        assert error["details"][0]["loc"][:5] == ["body", "node_graph", "nodes", 0, path[0]]
        assert f"node_graph.nodes[0].{path[0]}" in error["message"]
        assert words in error["message"]
    assert api.snapshot() == before


def test_a_graph_nested_exactly_to_dynamodbs_limit_is_stored(api: Api) -> None:
    # Given extra keys nested to 32 levels in all (the node_graph attribute being level 1)
    graph = graph_with_extra(["meta"], nested(32 - 4))

    # When it is created
    answer = api("POST", "/strategies", body={**CREATE, "node_graph": graph})

    # Then it is stored and read back as sent
    assert answer.status == 201, answer.body
    assert answer.body["node_graph"]["nodes"][0]["meta"] == graph["nodes"][0]["meta"]


# -- the sweep ---------------------------------------------------------------------------------------------

TEXT = st.text(max_size=40)  # every Unicode category but surrogates
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e200, -1e-200, 10**40, 2**63, 0.1, -0.0, 5e-324, 1.7976931348623157e308]),
)
JSON = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
DEEP = st.integers(min_value=25, max_value=40).map(nested)
QUERY_VALUES = st.one_of(
    TEXT,
    NUMBERS.map(str),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-11-24T00:00:00Z"]),
    st.sampled_from(["ok", "failed", "skipped", "DRAFT", "1", "100", "101"]),
)


def _bodies() -> st.SearchStrategy[Any]:
    graph_extra = st.tuples(st.sampled_from(["position", "label", "meta", "config"]), JSON | DEEP).map(
        lambda kv: {**CREATE, "node_graph": graph_with_extra([kv[0]], kv[1])}
    )
    deploy = st.dictionaries(
        st.sampled_from(
            [*DEPLOY_BODY, "schedule_cron", "timezone", "auto_start", "max_consecutive_failures"]
        ),
        JSON,
    ).map(lambda extra: {**DEPLOY_BODY, **extra})
    patch = st.dictionaries(st.sampled_from(["strategy_name", "strategy_description", "node_graph"]), JSON)
    return st.one_of(st.none(), JSON, graph_extra, deploy, patch, st.just(CREATE))


REQUESTS = st.fixed_dictionaries(
    {
        "route": st.sampled_from(ROUTES),
        "id": st.one_of(
            st.sampled_from(["{draft}", "{deployed}", "{foreign}"]), TEXT.filter(lambda t: "/" not in t)
        ),
        "query": st.dictionaries(
            st.sampled_from(["limit", "next_token", "status", "since", "extra"]) | TEXT,
            QUERY_VALUES,
            max_size=4,
        ),
        "headers": st.dictionaries(
            st.sampled_from(["if-match", "idempotency-key", "content-type", "accept"]),
            TEXT | NUMBERS.map(str) | st.sampled_from(["\u00b2", '"1"', "*", 'W/"999999999999999999999"']),
            max_size=3,
        ),
        "body": _bodies(),
    }
)


@pytest.fixture(scope="module")
def ids(api: Api) -> dict[str, str]:
    return {
        "{draft}": api.create(),
        "{deployed}": api.in_status("DEPLOYED"),
        "{foreign}": api.create(sub=api.other),
    }


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(request=REQUESTS)
def test_no_request_answers_5xx_and_a_4xx_writes_nothing(api: Api, ids: dict[str, str], request: Any) -> None:
    # Given any route, path id, query, headers and body a client could send
    method, template = request["route"]
    strategy_id = ids.get(request["id"], request["id"]) or "x"
    path = template.replace("{id}", strategy_id)
    query = {str(k): str(v) for k, v in request["query"].items()}
    before = api.snapshot()

    # When it is sent
    answer = api(method, path, body=request["body"], query=query or None, headers=request["headers"])

    # Then no 5xx; a 4xx has the error shape and changed nothing
    assert answer.status < 500, (method, path, query, request["headers"], json.dumps(answer.body)[:500])
    if answer.status >= 400:
        assert answer.error_code, answer.body
        assert api.snapshot() == before, (method, path, answer.status, answer.body)


def test_a_caught_internal_error_is_counted_with_the_dimensions_the_alarm_reads(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a use case that fails unexpectedly (the resolver catches it and answers 500)
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom: secret internals")

    monkeypatch.setattr(app_module.strategies, "list_strategies", broken)
    capsys.readouterr()

    # When a client lists its strategies
    answer = api("GET", "/strategies")

    # Then 500 internal_error without the exception's text, and one ApiRequests EMF record with exactly the
    # dimension set ControlApiInternalErrorsAlarm's query names: service, route, outcome=internal_error
    assert answer.status == 500
    assert answer.error_code == "internal_error"
    assert "boom" not in json.dumps(answer.body)
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (record,) = [r for r in records if "ApiRequests" in r]
    (dimension_set,) = record["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert sorted(dimension_set) == ["outcome", "route", "service"]
    # (the namespace is the stack's: `Autopilot` deployed and on the local stack, `AutopilotTest` in tests; an
    # earlier local-stack test in the same process may have left its own)
    assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] in ("Autopilot", "AutopilotTest")
    assert (record["outcome"], record["route"]) == ("internal_error", "GET /strategies")
