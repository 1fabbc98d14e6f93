"""Lambda answers at most 6 MB: the worst case of every list route stays under it, and one execution log
(with its trace) has a route of its own (DESIGN 4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from engine.models.execution import NodeTrace
from engine.models.strategy import NodeGraph
from engine.storage.executions import ExecutionLogRepository
from engine.storage.strategies import StrategyRepository
from engine.storage.trades import TradeRepository
from functions.control_api import app as app_module
from tests.support.aws import moto_stack
from tests.support.builders import EXAMPLE_GRAPH, T0, make_log, make_strategy, make_trade
from tests.support.http import Answer, Api

LAMBDA_LIMIT = 6 * 1024 * 1024
USER = "user-response-size"
EMOJI = "\U0001f600"  # 4 bytes in DynamoDB, 12 in the API's ASCII-escaped JSON: the worst ratio


def answer_bytes(answer: Answer) -> int:
    return len(json.dumps(answer.raw).encode())


def huge_graph() -> NodeGraph:
    """DESIGN 5's graph with builder labels of 92,000 emoji (368 KB in DynamoDB, ~1.1 MB as API JSON)."""
    graph: dict[str, Any] = json.loads(json.dumps(EXAMPLE_GRAPH))
    for i, node in enumerate(graph["nodes"]):
        node["label"] = EMOJI * (30_000 if i < 2 else 32_000)
    return NodeGraph.model_validate(graph)


def big_trace(i: int) -> list[NodeTrace]:
    """A trace at the run's budget (~100 KB; long strings rather than many maps, which moto is slow with)."""
    decisions = [{"market_id": f"m{i}-{j}", "kept": True, "why": "x" * 10_000} for j in range(10)]
    return [NodeTrace(node_id="flt", type="FILTER", received=10, kept=10, decisions=decisions)]


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[Api, str]]:
    with moto_stack() as aws:
        api = Api(aws, app_module.lambda_handler, user=USER)
        strategies = StrategyRepository()
        graph = huge_graph()
        big = [
            make_strategy(owner=USER, created_at=T0 + timedelta(seconds=i), node_graph=graph)
            for i in range(12)
        ]
        strategies.put_many(big)
        target = big[-1].strategy_id
        logs = ExecutionLogRepository()
        for i in range(100):
            logs.put(make_log(target, scheduled_for=T0 + timedelta(minutes=i), trace=big_trace(i)))
        trades = TradeRepository()
        for i in range(100):
            trade = make_trade(target, seq=i + 1, market_id=f"m{i}", question=EMOJI * 500)
            trades.db.put_item(TableName=trades.table, Item=trades.item_for(trade))
        yield api, target


def test_the_largest_strategy_list_page_stays_under_6_mb_and_pages_on(api: tuple[Api, str]) -> None:
    # Given 12 strategies whose graphs are ~1.1 MB of JSON each (13 MB in all)
    client, _ = api

    # When the caller lists them, 100 a page, following the tokens
    seen: list[str] = []
    sizes: list[int] = []
    query = {"limit": "100"}
    for _ in range(12):
        answer = client("GET", "/strategies", query=query)
        assert answer.status == 200, answer.body
        sizes.append(answer_bytes(answer))
        seen.extend(item["strategy_id"] for item in answer.body["items"])
        if not answer.body["next_token"]:
            break
        query = {"limit": "100", "next_token": answer.body["next_token"]}

    # Then every page is under Lambda's 6 MB and together they hold every strategy once
    assert max(sizes) < LAMBDA_LIMIT, sizes
    assert len(sizes) > 1
    assert len(seen) == len(set(seen)) == 12


def test_a_full_page_of_execution_logs_carries_no_trace_and_stays_small(api: tuple[Api, str]) -> None:
    # Given 100 logs with ~100 KB of trace each (10 MB of traces)
    client, strategy_id = api

    # When a page of 100 is read
    answer = client("GET", f"/strategies/{strategy_id}/executions", query={"limit": "100"})

    # Then it holds the 100 logs, none with a trace, far under 6 MB
    assert answer.status == 200, answer.body
    assert len(answer.body["items"]) == 100
    assert all("trace" not in item for item in answer.body["items"])
    assert answer_bytes(answer) < LAMBDA_LIMIT // 10


def test_one_execution_log_answers_with_its_trace(api: tuple[Api, str]) -> None:
    # Given a log of the list
    client, strategy_id = api
    listed = client("GET", f"/strategies/{strategy_id}/executions", query={"limit": "1"}).body["items"][0]

    # When it is read by its id
    answer = client("GET", f"/strategies/{strategy_id}/executions/{listed['execution_id']}")

    # Then it is the same log, with its trace
    assert answer.status == 200, answer.body
    assert {k: v for k, v in answer.body.items() if k != "trace"} == listed
    assert len(answer.body["trace"][0]["decisions"]) == 10
    assert answer_bytes(answer) < LAMBDA_LIMIT


@pytest.mark.parametrize("who", ["unknown id", "foreign strategy", "other strategy of the owner"])
def test_a_log_that_is_not_the_callers_or_not_this_strategys_is_404(api: tuple[Api, str], who: str) -> None:
    # Given a real log id and a path that does not lead to it
    client, strategy_id = api
    execution_id = client("GET", f"/strategies/{strategy_id}/executions", query={"limit": "1"}).body["items"][
        0
    ]["execution_id"]
    other_strategy = client.create()
    path, sub = {
        "unknown id": (f"/strategies/{strategy_id}/executions/x_unknown", USER),
        "foreign strategy": (f"/strategies/{strategy_id}/executions/{execution_id}", "someone-else"),
        "other strategy of the owner": (f"/strategies/{other_strategy}/executions/{execution_id}", USER),
    }[who]

    # When it is asked for
    answer = client("GET", path, sub=sub)

    # Then 404, the strategy's or the log's, with nothing of the log
    assert answer.status == 404, answer.body
    expected = "strategy_not_found" if who == "foreign strategy" else "execution_not_found"
    assert answer.error_code == expected
    assert execution_id not in json.dumps(answer.body)


def test_a_full_page_of_trades_stays_under_6_mb(api: tuple[Api, str]) -> None:
    # Given 100 trades with long questions
    client, strategy_id = api

    # When a page of 100 is read
    answer = client("GET", f"/strategies/{strategy_id}/trades", query={"limit": "100"})

    # Then it holds them all under 6 MB
    assert answer.status == 200, answer.body
    assert len(answer.body["items"]) == 100
    assert answer_bytes(answer) < LAMBDA_LIMIT
