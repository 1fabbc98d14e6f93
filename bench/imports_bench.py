"""Cold import time of each handler module beside `import boto3` plus creating a DynamoDB client.

Every sample is a FRESH interpreter (`python -c`), timing only the import (perf_counter around it, after the
interpreter has started); the median of `--runs` samples per target. Targets are interleaved run by run, so
a busy neighbour on a shared machine slows them alike. The baseline is what any function talking to DynamoDB
pays at minimum: `import boto3` and `boto3.client("dynamodb")`.

Two conditions, each with its own baseline:
- `bytecode` (the figure that counts): every module has bytecode, as `make build` ships it (local.bytecode
  compiles the whole build, checked-hash). Here a private bytecode cache (PYTHONPYCACHEPREFIX, a temporary
  folder) is filled by one unmeasured import of each target, so the source tree is left alone.
- `source`: the project's own modules compiled at every import, as Lambda did before the build shipped
  bytecode (its /var/task and /opt are read-only, so nothing compiled there is kept); dependencies keep the
  bytecode pip wrote.

The handlers create their clients lazily (on the first invocation), so their import figure does not include
a client; the ratio is handler import / (boto3 import + client). Both run in Lambda's environment variables
(`LAMBDA_TASK_ROOT` among them: the X-Ray SDK then samples locally instead of building an X-Ray client).

`python -m bench.imports_bench [--runs 7]`; `run()` returns the figures for the report runner.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = (
    "functions.control_api.app",
    "functions.cron_executor.app",
    "functions.execution_worker.app",
    "functions.portfolio_stream.app",
)
BASELINE = "boto3 + dynamodb client"
# What Lambda's environment gives the functions at import time (no real AWS: fake credentials, no network).
# LAMBDA_TASK_ROOT matters: with it the X-Ray SDK (which Tracer imports) samples locally, as it does in
# Lambda; without it, it builds a botocore X-Ray client at import, a cost no deployed function pays.
ENVIRONMENT = {
    "LAMBDA_TASK_ROOT": str(ROOT),
    "AWS_LAMBDA_FUNCTION_NAME": "autopilot-bench",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_METRICS_NAMESPACE": "AutopilotBench",
    "POWERTOOLS_SERVICE_NAME": "autopilot-bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "LOG_LEVEL": "WARNING",
    "STRATEGIES_TABLE": "bench-strategies",
    "EXECUTIONS_TABLE": "bench-executions",
    "TRADES_TABLE": "bench-trades",
    "PORTFOLIOS_TABLE": "bench-portfolios",
    "IDEMPOTENCY_TABLE": "bench-idempotency",
    "TOKEN_SIGNING_SECRET_ID": "bench-token-signing-secret",
}


def _snippet(target: str) -> str:
    if target == BASELINE:
        body = "import boto3\nboto3.client('dynamodb', region_name='us-east-1')"
    else:
        body = f"import {target}"
    return f"import time\n_t = time.perf_counter()\n{body}\nprint(repr((time.perf_counter() - _t) * 1000))\n"


MODES = ("bytecode", "source")


def _environment(mode: str, cache: Path) -> dict[str, str]:
    env = {**os.environ, **ENVIRONMENT}
    env.pop("PYTHONPYCACHEPREFIX", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if mode == "bytecode":
        env["PYTHONPYCACHEPREFIX"] = str(cache)  # written by the warm-up import, read by the samples
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # our modules have no .pyc in the tree: compiled every time
    return env


def sample(target: str, env: dict[str, str]) -> float:
    """One cold import of `target` in a new interpreter, in milliseconds."""
    done = subprocess.run(
        [sys.executable, "-c", _snippet(target)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"import of {target} failed: {done.stderr.strip()[-500:]}")
    return float(done.stdout.strip().splitlines()[-1])


def _stray_bytecode() -> list[Path]:
    """Timestamp .pyc files in the source tree (a run without PYTHONDONTWRITEBYTECODE leaves them): the
    `source` condition would read them and measure bytecode instead."""
    return [p for folder in ("functions", "layers/engine/engine") for p in (ROOT / folder).rglob("*.pyc")]


def run(runs: int = 7) -> dict[str, Any]:
    """Median cold import (ms) of each handler and of the baseline, and each handler's ratio to it, with
    bytecode (as built) and with our modules compiled at import."""
    targets = (BASELINE, *HANDLERS)
    stray = len(_stray_bytecode())
    figures: dict[str, Any] = {"runs": runs, "baseline": BASELINE, "stray_pyc_in_tree": stray}
    with tempfile.TemporaryDirectory(prefix="autopilot-pycache-") as cache:
        envs = {mode: _environment(mode, Path(cache)) for mode in MODES}
        for mode in MODES:
            for target in targets:  # warm the file cache (and fill the bytecode cache) once; not measured
                sample(target, envs[mode])
        samples: dict[str, dict[str, list[float]]] = {m: {t: [] for t in targets} for m in MODES}
        for _ in range(runs):
            for mode in MODES:  # interleaved, so a busy neighbour slows every target alike
                for target in targets:
                    samples[mode][target].append(sample(target, envs[mode]))
    for mode in MODES:
        medians = {t: statistics.median(v) for t, v in samples[mode].items()}
        base = medians[BASELINE]
        figures[mode] = {
            "baseline_median_ms": round(base, 1),
            "handlers": {
                t: {"median_ms": round(medians[t], 1), "ratio_to_baseline": round(medians[t] / base, 2)}
                for t in HANDLERS
            },
            "samples_ms": {t: [round(x, 1) for x in v] for t, v in samples[mode].items()},
        }
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per target (default 7)")
    args = parser.parse_args(argv)
    figures = run(args.runs)
    for mode in MODES:
        print(f"cold import, {mode}, median of {figures['runs']} fresh interpreters")
        print(f"  {BASELINE:<34} {figures[mode]['baseline_median_ms']:8.1f} ms")
        for name, handler in figures[mode]["handlers"].items():
            print(f"  {name:<34} {handler['median_ms']:8.1f} ms  {handler['ratio_to_baseline']:.2f}x")
    if figures["stray_pyc_in_tree"]:
        print(f"warning: {figures['stray_pyc_in_tree']} .pyc files in the source tree: `source` read them")


if __name__ == "__main__":
    main()
