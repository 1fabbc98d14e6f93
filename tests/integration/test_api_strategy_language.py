"""GET /node-types, POST /strategies/validate and POST /strategies/preview through lambda_handler, with the
recorded Polymarket server behind the preview."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from functions.control_api import app as app_module
from local.polymarket_server import RecordedPolymarketServer
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import EXAMPLE_GRAPH
from tests.support.http import Api, unique_users
from tests.support.polymarket import recorded_polymarket

NOW = datetime.now(UTC).replace(microsecond=0)  # the recorded markets are live-like at the wall clock


@pytest.fixture(scope="module")
def market() -> Iterator[RecordedPolymarketServer]:
    with recorded_polymarket() as server:
        yield server


@pytest.fixture(scope="module")
def stack(market: RecordedPolymarketServer) -> Iterator[AwsEnv]:
    keys = ("POLYMARKET_GAMMA_URL", "POLYMARKET_CLOB_URL", "HTTP_TIMEOUT_SECONDS")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(
        {"POLYMARKET_GAMMA_URL": market.url, "POLYMARKET_CLOB_URL": market.url, "HTTP_TIMEOUT_SECONDS": "2"}
    )
    try:
        with moto_stack() as aws:
            yield aws
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def clock() -> list[datetime]:
    return [NOW]


@pytest.fixture
def api(stack: AwsEnv, clock: list[datetime], monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setattr(app_module, "utc_now", lambda: clock[0])
    monkeypatch.setattr("functions.control_api.node_routes.utc_now", lambda: clock[0])
    user, other = unique_users()
    return Api(stack, app_module.lambda_handler, user=user, other=other)


def test_node_types_lists_every_category_with_schemas_and_valid_examples(api: Api) -> None:
    # When the catalogue is read
    answer = api("GET", "/node-types")

    # Then every type is there with its shape, and every example validates against its own schema
    assert answer.status == 200, answer.body
    items = answer.body["items"]
    types = {item["type"]: item for item in items}
    assert {"DATA_SOURCE", "FILTER", "PRICE_SIGNAL", "BOOK_SIGNAL", "LOGIC", "ORCHESTRATOR"} <= set(types)
    assert {item["category"] for item in items} >= {"source", "filter", "signal", "logic", "sink"}
    assert types["LOGIC"]["handles"] == ["include", "exclude"] and types["FILTER"]["handles"] == ["include"]
    assert types["DATA_SOURCE"]["inputs"] == {"min": 0, "max": 0}
    for item in items:
        schema = item["config_schema"]
        assert schema["$schema"].endswith("2020-12/schema")
        Draft202012Validator.check_schema(schema)
        assert list(Draft202012Validator(schema).iter_errors(item["example"])) == [], item["type"]


def test_validate_reports_save_and_deploy_findings_and_writes_nothing(api: Api) -> None:
    before = api.snapshot()
    graph = copy.deepcopy(EXAMPLE_GRAPH)
    graph["nodes"][1]["config"] = {"conditions": [{"field": "momentum", "op": ">", "value": 0}]}

    # When a graph reading an unknown field, and DESIGN 5's example, are validated
    bad = api("POST", "/strategies/validate", body={"node_graph": graph})
    good = api("POST", "/strategies/validate", body={"node_graph": EXAMPLE_GRAPH})
    not_a_graph = api("POST", "/strategies/validate", body={"node_graph": {"edges": []}})

    # Then the answers say so, with codes and node ids; a body that is no graph is a 422; nothing was written
    assert bad.status == 200 and (bad.body["valid"], bad.body["deployable"]) == (False, False)
    assert [(e["code"], e["node_id"], e["level"]) for e in bad.body["errors"]] == [
        ("unknown_field", "flt", "error")
    ]
    assert good.body == {"valid": True, "deployable": True, "errors": []}
    assert not_a_graph.status == 422 and not_a_graph.error_code == "validation_error"
    assert api.snapshot() == before


def test_preview_runs_dry_on_current_data_and_is_rate_limited_per_user(
    api: Api, clock: list[datetime]
) -> None:
    before = api.snapshot()

    # When DESIGN 5's example is previewed
    answer = api("POST", "/strategies/preview", body={"node_graph": EXAMPLE_GRAPH, "paper_bankroll_usd": 500})

    # Then each node reports, the orchestrator's orders come back, and nothing was written but the cooldown
    assert answer.status == 200, answer.body
    assert [n["node_id"] for n in answer.body["nodes"]] == ["src", "flt", "orc"]
    assert answer.body["orders"] and {o["side"] for o in answer.body["orders"]} == {"BUY"}
    assert all(float(o["usd"]) <= 500 for o in answer.body["orders"])
    after = api.snapshot()
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {next(name for name in after if name.endswith("IdempotencyTable"))}

    # And a second preview within the cooldown is refused, another user's is not, a later one is fine
    again = api("POST", "/strategies/preview", body={"node_graph": EXAMPLE_GRAPH})
    other = api("POST", "/strategies/preview", body={"node_graph": EXAMPLE_GRAPH}, sub=api.other)
    clock[0] = NOW + timedelta(seconds=6)
    later = api("POST", "/strategies/preview", body={"node_graph": EXAMPLE_GRAPH})
    assert again.status == 429 and again.error_code == "rate_limited"
    assert other.status == 200 and later.status == 200


def test_preview_of_an_invalid_graph_is_a_validation_error_without_cooldown(api: Api) -> None:
    graph: dict[str, Any] = {"nodes": [{"id": "a", "type": "MAGIC"}], "edges": []}
    first = api("POST", "/strategies/preview", body={"node_graph": graph})
    second = api("POST", "/strategies/preview", body={"node_graph": EXAMPLE_GRAPH})
    assert first.status == 422 and first.error_code == "validation_error"
    assert second.status == 200
