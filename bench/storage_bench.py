"""Storage benchmark: due-query read amplification and DynamoDB requests per claim-run-complete cycle.

Runs moto in-process with the tables of template.yaml. `python -m bench.storage_bench [--strategies N]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from engine.models.execution import ExecutionLog, RunStatus, execution_id_for
from engine.models.strategy import NodeGraph, Strategy, StrategyStatus
from engine.settings import Settings
from engine.storage.dynamo import RequestCounter, get_clients
from engine.storage.portfolios import AccountRepository
from engine.storage.runs import Completion, RunCommit, RunRepository
from engine.storage.strategies import StrategyRepository

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
GRAPH = NodeGraph.model_validate(
    {
        "nodes": [
            {"id": "src", "type": "DATA_SOURCE", "config": {"source": "polymarket", "limit": 200}},
            {"id": "orc", "type": "ORCHESTRATOR", "config": {"outcome": "YES", "position_size_usd": 100}},
        ],
        "edges": [{"source": "src", "target": "orc"}],
    }
)


def _strategies(total: int, due: int) -> Iterator[Strategy]:
    """`due` strategies due now; of the rest, half RUNNING but due later (in the index), half not running."""
    for i in range(total):
        if i < due:
            status, due_at = StrategyStatus.RUNNING, NOW - timedelta(minutes=1 + i % 5)
        elif i % 2 == 0:
            status, due_at = StrategyStatus.RUNNING, NOW + timedelta(minutes=1 + i % 60)
        else:
            status, due_at = StrategyStatus.PAUSED, None
        created = NOW - timedelta(days=30, seconds=i)
        yield Strategy(
            strategy_id=str(uuid.uuid4()),
            strategy_name=f"bench {i}",
            node_graph=GRAPH,
            status=status,
            is_active=status is StrategyStatus.RUNNING,
            schedule_cron="* * * * *",
            paper_bankroll_usd=Decimal(1000),
            created_by=f"user-{i % 1000}",
            created_at=created,
            updated_at=created,
            due_at=due_at,
            next_execution_at=due_at,
        )


def run(total: int, due: int, cycles: int) -> dict[str, Any]:
    """Prints the figures and returns them (for a report runner)."""
    from moto import mock_aws

    from local.infra import create_resources

    with mock_aws():
        import boto3

        names = create_resources(boto3.Session(region_name="us-east-1"), "bench")
        settings = Settings(
            STRATEGIES_TABLE=names.table("StrategiesTable"),
            EXECUTIONS_TABLE=names.table("ExecutionLogsTable"),
            TRADES_TABLE=names.table("TradesTable"),
            PORTFOLIOS_TABLE=names.table("PortfoliosTable"),
            TOKEN_SIGNING_SECRET_ID=names.secrets["TokenSigningSecret"],
        )
        clients = get_clients(settings)
        strategies, accounts, runs = (
            StrategyRepository(clients),
            AccountRepository(clients),
            RunRepository(clients),
        )

        started = time.perf_counter()
        strategies.put_many(_strategies(total, due))
        seeded = time.perf_counter() - started
        print(f"stored {total:,} strategies ({due} due, {settings.due_shards} shards) in {seeded:.1f} s")

        timings = []
        for _ in range(3):
            started = time.perf_counter()
            refs, scanned = strategies.query_due_counted(now=NOW, limit=max(due, 1) * 10)
            timings.append(time.perf_counter() - started)
        print(
            f"due query: {len(refs)} due, {scanned} index items read "
            f"-> {scanned / max(len(refs), 1):.2f} per due strategy"
        )
        print(f"due query time (moto, median of 3): {statistics.median(timings) * 1000:.0f} ms")

        # moto deep-copies every table a transaction touches (its rollback), so one commit costs time in
        # proportion to the table; DynamoDB's does not. Request counts do not depend on it: sample `cycles`.
        sample = refs[:cycles]
        for ref in sample:
            accounts.open(ref.strategy_id, bankroll=Decimal(1000), epoch=0, now=NOW)
        per_cycle: list[int] = []
        ops: dict[str, int] = {}
        started = time.perf_counter()
        for ref in sample:
            with RequestCounter(clients.dynamodb) as counter:
                claimed = strategies.claim(ref, slot=ref.due_at, now=NOW, lease_seconds=120)
                assert claimed is not None and claimed.claim_token is not None
                account = accounts.get(ref.strategy_id)
                # the graph ran and decided no trade: the completion writes the log and the strategy only
                log = ExecutionLog(
                    execution_id=execution_id_for(ref.strategy_id, ref.due_at.isoformat()),
                    strategy_id=ref.strategy_id,
                    status=RunStatus.COMPLETED,
                    scheduled_for=ref.due_at,
                    trigger="schedule",
                    executed_at=NOW,
                    execution_time_ms=42,
                )
                done = Completion(
                    claim_token=claimed.claim_token,
                    execution_ms=42,
                    status=RunStatus.COMPLETED,
                    executed_at=NOW,
                    next_due_at=NOW + timedelta(minutes=1),
                    counts_as_failure=False,
                    read_consecutive_failures=claimed.consecutive_failures,
                    max_consecutive_failures=claimed.max_consecutive_failures,
                )
                result = runs.commit_run(
                    RunCommit(
                        strategy_id=ref.strategy_id, account_before=account, logs=[log], completion=done
                    )
                )
                assert result.ok
            per_cycle.append(counter.total)
            for name, count in counter.counts.items():
                ops[name] = ops.get(name, 0) + count
        elapsed = time.perf_counter() - started
        done_cycles = max(len(per_cycle), 1)
        print(
            f"claim-run-complete, no trade: {sum(per_cycle) / done_cycles:.2f} DynamoDB requests per cycle "
            f"over {len(per_cycle)} cycles (max {max(per_cycle, default=0)}; goal 3): "
            + ", ".join(f"{k} {v / done_cycles:.0f}" for k, v in sorted(ops.items()))
            + f" [{elapsed / done_cycles:.2f} s per cycle on moto]"
        )
        after, _ = strategies.query_due_counted(now=NOW, limit=max(due, 1) * 10)
        print(f"still due after the completed cycles: {len(after)} (expected {len(refs) - len(sample)})")
        return {
            "stored": total,
            "due": len(refs),
            "due_shards": settings.due_shards,
            "seed_seconds": round(seeded, 1),
            "index_items_read": scanned,
            "read_amplification": round(scanned / max(len(refs), 1), 2),
            "due_query_ms": round(statistics.median(timings) * 1000, 1),
            "cycles": len(per_cycle),
            "requests_per_cycle": round(sum(per_cycle) / done_cycles, 2),
            "requests_per_cycle_max": max(per_cycle, default=0),
            "requests_by_operation": {k: v / done_cycles for k, v in sorted(ops.items())},
            "still_due_ok": len(after) == len(refs) - len(sample),
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strategies", type=int, default=100_000, help="strategies stored (default 100000)")
    parser.add_argument("--due", type=int, default=100, help="strategies due now (default 100)")
    parser.add_argument(
        "--cycles",
        type=int,
        default=5,
        help="claim-run-complete cycles measured (default 5; each is slow on moto)",
    )
    args = parser.parse_args(argv)
    # moto's fake credentials; never the real AWS (TOOLING.md: the account-id endpoint breaks moto)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }.items():
        os.environ.setdefault(key, value)
    run(args.strategies, min(args.due, args.strategies), args.cycles)


if __name__ == "__main__":
    main()
