"""`autopilot`: a small command-line client for every route of the Autopilot API (local stack or AWS).

The API URL and token come from `--api-url` / `--token` or AUTOPILOT_API_URL / AUTOPILOT_TOKEN (a deployed
stack's token from `autopilot login`). Output is a readable table by default and the API's JSON with `--json`.
An API error prints one line on stderr (`error: <status> <code>: <message>`) and exits 1; an unreachable API
exits 3. Standard library only, except `login` (pycognito's SRP, imported when signing in).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

try:  # as a package (tests, `python -m local.cli`) or as a script next to cli_history.py
    from local import cli_history, cli_login
except ImportError:  # pragma: no cover
    import cli_history  # type: ignore[no-redef]
    import cli_login  # type: ignore[no-redef]

DEFAULT_API_URL = "http://127.0.0.1:8080"
EXIT_API_ERROR = 1
EXIT_UNREACHABLE = 3


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.request_id = status, code, message, request_id

    def line(self) -> str:
        suffix = f" (request {self.request_id})" if self.request_id else ""
        return f"error: {self.status} {self.code}: {self.message}{suffix}"


class Unreachable(Exception):
    pass


class Client:
    """The API over urllib: JSON in, JSON out, errors as ApiError."""

    def __init__(self, api_url: str, token: str | None, *, timeout: float = 35.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Any:
        params = {k: v for k, v in (query or {}).items() if v is not None}
        url = self.api_url + path + (f"?{urllib.parse.urlencode(params)}" if params else "")
        sent = {"accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["content-type"] = "application/json"
        if auth and self.token:
            sent["authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as exc:
            raise _api_error(exc.code, exc.read(), exc.headers.get("apigw-requestid")) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unreachable(f"cannot reach the API at {self.api_url}: {reason}") from None
        return json.loads(raw) if raw.strip() else None


def _api_error(status: int, raw: bytes, gateway_request_id: str | None) -> ApiError:
    try:
        payload = json.loads(raw)
    except ValueError:
        return ApiError(status, "http_error", raw.decode(errors="replace").strip()[:200] or "no body")
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        error = payload["error"]
        message = str(error.get("message", ""))
        details = error.get("details")
        if details:
            message += f" {json.dumps(details, separators=(',', ':'))}"
        return ApiError(status, str(error.get("code", "error")), message, error.get("request_id"))
    if isinstance(payload, dict) and "message" in payload:  # the gateway's own answers (401, 404)
        return ApiError(
            status,
            str(payload["message"]).lower().replace(" ", "_"),
            str(payload["message"]),
            gateway_request_id,
        )
    return ApiError(status, "http_error", json.dumps(payload)[:200], gateway_request_id)


# -- rendering


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))[:60]
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], out: TextIO) -> None:
    """A plain aligned table; `columns` are (header, key) pairs."""
    if not rows:
        print("(none)", file=out)
        return
    cells = [[_cell(row.get(key)) for _, key in columns] for row in rows]
    widths = [max(len(header), *(len(c[i]) for c in cells)) for i, (header, _) in enumerate(columns)]
    print("  ".join(h.ljust(w) for (h, _), w in zip(columns, widths, strict=True)).rstrip(), file=out)
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


def key_values(item: dict[str, Any], out: TextIO, keys: Sequence[str] | None = None) -> None:
    shown = [k for k in (keys or list(item)) if k in item and not isinstance(item[k], list | dict)]
    width = max((len(k) for k in shown), default=0)
    for key in shown:
        print(f"{key.ljust(width)}  {_cell(item[key])}", file=out)


STRATEGY_COLUMNS = [
    ("ID", "strategy_id"),
    ("NAME", "strategy_name"),
    ("STATUS", "status"),
    ("FREQ", "frequency"),
    ("CRON", "schedule_cron"),
    ("BANKROLL", "paper_bankroll_usd"),
    ("P&L", "paper_pnl_usd"),
    ("RUNS", "total_executions"),
    ("LAST", "last_execution_status"),
    ("NEXT", "next_execution_at"),
]
EXECUTION_COLUMNS = [
    ("SCHEDULED_FOR", "scheduled_for"),
    ("STATUS", "status"),
    ("TRIGGER", "trigger"),
    ("MS", "execution_time_ms"),
    ("NODES", "nodes_executed"),
    ("TRADES", "trades_created"),
    ("ERROR", "error_code"),
]
TRADE_COLUMNS = [
    ("CREATED_AT", "created_at"),
    ("SIDE", "side"),
    ("OUTCOME", "outcome_label"),
    ("SHARES", "shares"),
    ("PRICE", "price"),
    ("NOTIONAL", "notional_usd"),
    ("FEE", "fee_usd"),
    ("REASON", "reason"),
    ("MARKET", "market_id"),
]
POSITION_COLUMNS = [
    ("MARKET", "market_id"),
    ("OUTCOME", "outcome_label"),
    ("SHARES", "shares"),
    ("AVG", "avg_price"),
    ("MARK", "mark_price"),
    ("VALUE", "value_usd"),
    ("UNREALIZED", "unrealized_pnl_usd"),
    ("STATUS", "status"),
    ("QUESTION", "question"),
]
NODE_TYPE_COLUMNS = [
    ("TYPE", "type"),
    ("CATEGORY", "category"),
    ("INPUTS", "inputs"),
    ("HANDLES", "handles"),
    ("TITLE", "title"),
]
FINDING_COLUMNS = [("LEVEL", "level"), ("CODE", "code"), ("NODE", "node_id"), ("MESSAGE", "message")]
PREVIEW_NODE_COLUMNS = [
    ("NODE", "node_id"),
    ("TYPE", "type"),
    ("RECEIVED", "received"),
    ("KEPT", "kept"),
    ("MS", "duration_ms"),
]
PREVIEW_ORDER_COLUMNS = [
    ("SIDE", "side"),
    ("OUTCOME", "outcome_label"),
    ("USD", "usd"),
    ("SHARES", "shares"),
    ("REASON", "reason"),
    ("MARKET", "market_id"),
    ("QUESTION", "question"),
]
PORTFOLIO_KEYS = [
    "strategy_id",
    "bankroll_usd",
    "cash_usd",
    "positions_value_usd",
    "equity_usd",
    "realized_pnl_usd",
    "unrealized_pnl_usd",
    "total_pnl_usd",
    "roi_pct",
    "win_rate",
    "wins",
    "losses",
    "fees_paid_usd",
    "open_positions_count",
    "updated_at",
]


BACKTEST_COLUMNS = [
    ("ID", "backtest_id"),
    ("STATUS", "status"),
    ("PROGRESS", "progress"),
    ("START", "start"),
    ("END", "end"),
    ("FREQ", "frequency"),
    ("SLOTS", "slots_total"),
    ("TRADES", "trades_count"),
]
BACKTEST_KEYS = [
    "backtest_id",
    "strategy_id",
    "graph_version",
    "status",
    "progress",
    "start",
    "end",
    "frequency",
    "schedule_cron",
    "timezone",
    "slots_total",
    "slots_done",
    "paper_bankroll_usd",
    "trades_count",
    "history_requests",
    "error_code",
    "error_message",
]
# the metrics shown side by side for a backtest and a live run (DESIGN 9's comparison)
METRIC_ROWS = [
    ("equity (USD)", "equity_usd"),
    ("total profit (USD)", "total_profit_usd"),
    ("total profit (%)", "total_profit_pct"),
    ("ledger trades", "ledger_trades_count"),
    ("closed positions", "closed_trades_count"),
    ("open positions", "open_positions_count"),
    ("win rate", "win_rate"),
    ("max drawdown (USD)", "max_drawdown_usd"),
    ("max drawdown (rel.)", "max_drawdown_relative"),
    ("fees (USD)", "fees_paid_usd"),
]


def metrics_table(columns: Sequence[tuple[str, dict[str, Any] | None]], out: TextIO) -> None:
    """Performance documents side by side: one row per metric, one column per document."""
    rows = [
        {"metric": label, **{name: (doc or {}).get(key) for name, doc in columns}}
        for label, key in METRIC_ROWS
    ]
    table(rows, [("METRIC", "metric"), *((name.upper(), name) for name, _ in columns)], out)


def render(kind: str, payload: Any, out: TextIO) -> None:
    if payload is None:
        print("ok", file=out)
        return
    if cli_history.render(kind, payload, out):
        return
    if kind == "backtests":
        table(payload.get("items", []), BACKTEST_COLUMNS, out)
    elif kind == "backtest":
        key_values(payload, out, BACKTEST_KEYS)
        for warning in payload.get("warnings") or []:
            print(f"warning: {warning.get('code')}: {warning.get('message')}", file=out)
        if payload.get("data_fidelity"):
            print(f"data_fidelity  {_cell(payload['data_fidelity'])}", file=out)
        if payload.get("performance"):
            print("", file=out)
            metrics_table([("backtest", payload["performance"])], out)
    elif kind == "comparison":
        print(
            f"{payload['start']} .. {payload['end']}  "
            f"same graph version: {_cell(payload['same_graph_version'])}",
            file=out,
        )
        metrics_table([("backtest", payload.get("backtest")), ("live", payload.get("live"))], out)
    elif kind == "strategies":
        table(payload.get("items", []), STRATEGY_COLUMNS, out)
    elif kind == "executions":
        table(payload.get("items", []), EXECUTION_COLUMNS, out)
    elif kind == "trades":
        table(payload.get("items", []), TRADE_COLUMNS, out)
    elif kind == "portfolio":
        key_values(payload, out, PORTFOLIO_KEYS)
        print("", file=out)
        table(payload.get("positions", []), POSITION_COLUMNS, out)
    elif kind == "token":
        print(payload.get("token", ""), file=out)
        return
    elif kind == "node-types":
        rows = [
            {
                **item,
                "inputs": f"{item['inputs']['min']}..{_or_any(item['inputs']['max'])}",
                "handles": ", ".join(item.get("handles", [])),
            }
            for item in payload.get("items", [])
        ]
        table(rows, NODE_TYPE_COLUMNS, out)
        return
    elif kind == "validate":
        key_values({"valid": payload.get("valid"), "deployable": payload.get("deployable")}, out)
        if payload.get("errors"):
            print("", file=out)
            table(payload["errors"], FINDING_COLUMNS, out)
        return
    elif kind == "preview":
        print(f"nodes ({len(payload.get('nodes', []))})", file=out)
        table(payload.get("nodes", []), PREVIEW_NODE_COLUMNS, out)
        print(f"\norders ({len(payload.get('orders', []))})", file=out)
        table(payload.get("orders", []), PREVIEW_ORDER_COLUMNS, out)
        for warning in payload.get("warnings", []):
            print(f"warning: {warning}", file=out)
    elif kind == "webhook":
        key_values(payload, out)
        print(
            f"\nKeep webhook_secret now: it is shown only this once. Each request carries "
            f'{payload.get("signature_header")}: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">.',
            file=out,
        )
        return
    elif isinstance(payload, dict):
        key_values(payload, out)
        for key, value in payload.items():
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                print(f"\n{key} ({len(value)})", file=out)
                columns = [(k.upper(), k) for k in list(value[0])[:8]]
                table(value[-10:], columns, out)
            elif isinstance(value, list):
                print(f"{key}  {', '.join(_cell(v) for v in value)}", file=out)
            elif isinstance(value, dict):
                print(f"\n{key}", file=out)
                key_values(value, out)
    else:
        print(json.dumps(payload, indent=2), file=out)
    next_token = payload.get("next_token") if isinstance(payload, dict) else None
    if next_token:
        print(f"\nmore: --next-token {next_token}", file=out)


# -- commands


def _or_any(value: Any) -> str:
    return "any" if value is None else str(value)


def _read_json(path: str) -> Any:
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    return json.loads(text)


def _strategy_body(document: Any, name: str | None, description: str | None, path: str) -> dict[str, Any]:
    """A file holds either a whole create body or just a graph ({"nodes", "edges"})."""
    if isinstance(document, dict) and "node_graph" in document:
        body = dict(document)
    else:
        body = {"node_graph": document, "strategy_name": Path(path).stem.replace("_", " ")}
    if name:
        body["strategy_name"] = name
    if description is not None:
        body["strategy_description"] = description
    return body


def _post_headers(args: argparse.Namespace) -> dict[str, str]:
    key = getattr(args, "idempotency_key", None)
    return {"idempotency-key": key} if key else {}


def _if_match(args: argparse.Namespace) -> dict[str, str]:
    version = getattr(args, "if_match", None)
    return {"if-match": str(version)} if version is not None else {}


# -- account-wide commands (issue 14)

ACCOUNT_COMMANDS = ("portfolio-all", "portfolio-performance", "compare", "risk-limits", "kill-switch")
LIMIT_OPTIONS = {
    "max_total": "max_total_exposure_usd",
    "max_market": "max_market_exposure_usd",
    "max_event": "max_event_exposure_usd",
    "daily_loss_stop": "daily_loss_stop_usd",
    "max_drawdown_pct": "max_drawdown_pct",
}


def add_account_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    commands.add_parser(
        "portfolio-all", parents=[common], help="every strategy together, paper and live apart"
    )
    commands.add_parser(
        "portfolio-performance", parents=[common], help="combined hourly curve, time-weighted metrics"
    )
    compare = commands.add_parser("compare", parents=[common], help="2 to 10 strategies side by side")
    compare.add_argument("ids", nargs="+")
    limits = commands.add_parser("risk-limits", parents=[common], help="show, or set, the shared limits")
    limits.add_argument("action", choices=("get", "set"), nargs="?", default="get")
    for option in LIMIT_OPTIONS:
        limits.add_argument("--" + option.replace("_", "-"), type=float, dest=option)
    limits.add_argument("--timezone")
    kill = commands.add_parser("kill-switch", parents=[common], help="halt, exits_only, or release")
    kill.add_argument("mode", choices=("halt", "exits_only", "release"))


def account_command(args: argparse.Namespace, client: Client) -> tuple[str, Any]:
    command = args.command
    if command == "portfolio-all":
        return "account", client.call("GET", "/portfolio")
    if command == "portfolio-performance":
        return "account", client.call("GET", "/portfolio/performance")
    if command == "compare":
        return "account", client.call("GET", "/strategies/compare", query={"ids": ",".join(args.ids)})
    if command == "risk-limits":
        if args.action == "get":
            return "account", client.call("GET", "/risk-limits")
        body: dict[str, Any] = {
            field: getattr(args, option)
            for option, field in LIMIT_OPTIONS.items()
            if getattr(args, option) is not None
        }
        if args.timezone:
            body["timezone"] = args.timezone
        return "account", client.call("PUT", "/risk-limits", body=body)
    if args.mode == "release":
        return "account", client.call("DELETE", "/kill-switch")
    return "account", client.call("POST", "/kill-switch", body={"mode": args.mode})


def run_command(args: argparse.Namespace, client: Client) -> tuple[str, Any]:
    """Calls the route a parsed command names; returns (rendering kind, payload)."""
    command = args.command
    sid = urllib.parse.quote(getattr(args, "id", "") or "", safe="")
    if command in cli_history.COMMANDS:
        return cli_history.run(args, client, _post_headers(args))
    if command == "strategies":
        action = args.action
        if action == "list":
            return "strategies", client.call(
                "GET", "/strategies", query={"limit": args.limit, "next_token": args.next_token}
            )
        if action == "get":
            return "strategy", client.call("GET", f"/strategies/{sid}")
        if action == "create":
            body = _strategy_body(_read_json(args.file), args.name, args.description, args.file)
            return "strategy", client.call("POST", "/strategies", body=body, headers=_post_headers(args))
        if action == "patch":
            patch: dict[str, Any] = {}
            if args.name:
                patch["strategy_name"] = args.name
            if args.description is not None:
                patch["strategy_description"] = args.description
            if args.file:
                document = _read_json(args.file)
                patch["node_graph"] = (
                    document.get("node_graph", document) if isinstance(document, dict) else document
                )
            return "strategy", client.call("PATCH", f"/strategies/{sid}", body=patch, headers=_if_match(args))
        if action == "delete":
            client.call("DELETE", f"/strategies/{sid}")
            return "deleted", None
    if command == "deploy":
        config: dict[str, Any] = {}
        if args.bankroll is not None:  # an alert strategy (NOTIFY only) deploys without one
            config["paper_bankroll_usd"] = args.bankroll
        if args.cron:
            config["schedule_cron"] = args.cron
        else:
            config["frequency"] = args.frequency
        if args.timezone:
            config["timezone"] = args.timezone
        if args.auto_start:
            config["auto_start"] = True
        if args.max_consecutive_failures is not None:
            config["max_consecutive_failures"] = args.max_consecutive_failures
        headers = {**_post_headers(args), **_if_match(args)}
        return "strategy", client.call("POST", f"/strategies/{sid}/deploy", body=config, headers=headers)
    if command in ("start", "pause", "stop", "resume", "run"):
        kind = "execution" if command == "run" else "strategy"
        return kind, client.call("POST", f"/strategies/{sid}/{command}", headers=_post_headers(args))
    if command == "executions":
        query = {
            "status": args.status,
            "since": args.since,
            "deployment_id": args.deployment,
            "limit": args.limit,
            "next_token": args.next_token,
        }
        return "executions", client.call("GET", f"/strategies/{sid}/executions", query=query)
    if command == "trades":
        query = {"limit": args.limit, "next_token": args.next_token, "deployment_id": args.deployment}
        return "trades", client.call("GET", f"/strategies/{sid}/trades", query=query)
    if command == "portfolio":
        return "portfolio", client.call("GET", f"/strategies/{sid}/portfolio")
    if command == "performance":
        return "performance", client.call("GET", f"/strategies/{sid}/performance")
    if command == "node-types":
        return "node-types", client.call("GET", "/node-types")
    if command in ("validate", "preview"):
        document = _read_json(args.file)
        graph = document.get("node_graph", document) if isinstance(document, dict) else document
        request: dict[str, Any] = {"node_graph": graph}
        if command == "preview" and args.bankroll is not None:
            request["paper_bankroll_usd"] = args.bankroll
        return command, client.call("POST", f"/strategies/{command}", body=request)
    if command == "notifications":
        if args.action == "set":
            body = {"webhook_url": args.webhook_url}
            return "webhook", client.call("PUT", "/notification-settings", body=body)
        if args.action == "show":
            return "notifications", client.call("GET", "/notification-settings")
        client.call("DELETE", "/notification-settings")
        return "deleted", None
    if command == "backtest":
        return _backtest_command(args, client)
    if command in ACCOUNT_COMMANDS:
        return account_command(args, client)
    if command == "token":
        return "token", client.call(
            "GET", "/_local/token", query={"user": args.user, "hours": args.hours}, auth=False
        )
    raise SystemExit(f"unknown command {command}")


def _backtest_command(args: argparse.Namespace, client: Client) -> tuple[str, Any]:
    action = args.action
    target = urllib.parse.quote(getattr(args, "id", "") or "", safe="")
    if action == "start":
        body: dict[str, Any] = {"start": args.start, "end": args.end, "paper_bankroll_usd": args.bankroll}
        if args.cron:
            body["schedule_cron"] = args.cron
        else:
            body["frequency"] = args.frequency
        if args.timezone:
            body["timezone"] = args.timezone
        if args.allow_proxies:
            body["allow_proxies"] = True
        fill = {
            k: v
            for k, v in (
                ("half_spread_bps", args.half_spread_bps),
                ("slippage_bps", args.slippage_bps),
                ("fees", args.fees),
            )
            if v is not None
        }
        if fill:
            body["fill_model"] = fill
        if args.file:
            document = _read_json(args.file)
            body["node_graph"] = (
                document.get("node_graph", document) if isinstance(document, dict) else document
            )
            return "backtest", client.call("POST", "/backtests", body=body)
        if not target:
            raise ValueError("give a strategy id or --file with a node graph")
        return "backtest", client.call("POST", f"/strategies/{target}/backtests", body=body)
    if action == "get":
        return "backtest", client.call("GET", f"/backtests/{target}")
    if action == "list":
        query = {"limit": args.limit, "next_token": args.next_token}
        return "backtests", client.call("GET", f"/strategies/{target}/backtests", query=query)
    if action in ("trades", "executions"):
        query = {"limit": args.limit, "next_token": args.next_token}
        kind = "trades" if action == "trades" else "executions"
        return kind, client.call("GET", f"/backtests/{target}/{action}", query=query)
    if action == "delete":
        return "backtest", client.call("DELETE", f"/backtests/{target}")
    if action == "compare":
        backtest = urllib.parse.quote(args.backtest_id, safe="")
        return "comparison", client.call("GET", f"/strategies/{target}/backtests/{backtest}/comparison")
    raise SystemExit(f"unknown backtest action {action}")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: an option given after the subcommand does not overwrite one given before it with a default
    common.add_argument("--api-url", default=argparse.SUPPRESS, help="API base URL (AUTOPILOT_API_URL)")
    common.add_argument("--token", default=argparse.SUPPRESS, help="bearer token (AUTOPILOT_TOKEN)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the API's JSON")
    post = argparse.ArgumentParser(add_help=False)
    post.add_argument("--idempotency-key", help="retrying with the same key returns the first answer")
    page = argparse.ArgumentParser(add_help=False)
    page.add_argument("--limit", type=int)
    page.add_argument("--next-token")

    parser = argparse.ArgumentParser(
        prog="autopilot",
        description=__doc__,
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    strategies = commands.add_parser("strategies", help="list, get, create, patch, delete", parents=[common])
    actions = strategies.add_subparsers(dest="action", required=True)
    actions.add_parser("list", parents=[common, page], help="your strategies, newest first")
    get = actions.add_parser("get", parents=[common])
    get.add_argument("id")
    create = actions.add_parser("create", parents=[common, post], help="from a JSON file (a body or a graph)")
    create.add_argument("--file", required=True, help="JSON file, or - for stdin")
    create.add_argument("--name")
    create.add_argument("--description")
    patch = actions.add_parser("patch", parents=[common])
    patch.add_argument("id")
    patch.add_argument("--name")
    patch.add_argument("--description")
    patch.add_argument("--file", help="a new node graph")
    patch.add_argument("--if-match", type=int, help="the strategy's version")
    delete = actions.add_parser("delete", parents=[common])
    delete.add_argument("id")

    deploy = commands.add_parser("deploy", parents=[common, post], help="deploy with a schedule and bankroll")
    deploy.add_argument("id")
    deploy.add_argument(
        "--bankroll",
        help="paper bankroll in USD (100..1000000); leave out for an alert strategy (NOTIFY only)",
    )
    deploy.add_argument("--frequency", default="5m", choices=["1m", "5m", "15m", "30m", "1h"])
    deploy.add_argument("--cron", help="five-field cron expression instead of --frequency")
    deploy.add_argument("--timezone", help="IANA zone for the schedule (default UTC)")
    deploy.add_argument("--auto-start", action="store_true")
    deploy.add_argument("--max-consecutive-failures", type=int)
    deploy.add_argument("--if-match", type=int, help="the strategy's version")
    for name, text in (
        ("start", "start a deployed strategy"),
        ("pause", "pause"),
        ("stop", "stop"),
        ("resume", "resume a paused strategy"),
        ("run", "run once now (manual)"),
    ):
        action = commands.add_parser(name, parents=[common, post], help=text)
        action.add_argument("id")
    executions = commands.add_parser(
        "executions", parents=[common, page], help="execution logs, newest first"
    )
    executions.add_argument("id")
    executions.add_argument("--status", choices=["completed", "failed", "timeout", "skipped"])
    executions.add_argument("--since", help="RFC 3339 time")
    executions.add_argument("--deployment", help="only this deployment's logs")
    trades = commands.add_parser("trades", parents=[common, page], help="paper trades, newest first")
    trades.add_argument("id")
    trades.add_argument("--deployment", help="only this deployment's trades")
    cli_history.add_parsers(commands, common, post, page)
    for name in ("portfolio", "performance"):
        commands.add_parser(name, parents=[common]).add_argument("id")
    commands.add_parser("node-types", parents=[common], help="the node catalogue: every node type")
    validate = commands.add_parser("validate", parents=[common], help="check a graph for save and deploy")
    validate.add_argument("file", help="a JSON file: a graph, or a body with node_graph ('-' for stdin)")
    preview = commands.add_parser(
        "preview", parents=[common], help="one dry run of a graph on current market data (writes nothing)"
    )
    preview.add_argument("file", help="a JSON file: a graph, or a body with node_graph ('-' for stdin)")
    preview.add_argument("--bankroll", type=float, help="the empty account's paper bankroll (default 1000)")
    notifications = commands.add_parser(
        "notifications", parents=[common], help="your webhook for NOTIFY's alerts: set, show, delete"
    )
    notification_actions = notifications.add_subparsers(dest="action", required=True)
    set_hook = notification_actions.add_parser(
        "set", parents=[common], help="register (or replace) the webhook; prints a new secret, once"
    )
    set_hook.add_argument("webhook_url", help="https URL that receives the alerts")
    notification_actions.add_parser("show", parents=[common], help="the webhook (never the secret)")
    notification_actions.add_parser("delete", parents=[common], help="remove the webhook")
    backtest = commands.add_parser("backtest", parents=[common], help="backtest over the past, and compare")
    bt = backtest.add_subparsers(dest="action", required=True)
    bt_start = bt.add_parser("start", parents=[common], help="a strategy's (id) or a graph's (--file)")
    bt_start.add_argument("id", nargs="?", default="")
    bt_start.add_argument("--file", help="an unsaved node graph (JSON) instead of a strategy id")
    bt_start.add_argument("--start", required=True, help="RFC 3339 time")
    bt_start.add_argument("--end", required=True, help="RFC 3339 time (at most now)")
    bt_start.add_argument("--bankroll", required=True, help="paper bankroll in USD")
    bt_start.add_argument("--frequency", default="1h", choices=["1m", "5m", "15m", "30m", "1h"])
    bt_start.add_argument("--cron", help="five-field cron expression instead of --frequency")
    bt_start.add_argument("--timezone")
    bt_start.add_argument("--allow-proxies", action="store_true", help="let today's values stand in")
    bt_start.add_argument("--half-spread-bps", type=float)
    bt_start.add_argument("--slippage-bps", type=float)
    bt_start.add_argument("--fees", choices=["market", "none"])
    for name, text in (("get", "status, progress and results"), ("delete", "cancel, or delete when done")):
        bt.add_parser(name, parents=[common], help=text).add_argument("id")
    bt_list = bt.add_parser("list", parents=[common, page], help="a strategy's backtests")
    bt_list.add_argument("id")
    for name in ("trades", "executions"):
        bt.add_parser(name, parents=[common, page]).add_argument("id")
    compare = bt.add_parser("compare", parents=[common], help="live beside a backtest of it")
    compare.add_argument("id", help="the strategy")
    compare.add_argument("backtest_id")
    add_account_commands(commands, common)
    token = commands.add_parser("token", parents=[common], help="a development token (local stack only)")
    token.add_argument("user")
    token.add_argument("--hours", type=float)
    cli_login.add_parser(commands, common)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    environ: dict[str, str] | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    env = os.environ if environ is None else environ
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    api_url = getattr(args, "api_url", None) or env.get("AUTOPILOT_API_URL") or DEFAULT_API_URL
    token = getattr(args, "token", None) or env.get("AUTOPILOT_TOKEN")
    as_json = bool(getattr(args, "json", False))
    if getattr(args, "idempotency_key", None) == "auto":
        args.idempotency_key = str(uuid.uuid4())
    try:
        if args.command == cli_login.COMMAND:
            kind, payload = cli_login.run(args, env)
        else:
            kind, payload = run_command(args, Client(api_url, token))
    except cli_login.LoginFailed as exc:
        print(f"error: {exc}", file=err)
        return exc.exit_code
    except ApiError as exc:
        print(exc.line(), file=err)
        return EXIT_API_ERROR
    except Unreachable as exc:
        print(f"error: {exc}", file=err)
        return EXIT_UNREACHABLE
    except (OSError, ValueError) as exc:  # an unreadable or invalid --file
        print(f"error: {exc}", file=err)
        return EXIT_API_ERROR
    try:
        if as_json:
            print(json.dumps(payload, indent=2), file=out)
        else:
            render(kind, payload, out)
        out.flush()
    except BrokenPipeError:
        # `autopilot ... | head`: the reader left; silence the interpreter's own flush at exit too
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
