"""`make demo`: a scripted scenario on the embedded local stack, fast clock, checked at the end.

Three users create five strategies through the HTTP API (different graphs and frequencies; one uses the
strategy language's signals, LOGIC and Kelly sizing), deploy and start them; the demo then runs several
simulated hours of minute ticks (the ticker, the queue and the stream delivered synchronously per minute,
so the result does not depend on machine speed), pauses and resumes one
strategy midway, moves market prices with a seeded random walk, resolves markets at their end dates, prints a
table per strategy read through the API, and checks the scenario's own invariants:

- every portfolio equals `engine.ledger.replay` of the trades in the Trades table, and no cash is negative;
- exactly one run per slot: at most one non-skipped scheduled log per (strategy, scheduled_for), and every
  slot while the strategy was running has a run (or is named in a `skipped` log).
- a third user's alert strategy (NOTIFY only, no bankroll) reaches her webhook, a receiver on this machine,
  once per run that found new markets, every request with a valid signature, and never trades.

Exit 0 only when the checks pass; otherwise one line per failure on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from local import demo_history
from local.clock import FastClock, parse_instant
from local.stack import STATE_DIR, LocalStack, StackConfig, handler_output
from local.webhook_sink import WebhookSink

# the recording time of the market data (local/data/polymarket/SOURCES.md: the open markets' snapshot)
RECORDING_TIME = "2026-02-07T12:50:00Z"
CENT = Decimal("0.01")
SAMPLES = Path(__file__).resolve().parent / "samples"
# A handful of strategies needs one partition of the due index (the template's DueShards parameter, 4 by
# default, is sized for many); it halves the fixed queries of every simulated minute.
DEMO_PARAMETERS = {"DueShards": 1}
# Markets already past their end date at the recording time were awaiting resolution: resolve them this far
# into the run, after the strategies had a chance to hold them.
OVERDUE_RESOLVE_AFTER = timedelta(minutes=30)
FREQUENCY_MINUTES = {"1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60}


def _graph(
    source: dict[str, Any], conditions: list[dict[str, Any]], orchestrator: dict[str, Any]
) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "src", "type": "DATA_SOURCE", "config": {"source": "polymarket", **source}},
            {"id": "flt", "type": "FILTER", "config": {"conditions": conditions}},
            {"id": "orc", "type": "ORCHESTRATOR", "config": orchestrator},
        ],
        "edges": [{"source": "src", "target": "flt"}, {"source": "flt", "target": "orc"}],
    }


@dataclass
class StrategyPlan:
    user: str
    body: dict[str, Any]
    frequency: str
    bankroll: int | None  # None: an alert strategy (no ORCHESTRATOR), which never trades and has no portfolio


def default_plans() -> list[StrategyPlan]:
    design = json.loads((SAMPLES / "design_example.json").read_text())
    cheaper = json.loads((SAMPLES / "cheaper_side.json").read_text())
    scalper = {
        "strategy_name": "High-volume scalper",
        "strategy_description": "Every minute: the most traded markets, small YES positions, tight exits.",
        "node_graph": _graph(
            {"limit": 50, "order_by": "volume"},
            [
                {"field": "volume", "op": ">=", "value": 100000},
                {"field": "yes_price", "op": "between", "value": [0.1, 0.9]},
            ],
            {
                "outcome": "YES",
                "position_size_usd": 50,
                "max_positions": 3,
                "take_profit_pct": 8,
                "stop_loss_pct": 8,
            },
        ),
    }
    hourly = {
        "strategy_name": "Hourly NO on long shots",
        "strategy_description": "Once an hour: buy NO where YES trades under 0.25, soonest to close first.",
        "node_graph": _graph(
            {"limit": 300, "order_by": "end_date", "ascending": True},
            [
                {"field": "yes_price", "op": "between", "value": [0.03, 0.25]},
                {"field": "liquidity", "op": ">=", "value": 1000},
                {"field": "hours_to_close", "op": "<=", "value": 48},
            ],
            {"outcome": "NO", "position_size_pct": 10, "max_positions": 6, "cash_reserve_pct": 20},
        ),
    }
    # strategy language v2: price and book signals, LOGIC, half-Kelly sizing, trailing stops, risk limits
    signals = json.loads((SAMPLES / "signals_kelly.json").read_text())
    return [
        StrategyPlan("alice", design, "5m", 1000),
        StrategyPlan("alice", cheaper, "15m", 1000),
        StrategyPlan("bob", scalper, "1m", 500),
        StrategyPlan("bob", hourly, "1h", 2000),
        StrategyPlan("carol", signals, "15m", 1000),
    ]


# An alert strategy (NOTIFY only, no bankroll): carol hears about markets newly among the most traded ones
# that close within two days, on her webhook (a receiver on this machine that checks each signature).
ALERT_STRATEGY: dict[str, Any] = {
    "strategy_name": "Closing soon: new liquid markets",
    "strategy_description": "Every 5 minutes: tell me when a liquid market closing within 48 h shows up.",
    "node_graph": {
        "nodes": [
            {"id": "src", "type": "DATA_SOURCE", "config": {"limit": 100, "order_by": "volume_24h"}},
            {
                "id": "flt",
                "type": "FILTER",
                "config": {
                    "conditions": [
                        {"field": "hours_to_close", "op": "<=", "value": 48},
                        {"field": "liquidity", "op": ">=", "value": 1000},
                    ]
                },
            },
            {
                "id": "tell",
                "type": "NOTIFY",
                "config": {
                    "on": "new",
                    "title": "{strategy_name}: {count} new",
                    "template": "{question} (YES {yes_price}) {url}",
                },
            },
        ],
        "edges": [{"source": "src", "target": "flt"}, {"source": "flt", "target": "tell"}],
    },
}
ALERT_USER = "carol"
ALERT_FREQUENCY = "5m"


@dataclass
class AlertResult:
    strategy_id: str
    sink: WebhookSink
    logs: list[dict[str, Any]] = field(default_factory=list)
    told: int = 0  # runs whose NOTIFY had something new (each must reach the webhook once)


@dataclass
class Scenario:
    start: datetime = field(default_factory=lambda: parse_instant(RECORDING_TIME))
    minutes: int = 120
    seed: int = 7
    plans: list[StrategyPlan] = field(default_factory=default_plans)
    pause_index: int | None = 2  # which plan is paused midway (None: none)
    walk_every_minutes: int = 5
    # The portfolio read model is a catch-up triggered by stream records, so delivering the stream in batches
    # of a few simulated minutes (what Lambda's batching window does on a fast clock) changes no figure and
    # saves about a quarter of the run; the last minute always delivers everything.
    stream_every_minutes: int = 5
    volatility: float = 0.08  # standard deviation of a walk step in log-odds
    progress: bool = True
    alert: bool = True  # also run ALERT_STRATEGY, delivering to a local webhook
    redeploy_index: int | None = 0  # which plan is redeployed with a new graph version halfway (None: none)
    watchlists: bool = True  # add an alert strategy filling a watchlist and a strategy trading it


@dataclass
class StrategyResult:
    plan: StrategyPlan
    strategy_id: str
    strategy: dict[str, Any] = field(default_factory=dict)
    portfolio: dict[str, Any] = field(default_factory=dict)
    logs: list[dict[str, Any]] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DemoResult:
    results: list[StrategyResult]
    failures: list[str]
    api_url: str
    tokens: dict[str, str]
    moved_markets: int = 0
    resolved_markets: list[str] = field(default_factory=list)
    overdue_resolved: int = 0
    seconds: float = 0.0
    pause: tuple[datetime, datetime] | None = None
    alert: AlertResult | None = None
    history: demo_history.HistoryResult = field(default_factory=demo_history.HistoryResult)
    comparison: dict[str, Any] | None = None  # the first strategy beside its backtest (DESIGN 9)
    backtest: dict[str, Any] | None = None


class ApiFailure(Exception):
    pass


class Api:
    """The demo's HTTP client: every strategy action goes through the local gateway, as a user's would."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def token(self, user: str) -> str:
        answer = self._send("GET", f"/_local/token?user={user}", None, None)
        return str(answer["token"])

    def call(self, method: str, path: str, token: str, body: Any = None) -> Any:
        return self._send(method, path, token, body)

    def _send(self, method: str, path: str, token: str | None, body: Any) -> Any:
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as exc:
            raise ApiFailure(
                f"{method} {path} answered {exc.code}: {exc.read().decode(errors='replace')[:300]}"
            ) from None
        return json.loads(raw) if raw.strip() else None

    def all_items(self, path: str, token: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        next_token: str | None = None
        while True:
            query = "?limit=100" + (f"&next_token={urllib.parse.quote(next_token)}" if next_token else "")
            page = self.call("GET", path + query, token)
            items.extend(page["items"])
            next_token = page.get("next_token")
            if not next_token:
                return items


# -- simulated market moves


class MarketMover:
    """A seeded random walk on the recorded open markets and their resolution at their end dates. The
    recorded data has one snapshot per market, so without this nothing would ever move or settle."""

    def __init__(self, server: Any, start: datetime, seed: int, volatility: float) -> None:
        self.server = server
        self.random = random.Random(seed)
        self.volatility = volatility
        self.resolved: list[str] = []
        self.overdue_resolved = 0
        self.open: dict[str, datetime | None] = {}
        for market_id in server.market_ids():
            market = server.raw_market(market_id)
            if market.get("closed") or not market.get("active", True):
                continue
            price = self._yes_price(market)
            if price is None or not 0 < price < 1:
                continue
            end = market.get("endDate")
            self.open[market_id] = parse_instant(end) if end else None
        self.start = start

    @staticmethod
    def _yes_price(market: dict[str, Any]) -> float | None:
        try:
            prices = market.get("outcomePrices")
            values = json.loads(prices) if isinstance(prices, str) else prices
            return float(values[0]) if values else None
        except (ValueError, TypeError, IndexError):
            return None

    def walk(self) -> int:
        """One step for every open market: the YES price moves in log-odds space, kept inside (0.01, 0.99)."""
        moved = 0
        for market_id in sorted(self.open):
            market = self.server.raw_market(market_id)
            price = self._yes_price(market)
            if price is None:
                continue
            price = min(max(price, 0.011), 0.989)
            odds = math.log(price / (1 - price)) + self.random.gauss(0, self.volatility)
            new_price = min(max(1 / (1 + math.exp(-odds)), 0.01), 0.99)
            tick = float(market.get("orderPriceMinTickSize") or 0.01)
            new_price = round(round(new_price / tick) * tick, 6)
            new_price = min(max(new_price, tick), 1 - tick)
            try:
                self.server.set_price(market_id, str(new_price))
                moved += 1
            except ValueError:
                continue
        return moved

    def resolve_due(self, now: datetime) -> list[str]:
        """Resolve the markets whose end date has come: those ending inside the simulated window at their end
        date, and those already past their end date at the recording time (their resolution was pending)
        half an hour in. The winner is drawn with the current YES price as probability."""
        done = []
        for market_id, end in sorted(self.open.items()):
            if end is None:
                continue
            overdue = end <= self.start
            due = self.start < end <= now or (overdue and now >= self.start + OVERDUE_RESOLVE_AFTER)
            if not due:
                continue
            if overdue:
                self.overdue_resolved += 1
            price = self._yes_price(self.server.raw_market(market_id)) or 0.5
            winner = 0 if self.random.random() < price else 1
            self.server.resolve(market_id, winner)
            done.append(market_id)
        for market_id in done:
            del self.open[market_id]
        self.resolved.extend(done)
        return done


# -- the scenario


def _progress(out: TextIO, done: int, total: int, now: datetime, note: str = "") -> None:
    width = 30
    filled = int(width * done / total) if total else width
    bar = "#" * filled + "." * (width - filled)
    line = f"\r[{bar}] {done:>4}/{total} min  {now.strftime('%H:%MZ')} {note:<28}"
    if out.isatty():
        out.write(line)
    elif done == total or done % max(1, total // 10) == 0:
        out.write(line.lstrip("\r") + "\n")
    out.flush()


def run_scenario(scenario: Scenario, *, stack: LocalStack, out: TextIO = sys.stderr) -> DemoResult:
    """Runs the scenario on a started, driven stack whose clock is a FastClock at `scenario.start`."""
    started = time.monotonic()
    clock = stack.clock
    assert isinstance(clock, FastClock), "the demo drives a FastClock"
    api = Api(stack.api_url)
    users = sorted({p.user for p in scenario.plans})
    tokens = {user: api.token(user) for user in users}
    results: list[StrategyResult] = []
    history = demo_history.HistoryResult()
    plans = list(scenario.plans)
    if scenario.watchlists and plans:
        owner = plans[0].user
        history.watchlist_id, extra = demo_history.watchlist_plans(api, tokens[owner], owner)
        plans += extra
    for plan in plans:
        created = api.call("POST", "/strategies", tokens[plan.user], plan.body)
        sid = created["strategy_id"]
        deploy: dict[str, Any] = {"frequency": plan.frequency}
        if plan.bankroll is not None:
            deploy["paper_bankroll_usd"] = plan.bankroll
        api.call("POST", f"/strategies/{sid}/deploy", tokens[plan.user], deploy)
        api.call("POST", f"/strategies/{sid}/start", tokens[plan.user])
        results.append(StrategyResult(plan=plan, strategy_id=sid))
    alert = start_alert_strategy(api, stack, tokens) if scenario.alert else None
    if history.watchlist_id:
        history.alert_id, history.reader_id = results[-2].strategy_id, results[-1].strategy_id
    redeploy_at = None
    if scenario.redeploy_index is not None and scenario.minutes >= 10:
        redeploy_at = scenario.start + timedelta(minutes=scenario.minutes // 2)
        history.redeployed = results[scenario.redeploy_index].strategy_id
        history.redeployed_name = results[scenario.redeploy_index].plan.body["strategy_name"]
    mover = MarketMover(stack.polymarket, scenario.start, scenario.seed, scenario.volatility)
    pause_at = resume_at = None
    if scenario.pause_index is not None and scenario.minutes >= 20:
        pause_at = scenario.start + timedelta(minutes=scenario.minutes // 2)
        resume_at = pause_at + timedelta(minutes=max(5, scenario.minutes // 8))
    note = ""
    for index in range(1, scenario.minutes + 1):
        minute = scenario.start + timedelta(minutes=index)
        clock.set(minute)
        if index % scenario.walk_every_minutes == 0:
            mover.walk()
        if mover.resolve_due(minute):
            note = f"{len(mover.resolved)} markets resolved"
        stack.step(minute, deliver_stream=index % scenario.stream_every_minutes == 0)
        if scenario.pause_index is not None and minute in (pause_at, resume_at):
            target = results[scenario.pause_index]
            action = "pause" if minute == pause_at else "resume"
            api.call("POST", f"/strategies/{target.strategy_id}/{action}", tokens[target.plan.user])
            note = f"{action}d {target.plan.body['strategy_name'][:16]}"
        if minute == redeploy_at and scenario.redeploy_index is not None:
            target = results[scenario.redeploy_index]
            demo_history.redeploy_with_new_graph(
                api, tokens[target.plan.user], target.strategy_id, target.plan
            )
            note = f"redeployed {target.plan.body['strategy_name'][:16]}"
        if scenario.progress:
            _progress(out, index, scenario.minutes, minute, note)
    if scenario.progress and out.isatty():
        out.write("\n")
    stack.settle()
    for result in results:
        token = tokens[result.plan.user]
        result.strategy = api.call("GET", f"/strategies/{result.strategy_id}", token)
        if result.plan.bankroll is not None:  # an alert strategy has no portfolio (409)
            result.portfolio = api.call("GET", f"/strategies/{result.strategy_id}/portfolio", token)
        result.logs = api.all_items(f"/strategies/{result.strategy_id}/executions", token)
        result.trades = api.all_items(f"/strategies/{result.strategy_id}/trades", token)
    if alert is not None:
        alert.sink.stop()
        listed = api.all_items(f"/strategies/{alert.strategy_id}/executions", tokens[ALERT_USER])
        # list items carry no trace: each completed run's comes from the single-log route
        alert.logs = [
            api.call(
                "GET",
                f"/strategies/{alert.strategy_id}/executions/{log['execution_id']}",
                tokens[ALERT_USER],
            )
            if log.get("status") == "completed"
            else log
            for log in listed
        ]
    if plans:
        demo_history.collect(api, tokens[plans[0].user], history)
    demo = DemoResult(
        results=results,
        failures=[],
        api_url=stack.api_url,
        tokens=tokens,
        moved_markets=len(mover.open) + len(mover.resolved),
        resolved_markets=list(mover.resolved),
        overdue_resolved=mover.overdue_resolved,
        pause=(pause_at, resume_at) if pause_at and resume_at else None,
        alert=alert,
        history=history,
    )
    demo.backtest, demo.comparison = backtest_beside_live(api, stack, results[0], tokens, scenario)
    demo.failures = check(demo, stack, scenario) + demo_history.check(history)
    if demo.backtest is None or demo.backtest.get("status") != "completed":
        demo.failures.append(f"the backtest did not complete: {demo.backtest}")
    demo.seconds = time.monotonic() - started
    return demo


def start_alert_strategy(api: Api, stack: LocalStack, tokens: dict[str, str]) -> AlertResult:
    """carol registers a webhook on this machine and starts ALERT_STRATEGY (no bankroll: it never trades)."""
    del stack  # the stack's environment already lets webhooks reach 127.0.0.1
    tokens[ALERT_USER] = tokens.get(ALERT_USER) or api.token(ALERT_USER)
    token = tokens[ALERT_USER]
    sink = WebhookSink().start()
    sink.secret = api.call("PUT", "/notification-settings", token, {"webhook_url": sink.url})[
        "webhook_secret"
    ]
    sid = api.call("POST", "/strategies", token, ALERT_STRATEGY)["strategy_id"]
    api.call("POST", f"/strategies/{sid}/deploy", token, {"frequency": ALERT_FREQUENCY})
    api.call("POST", f"/strategies/{sid}/start", token)
    return AlertResult(strategy_id=sid, sink=sink)


def check_alert(alert: AlertResult) -> list[str]:
    """Each run that had news reached the webhook exactly once, signed; the strategy never traded."""
    name = ALERT_STRATEGY["strategy_name"]
    runs = [log for log in alert.logs if log.get("status") == "completed"]
    told = {
        log["execution_id"]
        for log in runs
        for node in log.get("trace", [])
        if node.get("type") == "NOTIFY" and node.get("kept", 0) > 0
    }
    alert.told = len(told)
    failures = []
    delivered = Counter(r.alert.get("execution_id") for r in alert.sink.received)
    if set(delivered) != told:
        failures.append(f"{name}: {len(told)} runs had news, the webhook heard from {len(delivered)}")
    if any(count > 1 for count in delivered.values()):
        failures.append(f"{name}: an alert reached the webhook twice")
    if not all(r.signature_ok for r in alert.sink.received):
        failures.append(f"{name}: a webhook request did not carry a valid signature")
    if not told:
        failures.append(f"{name}: no run found anything to tell")
    if any(log.get("trades_created") for log in runs):
        failures.append(f"{name}: an alert strategy traded")
    return failures


def backtest_beside_live(
    api: Api, stack: LocalStack, live: StrategyResult, tokens: dict[str, str], scenario: Scenario
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Backtest the first strategy's graph over the period it just ran live, through the API and the
    backtest worker, and read the comparison. Its graph filters on volume (no history): allow_proxies."""
    token = tokens[live.plan.user]
    end = scenario.start + timedelta(minutes=scenario.minutes)
    body = {
        "start": scenario.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "frequency": live.plan.frequency,
        "paper_bankroll_usd": live.plan.bankroll,
        "allow_proxies": True,
    }
    started = api.call("POST", f"/strategies/{live.strategy_id}/backtests", token, body)
    stack.drain_backtests()
    backtest_id = started["backtest_id"]
    backtest = api.call("GET", f"/backtests/{backtest_id}", token)
    comparison = api.call("GET", f"/strategies/{live.strategy_id}/backtests/{backtest_id}/comparison", token)
    return backtest, comparison


# -- checks


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def ledger_trades(stack: LocalStack, strategy_id: str) -> list[Any]:
    """Every trade of the strategy's ledger, straight from the Trades table (not through the API)."""
    from engine.storage.trades import trade_from_item

    client = stack.client("dynamodb")
    assert stack.names is not None
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": stack.names.table("TradesTable"),
        "KeyConditionExpression": "strategy_id = :s",
        "ExpressionAttributeValues": {":s": {"S": strategy_id}},
        "ConsistentRead": True,
    }
    while True:
        page = client.query(**request)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [trade_from_item(i) for i in items if "seq_key" in i]


def check_portfolio(result: StrategyResult, stack: LocalStack) -> list[str]:
    from engine.ledger import LedgerError, replay

    name = result.plan.body["strategy_name"]
    if result.plan.bankroll is None:  # an alert strategy: no ledger, no portfolio
        return []
    trades = every_trade = ledger_trades(stack, result.strategy_id)
    if trades:
        epoch = max(t.epoch for t in trades)
        trades = [t for t in trades if t.epoch == epoch]
    try:
        state = replay(Decimal(result.plan.bankroll), trades)
    except LedgerError as exc:
        return [f"{name}: the ledger does not replay: {exc}"]
    portfolio = result.portfolio
    failures = []
    expected = {
        "cash_usd": state.cash_usd,
        "realized_pnl_usd": state.realized_pnl_usd,
        "fees_paid_usd": state.fees_paid_usd,
    }
    for key, value in expected.items():
        if _money(portfolio.get(key, "NaN")) != _money(value):
            failures.append(f"{name}: portfolio {key} {portfolio.get(key)} != ledger replay {value}")
    if (portfolio.get("wins"), portfolio.get("losses")) != (state.wins, state.losses):
        failures.append(
            f"{name}: portfolio wins/losses {portfolio.get('wins')}/{portfolio.get('losses')} "
            f"!= ledger replay {state.wins}/{state.losses}"
        )
    held = {p["token_id"]: _money(p["shares"]) for p in portfolio.get("positions", [])}
    replayed = {token: _money(h.shares) for token, h in state.positions.items()}
    if held != replayed:
        failures.append(f"{name}: portfolio positions {held} != ledger replay {replayed}")
    if _money(portfolio.get("cash_usd", 0)) < 0:
        failures.append(f"{name}: negative cash {portfolio.get('cash_usd')}")
    if len(result.trades) != len(every_trade):
        # the API lists every portfolio epoch's trades (a redeploy with nothing open starts a new one)
        failures.append(
            f"{name}: the API lists {len(result.trades)} trades, the ledger holds {len(every_trade)}"
        )
    return failures


def expected_slots(
    start: datetime, end: datetime, every: int, pause: tuple[datetime, datetime] | None
) -> set[datetime]:
    """The slots a strategy started at `start` runs through `end`: the first is strictly after the start,
    none while paused, and resume puts it on the next slot strictly after the resume time."""
    slots: set[datetime] = set()
    minute = start + timedelta(minutes=1)
    while minute <= end:
        minutes_of_day = minute.hour * 60 + minute.minute
        if minutes_of_day % every == 0 and not (pause and pause[0] < minute <= pause[1]):
            slots.add(minute)
        minute += timedelta(minutes=1)
    return slots


def skipped_slots(log: dict[str, Any], every_minutes: int) -> set[datetime]:
    """The slots a `skipped` log records. The engine writes the first missed slot as the log's
    `scheduled_for` and how many slots were missed as `missed_slots`; on a fixed frequency they are that many
    slots `every_minutes` apart. (A list of slot times is read as given.)"""
    named = log.get("missed_slots")
    if isinstance(named, list):
        return {parse_instant(slot) for slot in named}
    first = parse_instant(log["scheduled_for"])
    return {first + timedelta(minutes=every_minutes * index) for index in range(int(named or 0))}


def check_runs(
    result: StrategyResult, scenario: Scenario, pause: tuple[datetime, datetime] | None
) -> list[str]:
    name = result.plan.body["strategy_name"]
    scheduled = [log for log in result.logs if log.get("trigger") == "schedule"]
    runs = Counter(parse_instant(log["scheduled_for"]) for log in scheduled if log.get("status") != "skipped")
    failures = [
        f"{name}: {count} runs for slot {slot.isoformat()}" for slot, count in runs.items() if count > 1
    ]
    every = FREQUENCY_MINUTES[result.plan.frequency]
    missed = {
        slot for log in scheduled if log.get("status") == "skipped" for slot in skipped_slots(log, every)
    }
    both = sorted(missed & set(runs))
    if both:
        failures.append(f"{name}: slots both run and recorded missed, first {both[0].isoformat()}")
    end = scenario.start + timedelta(minutes=scenario.minutes)
    expected = expected_slots(scenario.start, end, every, pause)
    lacking = sorted(expected - set(runs) - missed)
    if lacking:
        failures.append(f"{name}: {len(lacking)} slots without a run, first {lacking[0].isoformat()}")
    extra = sorted(set(runs) - expected)
    if extra:
        failures.append(f"{name}: runs for slots it was not due, first {extra[0].isoformat()}")
    return failures


def check(demo: DemoResult, stack: LocalStack, scenario: Scenario) -> list[str]:
    failures: list[str] = []
    for index, result in enumerate(demo.results):
        failures.extend(check_portfolio(result, stack))
        pause = demo.pause if index == scenario.pause_index else None
        failures.extend(check_runs(result, scenario, pause))
    if demo.alert is not None:
        failures.extend(check_alert(demo.alert))
    return failures


# -- output


def _fmt(value: Any, digits: int = 2, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{float(value):,.{digits}f}{suffix}"


def summary_rows(demo: DemoResult) -> list[dict[str, str]]:
    rows = []
    for result in demo.results:
        portfolio, logs = result.portfolio or {}, result.logs
        runs = [log for log in logs if log.get("status") != "skipped"]
        failures = [log for log in runs if log.get("status") in ("failed", "timeout")]
        settled = {t["market_id"] for t in result.trades if t.get("side") == "SETTLE"}
        win_rate = portfolio.get("win_rate")
        rows.append(
            {
                "STRATEGY": result.plan.body["strategy_name"][:30],
                "USER": result.plan.user,
                "FREQ": result.plan.frequency,
                "STATUS": str(result.strategy.get("status", "?")),
                "RUNS": str(len(runs)),
                "FAILED": str(len(failures)),
                "TRADES": str(len(result.trades)),
                "CASH": _fmt(portfolio.get("cash_usd")),
                "P&L": _fmt(portfolio.get("total_pnl_usd")),
                "ROI": _fmt(portfolio.get("roi_pct"), 2, "%"),
                "WIN RATE": "-" if win_rate is None else _fmt(float(win_rate) * 100, 0, "%"),
                "OPEN": str(portfolio.get("open_positions_count", "-")),
                "SETTLED": str(len(settled)),
            }
        )
    return rows


def print_report(demo: DemoResult, scenario: Scenario, out: TextIO, *, serving: bool) -> None:
    rows = summary_rows(demo)
    columns = list(rows[0]) if rows else []
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    hours = scenario.minutes / 60
    print(
        f"\nSimulated {scenario.minutes} minutes ({hours:g} h) from "
        f"{scenario.start.strftime('%Y-%m-%d %H:%MZ')}, the recording time of the market data, "
        f"in {demo.seconds:.1f} s.",
        file=out,
    )
    print(
        "SIMULATED MARKETS: the recorded data holds one snapshot per market, so the prices of its "
        f"{demo.moved_markets} open markets were moved with a seeded random walk (seed {scenario.seed}, "
        f"every {scenario.walk_every_minutes} simulated minutes) and {len(demo.resolved_markets)} markets "
        f"were resolved at their end dates ({demo.overdue_resolved} already past it at the recording time, "
        "30 minutes in) with a winner drawn from their price. These are not real outcomes.",
        file=out,
    )
    if demo.pause:
        target = demo.results[scenario.pause_index or 0].plan.body["strategy_name"]
        print(
            f"Paused '{target}' at {demo.pause[0].strftime('%H:%MZ')} and resumed it at "
            f"{demo.pause[1].strftime('%H:%MZ')}.\n",
            file=out,
        )
    print("  ".join(c.ljust(widths[c]) for c in columns), file=out)
    for row in rows:
        print("  ".join(row[c].ljust(widths[c]) for c in columns), file=out)
    print("", file=out)
    if demo.alert is not None:
        sink = demo.alert.sink
        print(
            f"Alert strategy '{ALERT_STRATEGY['strategy_name']}' ({ALERT_USER}, every {ALERT_FREQUENCY}, "
            f"NOTIFY only, no bankroll): {demo.alert.told} runs found new markets; its webhook received "
            f"{len(sink.received)} signed alerts, one per run, e.g. "
            f"{sink.received[0].alert.get('title') if sink.received else '-'!r}.\n",
            file=out,
        )
    demo_history.report(demo.history, out)
    if demo.comparison is not None and demo.backtest is not None:
        from local.cli import metrics_table

        name = demo.results[0].plan.body["strategy_name"]
        fidelity = demo.backtest.get("data_fidelity") or {}
        fill = demo.backtest["fill_model"]
        proxies = sorted({w["field"] for w in demo.backtest.get("warnings", []) if w.get("field")})
        print(
            f"Backtest of '{name}' over the same period ({demo.backtest['slots_total']} slots, graph version "
            f"{demo.comparison['graph_version']}) beside its live paper run. The backtest sees price history "
            f"(median {fidelity.get('history_median_minutes')} min between points; simulated by the local "
            "server for tokens without a recording, and without the demo's random walk), fills at the price "
            f"+ {fill['half_spread_bps']} + {fill['slippage_bps']} bps, and lets today's values stand in "
            f"for {', '.join(proxies) or 'nothing'} (look-ahead).",
            file=out,
        )
        metrics_table(
            [("backtest", demo.comparison.get("backtest")), ("live", demo.comparison.get("live"))], out
        )
        print("", file=out)
    if demo.failures:
        return
    first = demo.results[0]
    token = demo.tokens[first.plan.user]
    sid = first.strategy_id
    print(
        "Checks passed: every portfolio equals the ledger replay, no negative cash, one run per slot.\n",
        file=out,
    )
    if serving:
        print("The API stays up (Ctrl-C stops it). Look further:", file=out)
    else:
        print(
            "To keep the API up after the scenario, run `python -m local.demo --serve`; then, for example:",
            file=out,
        )
    print(f"  export AUTOPILOT_API_URL={demo.api_url}", file=out)
    print(f"  export AUTOPILOT_TOKEN={token}", file=out)
    print(
        '  curl -s -H "Authorization: Bearer $AUTOPILOT_TOKEN" '
        f"$AUTOPILOT_API_URL/strategies/{sid}/portfolio",
        file=out,
    )
    print("  autopilot strategies list", file=out)
    print(f"  autopilot executions {sid} --limit 5", file=out)
    print(f"  autopilot trades {sid}", file=out)
    print(f"  autopilot performance {sid}", file=out)
    print(f"  autopilot deployments list {sid}", file=out)
    print(f"  autopilot versions list {sid}", file=out)
    print(f"  autopilot events {sid}", file=out)
    if demo.history.watchlist_id:
        print(f"  autopilot watchlists items {demo.history.watchlist_id}", file=out)
    print(f"  autopilot backtest list {sid}", file=out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--hours", type=float, default=2.0, help="simulated hours (default 2; about 15-20 s each)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--start", default=RECORDING_TIME, help="simulated start (default: the recording time)"
    )
    parser.add_argument("--serve", action="store_true", help="keep the API up after the scenario")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import logging

    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    scenario = Scenario(start=parse_instant(args.start), minutes=int(args.hours * 60), seed=args.seed)
    print(
        f"Autopilot demo: {len(scenario.plans)} strategies for "
        f"{len({p.user for p in scenario.plans})} users and a watchlist pair, {scenario.minutes} simulated "
        f"minutes from {scenario.start.strftime('%Y-%m-%d %H:%MZ')} on the embedded local stack.",
        file=sys.stderr,
    )
    clock = FastClock(scenario.start)
    config = StackConfig(prefix="autopilot-demo", driven=True, parameters=DEMO_PARAMETERS)
    log_path = STATE_DIR / config.prefix / "functions.log"
    log_path.unlink(missing_ok=True)
    try:
        with handler_output(log_path) as console, LocalStack(config, clock=clock) as stack:
            demo = run_scenario(scenario, stack=stack)
            print_report(demo, scenario, console, serving=args.serve)
            print(f"Function logs and metrics of the run: {log_path}", file=console)
            if demo.failures:
                print("demo checks FAILED:", file=sys.stderr)
                for failure in demo.failures:
                    print(f"  - {failure}", file=sys.stderr)
                return 1
            if args.serve:
                print("Dashboard, ready to open (one URL per development user):", file=console)
                for user in sorted(demo.tokens):
                    print(f"  {user:<6} {stack.dashboard_url(user)}", file=console)
                try:
                    while True:
                        time.sleep(1)
                except KeyboardInterrupt:
                    pass
    except ApiFailure as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
