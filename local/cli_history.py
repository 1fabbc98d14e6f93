"""`autopilot deployments|versions|events|watchlists ...`: the CLI commands of a strategy's history and of
watchlists (registered on local/cli.py's parser; same Client, same output rules)."""

from __future__ import annotations

import argparse
import urllib.parse
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from local.cli import Client

COMMANDS = ("deployments", "versions", "events", "watchlists")

DEPLOYMENT_COLUMNS = [
    ("DEPLOYMENT", "deployment_id"),
    ("DEPLOYED_AT", "deployed_at"),
    ("BY", "deployed_by"),
    ("BANKROLL", "paper_bankroll_usd"),
    ("FREQ", "frequency"),
    ("CRON", "schedule_cron"),
    ("GRAPHS", "graph_versions"),
    ("ENDED_AT", "ended_at"),
]
VERSION_COLUMNS = [
    ("N", "graph_version"),
    ("CURRENT", "current"),
    ("CREATED_AT", "created_at"),
    ("BY", "created_by"),
    ("SUMMARY", "summary"),
]
EVENT_COLUMNS = [
    ("AT", "at"),
    ("TYPE", "type"),
    ("BY", "actor"),
    ("FROM", "from_status"),
    ("TO", "to_status"),
    ("REASON", "reason"),
    ("GRAPH", "graph_version"),
    ("DEPLOYMENT", "deployment_id"),
]
WATCHLIST_COLUMNS = [
    ("ID", "watchlist_id"),
    ("NAME", "name"),
    ("ITEMS", "items_count"),
    ("CREATED_AT", "created_at"),
]
ITEM_COLUMNS = [
    ("MARKET", "market_id"),
    ("STATUS", "status"),
    ("ADDED_AT", "added_at"),
    ("BY", "added_by"),
    ("REASON", "reason"),
    ("EXPIRES_AT", "expires_at"),
]
TABLES = {
    "deployments": DEPLOYMENT_COLUMNS,
    "versions": VERSION_COLUMNS,
    "events": EVENT_COLUMNS,
    "watchlists": WATCHLIST_COLUMNS,
    "watchlist-items": ITEM_COLUMNS,
}


def add_parsers(
    commands: Any,
    common: argparse.ArgumentParser,
    post: argparse.ArgumentParser,
    page: argparse.ArgumentParser,
) -> None:
    deployments = commands.add_parser("deployments", parents=[common], help="a strategy's deployment records")
    dep = deployments.add_subparsers(dest="action", required=True)
    dep.add_parser("list", parents=[common, page], help="newest first").add_argument("id")
    get = dep.add_parser("get", parents=[common], help="one record with its final summary")
    get.add_argument("id")
    get.add_argument("deployment_id")

    versions = commands.add_parser("versions", parents=[common], help="a strategy's graph versions")
    ver = versions.add_subparsers(dest="action", required=True)
    ver.add_parser("list", parents=[common, page], help="newest first, the current one marked").add_argument(
        "id"
    )
    for name, text in (("get", "one version with its graph"), ("restore", "make version n current again")):
        sub = ver.add_parser(name, parents=[common, post] if name == "restore" else [common], help=text)
        sub.add_argument("id")
        sub.add_argument("n", type=int)
        if name == "restore":
            sub.add_argument("--if-match", type=int, help="the strategy's version")

    events = commands.add_parser("events", parents=[common, page], help="a strategy's activity timeline")
    events.add_argument("id")

    watchlists = commands.add_parser("watchlists", parents=[common], help="your watchlists and their items")
    wl = watchlists.add_subparsers(dest="action", required=True)
    wl.add_parser("list", parents=[common, page], help="newest first")
    wl.add_parser("get", parents=[common]).add_argument("id")
    create = wl.add_parser("create", parents=[common, post])
    create.add_argument("--name", required=True)
    create.add_argument("--description")
    patch = wl.add_parser("patch", parents=[common])
    patch.add_argument("id")
    patch.add_argument("--name")
    patch.add_argument("--description")
    wl.add_parser("delete", parents=[common]).add_argument("id")
    wl.add_parser("items", parents=[common, page], help="the items of a list").add_argument("id")
    add = wl.add_parser("add", parents=[common, post], help="add markets by id or event slug")
    add.add_argument("id")
    add.add_argument("--market", action="append", default=[], help="a market id (repeatable)")
    add.add_argument("--event", action="append", default=[], help="an event slug (repeatable)")
    add.add_argument("--reason")
    add.add_argument("--ttl-hours", type=float)
    remove = wl.add_parser("remove", parents=[common], help="take a market off a list")
    remove.add_argument("id")
    remove.add_argument("market_id")


def _q(value: Any) -> str:
    return urllib.parse.quote(str(value), safe="")


def run(args: argparse.Namespace, client: Client, headers: dict[str, str]) -> tuple[str, Any]:
    """(rendering kind, payload) of a history or watchlist command; `headers` are its POST headers."""
    command, action = args.command, getattr(args, "action", None)
    page = {"limit": getattr(args, "limit", None), "next_token": getattr(args, "next_token", None)}
    sid = _q(getattr(args, "id", "") or "")
    if command == "deployments":
        if action == "list":
            return "deployments", client.call("GET", f"/strategies/{sid}/deployments", query=page)
        return "deployment", client.call("GET", f"/strategies/{sid}/deployments/{_q(args.deployment_id)}")
    if command == "versions":
        if action == "list":
            return "versions", client.call("GET", f"/strategies/{sid}/versions", query=page)
        if action == "get":
            return "version", client.call("GET", f"/strategies/{sid}/versions/{args.n}")
        if args.if_match is not None:
            headers = {**headers, "if-match": str(args.if_match)}
        return "strategy", client.call(
            "POST", f"/strategies/{sid}/versions/{args.n}/restore", headers=headers
        )
    if command == "events":
        return "events", client.call("GET", f"/strategies/{sid}/events", query=page)
    # watchlists
    if action == "list":
        return "watchlists", client.call("GET", "/watchlists", query=page)
    if action == "get":
        return "watchlist", client.call("GET", f"/watchlists/{sid}")
    if action == "create":
        created = {"name": args.name, **({"description": args.description} if args.description else {})}
        return "watchlist", client.call("POST", "/watchlists", body=created, headers=headers)
    if action == "patch":
        changes = {k: v for k, v in (("name", args.name), ("description", args.description)) if v is not None}
        return "watchlist", client.call("PATCH", f"/watchlists/{sid}", body=changes)
    if action == "delete":
        client.call("DELETE", f"/watchlists/{sid}")
        return "deleted", None
    if action == "items":
        return "watchlist-items", client.call("GET", f"/watchlists/{sid}/items", query=page)
    if action == "add":
        items: dict[str, Any] = {"market_ids": args.market, "event_slugs": args.event}
        if args.reason:
            items["reason"] = args.reason
        if args.ttl_hours is not None:
            items["ttl_hours"] = args.ttl_hours
        return "watchlist-items", client.call("POST", f"/watchlists/{sid}/items", body=items, headers=headers)
    client.call("DELETE", f"/watchlists/{sid}/items/{_q(args.market_id)}")
    return "deleted", None


def render(kind: str, payload: Any, out: TextIO) -> bool:
    """Render the lists of these commands as tables; False for kinds it does not know (cli.py renders)."""
    from local.cli import table

    columns = TABLES.get(kind)
    if columns is None or not isinstance(payload, dict):
        return False
    table(payload.get("items", []), columns, out)
    if payload.get("next_token"):
        print(f"\nmore: --next-token {payload['next_token']}", file=out)
    return True
