"""Account-wide benchmark (issue 14): GET /portfolio for a user with many strategies and open positions on
the local stack, and the extra DynamoDB requests per run that the shared limits cost.

1. GET /portfolio: the local stack (moto_server, gateway with JWTs, control API in-process), a user with
   `strategies` strategies holding `positions` open positions in all, kept as the stream keeps them (one
   summary per strategy with its exposures). p50/p99 from a second process; baseline in the same run: the
   gateway's own GET /_local/token (no function invoked).
2. DynamoDB requests per run: one cron invocation over `runs` due strategies (moto_server + recorded
   markets), once with no limits and once with limits set for their owners (caps large enough to cut
   nothing, so both runs trade the same); the difference per run is what the limits cost.

`python -m bench.account_bench [--strategies 100 --positions 5000]`; `run()` returns the figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
USER = "bench-user"


def seed_summaries(strategies: int, positions: int) -> None:
    """The user's summaries as the stream writes them: positions spread evenly, markets shared in part."""
    from engine.models.account_view import StrategySummary
    from engine.storage.account_view import AccountViewRepository

    views = AccountViewRepository()
    per_strategy = max(1, positions // strategies)
    for i in range(strategies):
        markets = {f"m{(i * 7 + k) % (positions // 2 or 1)}": Decimal("12.5") for k in range(per_strategy)}
        summary = StrategySummary(
            strategy_id=f"s-{i:04d}",
            strategy_name=f"bench {i}",
            epoch=0,
            bankroll_usd=Decimal(1000),
            equity_usd=Decimal(1000) + i,
            cash_usd=Decimal(1000) - sum(markets.values()),
            realized_pnl_usd=Decimal(0),
            unrealized_pnl_usd=Decimal(i),
            total_pnl_usd=Decimal(i),
            open_positions_count=per_strategy,
            exposure_by_market=markets,
            exposure_by_event={f"e{k % 40}": Decimal(25) for k in range(per_strategy)},
            exposure_by_tag={"Politics": sum(markets.values())},
            market_questions={m: f"Will {m} happen?" for m in markets},
            as_of=NOW,
        )
        views.put_summary(USER, summary)


def portfolio_latency(strategies: int, positions: int, requests: int) -> dict[str, Any]:
    from bench.api_latency_bench import _request, load_from_second_process
    from local.stack import LocalStack, StackConfig, handler_output

    with (
        tempfile.TemporaryDirectory(prefix="account-bench-") as state,
        LocalStack(StackConfig(prefix="acctbench", driven=True, state_dir=Path(state))) as stack,
    ):
        url = stack.api_url
        token = _request(f"{url}/_local/token?user={USER}")["token"]
        with handler_output(Path(state) / "handlers.log"):
            seed_summaries(strategies, positions)
            answer = _request(f"{url}/portfolio", token=token)
            assert answer["paper"]["strategies_count"] == strategies, answer["paper"]["strategies_count"]
            plan = {"url": url, "clients": 1, "requests": requests, "time_limit": 300.0}
            load_from_second_process({**plan, "requests": 5, "paths": ["/portfolio"], "token": token})
            baseline = load_from_second_process({**plan, "paths": ["/_local/token?user=bench-load"]})
            api = load_from_second_process({**plan, "paths": ["/portfolio"], "token": token})
    return {
        "strategies": strategies,
        "positions": positions,
        "open_positions_shown": answer["paper"]["open_positions_count"],
        "portfolio": api,
        "baseline_token_endpoint": baseline,
    }


def requests_per_run(runs: int) -> dict[str, Any]:
    """DynamoDB requests per run of one cron invocation, without and with shared limits."""
    from bench.tick_bench import fresh_tables, seed, stack
    from engine.models.risk import RiskLimits
    from engine.storage.dynamo import RequestCounter, get_clients
    from engine.storage.risk import RiskRepository
    from functions.cron_executor import app
    from tests.support.lambda_context import lambda_context, scheduled_event

    figures: dict[str, Any] = {}
    with stack(8) as (endpoint, _market):
        for label, limited in (("without_limits", False), ("with_limits", True)):
            fresh_tables(endpoint, f"acct-{label[:4]}-{int(time.time() * 1000) % 100000}")
            ids = seed(runs)
            if limited:
                from engine.storage.strategies import StrategyRepository

                owners = {s.created_by for s in (StrategyRepository().find(i) for i in ids) if s}
                risk = RiskRepository()
                for owner in owners:
                    # caps that cut nothing: both passes trade the same, so the difference is the limits'
                    risk.put_limits(owner, RiskLimits(max_market_exposure_usd=Decimal(10**9)), now=NOW)
                    risk.recount_exposure(owner, [])
                risk.set_guard(ids, "UTC")
            app._provider = None
            with RequestCounter(get_clients().dynamodb) as counter:
                report = app.lambda_handler(scheduled_event(NOW + timedelta(seconds=1)), lambda_context(900))
            assert report["executed"] == runs, report
            figures[label] = {
                "runs": runs,
                "requests": counter.total,
                "requests_per_run": round(counter.total / runs, 3),
                "by_operation": dict(sorted(counter.counts.items())),
            }
    figures["extra_requests_per_run"] = round(
        figures["with_limits"]["requests_per_run"] - figures["without_limits"]["requests_per_run"], 3
    )
    return figures


def run(strategies: int = 100, positions: int = 5000, requests: int = 60, runs: int = 40) -> dict[str, Any]:
    return {
        "latency": portfolio_latency(strategies, positions, requests),
        "limits": requests_per_run(runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strategies", type=int, default=100)
    parser.add_argument("--positions", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    print(json.dumps(run(args.strategies, args.positions, args.requests, args.runs), indent=2, default=str))


if __name__ == "__main__":
    main()
