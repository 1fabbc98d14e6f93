"""Every v1 graph (the samples, the demo's, the suite's DESIGN 5 example, a tag source) decides and fills
exactly what it did before strategy language v2: same orders, trades, orchestrator decisions and account.
tests/fixtures/v1/golden.json was written by the code before v2 (`python -m tests.support.v1_golden`)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.v1_golden import run_all

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "v1" / "golden.json"


def test_v1_graphs_give_the_same_orders_trades_and_accounts_as_before_v2() -> None:
    # Given what the v1 code decided and filled on the recorded data, in two runs an hour apart
    golden = json.loads(GOLDEN.read_text())
    # When today's code runs the same graphs on the same data
    now = json.loads(json.dumps(run_all(), sort_keys=True, default=str))
    # Then everything is identical, graph by graph
    assert set(now) == set(golden)
    for name in golden:
        assert now[name] == golden[name], name
    assert sum(len(run["trades"]) for g in golden.values() for run in g["runs"]) > 20
