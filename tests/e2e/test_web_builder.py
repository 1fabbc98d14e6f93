"""The visual strategy builder in Debian's Chromium against the local stack: DESIGN 5's example built from an
empty canvas with palette clicks, handles wired with the mouse and the generated forms, saved, and found
through the API with the same node types, configs and edges. Fails on a console error; the screenshot goes
to test-artifacts/screenshots (gitignored)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from local.stack import LocalStack
from tests.e2e.test_web_dashboard import EXAMPLE, browser, call, page, pytestmark, shot, stack

__all__ = ["browser", "page", "pytestmark", "stack"]  # the dashboard tests' fixtures and skips, shared


def settled(page: Any) -> None:
    """Wait until the latest edit's validation has answered: the nodes it redraws (errors shown or gone, so
    their sizes change) must not move under the mouse during a drag."""
    page.locator('.validity[aria-busy="false"]').wait_for()


def drag_edge(page: Any, source: str, target: str) -> None:
    """Press on the source node's output handle, move to the target's input handle, release."""
    out = page.locator(f'.react-flow__node[data-id="{source}"] .react-flow__handle.source')
    into = page.locator(f'.react-flow__node[data-id="{target}"] .react-flow__handle.target')
    out.wait_for(state="visible")
    into.wait_for(state="visible")
    settled(page)
    page.wait_for_timeout(200)  # a node just added is measured by React Flow before its handles connect
    start, end = out.bounding_box(), into.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=12)
    page.wait_for_timeout(100)
    page.mouse.up()
    page.wait_for_timeout(100)


def by_type(graph: dict[str, Any]) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    """A graph's configs by node type and its edges as (source type, target type): ids aside."""
    types = {n["id"]: n["type"] for n in graph["nodes"]}
    configs = {n["type"]: n["config"] for n in graph["nodes"]}
    return configs, {(types[e["source"]], types[e["target"]]) for e in graph["edges"]}


def test_design_5s_example_built_from_an_empty_canvas_with_the_mouse_is_saved_with_the_same_graph(
    page: Any, stack: LocalStack
) -> None:
    # Given a signed-in user on an empty builder
    user = f"builder-{uuid.uuid4().hex[:6]}"
    page.goto(f"{stack.api_url}/app/builder#access_token={stack.token(user)}")
    palette = page.get_by_label("Node palette")
    form = page.get_by_label("Node settings")
    palette.get_by_role("button", name="Add Data source").wait_for()
    assert page.locator(".react-flow__node").count() == 0

    # When the three nodes are added from the palette and their forms filled
    palette.get_by_role("button", name="Add Data source").click()
    form.get_by_label("Source", exact=True).select_option("polymarket")
    form.get_by_label("Active Only", exact=True).check()
    form.get_by_label("Limit", exact=True).fill("200")
    palette.get_by_role("button", name="Add Filter").click()
    rows = form.get_by_role("group", name="Conditions")
    for i, condition in enumerate(EXAMPLE["node_graph"]["nodes"][1]["config"]["conditions"], start=1):
        rows.get_by_role("button", name="Add row").click()
        rows.get_by_label(f"Field {i}", exact=True).fill(condition["field"])
        rows.get_by_label(f"Op {i}", exact=True).select_option(condition["op"])
        rows.get_by_label(f"Value {i}", exact=True).fill(json.dumps(condition["value"]))
    palette.get_by_role("button", name="Add Orchestrator").click()
    form.get_by_label("Outcome *", exact=True).select_option("YES")
    form.get_by_label("Position Size Usd", exact=True).fill("100")
    form.get_by_label("Max Positions", exact=True).fill("5")
    form.get_by_label("Take Profit Pct", exact=True).fill("20")
    form.get_by_label("Stop Loss Pct", exact=True).fill("15")

    # And wired output -> input with the mouse, named and saved
    drag_edge(page, "data_source", "filter")
    drag_edge(page, "filter", "orchestrator")
    assert page.locator(".react-flow__edge").count() == 2
    page.get_by_text("Valid, deployable").wait_for()
    page.get_by_role("button", name="Auto-layout").click()
    page.get_by_label("Strategy name").fill("Built with the mouse")
    summary = page.locator('.react-flow__node[data-id="orchestrator"] .flow-node-summary').inner_text()
    assert "Outcome: YES" in summary and "Max Positions: 5" in summary
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved: the strategy is created.").wait_for()
    with page.expect_response(lambda r: r.url.endswith("/strategies/preview")) as answered:
        page.get_by_role("button", name="Preview").click()
    preview = answered.value.json()
    page.get_by_text("Preview: ").wait_for()
    shot(page, "builder")

    # Then the API has the strategy with DESIGN 5's node types, configs and edges
    listed = call(stack, "GET", "/strategies", user)["items"]
    sid = next(s["strategy_id"] for s in listed if s["strategy_name"] == "Built with the mouse")
    saved = call(stack, "GET", f"/strategies/{sid}", user)["node_graph"]
    assert by_type(saved) == by_type(EXAMPLE["node_graph"])
    positions = {n["type"]: n["position"] for n in saved["nodes"]}
    assert positions == {
        "DATA_SOURCE": {"x": 0, "y": 0},
        "FILTER": {"x": 260, "y": 0},
        "ORCHESTRATOR": {"x": 520, "y": 0},
    }, "auto-layout puts each node one column after its input"

    # And each node shows the preview's counts, and the exported JSON is the saved graph
    for counted in preview["nodes"]:
        node = page.locator(f'.react-flow__node[data-id="{counted["node_id"]}"] .flow-node-counts')
        assert node.inner_text() == f"received {counted['received']} · kept {counted['kept']}"
    assert preview["nodes"][0]["received"] > 0, "the recorded markets reach the source"
    page.get_by_role("button", name="JSON…").click()
    assert json.loads(page.get_by_label("Graph JSON", exact=False).input_value()) == saved

    # And deployed from the builder, it runs with that graph
    page.get_by_role("button", name="Deploy…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Paper bankroll (USD)").fill("1000")
    dialog.get_by_role("button", name="Deploy").click()
    page.get_by_text("Deployed.").wait_for()
    running = call(stack, "GET", f"/strategies/{sid}", user)
    assert running["status"] == "RUNNING" and running["node_graph"] == saved


def test_an_existing_graph_refuses_a_cycle_blocks_a_bad_value_shows_a_412_and_keeps_every_other_key(
    page: Any, stack: LocalStack
) -> None:
    # Given a saved strategy whose nodes and edges carry positions and keys of their own
    user = f"edit-{uuid.uuid4().hex[:6]}"
    graph = json.loads(json.dumps(EXAMPLE["node_graph"]))
    for i, node in enumerate(graph["nodes"]):
        node["position"] = {"x": i * 260, "y": 40 * i}
        node["label"] = f"Step {i + 1}"
        node["x_note"] = {"kept": [1, 2, {"deep": True}]}
    graph["edges"][0]["x_style"] = "dashed"
    created = call(stack, "POST", "/strategies", user, {**EXAMPLE, "node_graph": graph})
    sid = created["strategy_id"]
    page.goto(f"{stack.api_url}/app/strategies/{sid}/edit#access_token={stack.token(user)}")
    page.get_by_text("Valid, deployable").wait_for()
    edges = page.locator(".react-flow__edge")
    edges.nth(1).wait_for()  # React Flow draws edges once their nodes are measured
    assert edges.count() == 2

    # When a second filter is added after the first, a cycle back is refused, then the node deleted by key
    page.get_by_label("Node palette").get_by_role("button", name="Add Filter").click()
    drag_edge(page, "flt", "filter")
    assert edges.count() == 3
    drag_edge(page, "filter", "flt")
    assert edges.count() == 3, "a connection closing a cycle is refused"
    page.locator('.react-flow__node[data-id="filter"]').click()
    page.keyboard.press("Delete")
    page.locator('.react-flow__node[data-id="filter"]').wait_for(state="detached")
    assert edges.count() == 2

    # And undo brings the node back with its wire, redo deletes it again
    page.keyboard.press("Control+z")
    page.locator('.react-flow__node[data-id="filter"]').wait_for()
    edges.nth(2).wait_for()
    assert edges.count() == 3
    page.keyboard.press("Control+Shift+z")
    page.locator('.react-flow__node[data-id="filter"]').wait_for(state="detached")
    assert edges.count() == 2

    # And a value out of range shows its error on the node and the field, and blocks save
    page.locator('.react-flow__node[data-id="src"]').click()
    form = page.get_by_label("Node settings")
    form.get_by_label("Limit", exact=True).fill("5000")
    page.locator('.react-flow__node[data-id="src"] .flow-node-problems').wait_for()
    form.locator(".field.invalid", has=page.get_by_label("Limit", exact=True)).wait_for()
    assert page.get_by_role("button", name="Save").is_disabled()
    shot(page, "builder-invalid")
    form.get_by_label("Limit", exact=True).fill("150")
    page.get_by_text("Valid, deployable").wait_for()

    # And a save over an edit made elsewhere is refused and shown, the other edit kept
    call(stack, "PATCH", f"/strategies/{sid}", user, {"strategy_description": "edited elsewhere"})
    page.console.expected.append(f"/strategies/{sid}")  # the browser reports the refused PATCH
    page.get_by_role("button", name="Save").click()
    page.get_by_text("changed elsewhere since it was opened").wait_for()
    assert call(stack, "GET", f"/strategies/{sid}", user)["node_graph"] == graph

    # Then, reopened and saved, the graph is the next version with only that value changed
    page.reload()
    page.get_by_text("Valid, deployable").wait_for()
    page.locator('.react-flow__node[data-id="src"]').click()
    form.get_by_label("Limit", exact=True).fill("150")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved: version").wait_for()
    saved = call(stack, "GET", f"/strategies/{sid}", user)
    graph["nodes"][0]["config"]["limit"] = 150
    assert set(saved["node_graph"].pop("layout")) == {"viewport"}, "the builder adds its viewport"
    assert saved["node_graph"] == graph and saved["graph_version"] == created["graph_version"] + 1


def viewport_of(page: Any) -> dict[str, float]:
    """The canvas's viewport as React Flow draws it (its transform), once it has stopped moving."""
    pattern = r"translate\(([-\d.e]+)px, ([-\d.e]+)px\) scale\(([-\d.e]+)\)"
    script = "() => document.querySelector('.react-flow__viewport').style.transform"
    seen = None
    for _ in range(40):
        page.wait_for_timeout(100)
        now = page.evaluate(script)
        if now == seen:
            break
        seen = now
    found = re.fullmatch(pattern, seen or "")
    assert found, seen
    return {"x": float(found[1]), "y": float(found[2]), "zoom": float(found[3])}


def test_the_canvas_viewport_is_saved_in_the_graph_layout_and_restored_on_open(
    page: Any, stack: LocalStack
) -> None:
    # Given DESIGN 5's example saved through the API with other layout keys, opened in the builder
    user = f"view-{uuid.uuid4().hex[:6]}"
    graph = json.loads(json.dumps(EXAMPLE["node_graph"]))
    graph["layout"] = {"viewport": {"x": 0, "y": 0, "zoom": 1}, "x_theme": {"grid": [20, 20]}}
    sid = call(stack, "POST", "/strategies", user, {**EXAMPLE, "node_graph": graph})["strategy_id"]
    page.goto(f"{stack.api_url}/app/strategies/{sid}/edit#access_token={stack.token(user)}")
    page.get_by_text("Valid, deployable").wait_for()
    page.locator(".react-flow__edge").nth(1).wait_for(state="attached")  # a level edge has no height
    assert viewport_of(page) == {"x": 0, "y": 0, "zoom": 1}, "the saved viewport, not a fit"

    # When the canvas is zoomed with its control and panned by dragging the empty pane
    page.get_by_role("button", name="Zoom In").click()
    box = page.locator(".react-flow__pane").bounding_box()
    start = (box["x"] + box["width"] - 60, box["y"] + box["height"] - 60)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] - 173, start[1] - 91, steps=10)
    page.mouse.up()
    moved = viewport_of(page)
    assert moved["zoom"] > 1 and moved != {"x": 0, "y": 0, "zoom": 1}

    # And the strategy is saved
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved: version 2.").wait_for()

    # Then the API has that viewport in the graph's layout, the layout's other keys and the nodes untouched
    saved = call(stack, "GET", f"/strategies/{sid}", user)["node_graph"]
    viewport = saved["layout"]["viewport"]
    assert all(abs(viewport[k] - moved[k]) <= 0.005 for k in ("x", "y", "zoom")), (viewport, moved)
    assert saved["layout"]["x_theme"] == {"grid": [20, 20]}
    assert {k: v for k, v in saved.items() if k != "layout"} == EXAMPLE["node_graph"]

    # And reopened, the canvas is exactly where it was saved
    page.reload()
    page.get_by_text("Valid, deployable").wait_for()
    page.locator(".react-flow__edge").nth(1).wait_for(state="attached")
    assert viewport_of(page) == pytest.approx(viewport)
    shot(page, "builder-viewport")


def test_a_palette_item_dragged_onto_the_canvas_lands_where_it_is_dropped_and_keys_still_add(
    page: Any, stack: LocalStack
) -> None:
    # Given an empty builder whose canvas is zoomed in (so a drop point is not a flow position as it is)
    user = f"drop-{uuid.uuid4().hex[:6]}"
    page.goto(f"{stack.api_url}/app/builder#access_token={stack.token(user)}")
    palette = page.get_by_label("Node palette")
    palette.get_by_role("button", name="Add Filter").wait_for()
    page.get_by_role("button", name="Zoom In").click()
    view = viewport_of(page)
    assert view["zoom"] > 1

    # When the Filter item is dragged from the palette and dropped on the canvas
    pane = page.locator(".react-flow__pane")
    box = pane.bounding_box()
    drop = {"x": 310.0, "y": 220.0}  # in the pane
    palette.get_by_role("button", name="Add Filter").drag_to(pane, target_position=drop)

    # Then a FILTER node is on the canvas with its top left corner at the drop point, selected for its form
    node = page.locator('.react-flow__node[data-id="filter"]')
    node.wait_for()
    placed = node.bounding_box()
    assert abs(placed["x"] - (box["x"] + drop["x"])) <= 2 and abs(placed["y"] - (box["y"] + drop["y"])) <= 2
    page.get_by_label("Node settings").get_by_role("group", name="Conditions").wait_for()

    # And its position in the graph is the drop point through the viewport's pan and zoom
    page.get_by_role("button", name="JSON…").click()
    graph = json.loads(page.get_by_label("Graph JSON", exact=False).input_value())
    position = next(n["position"] for n in graph["nodes"] if n["id"] == "filter")
    expected = {k: (drop[k] - view[k]) / view["zoom"] for k in ("x", "y")}
    assert abs(position["x"] - expected["x"]) <= 1 and abs(position["y"] - expected["y"]) <= 1
    page.get_by_role("button", name="Close JSON").click()

    # And a palette item still adds its node from the keyboard, by its accessible name
    palette.get_by_role("button", name="Add Data source").focus()
    page.keyboard.press("Enter")
    page.locator('.react-flow__node[data-id="data_source"]').wait_for()
    assert page.locator(".react-flow__node").count() == 2
    shot(page, "builder-drop")
