"""Portfolio stream benchmark: stream records per second through `lambda_handler` on moto in-process.

Strategies trade round-robin (so every batch mixes strategies), committed as the executor commits runs
(trades, account and marks in one transaction). The Trades table's stream is read once in Lambda's shape and
batch size; then only the handler is timed over those batches. Every portfolio is checked against the ledger
replay afterwards. `python -m bench.stream_bench [--trades 2000 --strategies 50 --batch-size 100]`; `run()`
returns the figures for a report runner.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ENVIRONMENT = {
    # moto's fake credentials; never the real AWS (TOOLING.md: the account-id endpoint breaks moto)
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_METRICS_NAMESPACE": "AutopilotBench",
    "POWERTOOLS_SERVICE_NAME": "autopilot",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


@dataclass
class BenchContext:
    """The parts of Lambda's context the handler's decorators read."""

    function_name: str = "autopilot-bench-portfolio-stream"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:autopilot-bench-portfolio-stream"
    )
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/autopilot-bench"
    log_stream_name: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _trades_for_run(strategy_id: str, run: int, *, epoch: int, first_seq: int, at: datetime) -> list[Any]:
    """Even runs buy two markets, odd runs sell them again: two trades a run."""
    from engine.models.trading import Side, Trade, TradeReason, trade_id_for

    side = Side.BUY if run % 2 == 0 else Side.SELL
    pair = run // 2
    price = Decimal("0.40") if side is Side.BUY else Decimal("0.45") + Decimal(pair % 3) / 100
    trades = []
    for offset, market in enumerate((f"m{pair}a", f"m{pair}b")):
        shares = Decimal(20)
        trades.append(
            Trade(
                trade_id=trade_id_for(strategy_id, f"run{run}", market, "YES", side.value),
                strategy_id=strategy_id,
                seq=first_seq + offset,
                epoch=epoch,
                market_id=market,
                token_id=f"tok-{market}",
                outcome="YES",
                outcome_label="Yes",
                question=f"Will {market} happen?",
                side=side,
                shares=shares,
                price=price,
                fee_usd=Decimal("0.05"),
                notional_usd=shares * price,
                created_at=at,
                reason=TradeReason.ENTRY if side is Side.BUY else TradeReason.TAKE_PROFIT,
                slot_key=f"run{run}",
            )
        )
    return trades


def run(trades: int = 2000, strategies: int = 50, batch_size: int = 100) -> dict[str, Any]:
    """Write `trades` trades over `strategies` strategies, then time the handler over the stream's batches."""
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    import boto3
    from moto import mock_aws

    from engine.ledger import apply_to_account, replay
    from engine.models.strategy import NodeGraph, Strategy, StrategyStatus
    from engine.services.portfolio_sync import state_from_item
    from engine.settings import reset_settings
    from engine.storage.dynamo import count_requests, get_clients, reset_clients
    from engine.storage.portfolios import AccountRepository, PortfolioRepository
    from engine.storage.query import batch_write
    from engine.storage.strategies import StrategyRepository
    from engine.storage.trades import TradeRepository
    from local.infra import create_resources, load_template
    from local.pollers import StreamMapping, StreamPoller

    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        names = create_resources(session, f"bench{uuid.uuid4().hex[:6]}")
        tables = {
            "STRATEGIES_TABLE": names.table("StrategiesTable"),
            "EXECUTIONS_TABLE": names.table("ExecutionLogsTable"),
            "TRADES_TABLE": names.table("TradesTable"),
            "PORTFOLIOS_TABLE": names.table("PortfoliosTable"),
            "TOKEN_SIGNING_SECRET_ID": names.secrets["TokenSigningSecret"],
        }
        saved = {k: os.environ.get(k) for k in tables}
        os.environ.update(tables)
        reset_settings()
        reset_clients()
        try:
            from functions.portfolio_stream import app

            clients = get_clients()
            graph = NodeGraph.model_validate(
                {
                    "nodes": [
                        {"id": "src", "type": "DATA_SOURCE", "config": {"source": "polymarket"}},
                        {
                            "id": "orc",
                            "type": "ORCHESTRATOR",
                            "config": {"outcome": "YES", "position_size_usd": 10},
                        },
                    ],
                    "edges": [{"source": "src", "target": "orc"}],
                }
            )
            ids = [str(uuid.uuid4()) for _ in range(strategies)]
            strategy_repo, accounts = StrategyRepository(clients), AccountRepository(clients)
            portfolios = PortfolioRepository(clients)
            for i, strategy_id in enumerate(ids):
                strategy_repo.create(
                    Strategy(
                        strategy_id=strategy_id,
                        strategy_name=f"bench {i}",
                        node_graph=graph,
                        status=StrategyStatus.DEPLOYED,
                        paper_bankroll_usd=Decimal(1000),
                        created_by="bench",
                        created_at=NOW,
                        updated_at=NOW,
                    )
                )
                accounts.open(strategy_id, bankroll=Decimal(1000), epoch=0, now=NOW)
                portfolios.reset(strategy_id, bankroll=Decimal(1000), epoch=0, now=NOW)

            written: dict[str, list[Any]] = {s: [] for s in ids}
            runs_per_strategy = max(1, trades // (2 * strategies))
            trade_repo = TradeRepository(clients)

            def trade_put(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return [{"PutRequest": {"Item": item}} for item in items]

            # Lambda's view of the stream: batches of `batch_size` records, the template's filter applied
            props = load_template()["Resources"]["PortfolioStreamFunction"]["Properties"]["Events"][
                "TradesStream"
            ]
            filters = [json.loads(f["Pattern"]) for f in props["Properties"]["FilterCriteria"]["Filters"]]
            pending: list[dict[str, Any]] = []

            def collect(event: dict[str, Any]) -> dict[str, Any]:
                pending.append(event)
                return {"batchItemFailures": []}

            mapping = StreamMapping(
                stream_arn=names.streams["TradesTable"], batch_size=batch_size, filters=filters
            )
            poller = StreamPoller(session.client("dynamodbstreams"), mapping, collect)

            # Round by round, as in production: every strategy runs once, then the stream delivers what
            # the round wrote, so each batch carries new trades (only the handler is timed).
            write_seconds = seconds = 0.0
            failures = records = invocations = 0
            counter = count_requests(clients.dynamodb)
            for r in range(runs_per_strategy):
                write_started = time.perf_counter()
                at = NOW + timedelta(minutes=r)
                for strategy_id in ids:
                    before = accounts.get(strategy_id)
                    assert before is not None
                    made = _trades_for_run(strategy_id, r, epoch=0, first_seq=before.trade_seq + 1, at=at)
                    after = apply_to_account(before, made)
                    marks = {t: {"price": Decimal("0.42"), "status": "open"} for t in after.positions}
                    # The items of `commit_run`'s transaction, written without one: moto copies every table
                    # for each transaction (its rollback), which would make writing the bench's data O(n^2).
                    # The stream sees the same records.
                    trade_items = [trade_repo.item_for(t) for t in made] + [
                        trade_repo.marks_item(strategy_id, marks, at)
                    ]
                    batch_write(
                        clients.dynamodb, tables["TRADES_TABLE"], trade_put(trade_items), what="bench"
                    )
                    clients.dynamodb.put_item(
                        TableName=tables["PORTFOLIOS_TABLE"],
                        Item=accounts.item_for(after, version=before.version + 1),
                    )
                    written[strategy_id].extend(made)
                write_seconds += time.perf_counter() - write_started
                pending.clear()
                poller.drain()
                with counter, contextlib.redirect_stdout(io.StringIO()):
                    started = time.perf_counter()
                    for event in pending:
                        answer = app.lambda_handler(event, BenchContext())
                        failures += len(answer.get("batchItemFailures", []))
                    seconds += time.perf_counter() - started
                records += sum(len(e["Records"]) for e in pending)
                invocations += len(pending)

            mismatched = 0
            for strategy_id in ids:
                record = portfolios.get_record(strategy_id)
                state = state_from_item(record["state"]) if record and record.get("state") else None
                if state != replay(Decimal(1000), trade_repo.ledger(strategy_id, epoch=0)):
                    mismatched += 1
            return {
                "strategies": strategies,
                "trades": sum(len(t) for t in written.values()),
                "stream_records": records,
                "batches": invocations,
                "batch_size": batch_size,
                "handler_seconds": round(seconds, 3),
                "records_per_second": round(records / seconds, 1) if seconds else None,
                "ms_per_batch": round(seconds * 1000 / invocations, 1) if invocations else None,
                "dynamodb_requests": counter.total,
                "dynamodb_requests_per_batch": round(counter.total / invocations, 1) if invocations else None,
                "dynamodb_requests_by_operation": dict(sorted(counter.counts.items())),
                "batch_item_failures": failures,
                "portfolios_not_equal_to_replay": mismatched,
                "write_seconds": round(write_seconds, 3),
            }
        finally:
            for key, previous in saved.items():
                if previous is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = previous
            reset_settings()
            reset_clients()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trades", type=int, default=2000, help="trades written (default 2000)")
    parser.add_argument("--strategies", type=int, default=50, help="strategies trading (default 50)")
    parser.add_argument("--batch-size", type=int, default=100, help="records per invocation (default 100)")
    args = parser.parse_args(argv)
    figures = run(args.trades, args.strategies, args.batch_size)
    print(
        f"portfolio stream: {figures['stream_records']} records ({figures['trades']} trades, "
        f"{figures['strategies']} strategies) in {figures['batches']} batches of <= {figures['batch_size']}: "
        f"{figures['records_per_second']} records/s through lambda_handler on moto in-process "
        f"({figures['ms_per_batch']} ms, {figures['dynamodb_requests_per_batch']} DynamoDB requests a batch)"
    )
    print(
        f"batch item failures: {figures['batch_item_failures']}; "
        f"portfolios not equal to the replay: {figures['portfolios_not_equal_to_replay']}"
    )
    print(f"requests by operation: {figures['dynamodb_requests_by_operation']}")


if __name__ == "__main__":
    main()
