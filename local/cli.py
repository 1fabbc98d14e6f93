"""`autopilot`: a small command-line client for every route of the Autopilot API (local stack or AWS).

The API URL and token come from `--api-url` / `--token` or AUTOPILOT_API_URL / AUTOPILOT_TOKEN. Output is a
readable table by default and the API's JSON with `--json`. An API error prints one line on stderr
(`error: <status> <code>: <message>`) and exits 1; an unreachable API exits 3. Standard library only.
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


def render(kind: str, payload: Any, out: TextIO) -> None:
    if payload is None:
        print("ok", file=out)
        return
    if kind == "strategies":
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
        config: dict[str, Any] = {"paper_bankroll_usd": args.bankroll}
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
            "limit": args.limit,
            "next_token": args.next_token,
        }
        return "executions", client.call("GET", f"/strategies/{sid}/executions", query=query)
    if command == "trades":
        query = {"limit": args.limit, "next_token": args.next_token}
        return "trades", client.call("GET", f"/strategies/{sid}/trades", query=query)
    if command == "portfolio":
        return "portfolio", client.call("GET", f"/strategies/{sid}/portfolio")
    if command == "performance":
        return "performance", client.call("GET", f"/strategies/{sid}/performance")
    if command in ACCOUNT_COMMANDS:
        return account_command(args, client)
    if command == "token":
        return "token", client.call(
            "GET", "/_local/token", query={"user": args.user, "hours": args.hours}, auth=False
        )
    raise SystemExit(f"unknown command {command}")


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
    deploy.add_argument("--bankroll", required=True, help="paper bankroll in USD (100..1000000)")
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
    trades = commands.add_parser("trades", parents=[common, page], help="paper trades, newest first")
    trades.add_argument("id")
    for name in ("portfolio", "performance"):
        commands.add_parser(name, parents=[common]).add_argument("id")
    add_account_commands(commands, common)
    token = commands.add_parser("token", parents=[common], help="a development token (local stack only)")
    token.add_argument("user")
    token.add_argument("--hours", type=float)
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
        kind, payload = run_command(args, Client(api_url, token))
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
