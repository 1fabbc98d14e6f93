"""Tick benchmark: runs per second and DynamoDB requests per run for one cron invocation, against a
seed-style baseline (Scan with Limit 25 per tick, sequential runs, markets fetched per strategy), measured
in the same process on the same moto_server and recorded market server.

`python -m bench.tick_bench [--strategies 1000] [--concurrency 8]` (not part of `make test`).

moto runs as a ThreadedMotoServer on 127.0.0.1 inside this process, with its requests serialized and its
transaction rollback kept per item (tests/support/lambda_context.py): moto would otherwise deep-copy every
table on every transaction, and both measurements would time moto's copying rather than the executor. Its
queries and queues answer at AWS's cost (local.moto_speedups), as the local stack's moto does.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
BASELINE_SCAN_LIMIT = 25


@dataclass
class Figures:
    name: str
    runs: int
    seconds: float
    dynamodb_requests: int
    market_requests: int

    @property
    def runs_per_second(self) -> float:
        return self.runs / self.seconds if self.seconds else 0.0

    @property
    def requests_per_run(self) -> float:
        return self.dynamodb_requests / self.runs if self.runs else 0.0

    def line(self) -> str:
        return (
            f"{self.name:<28} runs={self.runs:>5}  {self.seconds:8.2f} s  "
            f"{self.runs_per_second:8.1f} runs/s  {self.requests_per_run:6.2f} DynamoDB requests/run  "
            f"{self.market_requests:>6} market API requests"
        )


@contextmanager
def stack(concurrency: int, *, moto_process: bool = False) -> Iterator[tuple[str, Any]]:
    """moto_server + recorded market server; the environment points the engine at both. With
    `moto_process`, moto runs in its own process (bench.moto_server) instead of a thread of this one."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "POWERTOOLS_METRICS_NAMESPACE": "AutopilotBench",
            "POWERTOOLS_SERVICE_NAME": "autopilot-bench",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "LOG_LEVEL": "WARNING",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    from moto.server import ThreadedMotoServer

    from bench.moto_server import bench_patches
    from local.moto_process import MotoProcess
    from local.polymarket_server import RecordedPolymarketServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server: ThreadedMotoServer | MotoProcess
    if moto_process:
        server = MotoProcess(module="bench.moto_server").start()
        endpoint = server.url
    else:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
    with ExitStack() as stack_:
        market = stack_.enter_context(RecordedPolymarketServer(host="127.0.0.1", port=0))
        if not moto_process:  # bench.moto_server makes the same changes in its own process
            stack_.enter_context(bench_patches())
        os.environ.update(
            {
                "DYNAMODB_ENDPOINT_URL": endpoint,
                "SQS_ENDPOINT_URL": endpoint,
                "SNS_ENDPOINT_URL": endpoint,
                "POLYMARKET_GAMMA_URL": market.url,
                "POLYMARKET_CLOB_URL": market.url,
                "RUN_CONCURRENCY": str(concurrency),
                "SAFETY_MARGIN_SECONDS": "5",
                "RUN_DEADLINE_SECONDS": "60",
                "MAX_DUE_PER_TICK": "100000",
            }
        )
        try:
            yield endpoint, market
        finally:
            server.stop()


def fresh_tables(endpoint: str, prefix: str) -> None:
    import boto3

    from engine.settings import reset_settings
    from engine.storage.dynamo import reset_clients
    from engine.storage.messaging import reset_messaging_clients
    from local.infra import create_resources

    names = create_resources(boto3.Session(region_name="us-east-1"), prefix, endpoint_url=endpoint)
    os.environ.update(
        {
            "STRATEGIES_TABLE": names.table("StrategiesTable"),
            "EXECUTIONS_TABLE": names.table("ExecutionLogsTable"),
            "TRADES_TABLE": names.table("TradesTable"),
            "PORTFOLIOS_TABLE": names.table("PortfoliosTable"),
            "IDEMPOTENCY_TABLE": names.table("IdempotencyTable"),
            "EXECUTION_QUEUE_URL": names.queues.get("ExecutionQueue", ""),
            "NOTIFICATIONS_TOPIC_ARN": names.topics.get("NotificationsTopic", ""),
        }
    )
    reset_settings()
    reset_clients()
    reset_messaging_clients()


def seed(count: int) -> list[str]:
    from engine.models.strategy import NodeGraph, StrategyStatus
    from engine.storage.strategies import StrategyRepository
    from tests.support.builders import EXAMPLE_GRAPH, make_strategy

    graph = NodeGraph.model_validate(copy.deepcopy(EXAMPLE_GRAPH))
    strategies = [
        make_strategy(status=StrategyStatus.RUNNING, due_at=NOW, node_graph=graph, owner=f"user-{i % 50}")
        for i in range(count)
    ]
    StrategyRepository().put_many(strategies)
    return [s.strategy_id for s in strategies]


def measure_executor(count: int, endpoint: str, market: Any) -> Figures:
    """One cron invocation through its handler, with a budget large enough for every run."""
    from engine.storage.dynamo import RequestCounter, get_clients
    from functions.cron_executor import app
    from tests.support.lambda_context import lambda_context, scheduled_event

    fresh_tables(endpoint, f"exec-{uuid.uuid4().hex[:6]}")
    seed(count)
    app._provider = None
    market.reset_counters()
    with RequestCounter(get_clients().dynamodb) as counter:
        started = time.perf_counter()
        report = app.lambda_handler(scheduled_event(NOW + timedelta(seconds=1)), lambda_context(900))
        seconds = time.perf_counter() - started
    assert report["executed"] == count, report
    return Figures(
        "executor (one invocation)", report["executed"], seconds, counter.total, market.request_count()
    )


def measure_baseline(count: int, endpoint: str, market: Any) -> Figures:
    """The seed's way: each tick Scans 25 strategies, runs the due ones one after another, each fetching
    its own markets, and writes trades, log and strategy with separate calls."""
    from engine.broker import PaperBroker
    from engine.clock import Deadline, iso
    from engine.graph.runner import run_graph
    from engine.market.polymarket import client_from_settings
    from engine.market.snapshot import MarketSnapshot
    from engine.models.execution import ExecutionLog, RunStatus, execution_id_for
    from engine.models.trading import Account
    from engine.nodes.base import RunContext
    from engine.settings import get_settings
    from engine.storage.dynamo import RequestCounter, get_clients, time_key
    from engine.storage.executions import ExecutionLogRepository
    from engine.storage.portfolios import AccountRepository
    from engine.storage.strategies import strategy_from_item
    from engine.storage.trades import TradeRepository

    fresh_tables(endpoint, f"base-{uuid.uuid4().hex[:6]}")
    seed(count)
    settings = get_settings()
    db = get_clients().dynamodb
    provider = client_from_settings(settings)
    broker = PaperBroker()
    accounts, trades_repo, logs_repo = AccountRepository(), TradeRepository(), ExecutionLogRepository()
    market.reset_counters()
    runs = 0
    start_key: dict[str, Any] | None = None
    with RequestCounter(db) as counter:
        started = time.perf_counter()
        while True:  # one iteration = one tick
            request: dict[str, Any] = {"TableName": settings.strategies_table, "Limit": BASELINE_SCAN_LIMIT}
            if start_key:
                request["ExclusiveStartKey"] = start_key
            page = db.scan(**request)
            for item in page.get("Items", []):
                strategy = strategy_from_item(item)
                if strategy.due_at is None or strategy.due_at > NOW:
                    continue
                sid = strategy.strategy_id
                deadline = Deadline(60)
                snapshot = MarketSnapshot(  # markets fetched per strategy
                    provider, fetched_at=NOW, max_markets=settings.market_snapshot_size, deadline=deadline
                )
                bankroll = strategy.paper_bankroll_usd or 0
                account = accounts.get(sid) or Account(
                    strategy_id=sid, bankroll_usd=bankroll, cash_usd=bankroll
                )
                slot_key = iso(NOW)
                ctx = RunContext(sid, NOW, slot_key, snapshot, account, account.bankroll_usd, deadline)
                graph = run_graph(strategy.node_graph, ctx)
                filled = broker.fill(
                    graph.orders, account, snapshot, strategy_id=sid, slot_key=slot_key, now=NOW
                )
                for trade in filled.trades:
                    db.put_item(TableName=settings.trades_table, Item=trades_repo.item_for(trade))
                if filled.trades:
                    db.put_item(
                        TableName=settings.portfolios_table,
                        Item=accounts.item_for(filled.account, version=filled.account.version + 1),
                    )
                logs_repo.put(
                    ExecutionLog(
                        execution_id=execution_id_for(sid, slot_key),
                        strategy_id=sid,
                        status=RunStatus.COMPLETED if graph.status == "completed" else RunStatus.FAILED,
                        scheduled_for=NOW,
                        trigger="schedule",
                        executed_at=NOW,
                        nodes_executed=graph.nodes_executed,
                        trades_created=len(filled.trades),
                        trace=graph.trace,
                    )
                )
                db.update_item(
                    TableName=settings.strategies_table,
                    Key={"strategy_id": {"S": sid}},
                    UpdateExpression="SET due_at = :next ADD total_executions :one",
                    ExpressionAttributeValues={
                        ":next": {"S": time_key(NOW + timedelta(minutes=1))},
                        ":one": {"N": "1"},
                    },
                )
                runs += 1
            start_key = page.get("LastEvaluatedKey")
            if not start_key:
                break
        seconds = time.perf_counter() - started
    return Figures("seed-style baseline", runs, seconds, counter.total, market.request_count())


def run(strategies: int = 1000, concurrency: int = 8, market_latency_ms: float = 20.0) -> dict[str, Any]:
    """Both measurements on one stack; the figures for a report runner (the CLI prints the same)."""
    with stack(concurrency) as (endpoint, market):
        market.set_delay(market_latency_ms / 1000.0)
        executor = measure_executor(strategies, endpoint, market)
        baseline = measure_baseline(strategies, endpoint, market)

    def figures(f: Figures) -> dict[str, Any]:
        return {
            "runs": f.runs,
            "seconds": round(f.seconds, 3),
            "runs_per_second": round(f.runs_per_second, 2),
            "dynamodb_requests_per_run": round(f.requests_per_run, 2),
            "market_requests": f.market_requests,
        }

    return {
        "strategies": strategies,
        "concurrency": concurrency,
        "market_latency_ms": market_latency_ms,
        "executor": figures(executor),
        "baseline": figures(baseline),
        "ratio_runs_per_second": round(executor.runs_per_second / baseline.runs_per_second, 2)
        if baseline.runs_per_second
        else None,
        "ratio_fewer_requests_per_run": round(baseline.requests_per_run / executor.requests_per_run, 2)
        if executor.requests_per_run
        else None,
        "ratio_fewer_market_requests": round(baseline.market_requests / max(executor.market_requests, 1), 1),
        "_lines": [executor.line(), baseline.line()],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", type=int, default=1000, help="due strategies (default 1000)")
    parser.add_argument("--concurrency", type=int, default=8, help="RUN_CONCURRENCY of the executor")
    parser.add_argument(
        "--market-latency-ms",
        type=float,
        default=20.0,
        help="delay the recorded market server adds to every answer (the real API is a network away)",
    )
    args = parser.parse_args(argv)
    figures = run(args.strategies, args.concurrency, args.market_latency_ms)
    print(
        f"tick bench: {args.strategies} due strategies, moto_server + recorded markets on 127.0.0.1 "
        f"({args.market_latency_ms:g} ms per market answer)"
    )
    for line in figures["_lines"]:
        print(line)
    print(
        f"ratio: {figures['ratio_runs_per_second']:.2f}x runs/s, "
        f"{figures['ratio_fewer_requests_per_run']:.2f}x fewer DynamoDB requests per run "
        f"(the executor's include the settlement pass and its one-transaction commits), "
        f"{figures['ratio_fewer_market_requests']:.1f}x fewer market API requests"
    )


if __name__ == "__main__":
    main()
