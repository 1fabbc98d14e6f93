"""Every v1 graph (the samples, the demo's, the suite's DESIGN 5 example, a tag source) decides and fills
exactly what it did before strategy language v2: same orders, trades, orchestrator decisions and account.
tests/fixtures/v1/golden.json was written by the code before v2 (`python -m tests.support.v1_golden`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.v1_golden import run_all

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "v1" / "golden.json"
# fields later issues added to trades, accounts and positions (the deployment a trade belongs to, the
# market's event and tags for account-wide exposure): new information, not a changed decision
ADDED_FIELDS = {"deployment_id", "event_id", "tags"}


def _as_golden(now: Any, golden: Any) -> Any:
    """`now` without the added fields the golden does not have (everything else untouched)."""
    if isinstance(now, dict) and isinstance(golden, dict):
        return {
            k: _as_golden(v, golden.get(k)) for k, v in now.items() if k in golden or k not in ADDED_FIELDS
        }
    if isinstance(now, list) and isinstance(golden, list) and len(now) == len(golden):
        return [_as_golden(a, b) for a, b in zip(now, golden, strict=True)]
    return now


def test_v1_graphs_give_the_same_orders_trades_and_accounts_as_before_v2() -> None:
    # Given what the v1 code decided and filled on the recorded data, in two runs an hour apart
    golden = json.loads(GOLDEN.read_text())
    # When today's code runs the same graphs on the same data
    now = json.loads(json.dumps(run_all(), sort_keys=True, default=str))
    # Then everything is identical, graph by graph
    assert set(now) == set(golden)
    for name in golden:
        assert _as_golden(now[name], golden[name]) == golden[name], name
    assert sum(len(run["trades"]) for g in golden.values() for run in g["runs"]) > 20
