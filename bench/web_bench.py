"""The web dashboard's figures: time to the first drawn equity chart in Chromium on the local stack for a
strategy with 90 days of equity points and 1,000 trades (goal < 1 s), and the bytes shipped gzipped (goal
< 150 KB without the builder).

The strategy's history is written straight into the stack's tables as the stream and runs would leave it:
the equity tiers the curve reads (hourly for 31 days, daily for 90, minute points for the last 3 hours rather
than 24: see MINUTE_HOURS) and 1,000 trades. Then Chromium (Debian's, headless) opens the strategy page with a
local token, and the page records when uPlot first drew the curve (`data-drawn-at`, ms since navigation
start). Median of `--loads` cold loads; beside it, the time the two API answers the chart waits for take
from Python (GET the strategy, then its performance): the local stack's share. Baseline, the same run: a
strategy with one day of hourly points and 10 trades. Bytes: the gzipped files the dashboard loads (index,
JS, CSS), and apart the lazy builder chunk (goal < 250 KB), each against the same files uncompressed.
The builder: a saved 50-node graph opened cold until drawn and validated (goal < 1 s) against DESIGN 5's 3
nodes, and beside it what its critical path asks the API (the strategy, then the check of its graph) from
Python: the local stack's share (moto answers a 50-node item slowly).

`python -m bench.web_bench [--loads 5] [--screenshot docs/dashboard.png]`; `run()` returns the figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "functions" / "web_static" / "dist"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
MINUTE_HOURS = 3
GRAPH = json.loads((ROOT / "local" / "samples" / "design_example.json").read_text())


def _lazy(path: Path) -> bool:
    """The builder's chunk (React Flow, its CSS): loaded only when the builder opens."""
    return path.name.startswith("BuilderPage-")


def bundle_bytes(lazy: bool = False) -> dict[str, int]:
    """Bytes of what a first visit loads (index.html and every eager asset), or with `lazy` what opening the
    builder adds (its JS and CSS chunks)."""
    assets = [*sorted((DIST / "assets").glob("*.js")), *sorted((DIST / "assets").glob("*.css"))]
    files = (
        [f for f in assets if _lazy(f)]
        if lazy
        else [DIST / "index.html", *(f for f in assets if not _lazy(f))]
    )
    raw = sum(f.stat().st_size for f in files)
    gz = sum(f.with_name(f.name + ".gz").stat().st_size for f in files)
    br = sum(f.with_name(f.name + ".br").stat().st_size for f in files)
    return {"files": len(files), "raw": raw, "gzip": gz, "brotli": br}


def _call(url: str, token: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def seed_history(stack: Any, user: str, *, days: int, trades: int, now: datetime) -> str:
    """A deployed strategy with `days` of equity tiers and `trades` trades, as the stream leaves them."""
    from engine.clock import iso
    from engine.models.portfolio import EquityPoint
    from engine.models.trading import Trade
    from engine.portfolio import EQUITY_KEY_PREFIX
    from engine.storage.portfolios import PortfolioRepository
    from engine.storage.trades import TradeRepository

    token = stack.token(user)
    sid = str(
        _call(stack.api_url, token, "POST", "/strategies", {**GRAPH, "strategy_name": f"{days} days"})[
            "strategy_id"
        ]
    )
    _call(
        stack.api_url,
        token,
        "POST",
        f"/strategies/{sid}/deploy",
        {"paper_bankroll_usd": 1000, "frequency": "1h"},
    )
    portfolios = PortfolioRepository()
    start = now - timedelta(days=days)

    def equity(at: datetime) -> Decimal:
        hours = (at - start) / timedelta(hours=1)
        return Decimal(1000 + 80 * ((hours % 240) / 240) - 40 * ((hours % 97) / 97)).quantize(Decimal("0.01"))

    def put(key: str, at: datetime) -> None:
        value = equity(at)
        point = EquityPoint(at=at, equity_usd=value, cash_usd=value / 2, positions_value_usd=value / 2)
        portfolios.put_equity_point(sid, key, None, point)

    for day in range(days + 1):
        at = (start + timedelta(days=day)).replace(hour=23, minute=59, second=0, microsecond=0)
        if at <= now:
            put(f"{EQUITY_KEY_PREFIX}d#{at.date().isoformat()}", at)
    hour = now.replace(minute=0, second=0, microsecond=0)
    for back in range(min(days, 31) * 24):
        at = hour - timedelta(hours=back)
        put(f"{EQUITY_KEY_PREFIX}h#{iso(at)}", at)
    minute = now.replace(second=0, microsecond=0)
    # minute points for the last MINUTE_HOURS only: the whole day's 1,440 make moto's query of the
    # partition outlast the client's 5 s read timeout on a loaded 2-core machine
    for back in range(MINUTE_HOURS * 60):
        at = minute - timedelta(minutes=back)
        put(f"{EQUITY_KEY_PREFIX}m#{iso(at)}", at)
    repo = TradeRepository()
    step = (now - start) / max(trades, 1)
    for n in range(trades):
        trade = Trade(
            trade_id=f"bench-{n}",
            strategy_id=sid,
            seq=n + 1,
            epoch=0,
            market_id=f"m{n % 40}",
            token_id=f"t{n % 40}",
            outcome="YES",
            outcome_label="Yes",
            question=f"Bench market {n % 40}?",
            side="BUY" if n % 2 == 0 else "SELL",
            shares=Decimal(10),
            price=Decimal("0.5"),
            fee_usd=Decimal(0),
            notional_usd=Decimal(5),
            created_at=start + step * n,
            reason="entry" if n % 2 == 0 else "take_profit",
        )
        repo.db.put_item(TableName=repo.table, Item=repo.item_for(trade))
    return sid


def first_chart_ms(browser: Any, url: str, loads: int) -> list[float]:
    times = []
    for _ in range(loads):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(url)
        try:
            handle = page.wait_for_function(
                "() => document.querySelector('[aria-label=\"Equity\"]')?.dataset.drawnAt", timeout=30_000
            )
        except Exception:
            page.screenshot(path=str(ROOT / ".local-state" / "web-bench-failure.png"), full_page=True)
            raise
        times.append(float(handle.json_value()))
        context.close()
    return times


def chain_graph(filters: int) -> dict[str, Any]:
    """A source, `filters` filters one after the other, an orchestrator: a valid graph of `filters` + 2."""
    example = GRAPH["node_graph"]["nodes"]
    nodes = [{**example[0], "position": {"x": 0, "y": 0}}]
    for i in range(filters):
        nodes.append(
            {
                "id": f"f{i}",
                "type": "FILTER",
                "config": example[1]["config"],
                "position": {"x": 260 * (i + 1), "y": 0},
            }
        )
    nodes.append({**example[2], "position": {"x": 260 * (filters + 1), "y": 0}})
    ids = [n["id"] for n in nodes]
    return {"nodes": nodes, "edges": [{"source": a, "target": b} for a, b in itertools.pairwise(ids)]}


def builder_interactive_ms(browser: Any, url: str, count: int, loads: int) -> list[float]:
    """Cold loads of the builder on a saved graph: ms from navigation start until all `count` nodes are drawn
    and the live validation has answered (the graph can be edited and saved)."""
    times = []
    for _ in range(loads):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(url)
        handle = page.wait_for_function(
            f"() => document.querySelectorAll('.react-flow__node').length === {count}"
            " && /^Valid/.test(document.querySelector('.validity')?.textContent ?? '') && performance.now()",
            timeout=30_000,
            polling="raf",
        )
        times.append(float(handle.json_value()))
        context.close()
    return times


def screenshot(browser: Any, url: str, path: Path) -> None:
    """The strategy page's top (figures and charts) as a small PNG: the README's picture."""
    context = browser.new_context(viewport={"width": 1100, "height": 1000}, timezone_id="UTC")
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("() => document.querySelector('[aria-label=\"Equity\"]')?.dataset.drawnAt")
    page.wait_for_timeout(500)
    page.screenshot(path=str(path))
    context.close()


def run(loads: int = 5, screenshot_to: Path | None = None) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from local.stack import LocalStack, StackConfig

    now = datetime.now(UTC)
    config = StackConfig(prefix="bench-web", driven=True, quiet=True)
    with LocalStack(config) as stack:
        user = "bench-web"
        big = seed_history(stack, user, days=90, trades=1000, now=now)
        small = seed_history(stack, user, days=1, trades=10, now=now)
        token = stack.token(user)
        graphs = {n: chain_graph(n - 2) for n in (50, 3)}
        builder_ids = {
            n: _call(
                stack.api_url, token, "POST", "/strategies", {"strategy_name": f"{n} nodes", "node_graph": g}
            )["strategy_id"]
            for n, g in graphs.items()
        }
        performance = _call(stack.api_url, token, "GET", f"/strategies/{big}/performance")
        # what the opened 50-node builder waits for on its critical path, from Python: the strategy, then
        # the check of its graph (the catalogue comes in parallel): the local stack's share
        builder_api_ms = []
        for _ in range(loads):
            started = time.perf_counter()
            saved = _call(stack.api_url, token, "GET", f"/strategies/{builder_ids[50]}")
            _call(stack.api_url, token, "POST", "/strategies/validate", {"node_graph": saved["node_graph"]})
            builder_api_ms.append((time.perf_counter() - started) * 1000)
        api_ms = []
        for _ in range(loads):
            started = time.perf_counter()
            for path in (f"/strategies/{big}", f"/strategies/{big}/performance"):
                _call(stack.api_url, token, "GET", path)
            api_ms.append((time.perf_counter() - started) * 1000)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            first_chart_ms(browser, f"{stack.api_url}/app/strategies/{small}#access_token={token}", 1)  # warm
            big_ms = first_chart_ms(
                browser, f"{stack.api_url}/app/strategies/{big}#access_token={token}", loads
            )
            small_ms = first_chart_ms(
                browser, f"{stack.api_url}/app/strategies/{small}#access_token={token}", loads
            )
            builder_ms = {
                n: builder_interactive_ms(
                    browser, f"{stack.api_url}/app/strategies/{sid}/edit#access_token={token}", n, loads
                )
                for n, sid in builder_ids.items()
            }
            if screenshot_to is not None:
                screenshot(
                    browser, f"{stack.api_url}/app/strategies/{big}#access_token={token}", screenshot_to
                )
            browser.close()
    return {
        "loads": loads,
        "curve_points": len(performance["equity_curve"]),
        "trades": 1000,
        "first_chart_ms": round(statistics.median(big_ms), 1),
        "first_chart_max_ms": round(max(big_ms), 1),
        "baseline_first_chart_ms": round(statistics.median(small_ms), 1),
        # the two API answers the chart waits for, one after the other, from Python: the server's share
        "api_strategy_and_performance_ms": round(statistics.median(api_ms), 1),
        "builder_50_nodes_ms": round(statistics.median(builder_ms[50]), 1),
        "baseline_builder_3_nodes_ms": round(statistics.median(builder_ms[3]), 1),
        "api_builder_50_nodes_ms": round(statistics.median(builder_api_ms), 1),
        "bundle": bundle_bytes(),
        "builder_bundle": bundle_bytes(lazy=True),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--screenshot", type=Path, help="also save the strategy page as a PNG here")
    args = parser.parse_args()
    print(json.dumps(run(args.loads, args.screenshot), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
