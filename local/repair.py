"""`python -m local.repair STRATEGY_ID`: rebuild a strategy's portfolio from its trade ledger.

The repair replays every trade of the strategy's current epoch from its bankroll (`ledger.replay`, the same
arithmetic the stream uses), values the positions at the latest marks, and overwrites the stored state and
read model; it adds one equity point and copies the P&L onto the strategy. Running it again changes nothing.

Where the tables are:
- deployed: `--stack NAME` reads the stack's outputs (StrategiesTableName, TradesTableName,
  PortfoliosTableName) with your normal AWS credentials; or set STRATEGIES_TABLE, TRADES_TABLE and
  PORTFOLIOS_TABLE yourself.
- the local stack: `--endpoint-url http://127.0.0.1:5050` (its moto) and `--prefix` (default
  AUTOPILOT_PREFIX or `autopilot-local`); fake credentials are filled in when none are set.

Exit codes: 0 rebuilt, 1 the strategy has no account or its ledger cannot be replayed, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from engine.clock import utc_now
from engine.errors import DomainError, StrategyNotFound
from engine.ledger import LedgerError
from engine.models.portfolio import Portfolio
from engine.services.portfolio_stream import PortfolioStores, rebuild_portfolio
from engine.settings import Settings
from engine.storage.dynamo import get_clients

EXIT_FAILED = 1
DEFAULT_PREFIX = "autopilot-local"
TABLE_VARIABLES = {
    "STRATEGIES_TABLE": "StrategiesTable",
    "TRADES_TABLE": "TradesTable",
    "PORTFOLIOS_TABLE": "PortfoliosTable",
}
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    # botocore >= 1.44.4 asks an account-id endpoint moto does not serve (TOOLING.md)
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local.repair",
        description="Rebuild a strategy's portfolio from its trade ledger (replay from the bankroll).",
    )
    parser.add_argument("strategy_id")
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint (the local stack's moto); default: AWS")
    parser.add_argument(
        "--prefix",
        default=os.environ.get("AUTOPILOT_PREFIX", DEFAULT_PREFIX),
        help="local stack resource prefix (with --endpoint-url)",
    )
    parser.add_argument("--stack", help="a deployed stack's name: table names from its outputs")
    parser.add_argument("--region", help="AWS region (default: your configuration)")
    parser.add_argument("--json", action="store_true", help="print the rebuilt portfolio as JSON")
    return parser


def stack_tables(stack: str, region: str | None) -> dict[str, str]:
    """The table environment variables from a deployed stack's outputs."""
    import boto3  # only this path talks to CloudFormation

    outputs = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack)["Stacks"][0]
    by_key = {o["OutputKey"]: o["OutputValue"] for o in outputs.get("Outputs", [])}
    return {variable: by_key[f"{logical}Name"] for variable, logical in TABLE_VARIABLES.items()}


def settings_for(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """Settings naming the tables to repair (see the module docstring)."""
    values: dict[str, Any] = dict(environ)
    if args.stack:
        values.update(stack_tables(args.stack, args.region))
    elif args.endpoint_url and not all(v in environ for v in TABLE_VARIABLES):
        values.update({variable: f"{args.prefix}-{logical}" for variable, logical in TABLE_VARIABLES.items()})
    if args.endpoint_url:
        values["DYNAMODB_ENDPOINT_URL"] = args.endpoint_url
    return Settings.model_validate(values)


def _summary(portfolio: Portfolio, *, out: TextIO) -> None:
    rows = [
        ("strategy", portfolio.strategy_id),
        ("bankroll", f"{portfolio.bankroll_usd:.2f}"),
        ("cash", f"{portfolio.cash_usd:.2f}"),
        ("equity", f"{portfolio.equity_usd:.2f}"),
        ("realized P&L", f"{portfolio.realized_pnl_usd:.2f}"),
        ("unrealized P&L", f"{portfolio.unrealized_pnl_usd:.2f}"),
        ("total P&L", f"{portfolio.total_pnl_usd:.2f}"),
        ("open positions", str(portfolio.open_positions_count)),
        ("wins / losses", f"{portfolio.wins} / {portfolio.losses}"),
    ]
    out.write("portfolio rebuilt from the ledger\n")
    for label, value in rows:
        out.write(f"  {label:<15} {value}\n")


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = _parser().parse_args(argv)
    if environ is None:
        if args.endpoint_url:
            for key, value in LOCAL_CREDENTIALS.items():
                os.environ.setdefault(key, value)
        environ = os.environ
    if args.region:
        os.environ["AWS_DEFAULT_REGION"] = args.region
    stores = PortfolioStores.default(get_clients(settings_for(args, environ)))
    try:
        portfolio = rebuild_portfolio(args.strategy_id, now=utc_now(), stores=stores)
    except StrategyNotFound as exc:
        err.write(f"error: {exc.message}\n")
        return EXIT_FAILED
    except LedgerError as exc:
        err.write(f"error: the ledger cannot be replayed: {exc}\n")
        return EXIT_FAILED
    except DomainError as exc:
        err.write(f"error: {exc.message}\n")
        return EXIT_FAILED
    if args.json:
        out.write(json.dumps(portfolio.model_dump(mode="json"), indent=2) + "\n")
    else:
        _summary(portfolio, out=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
