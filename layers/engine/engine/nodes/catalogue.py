"""The node catalogue: what `GET /node-types` answers, built from the registry so it cannot drift."""

from __future__ import annotations

from typing import Any

from engine.nodes.base import category_of, handles_of, input_range
from engine.nodes.registry import get_node_type, node_type_names

CATEGORY_ORDER = ("source", "filter", "signal", "logic", "sink")


def describe(name: str) -> dict[str, Any]:
    """One node type as the catalogue shows it (config_schema: JSON Schema 2020-12 from its config model)."""
    node_type = get_node_type(name)
    low, high = input_range(node_type)
    schema = node_type.config_model.model_json_schema(mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return {
        "type": name,
        "category": category_of(node_type),
        "title": str(getattr(node_type, "title", name)),
        "description": str(getattr(node_type, "description", "")),
        "inputs": {"min": low, "max": high},
        "handles": list(handles_of(node_type)),
        "config_schema": schema,
        "example": dict(getattr(node_type, "example", {})),
    }


def catalogue() -> list[dict[str, Any]]:
    """Every registered node type, sources first, then filters, signals, logic and sinks (by name within)."""
    items = [describe(name) for name in node_type_names()]
    rank = {category: i for i, category in enumerate(CATEGORY_ORDER)}
    items.sort(key=lambda item: (rank.get(item["category"], len(rank)), item["type"]))
    return items
