"""docs/NODES.md, generated from the node catalogue (`python -m engine.nodes.docs > docs/NODES.md`).

A test regenerates it and fails when the committed file is stale, so the reference cannot drift from the
code. Each node type gets its summary, its config keys (from the JSON Schema), its catalogue example, and a
worked example: what goes in and what comes out, computed by hand.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from engine.nodes.catalogue import catalogue

WORKED: dict[str, str] = {
    "DATA_SOURCE": (
        'With `{"limit": 2, "order_by": "volume_24h"}` and open markets A (24h volume 900), B (5,000) '
        'and C (1,200), the node passes on `[B, C]`. With `{"tag": "fed-rates"}` it also collects the '
        "markets of the open Gamma events tagged `fed-rates` (Gamma's markets carry no tags themselves). "
        'With `{"source": "positions"}` it passes on the markets the strategy holds.'
    ),
    "FILTER": (
        "Markets A (yes 0.10, Sports), B (0.50, Politics), C (0.90, no category). "
        '`[{"any": [{"field": "yes_price", "op": "<", "value": 0.2}, '
        '{"field": "category", "op": "==", "value": "politics"}]}]` keeps A and B; '
        '`{"field": "category", "op": "is_null"}` keeps C. With 24h volumes 1,000..10,000 over ten '
        "markets, `in_top_pct` 20 keeps the two largest. `sort` by `volume_24h` with `limit` 3 keeps the "
        "three largest, largest first. A field that is not a market field (`mom`) is one a signal node wrote."
    ),
    "PRICE_SIGNAL": (
        'Hourly YES prices 0.40, 0.45, 0.50 and `{"indicator": "change", "lookback_hours": 2, '
        '"output_field": "mom", "keep_above": 0.05}`: the node fetches the 6h window (the smallest that '
        "covers 2 hours), writes `mom = 0.50 - 0.40 = 0.1` and keeps the market. RSI(2) over 0.10, 0.11, "
        "0.10, 0.12: average gain 1.25c, loss 0.25c (Wilder), RS 5, RSI 100 - 100/6 = 83.333333. A market "
        "whose history cannot be had is skipped with `history_unavailable` in the trace; the run goes on."
    ),
    "BOOK_SIGNAL": (
        "A YES book with bids 0.38x300, 0.40x100 and asks 0.44x50, 0.50x500 (mid 0.42): `spread` = 0.04; "
        "`microprice` = (0.40x50 + 0.44x100) / 150 = 0.426667; `imbalance` within a band of 0.05 = "
        "(400 - 50) / 450 = 0.777778."
    ),
    "LOGIC": (
        "Inputs {A, B} and {B, C}: `and` passes {B}, `or` passes {A, B, C}. `not` with {A, B, C} into "
        "`include` and {B} into `exclude` (the edge's `target_handle`) passes {A, C}."
    ),
    "ORCHESTRATOR": (
        'Equity 1,000, YES ask 0.40, `sizing: {"mode": "kelly", "edge": 0.10, "kelly_fraction": 0.5}`: '
        "q = 0.40 + 0.10 = 0.50, cost c = 0.40 (no fee), Kelly f* = (q - c) / (1 - c) = 1/6, stake = 1,000 x "
        "1/6 x 0.5 = 83.33 USD. With a taker fee 0.25 x p(1-p) at p = 0.5 the cost is 0.5625, and q = 0.55 "
        "makes no bet (`no_edge`). `risk.max_drawdown_pause_pct: 20` with a peak equity of 1,200 pauses the "
        "strategy (`auto:max_drawdown`) once equity is 960 or less."
    ),
}


def _keys(schema: dict[str, Any]) -> list[str]:
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    lines = []
    for name, prop in props.items():
        words = [f"`{name}`"]
        kind = prop.get("type") or " | ".join(
            str(x.get("type") or x.get("$ref", "").split("/")[-1]) for x in prop.get("anyOf", [])
        )
        if "enum" in prop:
            kind = " | ".join(f"`{v}`" for v in prop["enum"])
        elif "const" in prop:
            kind = f"`{prop['const']}`"
        if kind:
            words.append(f"({kind})")
        if name in required:
            words.append("**required**")
        elif "default" in prop:
            words.append(f"default `{json.dumps(prop['default'])}`")
        if prop.get("description"):
            words.append(f"- {prop['description']}")
        lines.append("- " + " ".join(words))
    return lines


def nodes_markdown() -> str:
    items = catalogue()
    out = [
        "# Node types",
        "",
        "Generated from the node catalogue (`GET /node-types`) by `python -m engine.nodes.docs`; do not edit",
        "by hand (a test fails when this file is stale). The JSON Schema of each config is in the catalogue.",
        "",
        "| type | category | inputs | handles | what it does |",
        "|---|---|---|---|---|",
    ]
    for item in items:
        high = "any" if item["inputs"]["max"] is None else str(item["inputs"]["max"])
        summary = item["description"].split(". ")[0].rstrip(".") + "."
        out.append(
            f"| `{item['type']}` | {item['category']} | {item['inputs']['min']}..{high} | "
            f"{', '.join(item['handles'])} | {summary} |"
        )
    for item in items:
        out += ["", f"## {item['type']}: {item['title']}", "", item["description"], "", "Config keys:", ""]
        out += _keys(item["config_schema"])
        out += ["", "Example config:", "", "```json", json.dumps(item["example"], indent=2), "```"]
        worked = WORKED.get(item["type"])
        if worked:
            out += ["", f"Worked example: {worked}"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(nodes_markdown())
