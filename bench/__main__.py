"""`python -m bench` (`make bench`): every benchmark, one table, bench/RESULTS.md.

Each benchmark runs in its own child process (`python -m bench --child NAME`): moto patches, environment
variables and cached clients of one never leak into the next, and the memory a big moto table takes is given
back. The child prints its figures as one JSON line; this process turns them into rows (metric, value,
baseline, ratio, notes), prints the table and writes it with the date, the machine and the sizes.

Options: `--quick` (small sizes, a smoke run; writes nothing unless `--output` is given), `--only NAME`
(repeatable; also writes nothing unless `--output`), `--output PATH`. Full sizes are chosen to finish in
about 20 minutes on a 2-core machine; sizes below a benchmark's own default are said in the table's notes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import RESULTS, Row, machine, markdown_report, number, ratio_of, text_table, write_results

ROOT = Path(__file__).resolve().parent.parent
MARKER = "BENCH-RESULT "
SCALE_TARGET = 10_000
ENVIRONMENT = {
    # moto's fake credentials; never the real AWS (TOOLING.md: the account-id endpoint breaks moto)
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_METRICS_NAMESPACE": "AutopilotBench",
    "POWERTOOLS_SERVICE_NAME": "autopilot-bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "LOG_LEVEL": "WARNING",
}

SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "full": {
        "graph": {"markets_count": 1000, "runs": 50},
        "storage": {"total": 20_000, "due": 100, "cycles": 5},
        "tick": {"strategies": 500, "concurrency": 8, "market_latency_ms": 20.0},
        "stream": {"trades": 2000, "strategies": 50, "batch_size": 100},
        "imports": {"runs": 7},
        "schedule": {"repeats": 5},
        "api": {"clients": 4, "requests": 400, "strategies": 5},
        "web": {"loads": 5},
        "scale": {"strategies": 2000, "cron_budget_seconds": 55.0, "market_latency_ms": 20.0},
        "backtest": {"markets": 300, "days": 30, "baseline_slots": 48},
        "language": {"markets_count": 1000, "runs": 50, "strategies": 100},
        "account": {"strategies": 100, "positions": 5000, "requests": 60, "runs": 40},
    },
    "quick": {
        "graph": {"markets_count": 200, "runs": 10},
        "storage": {"total": 2000, "due": 20, "cycles": 2},
        "tick": {"strategies": 40, "concurrency": 8, "market_latency_ms": 20.0},
        "stream": {"trades": 200, "strategies": 10, "batch_size": 100},
        "imports": {"runs": 2},
        "schedule": {"repeats": 2},
        "api": {"clients": 2, "requests": 60, "strategies": 3},
        "web": {"loads": 2},
        # 31 s left: runs start only while more than margin + run deadline (28 s) remain, so most overflow
        "scale": {"strategies": 120, "cron_budget_seconds": 31.0, "market_latency_ms": 20.0},
        "backtest": {"markets": 60, "days": 5, "baseline_slots": 12},
        "language": {"markets_count": 1000, "runs": 10, "strategies": 30},
        "account": {"strategies": 20, "positions": 400, "requests": 10, "runs": 8},
    },
}
# the benchmarks' own defaults, to say where a size was reduced
DEFAULT_SIZES = {"storage": ("total", 100_000), "tick": ("strategies", 1000), "scale": ("strategies", 10_000)}


# ------------------------------------------------------------------------------------------- children


def _child(name: str, sizes: dict[str, Any]) -> dict[str, Any]:
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    if name == "graph":
        from bench import graph_bench

        return dict(graph_bench.run(**sizes))
    if name == "storage":
        from bench import storage_bench

        return storage_bench.run(**sizes)
    if name == "tick":
        from bench import tick_bench

        return tick_bench.run(**sizes)
    if name == "stream":
        from bench import stream_bench

        return stream_bench.run(**sizes)
    if name == "imports":
        from bench import imports_bench

        return imports_bench.run(**sizes)
    if name == "schedule":
        from bench import schedule_bench

        return schedule_bench.run(**sizes)
    if name == "api":
        from bench import api_latency_bench

        return api_latency_bench.run(**sizes)
    if name == "web":
        from bench import web_bench

        return web_bench.run(**sizes)
    if name == "scale":
        from bench import scale_drill

        return scale_drill.run(**sizes)
    if name == "backtest":
        from bench import backtest_bench

        return backtest_bench.run(**sizes)
    if name == "language":
        from bench import language_bench

        return language_bench.run(**sizes)
    if name == "account":
        from bench import account_bench

        return account_bench.run(**sizes)
    raise SystemExit(f"unknown benchmark {name!r}")


def run_child(name: str, sizes: dict[str, Any], log: Path) -> dict[str, Any]:
    """Run one benchmark in a new interpreter; its output goes to `log`, its figures come back."""
    command = [sys.executable, "-m", "bench", "--child", name, "--sizes", json.dumps(sizes)]
    env = {**os.environ, **ENVIRONMENT}
    with log.open("w") as out:
        done = subprocess.run(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=out, text=True, check=False
        )
        out.write(done.stdout)
    if done.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-15:])
        raise RuntimeError(f"{name} failed (exit {done.returncode}); log {log}:\n{tail}")
    line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith(MARKER))
    result: dict[str, Any] = json.loads(line[len(MARKER) :])
    return result


# ----------------------------------------------------------------------------------------------- rows


def _reduced(name: str, sizes: dict[str, Any]) -> str:
    key, default = DEFAULT_SIZES.get(name, ("", 0))
    if key and sizes.get(key, default) < default:
        return f" (bench default {default:,}; reduced to keep `make bench` under ~25 min)"
    return ""


def rows_graph(f: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    return [
        Row(
            "graph run time (DESIGN 5 example + paper fills), median",
            number(f["graph_median_ms"], "ms", 2),
            number(f["baseline_parse_median_ms"], "ms", 2),
            ratio_of(f["baseline_parse_median_ms"], f["graph_median_ms"]),
            f"{f['markets']:,} markets, {f['runs']} runs, p95 {f['graph_p95_ms']:.2f} ms, "
            f"{f['trades_per_run']} trades/run; baseline: parse the raw market list per run (seed style); "
            "ratio = baseline / run",
        )
    ]


def rows_storage(f: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    ops = ", ".join(f"{k} {v:g}" for k, v in f["requests_by_operation"].items())
    return [
        Row(
            "due-query read amplification",
            f"{f['read_amplification']:.2f} items read / due",
            "1.00 (ideal)",
            f["read_amplification"],
            f"{f['due']} due of {f['stored']:,} stored{_reduced('storage', sizes)}, "
            f"{f['due_shards']} shards, "
            f"{f['index_items_read']} index items read, {f['due_query_ms']:.0f} ms on moto in-process",
        ),
        Row(
            "DynamoDB requests per run (claim, account, commit; no trade)",
            f"{f['requests_per_cycle']:.2f}",
            "3 (goal)",
            ratio_of(f["requests_per_cycle"], 3),
            f"{f['cycles']} cycles, max {f['requests_per_cycle_max']}: {ops}",
        ),
    ]


def rows_tick(f: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    ex, base = f["executor"], f["baseline"]
    where = (
        f"{f['strategies']:,} due{_reduced('tick', sizes)}, moto_server + recorded markets "
        f"({f['market_latency_ms']:g} ms/answer), RUN_CONCURRENCY {f['concurrency']}"
    )
    return [
        Row(
            "tick throughput (one cron invocation)",
            number(ex["runs_per_second"], "runs/s"),
            number(base["runs_per_second"], "runs/s"),
            f["ratio_runs_per_second"],
            f"{where}; baseline: seed style (Scan 25/tick, sequential, markets per strategy)",
        ),
        Row(
            "tick DynamoDB requests per run",
            f"{ex['dynamodb_requests_per_run']:.2f}",
            f"{base['dynamodb_requests_per_run']:.2f}",
            f["ratio_fewer_requests_per_run"],
            "ratio = baseline / executor; the executor's include the settlement pass",
        ),
        Row(
            "tick market API requests",
            f"{ex['market_requests']:,}",
            f"{base['market_requests']:,}",
            f["ratio_fewer_market_requests"],
            "one shared snapshot per invocation vs markets per strategy; ratio = baseline / executor",
        ),
    ]


def rows_stream(f: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    return [
        Row(
            "portfolio stream throughput",
            number(f["records_per_second"], "records/s"),
            "",
            None,
            f"{f['stream_records']:,} records ({f['trades']:,} trades, {f['strategies']} strategies) in "
            f"{f['batches']} batches of <= {f['batch_size']}, lambda_handler on moto in-process; "
            f"{f['ms_per_batch']} ms and {f['dynamodb_requests_per_batch']} DynamoDB requests per batch; "
            f"failures {f['batch_item_failures']}, "
            f"portfolios != replay {f['portfolios_not_equal_to_replay']}",
        )
    ]


def rows_imports(f: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    notes = {
        "bytecode": "every module with bytecode, as `make build` ships it (target <= 2x)",
        "source": "our modules compiled at import, as before the build shipped bytecode",
    }
    return [
        Row(
            f"cold import {module.split('.')[1]} ({mode})",
            number(h["median_ms"], "ms", 0),
            number(f[mode]["baseline_median_ms"], "ms", 0),
            h["ratio_to_baseline"],
            f"{notes[mode]}; median of {f['runs']} fresh interpreters; baseline: `import boto3` + a DynamoDB "
            "client, same condition; ratio = handler / baseline",
        )
        for mode in ("bytecode", "source")
        for module, h in f[mode]["handlers"].items()
    ]


def rows_schedule(f: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    where = f"{f['starts']} start times over 2025, best of {f['repeats']}"
    return [
        Row(
            f"next_slots(..., {f['count']}) {case['expr']} ({case['tz']})",
            number(case["ours_us"], "us", 1),
            number(case["cronsim_us"], "us", 1),
            case["ratio"],
            f"{where}; baseline: cronsim (CronSim + {f['count']} next + to UTC); ratio = ours / cronsim, "
            "target <= 2",
        )
        for case in f["cases"]
        if case["tz"] == "America/New_York" or case["ratio"] == f["max_ratio"]
    ] + [
        Row(
            "next_slots vs cronsim, worst case",
            f"{f['max_ratio']:.2f}x",
            "2.00x (target)",
            ratio_of(f["max_ratio"], 2.0),
            f"of {len(f['cases'])} cases (presets and crons in UTC, New York, Lord Howe): "
            f"{f['worst']['expr']} in {f['worst']['tz']}; presets' worst {f['max_preset_ratio']:.2f}x",
        )
    ]


def rows_api(f: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    api, base, direct = f["api"], f["baseline_token_endpoint"], f["in_process_gateway_handle"]
    load = f"{f['clients']} clients, {api['requests']} requests from a second process, errors {api['errors']}"
    return [
        Row(
            "local API latency p50 (GET /strategies, /strategies/{id})",
            number(api["p50_ms"], "ms", 1),
            number(base["p50_ms"], "ms", 1),
            ratio_of(api["p50_ms"], base["p50_ms"]),
            f"{load}; baseline: GET /_local/token on the same gateway (no function); ratio = API / baseline",
        ),
        Row(
            "local API latency p99",
            number(api["p99_ms"], "ms", 1),
            number(base["p99_ms"], "ms", 1),
            ratio_of(api["p99_ms"], base["p99_ms"]),
            "same load",
        ),
        Row(
            "local API throughput",
            number(api["requests_per_second"], "req/s"),
            number(base["requests_per_second"], "req/s"),
            ratio_of(api["requests_per_second"], base["requests_per_second"]),
            "same load; ratio = API / baseline",
        ),
        Row(
            "control API handler alone (in-process Gateway.handle) p50",
            number(direct["p50_ms"], "ms", 1),
            number(api["p50_ms"], "ms", 1),
            ratio_of(direct["p50_ms"], api["p50_ms"]),
            f"one at a time, no HTTP; p99 {direct['p99_ms']} ms; baseline: the HTTP p50 above under load",
        ),
    ]


def rows_web(f: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    bundle = f["bundle"]
    return [
        Row(
            "dashboard: first drawn equity chart, 90 days + 1,000 trades (median)",
            number(f["first_chart_ms"], "ms", 0),
            number(f["baseline_first_chart_ms"], "ms", 0),
            ratio_of(f["first_chart_ms"], f["baseline_first_chart_ms"]),
            f"goal < 1 s; Chromium, cold load of the strategy page, {f['loads']} loads, max "
            f"{f['first_chart_max_ms']:.0f} ms, {f['curve_points']} curve points; baseline: 1 day, "
            "10 trades; the strategy + performance API answers alone take "
            f"{f['api_strategy_and_performance_ms']:.0f} ms",
        ),
        Row(
            "dashboard: bytes shipped, gzipped (no builder)",
            number(bundle["gzip"] / 1024, "KB", 1),
            number(bundle["raw"] / 1024, "KB", 1),
            ratio_of(bundle["gzip"], bundle["raw"]),
            f"goal < 150 KB; {bundle['files']} files (index, JS, CSS); "
            f"brotli {bundle['brotli'] / 1024:.1f} KB; baseline: the same files uncompressed",
        ),
        *rows_builder_bundle(f),
    ]


def rows_builder_bundle(f: dict[str, Any]) -> list[Row]:
    builder = f.get("builder_bundle")
    if not builder or not builder["files"]:
        return []
    return [
        Row(
            "builder: a saved 50-node graph drawn and validated (median)",
            number(f["builder_50_nodes_ms"], "ms", 0),
            number(f["baseline_builder_3_nodes_ms"], "ms", 0),
            ratio_of(f["builder_50_nodes_ms"], f["baseline_builder_3_nodes_ms"]),
            "goal < 1 s; Chromium, cold load of /app/strategies/{id}/edit until every node is drawn and "
            f"the live validation answered, {f['loads']} loads; baseline: DESIGN 5's 3 nodes"
            + (
                f"; the strategy + validate API answers alone take {f['api_builder_50_nodes_ms']:.0f} ms"
                if "api_builder_50_nodes_ms" in f
                else ""
            ),
        ),
        Row(
            "builder: lazy chunk shipped when opened, gzipped",
            number(builder["gzip"] / 1024, "KB", 1),
            number(builder["raw"] / 1024, "KB", 1),
            ratio_of(builder["gzip"], builder["raw"]),
            f"goal < 250 KB; {builder['files']} files (React Flow + the builder, JS and CSS), never loaded "
            f"by the dashboard; brotli {builder['brotli'] / 1024:.1f} KB; baseline: uncompressed",
        ),
    ]


def scale_extrapolation(f: dict[str, Any], target: int = SCALE_TARGET) -> dict[str, float]:
    """Linear extrapolation of a smaller drill to `target` strategies: the cron runs what its budget fits
    (as measured), every other strategy costs what a worker record cost on average."""
    cron_runs = f["cron_executed"]
    records = max(f["worker_records"], 1)
    per_record = f["worker_seconds"] / records
    per_invocation_records = records / max(f["worker_invocations"], 1)
    rest = max(target - cron_runs, 0)
    return {
        "invocations": 1 + math.ceil(rest / per_invocation_records),
        "function_seconds": f["cron_seconds"] + rest * per_record,
    }


def rows_scale(f: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    n = f["strategies"]
    verdict = "yes" if f["exactly_once"] else "NO"
    rows = [
        Row(
            f"scale drill: {n:,} due in one minute, every slot exactly once",
            verdict,
            "",
            None,
            f"{f['strategies_with_one_log']:,} strategies with one log, "
            f"{f['strategies_without_log']} without, "
            f"{f['strategies_with_several_logs']} with several, {f['duplicate_trades']} duplicate trades "
            f"({f['trades']:,} trades), {f['strategies_not_advanced']} not advanced to the next slot",
        ),
        Row(
            "scale drill invocations (cron + worker)",
            f"{f['invocations']:,}",
            "",
            None,
            f"cron: {f['cron_executed']:,} run in {f['cron_seconds']:.1f} s "
            f"of a {f['cron_budget_seconds']:g} s "
            f"budget, {f['cron_deferred']:,} deferred, {f['cron_abandoned']} abandoned; worker: "
            f"{f['worker_invocations']:,} invocations of <= 10, "
            f"{f['worker_batch_item_failures']} item failures",
        ),
        Row(
            "scale drill function time (sum of handler wall times)",
            number(f["function_seconds"], "s"),
            "",
            None,
            f"{f['function_ms_per_strategy']} ms per strategy; "
            f"seeded at {f['seed_per_second']} strategies/s; "
            f"{f['market_requests']:,} market API requests; moto_server serialized",
        ),
    ]
    if n < SCALE_TARGET:
        guess = scale_extrapolation(f)
        rows.append(
            Row(
                f"scale drill at {SCALE_TARGET:,}: EXTRAPOLATED, not measured",
                f"~{guess['invocations']:,.0f} invocations, ~{guess['function_seconds']:,.0f} s",
                "",
                None,
                f"linear from the {n:,} drill{_reduced('scale', sizes)}: the cron's measured share, then the "
                "measured seconds per worker record (`python -m bench.scale_drill` runs the full size: its "
                "measured figures are kept below the table)",
            )
        )
    return rows


def rows_backtest(f: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    first, second, base = f["first"], f["second"], f["baseline"]
    where = f"{f['days']} days hourly ({first['slots']} slots) over {f['markets']} markets"
    return [
        Row(
            f"backtest wall time, {where}",
            number(first["wall_seconds"], "s"),
            "10 s (goal)",
            ratio_of(first["wall_seconds"], 10.0),
            f"history load {first['history_seconds']} s + replay {first['replay_seconds']} s, "
            f"{first['trades']:,} trades; second run (cached history) {second['wall_seconds']} s",
        ),
        Row(
            "backtest history requests (first run, second run)",
            f"{first['history_requests']:,}, {second['history_requests']}",
            f"{f['tokens'] * f['windows_per_token']:,} (one per token and window), 0",
            ratio_of(first["history_requests"], f["tokens"] * f["windows_per_token"]),
            f"{f['tokens']} tokens x {f['windows_per_token']} 14-day windows; second run answered by the "
            f"Backtests table cache ({f['cache_items_written']} items)",
        ),
        Row(
            "backtest replay per slot vs the cron run path",
            number(f["replay_ms_per_slot"], "ms", 2),
            number(f["baseline_ms_per_slot"], "ms", 2),
            f["ratio_per_slot"],
            f"baseline: the first {base['slots']} slots through services.execution.execute (snapshot, run, "
            f"commit to moto in-process) = ~{f['baseline_extrapolated_seconds']} s for all slots if scaled; "
            "ratio = baseline / backtest",
        ),
    ]


def rows_language(f: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    return [
        Row(
            "12-node strategy run time (signals, logic, Kelly + paper fills), median",
            number(f["language_median_ms"], "ms", 2),
            number(f["example_median_ms"], "ms", 2),
            ratio_of(f["language_median_ms"], f["example_median_ms"]),
            f"{f['markets']:,} markets, price signals on {f['signal_markets']} tokens, warm history cache, "
            f"{f['runs']} runs, p95 {f['language_p95_ms']:.2f} ms, {f['trades_per_run']} trades/run; goal "
            "< 20 ms; baseline: DESIGN 5's 3-node example on the same markets; ratio = run / baseline",
        ),
        Row(
            "history requests per token and window (strategies sharing tokens)",
            f"{f['requests_per_token_window']:.2f}",
            "1.00 (goal)",
            ratio_of(f["history_lookups"], f["history_requests"]),
            f"{f['strategies']} strategies (3 variants), 8 threads, one invocation: {f['history_requests']} "
            f"requests for {f['distinct_token_windows']} token-windows; ratio = lookups the runs made "
            f"({f['history_lookups']:,}) / requests",
        ),
    ]


def rows_account(f: dict[str, Any], sizes: dict[str, Any]) -> list[Row]:
    latency, limits = f["latency"], f["limits"]
    api, base = latency["portfolio"], latency["baseline_token_endpoint"]
    without, with_ = limits["without_limits"], limits["with_limits"]
    return [
        Row(
            "GET /portfolio p50 (local stack)",
            number(api["p50_ms"], "ms", 1),
            number(base["p50_ms"], "ms", 1),
            ratio_of(api["p50_ms"], base["p50_ms"]),
            f"{latency['strategies']} strategies, {latency['positions']:,} open positions; "
            f"goal p50 < 300 ms; p99 {api['p99_ms']} ms; baseline: the gateway's GET /_local/token; "
            "ratio = API / baseline",
        ),
        Row(
            "extra DynamoDB requests per run from shared limits",
            f"{limits['extra_requests_per_run']:.2f}",
            f"{without['requests_per_run']:.2f} req/run without",
            ratio_of(with_["requests_per_run"], without["requests_per_run"]),
            f"{without['runs']} runs per pass; with limits {with_['requests_per_run']:.2f} req/run; goal ≤ 1 "
            "with limits, 0 without (runs of owners without limits read nothing more); "
            f"with: {with_['by_operation']}",
        ),
    ]


BENCHES: dict[str, Callable[[dict[str, Any], dict[str, Any]], list[Row]]] = {
    "graph": rows_graph,
    "storage": rows_storage,
    "tick": rows_tick,
    "stream": rows_stream,
    "imports": rows_imports,
    "schedule": rows_schedule,
    "api": rows_api,
    "web": rows_web,
    "scale": rows_scale,
    "backtest": rows_backtest,
    "language": rows_language,
    "account": rows_account,
}


def own_check_passed(name: str, figures: dict[str, Any]) -> bool:
    """A benchmark whose own check fails makes the run fail: the drill's exactly once, next_slots' 2x."""
    if name == "scale":
        return bool(figures.get("exactly_once"))
    if name == "schedule":
        return float(figures.get("max_ratio", 0)) <= 2.0
    return True


def describe_sizes(sizes: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {
        name: ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in s.items())
        for name, s in sizes.items()
    }


# ----------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--only", action="append", choices=sorted(BENCHES), help="run only this benchmark")
    parser.add_argument("--output", type=Path, help=f"write the Markdown report here (full run: {RESULTS})")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        figures = _child(args.child, json.loads(args.sizes or "{}"))
        print(MARKER + json.dumps(figures, default=str), flush=True)
        return 0

    mode = "quick" if args.quick else "full"
    names = args.only or list(BENCHES)
    sizes = {name: SIZES[mode][name] for name in names}
    output = args.output or (RESULTS if mode == "full" and not args.only else None)
    logs = ROOT / ".local-state" / "bench-logs"  # ignored by git
    logs.mkdir(exist_ok=True)
    rows: list[Row] = []
    failed: list[str] = []
    notes: list[str] = []
    began = time.monotonic()
    for name in names:
        started = time.monotonic()
        print(f"[bench] {name} {describe_sizes({name: sizes[name]})[name]} ...", flush=True)
        try:
            figures = run_child(name, sizes[name], logs / f"{name}.log")
        except (RuntimeError, StopIteration) as exc:
            print(f"[bench] {name} FAILED: {exc}", flush=True)
            failed.append(name)
            rows.append(Row(f"{name}: FAILED", "-", notes=f"see .local-state/bench-logs/{name}.log"))
            continue
        seconds = time.monotonic() - started
        print(f"[bench] {name} done in {seconds:.0f} s", flush=True)
        notes.append(f"{name} took {seconds:.0f} s of wall time")
        rows += BENCHES[name](figures, sizes[name])
        if not own_check_passed(name, figures):
            print(f"[bench] {name} FAILED its own check", flush=True)
            failed.append(name)
    total = time.monotonic() - began
    notes.append(f"whole run: {total / 60:.1f} min; each benchmark in its own process")
    notes.append(
        "moto stands in for DynamoDB/SQS (serialized requests, item-level transaction rollback where noted): "
        "absolute times are moto's and this machine's; ratios compare runs on the same stack in the same run"
    )
    print()
    print(text_table(rows))
    if output is not None:
        text = markdown_report(
            rows,
            when=datetime.now(UTC),
            machine_info=machine(),
            sizes=describe_sizes(sizes),
            mode=mode,
            command="make bench" if mode == "full" else "python -m bench --quick",
            extra=notes,
        )
        write_results(text, output)
        print(f"\nwritten to {output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
