"""Shared limits under concurrency: ten strategies of one user racing entries into the same markets over many
concurrent ticks (moto serialized, so a pass proves the transaction conditions, not luck)."""

from __future__ import annotations

import copy
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

from engine.models.risk import RiskLimits
from engine.models.strategy import NodeGraph, StrategyStatus
from engine.storage.portfolios import AccountRepository
from engine.storage.risk import MARKET_PREFIX, TOTAL_SK, RiskRepository
from engine.storage.strategies import StrategyRepository
from tests.support.builders import EXAMPLE_GRAPH, T0, make_strategy
from tests.support.lambda_context import handler_stack, scan_all

D = Decimal
OWNER = "racer"
MARKET_CAP = D(250)


def racing_graph() -> NodeGraph:
    """DESIGN 5's example over the 5 largest markets, up to 3 positions of 100 each: every strategy wants
    the same markets."""
    graph: dict[str, Any] = copy.deepcopy(EXAMPLE_GRAPH)
    graph["nodes"][0]["config"]["limit"] = 5
    graph["nodes"][2]["config"].update(max_positions=3, position_size_usd=100)
    graph["nodes"][2]["config"].pop("take_profit_pct", None)
    graph["nodes"][2]["config"].pop("stop_loss_pct", None)
    return NodeGraph.model_validate(graph)


def test_ten_strategies_racing_into_the_same_markets_never_pass_the_market_cap_nor_go_below_zero_cash() -> (
    None
):
    with handler_stack(RUN_CONCURRENCY="8", SAFETY_MARGIN_SECONDS="2", RUN_DEADLINE_SECONDS="20") as stack:
        # Given ten running strategies of one user under a 250 USD cap per market
        risk = RiskRepository()
        risk.put_limits(OWNER, RiskLimits(max_market_exposure_usd=MARKET_CAP), now=T0)
        risk.recount_exposure(OWNER, [])
        strategies = [
            make_strategy(
                owner=OWNER,
                status=StrategyStatus.RUNNING,
                due_at=T0,
                node_graph=racing_graph(),
                account_guard="UTC",
            )
            for _ in range(10)
        ]
        StrategyRepository().put_many(strategies)

        # When three ticks each run as two concurrent invocations
        for minute in range(3):
            at = T0 + timedelta(minutes=minute, seconds=2)
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(stack.cron, [at, at]))

        # Then no market holds more than the cap across the user's accounts, no cash is negative, the
        # counters equal the positions, and the traces name the limit that cut or blocked entries
        accounts = [AccountRepository().get(s.strategy_id) for s in strategies]
        held: dict[str, Decimal] = defaultdict(lambda: D(0))
        for account in accounts:
            if account is None:
                continue  # every entry it wanted was blocked: it never traded
            assert account.cash_usd >= 0
            for holding in account.positions.values():
                held[holding.market_id] += holding.cost_usd
        assert held, "the strategies traded"
        assert max(held.values()) <= MARKET_CAP
        counters = risk.exposure(OWNER)
        assert {
            k[len(MARKET_PREFIX) :]: v for k, v in counters.items() if k.startswith(MARKET_PREFIX) and v
        } == {m: v for m, v in held.items() if v}
        assert counters[TOTAL_SK] == sum(held.values())
        client = stack.aws.session.client("dynamodb")
        logs = scan_all(client, os.environ["EXECUTIONS_TABLE"])
        limited = [
            d
            for log in logs
            for node in log.get("trace") or []
            for d in node.get("decisions") or []
            if d.get("action") == "limit"
        ]
        assert limited and {d["limit"] for d in limited} == {"max_market_exposure_usd"}
        assert {d["status"] for d in limited} <= {"cut", "blocked"}
