"""A node graph's `layout` (the builder's canvas viewport, DESIGN 5) through the control API: accepted with
its shape checked, stored and read back as given (other keys inside it too), kept by PATCH, graph versions
and restore; a bad viewport or another unknown top-level key is a 422 naming the path, and changes nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from functions.control_api import app as app_module
from tests.support.aws import AwsEnv, moto_stack
from tests.support.builders import EXAMPLE_GRAPH
from tests.support.http import Api, unique_users

LAYOUT = {"viewport": {"x": -120.5, "y": 42, "zoom": 0.75}, "x_grid": {"snap": [20, 20]}, "theme": "dark"}


@pytest.fixture(scope="module")
def stack() -> Iterator[AwsEnv]:
    with moto_stack() as aws:
        yield aws


@pytest.fixture
def api(stack: AwsEnv) -> Api:
    user, other = unique_users()
    return Api(stack, app_module.lambda_handler, user=user, other=other)


def _with_layout(layout: Any) -> dict[str, Any]:
    graph = copy.deepcopy(EXAMPLE_GRAPH)
    graph["layout"] = copy.deepcopy(layout)
    return graph


def _ok(answer: Any, status: int = 200) -> Any:
    assert answer.status == status, answer.body
    return answer.body


def test_a_graph_with_a_layout_is_stored_and_read_back_as_given(api: Api) -> None:
    # Given a graph whose layout has a viewport and keys of the builder's own
    graph = _with_layout(LAYOUT)

    # When it is created, then read
    created = _ok(api("POST", "/strategies", body={"strategy_name": "Laid out", "node_graph": graph}), 201)
    read = _ok(api("GET", f"/strategies/{created['strategy_id']}"))

    # Then both answers carry the layout equal to what was sent, as parsed JSON
    assert created["node_graph"] == graph
    assert read["node_graph"] == graph
    assert read["node_graph"]["layout"] == LAYOUT


def test_a_graph_without_a_layout_reads_back_without_the_key(api: Api) -> None:
    # Given DESIGN 5's example, which has no layout / When created and read
    sid = api.create(graph=EXAMPLE_GRAPH)
    read = _ok(api("GET", f"/strategies/{sid}"))
    # Then no `layout` key appears
    assert read["node_graph"] == EXAMPLE_GRAPH and "layout" not in read["node_graph"]


def test_the_layout_is_kept_by_patch_and_by_graph_versions_and_restore(api: Api) -> None:
    # Given a strategy saved with one viewport
    first = _with_layout(LAYOUT)
    sid = api.create(graph=first)

    # When only the viewport changes (the canvas panned and zoomed), then the name alone is patched
    moved = _with_layout({**LAYOUT, "viewport": {"x": 300, "y": -10.25, "zoom": 1.5}})
    patched = _ok(api("PATCH", f"/strategies/{sid}", body={"node_graph": moved}))
    renamed = _ok(api("PATCH", f"/strategies/{sid}", body={"strategy_name": "Renamed"}))

    # Then the new viewport is graph version 2, kept by a PATCH that does not send a graph
    assert patched["node_graph"] == moved and patched["graph_version"] == 2
    assert renamed["node_graph"] == moved and renamed["graph_version"] == 2
    versions = _ok(api("GET", f"/strategies/{sid}/versions"))["items"]
    assert versions[0]["summary"] == "layout or labels changed"
    assert _ok(api("GET", f"/strategies/{sid}/versions/1"))["node_graph"] == first
    assert _ok(api("GET", f"/strategies/{sid}/versions/2"))["node_graph"] == moved

    # And restoring version 1 brings back its viewport, as given
    restored = _ok(api("POST", f"/strategies/{sid}/versions/1/restore"))
    assert restored["node_graph"] == first and restored["graph_version"] == 3


def test_validate_and_preview_bodies_accept_a_layout(api: Api) -> None:
    # Given the builder's unsaved graph with its viewport / When it is checked
    report = _ok(api("POST", "/strategies/validate", body={"node_graph": _with_layout(LAYOUT)}))
    # Then the layout is no problem
    assert report["valid"] and report["deployable"] and report["errors"] == []


@pytest.mark.parametrize(
    ("layout", "loc"),
    [
        (None, ["body", "node_graph", "layout"]),
        ("wide", ["body", "node_graph", "layout"]),
        ({}, ["body", "node_graph", "layout", "viewport"]),
        ({"viewport": {"x": 0, "y": 0}}, ["body", "node_graph", "layout", "viewport", "zoom"]),
        ({"viewport": {"x": "left", "y": 0, "zoom": 1}}, ["body", "node_graph", "layout", "viewport", "x"]),
        ({"viewport": {"x": 0, "y": True, "zoom": 1}}, ["body", "node_graph", "layout", "viewport", "y"]),
        ({"viewport": {"x": 0, "y": 0, "zoom": 0}}, ["body", "node_graph", "layout", "viewport", "zoom"]),
        ({"viewport": {"x": 0, "y": 0, "zoom": -1}}, ["body", "node_graph", "layout", "viewport", "zoom"]),
        ({"viewport": {"x": 0, "y": 0, "zoom": 5000}}, ["body", "node_graph", "layout", "viewport", "zoom"]),
        (
            {"viewport": {"x": 0, "y": 0, "zoom": 1, "z": 3}},
            ["body", "node_graph", "layout", "viewport", "z"],
        ),
    ],
    ids=[
        "null",
        "string",
        "no-viewport",
        "no-zoom",
        "x-text",
        "y-bool",
        "zoom-0",
        "zoom-neg",
        "zoom-huge",
        "3d",
    ],
)
def test_a_bad_layout_is_a_422_naming_its_path_and_changes_nothing(
    api: Api, layout: Any, loc: list[Any]
) -> None:
    # Given the stack as it is
    before = api.snapshot()
    # When a graph with that layout is created
    answer = api("POST", "/strategies", body={"strategy_name": "Bad", "node_graph": _with_layout(layout)})
    # Then it is refused with the path of the value at fault, and nothing is written
    assert (answer.status, answer.error_code) == (422, "validation_error"), answer.body
    assert loc in [d["loc"] for d in answer.body["error"]["details"]], answer.body
    assert api.snapshot() == before


@pytest.mark.parametrize(
    ("number", "status", "code"),
    [("1e400", 422, "validation_error"), ("NaN", 400, "invalid_json"), ("-Infinity", 400, "invalid_json")],
)
def test_a_viewport_coordinate_that_is_not_finite_is_refused(
    api: Api, number: str, status: int, code: str
) -> None:
    # Given a body whose viewport x is not a finite number (1e400 parses as infinity; NaN is not JSON)
    graph = json.dumps(_with_layout({"viewport": {"x": 0, "y": 0, "zoom": 1}}))
    body = '{"strategy_name": "Bad", "node_graph": ' + graph.replace('"x": 0', f'"x": {number}', 1) + "}"
    before = api.snapshot()
    # When it is created
    answer = api("POST", "/strategies", raw_body=body)
    # Then it is refused (a 422 on that coordinate when the body is JSON), and nothing is written
    assert (answer.status, answer.error_code) == (status, code), answer.body
    if status == 422:
        locs = [d["loc"] for d in answer.body["error"]["details"]]
        assert ["body", "node_graph", "layout", "viewport", "x"] in locs
    assert api.snapshot() == before


def test_a_layout_dynamodb_cannot_store_is_refused_with_its_path(api: Api) -> None:
    # Given a layout key of the builder's own with a number DynamoDB refuses
    graph = _with_layout({**LAYOUT, "x_scale": 1e-200})
    before = api.snapshot()
    # When it is created
    answer = api("POST", "/strategies", body={"strategy_name": "Bad", "node_graph": graph})
    # Then the storability check names it, and nothing is written
    assert answer.status == 422 and answer.error_code == "validation_error", answer.body
    assert "node_graph.layout.x_scale" in answer.body["error"]["message"]
    assert api.snapshot() == before


def test_another_unknown_top_level_key_is_still_refused(api: Api) -> None:
    # Given a graph with a top-level key that is not `layout`
    graph = {**copy.deepcopy(EXAMPLE_GRAPH), "viewport": {"x": 0, "y": 0, "zoom": 1}}
    # When created, and when checked
    created = api("POST", "/strategies", body={"strategy_name": "Bad", "node_graph": graph})
    checked = _ok(api("POST", "/strategies/validate", body={"node_graph": graph}))
    # Then it is refused, naming the key
    assert (created.status, created.error_code) == (422, "validation_error")
    assert ["body", "node_graph", "viewport"] in [d["loc"] for d in created.body["error"]["details"]]
    assert not checked["valid"] and checked["errors"][0]["loc"] == ["node_graph", "viewport"]
