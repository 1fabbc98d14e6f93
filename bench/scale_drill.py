"""Scale drill: N strategies (default 10,000) due in the same minute, one cron invocation with a realistic
budget, the overflow drained through the execution worker, and a check that every slot ran exactly once.

- moto_server on 127.0.0.1 in a thread of this process (`--moto-process`: its own process, bench.moto_server)
  with the tick bench's test-only changes (requests serialized per service, transaction rollback kept per
  item) and local.moto_speedups (queries read their partition, SQS sends and receives without recounting
  the queue), and the
  recorded market server on 127.0.0.1, answering after `--market-latency-ms`.
- Function settings are the template's (run deadline 20 s, safety margin 8 s, 8 concurrent runs); only
  MAX_DUE_PER_TICK is raised to N (its default, 5,000, would leave the rest of a larger set due for the next
  tick, where they run with one skipped slot each).
- The cron handler gets a fake context with `--cron-budget` seconds left (55 s of the 60 s timeout): it runs
  what fits and sends the rest to the ExecutionQueue. Then, until the queue is empty, batches of up to 10 are
  received from the queue (as the event source mapping does), passed to `execution_worker.lambda_handler` with
  a 90 s context, the successes deleted and the `batchItemFailures` made visible again (redelivered).
- Check: one execution log per strategy for the slot, no other logs, no duplicate trade (one trade per
  strategy, market, outcome and side for the slot), every strategy due at the next minute with no claim left.

`python -m bench.scale_drill [--strategies 10000]`; `run()` returns the figures for the report runner.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import time
from collections import Counter
from datetime import timedelta
from typing import Any

from bench.tick_bench import NOW, fresh_tables, seed, stack

CRON_BUDGET_SECONDS = 55.0  # of the cron function's 60 s timeout: EventBridge delivered it a few seconds late
WORKER_BUDGET_SECONDS = 90.0  # the worker function's timeout
TEMPLATE_SETTINGS = ("RUN_DEADLINE_SECONDS", "SAFETY_MARGIN_SECONDS")  # tick_bench overrides these
ACCOUNT = "123456789012"  # moto's default account


def _rows(db: Any, table: str, names: list[str], *, in_process: bool) -> list[dict[str, Any]]:
    """`names` of every item of `table`. moto in this process: read from its store (moto sorts the whole
    table again for every Scan page, which at 50,000 trades takes longer than the drill); in its own
    process: a Scan with a projection."""
    from engine.storage.dynamo import from_item

    if in_process:
        from moto.dynamodb.models import dynamodb_backends

        from local.moto_speedups import unsorted_items

        stored = unsorted_items(dynamodb_backends[ACCOUNT]["us-east-1"].get_table(table))
        return [
            from_item({name: item.attrs[name].to_json() for name in names if name in item.attrs})
            for item in stored
        ]
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": table,
        "Limit": 1000,
        "ProjectionExpression": ", ".join(f"#n{i}" for i in range(len(names))),
        "ExpressionAttributeNames": {f"#n{i}": name for i, name in enumerate(names)},
    }
    while True:
        page = db.scan(**request)
        items += [from_item(i) for i in page.get("Items", [])]
        if not page.get("LastEvaluatedKey"):
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def drain(sqs: Any, queue_url: str, *, time_limit_seconds: float) -> dict[str, Any]:
    """Worker invocations over the ExecutionQueue until it is empty (or the time limit)."""
    from functions.execution_worker import app
    from tests.support.lambda_context import lambda_context, sqs_event

    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    invocations = records = failures = 0
    function_seconds = 0.0
    outcomes: Counter[str] = Counter()
    started = time.monotonic()
    while time.monotonic() - started < time_limit_seconds:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=540
        ).get("Messages", [])
        if not messages:
            attributes = sqs.get_queue_attributes(
                QueueUrl=queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            if not any(int(v) for v in attributes.values()):
                break
            time.sleep(0.2)
            continue
        context = lambda_context(WORKER_BUDGET_SECONDS, function_name="autopilot-bench-execution-worker")
        with contextlib.redirect_stdout(io.StringIO()):  # EMF metric lines, one set per invocation
            begun = time.perf_counter()
            answer = app.lambda_handler(sqs_event(messages, queue_arn=arn), context)
            function_seconds += time.perf_counter() - begun
        invocations += 1
        records += len(messages)
        failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
        failures += len(failed)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        for message in messages:
            if message["MessageId"] in failed:  # SQS redelivers a reported failure: at once, here
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        outcomes["ok" if not failed else "partial"] += 1
    return {
        "worker_invocations": invocations,
        "worker_records": records,
        "worker_batch_item_failures": failures,
        "worker_seconds": round(function_seconds, 2),
        "drained": time.monotonic() - started < time_limit_seconds,
    }


def verify(ids: list[str], endpoint: str, *, in_process: bool) -> dict[str, Any]:
    """Every slot ran exactly once: logs, trades and the strategies' own state."""
    import boto3
    from botocore.config import Config

    from engine.clock import iso
    from engine.settings import get_settings

    settings = get_settings()
    # a Scan of thousands of items takes moto longer than the functions' 5 s read timeout
    db = boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name="us-east-1", config=Config(read_timeout=300)
    )
    logs = _rows(
        db, settings.executions_table, ["strategy_id", "scheduled_for", "status"], in_process=in_process
    )
    slot = iso(NOW)
    per_strategy = Counter(
        log["strategy_id"] for log in logs if log.get("scheduled_for", "")[:16] == slot[:16]
    )
    expected = set(ids)
    missing = len(expected - set(per_strategy))
    duplicated = sum(1 for n in per_strategy.values() if n > 1)
    other_logs = len(logs) - sum(per_strategy.values())
    statuses = Counter(str(log.get("status")) for log in logs)
    trades = [
        t
        for t in _rows(
            db,
            settings.trades_table,
            ["strategy_id", "trade_id", "market_id", "outcome", "side", "reason"],
            in_process=in_process,
        )
        if t.get("trade_id") != "~marks"
    ]
    keys = Counter(
        (t["strategy_id"], t.get("market_id"), t.get("outcome"), t.get("side"), t.get("reason"))
        for t in trades
    )
    duplicate_trades = sum(n - 1 for n in keys.values() if n > 1)
    strategies = _rows(
        db, settings.strategies_table, ["strategy_id", "due_at", "claim_token"], in_process=in_process
    )
    next_due = iso(NOW + timedelta(minutes=1))
    not_advanced = sum(
        1 for s in strategies if str(s.get("due_at", ""))[:16] != next_due[:16] or s.get("claim_token")
    )
    return {
        "logs": len(logs),
        "log_statuses": dict(statuses),
        "strategies_with_one_log": sum(1 for n in per_strategy.values() if n == 1),
        "strategies_without_log": missing,
        "strategies_with_several_logs": duplicated,
        "logs_for_other_slots": other_logs,
        "trades": len(trades),
        "duplicate_trades": duplicate_trades,
        "strategies_not_advanced": not_advanced,
        "exactly_once": missing == 0
        and duplicated == 0
        and other_logs == 0
        and duplicate_trades == 0
        and not_advanced == 0,
    }


def run(
    strategies: int = 10_000,
    *,
    cron_budget_seconds: float = CRON_BUDGET_SECONDS,
    market_latency_ms: float = 20.0,
    concurrency: int = 8,
    drain_limit_seconds: float = 1800.0,
    moto_process: bool = False,
) -> dict[str, Any]:
    """Seed `strategies` due at one minute, run one cron tick and drain the overflow; the figures."""
    import boto3

    with stack(concurrency, moto_process=moto_process) as (endpoint, market):
        for name in TEMPLATE_SETTINGS:
            os.environ.pop(name, None)
        os.environ["MAX_DUE_PER_TICK"] = str(max(strategies, 5000))
        market.set_delay(market_latency_ms / 1000.0)
        fresh_tables(endpoint, f"drill-{os.getpid()}")  # also resets settings and clients
        from engine.settings import get_settings
        from functions.cron_executor import app as cron_app
        from functions.execution_worker import app as worker_app
        from tests.support.lambda_context import lambda_context, scheduled_event

        settings = get_settings()
        started = time.perf_counter()
        ids = seed(strategies)
        seed_seconds = time.perf_counter() - started

        cron_app._provider = None
        worker_app._provider = None
        market.reset_counters()
        with contextlib.redirect_stdout(io.StringIO()):
            begun = time.perf_counter()
            tick = cron_app.lambda_handler(
                scheduled_event(NOW + timedelta(seconds=2)), lambda_context(cron_budget_seconds)
            )
            cron_seconds = time.perf_counter() - begun

        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        drained = drain(sqs, settings.execution_queue_url, time_limit_seconds=drain_limit_seconds)
        market_requests = market.request_count()
        checked = verify(ids, endpoint, in_process=not moto_process)

    invocations = 1 + drained["worker_invocations"]
    function_seconds = cron_seconds + drained["worker_seconds"]
    return {
        "strategies": strategies,
        "seed_seconds": round(seed_seconds, 1),
        "seed_per_second": round(strategies / seed_seconds, 1) if seed_seconds else None,
        "cron_budget_seconds": cron_budget_seconds,
        "cron_seconds": round(cron_seconds, 2),
        "cron_executed": tick["executed"],
        "cron_deferred": tick["deferred"],
        "cron_abandoned": tick["abandoned"],
        "cron_defer_failed": tick["defer_failed"],
        "cron_left_due": tick["left_due"],
        "cron_errors": tick.get("errors", 0),
        **drained,
        "invocations": invocations,
        "function_seconds": round(function_seconds, 1),
        "function_ms_per_strategy": round(function_seconds * 1000 / strategies, 1) if strategies else None,
        "runs_per_function_second": round(strategies / function_seconds, 1) if function_seconds else None,
        "market_requests": market_requests,
        "settings": {
            "run_deadline_seconds": settings.run_deadline_seconds,
            "safety_margin_seconds": settings.safety_margin_seconds,
            "run_concurrency": settings.run_concurrency,
            "max_due_per_tick": settings.max_due_per_tick,
            "market_latency_ms": market_latency_ms,
        },
        **checked,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the drill and print its figures; exit status 1 when its own check (exactly once) fails."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--strategies", type=int, default=10_000, help="strategies due (default 10000)")
    parser.add_argument("--cron-budget", type=float, default=CRON_BUDGET_SECONDS, help="seconds left (55)")
    parser.add_argument("--market-latency-ms", type=float, default=20.0, help="per market answer (20)")
    parser.add_argument("--concurrency", type=int, default=8, help="RUN_CONCURRENCY (template: 8)")
    parser.add_argument(
        "--moto-process",
        action="store_true",
        help="moto in its own process (bench.moto_server) instead of a thread of this one",
    )
    args = parser.parse_args(argv)
    f = run(
        args.strategies,
        cron_budget_seconds=args.cron_budget,
        market_latency_ms=args.market_latency_ms,
        concurrency=args.concurrency,
        moto_process=args.moto_process,
    )
    print(f"scale drill: {f['strategies']:,} strategies due at one minute (seeded in {f['seed_seconds']} s)")
    print(
        f"  cron: 1 invocation, {f['cron_seconds']} s of a {f['cron_budget_seconds']:g} s budget: "
        f"{f['cron_executed']} run, {f['cron_deferred']} deferred, {f.get('cron_left_due', 0)} left due, "
        f"{f['cron_abandoned']} abandoned"
    )
    print(
        f"  worker: {f['worker_invocations']} invocations, {f['worker_records']} records, "
        f"{f['worker_batch_item_failures']} batch item failures, {f['worker_seconds']} s"
    )
    print(
        f"  total: {f['invocations']} invocations, {f['function_seconds']} s of function time "
        f"({f['function_ms_per_strategy']} ms per strategy), {f['market_requests']} market API requests"
    )
    print(
        f"  exactly once: {f['exactly_once']} ({f['strategies_with_one_log']} with one log, "
        f"{f['strategies_without_log']} without, {f['strategies_with_several_logs']} with several, "
        f"{f['duplicate_trades']} duplicate trades, {f['strategies_not_advanced']} not advanced)"
    )
    if not f["exactly_once"]:
        print("scale drill FAILED: not every slot ran exactly once")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
