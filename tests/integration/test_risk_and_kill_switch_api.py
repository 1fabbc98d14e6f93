"""PUT/GET /risk-limits and the kill switch through the control API, with the cron running real ticks."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from engine.models.strategy import StrategyStatus
from engine.storage.risk import GUARD_ATTRIBUTE
from engine.storage.strategies import StrategyRepository
from functions.control_api import app as api_app
from tests.integration.test_executor_exactly_once import one_position_graph
from tests.support.builders import T0, make_strategy
from tests.support.http import Api
from tests.support.lambda_context import handler_stack, scan_all

OWNER = "trader-1"


def seed(status: StrategyStatus, **overrides: Any) -> str:
    strategy = make_strategy(
        owner=OWNER,
        status=status,
        due_at=T0 if status is StrategyStatus.RUNNING else None,
        node_graph=one_position_graph(),
        **overrides,
    )
    StrategyRepository().put_many([strategy])
    return strategy.strategy_id


def guard_of(stack: Any, strategy_id: str) -> Any:
    client = stack.aws.session.client("dynamodb")
    item = client.get_item(TableName=os.environ["STRATEGIES_TABLE"], Key={"strategy_id": {"S": strategy_id}})
    return item["Item"].get(GUARD_ATTRIBUTE, {}).get("S")


def test_limits_are_stored_validated_and_mark_every_strategy_of_the_owner() -> None:
    with handler_stack() as stack:
        api = Api(stack.aws, api_app.lambda_handler, user=OWNER, other="someone-else")
        mine, theirs = seed(StrategyStatus.RUNNING), api.in_status("DEPLOYED", sub="someone-else")
        body = {"max_market_exposure_usd": 250, "daily_loss_stop_usd": 50, "timezone": "Europe/Paris"}

        # When the owner sets limits, reads them, and sends bad ones
        put = api("PUT", "/risk-limits", body=body)
        got = api("GET", "/risk-limits")
        bad = [
            api("PUT", "/risk-limits", body={"timezone": "Mars/Olympus"}),
            api("PUT", "/risk-limits", body={"max_total_exposure_usd": -1}),
            api("PUT", "/risk-limits", body={"max_drawdown_pct": 150}),
            api("PUT", "/risk-limits", body={"max_exposure": 10}),
            api("PUT", "/risk-limits", body={"timezone": "a" * 300}),
            api("PUT", "/risk-limits", body={"max_total_exposure_usd": "1e400"}),
        ]

        # Then they are stored, the owner's strategies are guarded in the limits' timezone, others not
        assert put.status == got.status == 200
        assert got.body["limits"]["max_market_exposure_usd"] == 250
        assert got.body["limits"]["timezone"] == "Europe/Paris" and got.body["kill_switch"] is None
        assert guard_of(stack, mine) == "Europe/Paris" and guard_of(stack, theirs) is None
        assert [(b.status, b.error_code) for b in bad] == [(422, "validation_error")] * 6
        assert api("GET", "/risk-limits").body == got.body  # bad input changed nothing
        # and a new strategy of the owner is guarded from its creation
        assert guard_of(stack, api.create()) == "Europe/Paris"
        # clearing every limit unguards them
        assert api("PUT", "/risk-limits", body={}).status == 200
        assert guard_of(stack, mine) is None


def test_halt_stops_every_running_strategy_within_one_tick_and_release_resumes_only_what_it_paused() -> None:
    with handler_stack() as stack:
        api = Api(stack.aws, api_app.lambda_handler, user=OWNER, other="someone-else")
        # Given three running strategies, one the owner paused himself, and someone else's running one
        running = [seed(StrategyStatus.RUNNING) for _ in range(3)]
        by_user = seed(StrategyStatus.PAUSED, pause_reason="user")
        other = make_strategy(status=StrategyStatus.RUNNING, due_at=T0, node_graph=one_position_graph())
        StrategyRepository().put_many([other])

        # When the owner halts, and the next tick runs
        halt = api("POST", "/kill-switch", body={"mode": "halt"})
        report = stack.cron(T0 + timedelta(seconds=2))

        # Then his running strategies are paused by the kill switch and none of them ran; the other user's did
        assert halt.status == 200, halt.body
        assert sorted(halt.body["kill_switch"]["paused_strategy_ids"]) == sorted(running)
        for sid in running:
            strategy = StrategyRepository().find(sid)
            assert strategy is not None
            assert (strategy.status, strategy.pause_reason) == (StrategyStatus.PAUSED, "kill_switch")
        assert report["executed"] == 1
        client = stack.aws.session.client("dynamodb")
        ran = {log["strategy_id"] for log in scan_all(client, os.environ["EXECUTIONS_TABLE"])}
        assert ran == {other.strategy_id}

        # And while it is on, resume and start are refused, a second switch is a conflict
        resume = api("POST", f"/strategies/{running[0]}/resume")
        again = api("POST", "/kill-switch", body={"mode": "exits_only"})
        assert (resume.status, resume.error_code) == (409, "kill_switch_active")
        assert (again.status, again.error_code) == (409, "conflict")

        # When the owner stops one of them himself, then releases the switch
        assert api("POST", f"/strategies/{running[2]}/stop").status == 200
        release = api("DELETE", "/kill-switch")

        # Then only the two still paused by the switch resume; his own pause and stop stay
        assert release.status == 200
        assert sorted(release.body["resumed_strategy_ids"]) == sorted(running[:2])
        statuses = {sid: StrategyRepository().find(sid) for sid in [*running, by_user]}
        assert [statuses[s].status for s in running] == [  # type: ignore[union-attr]
            StrategyStatus.RUNNING,
            StrategyStatus.RUNNING,
            StrategyStatus.STOPPED,
        ]
        assert statuses[by_user].status is StrategyStatus.PAUSED  # type: ignore[union-attr]
        assert api("GET", "/risk-limits").body["kill_switch"] is None
        assert api("DELETE", "/kill-switch").body == {"resumed_strategy_ids": []}


def test_exits_only_lets_runs_go_on_but_blocks_every_entry_and_the_trace_says_so() -> None:
    with handler_stack() as stack:
        api = Api(stack.aws, api_app.lambda_handler, user=OWNER, other="someone-else")
        # Given a running strategy that would enter a market
        sid = seed(StrategyStatus.RUNNING)

        # When the owner switches to exits only and the tick runs it
        assert api("POST", "/kill-switch", body={"mode": "exits_only"}).status == 200
        report = stack.cron(T0 + timedelta(seconds=2))

        # Then it ran, traded nothing, and its trace names the kill switch
        assert report["executed"] == 1
        client = stack.aws.session.client("dynamodb")
        logs = [log for log in scan_all(client, os.environ["EXECUTIONS_TABLE"]) if log["strategy_id"] == sid]
        assert [int(log["trades_created"]) for log in logs] == [0]
        decisions = [
            d for node in logs[0]["trace"] for d in node.get("decisions") or [] if d.get("action") == "limit"
        ]
        assert [(d["action"], d["status"], d["limit"]) for d in decisions] == [
            ("limit", "blocked", "kill_switch")
        ]
