"""The demo's history and watchlist part: one strategy redeployed with a new graph version halfway (its two
deployment records are shown), and one watchlist filled by an alert strategy (a graph whose sink is a
WATCHLIST node) and read by a trading strategy."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from local.demo import Api, StrategyPlan

WATCHLIST_NAME = "Liquid and undecided"


@dataclass
class HistoryResult:
    redeployed: str | None = None  # strategy id
    redeployed_name: str = ""
    deployments: list[dict[str, Any]] = field(default_factory=list)
    watchlist_id: str | None = None
    watchlist_items: list[dict[str, Any]] = field(default_factory=list)
    alert_id: str | None = None
    reader_id: str | None = None
    reader_trades: list[dict[str, Any]] = field(default_factory=list)


def watchlist_plans(api: Api, token: str, user: str) -> tuple[str, list[StrategyPlan]]:
    """Create the user's watchlist and the two strategies around it: (watchlist id, their plans)."""
    from local.demo import StrategyPlan

    created = api.call(
        "POST", "/watchlists", token, {"name": WATCHLIST_NAME, "description": "filled by an alert"}
    )
    wid = str(created["watchlist_id"])
    alert = {
        "strategy_name": "Alert: liquid undecided",
        "strategy_description": "Every 5 minutes: liquid markets priced 0.3-0.7 go on a watchlist for 48 h.",
        "node_graph": {
            "nodes": [
                {"id": "src", "type": "DATA_SOURCE", "config": {"source": "polymarket", "limit": 200}},
                {
                    "id": "flt",
                    "type": "FILTER",
                    "config": {
                        "conditions": [
                            {"field": "volume", "op": ">=", "value": 50000},
                            {"field": "yes_price", "op": "between", "value": [0.3, 0.7]},
                        ]
                    },
                },
                {
                    "id": "alert",
                    "type": "WATCHLIST",
                    "config": {
                        "action": "add",
                        "watchlist_id": wid,
                        "reason": "liquid, undecided",
                        "ttl_hours": 48,
                    },
                },
            ],
            "edges": [{"source": "src", "target": "flt"}, {"source": "flt", "target": "alert"}],
        },
    }
    reader = {
        "strategy_name": "Trades the watchlist",
        "strategy_description": "Every 5 minutes: YES on the watchlist's live markets, 20% take profit.",
        "node_graph": {
            "nodes": [
                {"id": "src", "type": "DATA_SOURCE", "config": {"source": "watchlist", "watchlist_id": wid}},
                {
                    "id": "orc",
                    "type": "ORCHESTRATOR",
                    "config": {
                        "outcome": "YES",
                        "position_size_usd": 50,
                        "max_positions": 4,
                        "take_profit_pct": 20,
                    },
                },
            ],
            "edges": [{"source": "src", "target": "orc"}],
        },
    }
    return wid, [StrategyPlan(user, alert, "5m", None), StrategyPlan(user, reader, "5m", 1000)]


def redeploy_with_new_graph(api: Api, token: str, strategy_id: str, plan: StrategyPlan) -> None:
    """Halfway: pause, change the graph (a new graph version), deploy again and start at once."""
    api.call("POST", f"/strategies/{strategy_id}/pause", token)
    graph = copy.deepcopy(plan.body["node_graph"])
    for node in graph["nodes"]:
        if node["type"] == "ORCHESTRATOR":
            node["config"]["max_positions"] = int(node["config"].get("max_positions", 5)) + 2
    api.call("PATCH", f"/strategies/{strategy_id}", token, {"node_graph": graph})
    deploy: dict[str, Any] = {"frequency": plan.frequency, "auto_start": True}
    if plan.bankroll is not None:
        deploy["paper_bankroll_usd"] = plan.bankroll
    api.call("POST", f"/strategies/{strategy_id}/deploy", token, deploy)


def collect(api: Api, token: str, history: HistoryResult) -> None:
    if history.redeployed:
        history.deployments = api.all_items(f"/strategies/{history.redeployed}/deployments", token)
    if history.watchlist_id:
        history.watchlist_items = api.all_items(f"/watchlists/{history.watchlist_id}/items", token)
    if history.reader_id:
        history.reader_trades = api.all_items(f"/strategies/{history.reader_id}/trades", token)


def check(history: HistoryResult) -> list[str]:
    failures: list[str] = []
    if history.redeployed:
        deployments = history.deployments
        if len(deployments) != 2:
            failures.append(f"{history.redeployed_name}: {len(deployments)} deployment records, not 2")
        else:
            new, old = deployments
            if old.get("ended_at") is None or old.get("final_summary") is None:
                failures.append(f"{history.redeployed_name}: the first deployment did not end with a summary")
            # the PATCH made version 2 current while the first deployment was still the live one
            if old.get("graph_versions") != [1, 2] or new.get("graph_versions") != [2]:
                failures.append(
                    f"{history.redeployed_name}: graph versions {old.get('graph_versions')} then "
                    f"{new.get('graph_versions')}, not [1, 2] then [2]"
                )
    if history.watchlist_id:
        listed = {i["market_id"] for i in history.watchlist_items}
        if not listed:
            failures.append("the alert strategy put nothing on the watchlist")
        outside = {t["market_id"] for t in history.reader_trades} - listed
        if outside:
            failures.append(f"the watchlist reader traded {len(outside)} markets not on the list")
    return failures


def report(history: HistoryResult, out: TextIO) -> None:
    from local.cli import table

    if history.deployments:
        print(
            f"Redeployed '{history.redeployed_name}' halfway with graph version 2; its deployments:", file=out
        )
        rows = []
        for d in history.deployments:
            summary = d.get("final_summary") or {}
            rows.append(
                {
                    **d,
                    "graphs": ",".join(str(v) for v in d.get("graph_versions", [])),
                    "trades": summary.get("trades"),
                    "pnl": summary.get("total_pnl_usd"),
                }
            )
        columns = [
            ("DEPLOYMENT", "deployment_id"),
            ("DEPLOYED_AT", "deployed_at"),
            ("ENDED_AT", "ended_at"),
            ("GRAPHS", "graphs"),
            ("FINAL TRADES", "trades"),
            ("FINAL P&L", "pnl"),
        ]
        table(rows, columns, out)
        print("", file=out)
    if history.watchlist_id:
        statuses: dict[str, int] = {}
        for item in history.watchlist_items:
            statuses[item["status"]] = statuses.get(item["status"], 0) + 1
        counts = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) or "empty"
        traded = len({t["market_id"] for t in history.reader_trades})
        print(
            f"Watchlist '{WATCHLIST_NAME}' ({history.watchlist_id}): {len(history.watchlist_items)} markets "
            f"put there by the alert strategy ({counts}); the reader traded {traded} of them and no other "
            "market.\n",
            file=out,
        )
