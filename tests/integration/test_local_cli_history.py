"""`autopilot deployments|versions|events|watchlists ...` against the local gateway: each command calls the
route the template declares, with the body, headers and query it was given."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_local_cli import Setup, setup  # noqa: F401 - the gateway fixture

CASES = [
    (["deployments", "list", "s-1"], "GET /strategies/{id}/deployments", None, None),
    (["deployments", "get", "s-1", "d_1"], "GET /strategies/{id}/deployments/{deployment_id}", None, None),
    (["versions", "list", "s-1", "--limit", "3"], "GET /strategies/{id}/versions", {"limit": "3"}, None),
    (["versions", "get", "s-1", "2"], "GET /strategies/{id}/versions/{graph_version}", None, None),
    (
        ["versions", "restore", "s-1", "1", "--if-match", "4"],
        "POST /strategies/{id}/versions/{graph_version}/restore",
        None,
        None,
    ),
    (["events", "s-1"], "GET /strategies/{id}/events", None, None),
    (["trades", "s-1", "--deployment", "d_1"], "GET /strategies/{id}/trades", {"deployment_id": "d_1"}, None),
    (["watchlists", "list"], "GET /watchlists", None, None),
    (["watchlists", "create", "--name", "Hot"], "POST /watchlists", None, {"name": "Hot"}),
    (["watchlists", "get", "w-1"], "GET /watchlists/{watchlist_id}", None, None),
    (
        ["watchlists", "patch", "w-1", "--name", "Cold"],
        "PATCH /watchlists/{watchlist_id}",
        None,
        {"name": "Cold"},
    ),
    (["watchlists", "items", "w-1"], "GET /watchlists/{watchlist_id}/items", None, None),
    (
        [
            "watchlists",
            "add",
            "w-1",
            "--market",
            "m1",
            "--event",
            "e-slug",
            "--reason",
            "why",
            "--ttl-hours",
            "24",
        ],
        "POST /watchlists/{watchlist_id}/items",
        None,
        {"market_ids": ["m1"], "event_slugs": ["e-slug"], "reason": "why", "ttl_hours": 24.0},
    ),
    (
        ["watchlists", "remove", "w-1", "m1"],
        "DELETE /watchlists/{watchlist_id}/items/{market_id}",
        None,
        None,
    ),
    (["watchlists", "delete", "w-1"], "DELETE /watchlists/{watchlist_id}", None, None),
]


@pytest.mark.parametrize(
    ("argv", "route_key", "query", "body"), CASES, ids=[" ".join(c[0][:2]) for c in CASES]
)
def test_each_history_and_watchlist_command_calls_its_route(
    setup: Setup,  # noqa: F811
    argv: list[str],
    route_key: str,
    query: dict[str, str] | None,
    body: dict[str, object] | None,
) -> None:
    # Given the CLI
    # When a command runs
    code, _, err = setup.run(*argv)

    # Then it called the template's route with the query and body it was given
    assert code == 0, err
    event = setup.api.events[-1]
    assert event["routeKey"] == route_key
    assert event.get("queryStringParameters") == query
    if body is not None:
        assert json.loads(event["body"]) == body
    if "--if-match" in argv:
        assert event["headers"]["if-match"] == "4"
