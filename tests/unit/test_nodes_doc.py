"""docs/NODES.md is generated from the node catalogue: it must match what the code generates now."""

from __future__ import annotations

from pathlib import Path

from engine.nodes.catalogue import catalogue
from engine.nodes.docs import WORKED, nodes_markdown

NODES_MD = Path(__file__).resolve().parents[2] / "docs" / "NODES.md"


def test_the_committed_nodes_md_is_what_the_catalogue_generates() -> None:
    # Given the catalogue as the code defines it / When the reference is generated
    generated = nodes_markdown()
    # Then the committed file is identical (regenerate with `make nodes-doc`)
    assert NODES_MD.read_text() == generated, "docs/NODES.md is stale: run `make nodes-doc`"


def test_every_node_type_has_a_worked_example() -> None:
    assert {item["type"] for item in catalogue()} <= set(WORKED) | {"NOTIFY", "WATCHLIST"}
