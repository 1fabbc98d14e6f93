"""`autopilot node-types`, `validate` and `preview` against the local gateway: the route each calls, the body
it sends, and the tables it prints."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from local import cli
from local.auth import DevTokenIssuer
from local.gateway import Gateway, GatewayServer

GRAPH = {"nodes": [{"id": "src", "type": "DATA_SOURCE", "config": {}}], "edges": []}
ANSWERS: dict[str, Any] = {
    "GET /node-types": {
        "items": [
            {
                "type": "LOGIC",
                "category": "logic",
                "title": "Logic",
                "description": "Combines.",
                "inputs": {"min": 1, "max": None},
                "handles": ["include", "exclude"],
                "config_schema": {},
                "example": {"op": "and"},
            }
        ]
    },
    "POST /strategies/validate": {
        "valid": True,
        "deployable": False,
        "errors": [
            {
                "node_id": None,
                "loc": ["node_graph", "nodes"],
                "code": "no_sink",
                "message": "needs a sink",
                "level": "error",
            }
        ],
    },
    "POST /strategies/preview": {
        "nodes": [
            {
                "node_id": "src",
                "type": "DATA_SOURCE",
                "received": 12,
                "kept": 12,
                "duration_ms": 3,
                "decisions": [],
            }
        ],
        "orders": [],
        "warnings": ["3 price histories were simulated by the recorded-data server"],
    },
}


@dataclass
class FakeApi:
    events: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        body = ANSWERS.get(
            event["routeKey"],
            {"error": {"code": "not_found", "message": "no", "details": None, "request_id": "r"}},
        )
        status = 200 if event["routeKey"] in ANSWERS else 404
        return {
            "statusCode": status,
            "headers": {"content-type": "application/json"},
            "body": json.dumps(body),
        }


@pytest.fixture
def cli_run(tmp_path: Path) -> Iterator[tuple[Any, FakeApi, Path]]:
    issuer = DevTokenIssuer(now=lambda: datetime(2026, 2, 7, 12, 50, tzinfo=UTC))
    api = FakeApi()
    server = GatewayServer(Gateway(api, issuer)).start()
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(json.dumps(GRAPH))

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        environ = {"AUTOPILOT_API_URL": server.url, "AUTOPILOT_TOKEN": issuer.issue("alice")}
        return cli.main(list(argv), out=out, err=err, environ=environ), out.getvalue(), err.getvalue()

    try:
        yield run, api, graph_file
    finally:
        server.stop()


def test_node_types_prints_the_catalogue_as_a_table(cli_run: tuple[Any, FakeApi, Path]) -> None:
    run, api, _ = cli_run
    code, out, err = run("node-types")
    assert code == 0, err
    assert api.events[-1]["routeKey"] == "GET /node-types"
    assert "LOGIC" in out and "include, exclude" in out and "1..any" in out


def test_validate_sends_the_graph_and_prints_the_findings(cli_run: tuple[Any, FakeApi, Path]) -> None:
    run, api, graph_file = cli_run
    code, out, err = run("validate", str(graph_file))
    assert code == 0, err
    event = api.events[-1]
    assert event["routeKey"] == "POST /strategies/validate" and json.loads(event["body"]) == {
        "node_graph": GRAPH
    }
    assert "deployable" in out and "no_sink" in out


def test_preview_sends_graph_and_bankroll_and_prints_nodes_orders_warnings(
    cli_run: tuple[Any, FakeApi, Path],
) -> None:
    run, api, graph_file = cli_run
    code, out, err = run("preview", str(graph_file), "--bankroll", "500")
    assert code == 0, err
    body = json.loads(api.events[-1]["body"])
    assert body == {"node_graph": GRAPH, "paper_bankroll_usd": 500.0}
    assert "DATA_SOURCE" in out and "orders (0)" in out and "warning: 3 price histories" in out
