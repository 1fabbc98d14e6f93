"""Local API latency: p50/p99 and requests/s of the control API behind the local stack's gateway, under a
bounded load from a second process.

The stack is the one `make up` runs (moto_server in its own process, the HTTP gateway with development JWTs,
the control API handler in-process). A few strategies are created through the API; then a load process
(`python -m bench.api_latency_bench --load`, reading its plan as JSON on stdin) runs `--clients` threads,
each with one keep-alive connection, for `--requests` requests in all (bounded by `--time-limit` seconds),
alternating GET /strategies and GET /strategies/{id}.

Baseline, measured the same way in the same run: GET /_local/token, which the same gateway and HTTP server
answer themselves (a JWT is signed; no function is invoked). API minus baseline is the handler's share
(routing to the function, Powertools, DynamoDB reads on moto). A third figure, the same API requests made
in-process through `Gateway.handle` (no HTTP, no second process, one at a time), shows the handler alone.

`python -m bench.api_latency_bench [--clients 4 --requests 400]`; `run()` returns the figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
STRATEGY_GRAPH: dict[str, Any] = {
    "nodes": [
        {"id": "src", "type": "DATA_SOURCE", "config": {"source": "polymarket", "limit": 100}},
        {"id": "orc", "type": "ORCHESTRATOR", "config": {"outcome": "YES", "position_size_usd": 50}},
    ],
    "edges": [{"source": "src", "target": "orc"}],
}


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(fraction * len(ordered) + 0.999999)))
    return ordered[rank - 1]


def summary(latencies_ms: list[float], seconds: float, errors: int) -> dict[str, Any]:
    return {
        "requests": len(latencies_ms),
        "errors": errors,
        "seconds": round(seconds, 3),
        "requests_per_second": round(len(latencies_ms) / seconds, 1) if seconds else None,
        "p50_ms": round(percentile(latencies_ms, 0.50), 2) if latencies_ms else None,
        "p99_ms": round(percentile(latencies_ms, 0.99), 2) if latencies_ms else None,
        "mean_ms": round(statistics.fmean(latencies_ms), 2) if latencies_ms else None,
    }


# ------------------------------------------------------------------------------ the load process


def load(plan: dict[str, Any]) -> dict[str, Any]:
    """Run `plan["requests"]` GETs over `plan["clients"]` threads against `plan["url"]` (second process)."""
    parts = urlsplit(plan["url"])
    paths: list[str] = plan["paths"]
    headers = {"authorization": f"Bearer {plan['token']}"} if plan.get("token") else {}
    total, time_limit = int(plan["requests"]), float(plan["time_limit"])
    lock = threading.Lock()
    issued = [0]
    latencies: list[float] = []
    errors = [0]
    started = time.perf_counter()

    def client() -> None:
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        while True:
            with lock:
                if issued[0] >= total or time.perf_counter() - started > time_limit:
                    break
                index = issued[0]
                issued[0] += 1
            path = paths[index % len(paths)]
            begun = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
            elapsed = (time.perf_counter() - begun) * 1000
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    errors[0] += 1
        connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(int(plan["clients"]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(time_limit + 35)
    return summary(latencies, time.perf_counter() - started, errors[0])


def load_from_second_process(plan: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.api_latency_bench", "--load"],
        cwd=ROOT,
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        timeout=float(plan["time_limit"]) + 60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"load process failed: {done.stderr.strip()[-800:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ------------------------------------------------------------------------------------- the bench


def _request(url: str, *, method: str = "GET", token: str | None = None, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def run(
    clients: int = 4, requests: int = 400, strategies: int = 5, time_limit: float = 120.0
) -> dict[str, Any]:
    """Start a local stack, create `strategies` strategies, then measure baseline and API load."""
    from local.stack import LocalStack, StackConfig, handler_output

    with (
        tempfile.TemporaryDirectory(prefix="api-bench-") as state,
        LocalStack(StackConfig(prefix="apibench", driven=True, state_dir=Path(state))) as stack,
    ):
        url = stack.api_url
        token = _request(f"{url}/_local/token?user=bench-user")["token"]
        with handler_output(Path(state) / "handlers.log"):
            ids = [
                _request(
                    f"{url}/strategies",
                    method="POST",
                    token=token,
                    body={"strategy_name": f"bench {i}", "node_graph": STRATEGY_GRAPH},
                )["strategy_id"]
                for i in range(strategies)
            ]
            api_paths = [p for sid in ids for p in ("/strategies", f"/strategies/{sid}")]
            plan = {"url": url, "clients": clients, "requests": requests, "time_limit": time_limit}
            # warm both paths (first-call imports, connection pools) before measuring
            load_from_second_process({**plan, "requests": 20, "paths": ["/_local/token?user=warm"]})
            load_from_second_process({**plan, "requests": 20, "paths": api_paths, "token": token})
            baseline = load_from_second_process({**plan, "paths": ["/_local/token?user=bench-load"]})
            api = load_from_second_process({**plan, "paths": api_paths, "token": token})

            gateway = stack.gateway
            assert gateway is not None
            headers = [("authorization", f"Bearer {token}"), ("host", "127.0.0.1")]
            direct: list[float] = []
            direct_started = time.perf_counter()
            for index in range(min(requests, 200)):
                begun = time.perf_counter()
                answer = gateway.handle(
                    "GET",
                    api_paths[index % len(api_paths)],
                    headers,
                    b"",
                    source_ip="127.0.0.1",
                    host="127.0.0.1",
                )
                direct.append((time.perf_counter() - begun) * 1000)
                assert answer.status == 200, answer.status
            in_process = summary(direct, time.perf_counter() - direct_started, 0)
    return {
        "clients": clients,
        "requests": requests,
        "strategies": strategies,
        "api": api,
        "baseline_token_endpoint": baseline,
        "in_process_gateway_handle": in_process,
        "p50_ratio_api_over_baseline": round(api["p50_ms"] / baseline["p50_ms"], 2)
        if api["p50_ms"] and baseline["p50_ms"]
        else None,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--requests", type=int, default=400, help="requests in all (default 400)")
    parser.add_argument("--strategies", type=int, default=5, help="strategies created first (default 5)")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per load (default 120)")
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)  # the second process
    args = parser.parse_args(argv)
    if args.load:
        print(json.dumps(load(json.loads(sys.stdin.read()))))
        return
    f = run(args.clients, args.requests, args.strategies, args.time_limit)
    for name in ("api", "baseline_token_endpoint", "in_process_gateway_handle"):
        s = f[name]
        print(
            f"{name:<28} {s['requests']:>5} requests  p50 {s['p50_ms']} ms  p99 {s['p99_ms']} ms  "
            f"{s['requests_per_second']} req/s  errors {s['errors']}"
        )
    print(f"p50 ratio api / baseline: {f['p50_ratio_api_over_baseline']}x")


if __name__ == "__main__":
    main()
