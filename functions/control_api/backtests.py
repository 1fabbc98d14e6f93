"""Backtest routes (DESIGN 9): start, read, page trades and slot logs, cancel or delete, compare with live.

A Router included by app.py; each route calls one function of engine.services.backtests.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import Field

from engine.backtest.models import BacktestSpec, FillModelIn
from engine.backtest.run import SlotRecord
from engine.clock import parse_iso, utc_now
from engine.models.base import Model, Money, UtcDatetime
from engine.models.strategy import NodeGraph
from engine.models.trading import Trade
from engine.services import backtests
from engine.storage.backtests import BacktestNotFound

try:  # imported as a package: tests, the local stack, the OpenAPI printer
    from functions.control_api import errors, schemas
except ImportError:  # in Lambda the function's folder is the task root
    import errors  # type: ignore[no-redef]
    import schemas  # type: ignore[no-redef]

router = Router()  # type: ignore[no-untyped-call]

PAGE_DEFAULT = 20
Limit = Annotated[int, Query(ge=1, le=100, description="page size, 1..100")]
NextToken = Annotated[str | None, Query(max_length=4096, description="from the previous page")]
StrategyId = Annotated[str, Path(min_length=1, max_length=64)]
BacktestId = Annotated[str, Path(min_length=1, max_length=64)]
Status = Literal["queued", "running", "completed", "failed", "cancelled"]


class StrategyBacktestIn(BacktestSpec):
    """POST /strategies/{id}/backtests: the period, schedule, bankroll and assumptions."""

    graph_version: int | None = Field(
        default=None,
        ge=1,
        description="any graph version the strategy has had (default: the current one); else 404 not_found",
    )


class GraphBacktestIn(BacktestSpec):
    """POST /backtests: the same with an unsaved `node_graph` (the builder's)."""

    node_graph: NodeGraph


class BacktestStartedOut(Model):
    backtest_id: str
    status: Status


class BacktestOut(Model):
    """A backtest: its request, its state and, once completed, the performance document of a live strategy."""

    backtest_id: str
    strategy_id: str | None = None
    graph_version: int | None = None
    status: Status
    progress: Money = Field(description="0..1, slots run over slots in the period")
    slots_total: int
    slots_done: int
    start: UtcDatetime
    end: UtcDatetime
    frequency: str | None = None
    schedule_cron: str | None = None
    timezone: str
    paper_bankroll_usd: Money
    fill_model: FillModelIn
    allow_proxies: bool
    data_fidelity: dict[str, Any] | None = Field(
        default=None, description="slot step, requested and available history spacing (minutes)"
    )
    warnings: list[dict[str, Any]] = Field(default_factory=list)
    performance: schemas.PerformanceOut | None = None
    trades_count: int | None = None
    history_requests: int = Field(default=0, description="price history requests made (cache misses)")
    error_code: str | None = None
    error_message: str | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    completed_at: UtcDatetime | None = None

    @classmethod
    def of(cls, record: dict[str, Any]) -> BacktestOut:
        spec = BacktestSpec.model_validate_json(record["spec"])
        result = record.get("result")
        return cls(
            backtest_id=record["backtest_id"],
            strategy_id=record.get("strategy_id"),
            graph_version=int(record["graph_version"]) if record.get("graph_version") is not None else None,
            status=record["status"],
            progress=record.get("progress") or 0,
            slots_total=int(record["slots_total"]),
            slots_done=int(record.get("slots_done") or 0),
            start=spec.start,
            end=spec.end,
            frequency=spec.frequency,
            schedule_cron=spec.schedule_cron,
            timezone=spec.timezone,
            paper_bankroll_usd=spec.paper_bankroll_usd,
            fill_model=spec.fill_model,
            allow_proxies=spec.allow_proxies,
            data_fidelity=json.loads(record["data_fidelity"]) if record.get("data_fidelity") else None,
            warnings=json.loads(record.get("warnings") or "[]"),
            performance=schemas.PerformanceOut.model_validate_json(result) if result else None,
            trades_count=int(record["trades_count"]) if record.get("trades_count") is not None else None,
            history_requests=int(record.get("history_requests") or 0),
            error_code=record.get("error_code"),
            error_message=record.get("error_message"),
            created_at=_time(record["created_at"]),
            updated_at=_time(record["updated_at"]),
            completed_at=_time(record["completed_at"]) if record.get("completed_at") else None,
        )


class BacktestListOut(Model):
    items: list[BacktestOut]
    next_token: str | None = None


class BacktestTradeListOut(Model):
    items: list[schemas.TradeOut]
    next_token: str | None = None


class BacktestExecutionOut(SlotRecord):
    """A slot that traded or did not complete (slots that did neither are counted, not listed)."""


class BacktestExecutionListOut(Model):
    items: list[BacktestExecutionOut]
    next_token: str | None = None


class BacktestDeletedOut(Model):
    backtest_id: str
    status: Literal["cancelled", "deleted"]


class ComparisonOut(Model):
    """The out-of-sample view: the live strategy beside a backtest of the same graph over the same period."""

    strategy_id: str
    backtest_id: str
    graph_version: int | None
    live_graph_version: int
    same_graph_version: bool
    start: UtcDatetime
    end: UtcDatetime
    backtest: schemas.PerformanceOut | None
    live: schemas.PerformanceOut | None
    difference: dict[str, Money | None] = Field(
        description="live minus backtest: period_profit_usd (live equity change over the period), "
        "max_drawdown_relative, win_rate; null when either side has none"
    )


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else parse_iso(str(value))


def _event() -> APIGatewayProxyEventV2:
    event = router.current_event
    assert isinstance(event, APIGatewayProxyEventV2)
    return event


def caller() -> str:
    """The JWT `sub`; the early gate already answered 401 for events without it."""
    return str(_event().request_context.authorizer.jwt_claim["sub"])


def _request_id() -> str:
    return str(_event().request_context.request_id or "")


def stores() -> backtests.BacktestStores:
    return backtests.BacktestStores.default()


def _started(record: dict[str, Any]) -> Response[BacktestStartedOut]:
    return Response(
        status_code=202,
        content_type=errors.CONTENT_TYPE,
        body=BacktestStartedOut(backtest_id=record["backtest_id"], status=record["status"]),
        headers={"Location": f"/backtests/{record['backtest_id']}"},
    )


@router.post(
    "/strategies/<strategy_id>/backtests",
    status_code=202,
    summary="Backtest a saved strategy (any state) over a past period",
    responses=errors.route_docs(202, BacktestStartedOut, 400, 404, 409, 413, 422, 429),
)
def start_strategy_backtest(
    strategy_id: StrategyId, body: StrategyBacktestIn
) -> Response[BacktestStartedOut]:
    spec = BacktestSpec.model_validate(body.model_dump(exclude={"graph_version"}))
    record = backtests.start_backtest(
        owner=caller(),
        spec=spec,
        strategy_id=strategy_id,
        graph_version=body.graph_version,
        now=utc_now(),
        stores=stores(),
    )
    return _started(record)


@router.post(
    "/backtests",
    status_code=202,
    summary="Backtest an unsaved node graph over a past period",
    responses=errors.route_docs(202, BacktestStartedOut, 400, 413, 422, 429),
)
def start_graph_backtest(body: GraphBacktestIn) -> Response[BacktestStartedOut]:
    spec = BacktestSpec.model_validate(body.model_dump(exclude={"node_graph"}))
    record = backtests.start_backtest(
        owner=caller(), spec=spec, node_graph=body.node_graph, now=utc_now(), stores=stores()
    )
    return _started(record)


@router.get(
    "/backtests/<backtest_id>",
    summary="A backtest: status and progress; when completed its performance, data fidelity and warnings",
    responses=errors.route_docs(200, BacktestOut, 404, 422),
)
def get_backtest(backtest_id: BacktestId) -> BacktestOut:
    return BacktestOut.of(backtests.get_backtest(backtest_id, owner=caller(), stores=stores()))


@router.get(
    "/backtests/<backtest_id>/trades",
    summary="A backtest's paper trades, in ledger order",
    responses=errors.route_docs(200, BacktestTradeListOut, 400, 404, 422),
)
def list_backtest_trades(
    backtest_id: BacktestId, limit: Limit = PAGE_DEFAULT, next_token: NextToken = None
) -> BacktestTradeListOut:
    page = backtests.list_items(
        backtest_id, "T#", owner=caller(), limit=limit, next_token=next_token, stores=stores()
    )
    items = [schemas.TradeOut.of(Trade.model_validate_json(i["trade"])) for i in page.items]
    return BacktestTradeListOut(items=items, next_token=page.next_token)


@router.get(
    "/backtests/<backtest_id>/executions",
    summary="A backtest's slots that traded or did not complete, in slot order",
    responses=errors.route_docs(200, BacktestExecutionListOut, 400, 404, 422),
)
def list_backtest_executions(
    backtest_id: BacktestId, limit: Limit = PAGE_DEFAULT, next_token: NextToken = None
) -> BacktestExecutionListOut:
    page = backtests.list_items(
        backtest_id, "X#", owner=caller(), limit=limit, next_token=next_token, stores=stores()
    )
    items = [BacktestExecutionOut.model_validate_json(i["record"]) for i in page.items]
    return BacktestExecutionListOut(items=items, next_token=page.next_token)


@router.get(
    "/strategies/<strategy_id>/backtests",
    summary="A strategy's backtests, newest first",
    responses=errors.route_docs(200, BacktestListOut, 400, 404, 422),
)
def list_strategy_backtests(
    strategy_id: StrategyId, limit: Limit = PAGE_DEFAULT, next_token: NextToken = None
) -> BacktestListOut:
    page = backtests.list_strategy_backtests(
        strategy_id, owner=caller(), limit=limit, next_token=next_token, stores=stores()
    )
    return BacktestListOut(items=[BacktestOut.of(r) for r in page.items], next_token=page.next_token)


@router.delete(
    "/backtests/<backtest_id>",
    summary="Cancel a queued or running backtest; delete a finished one",
    responses=errors.route_docs(200, BacktestDeletedOut, 404, 422),
)
def delete_backtest(backtest_id: BacktestId) -> BacktestDeletedOut:
    status = backtests.delete_backtest(backtest_id, owner=caller(), now=utc_now(), stores=stores())
    return BacktestDeletedOut.model_validate({"backtest_id": backtest_id, "status": status})


@router.get(
    "/strategies/<strategy_id>/backtests/<backtest_id>/comparison",
    summary="The live strategy's performance beside a backtest of it over the same period",
    responses=errors.route_docs(200, ComparisonOut, 404, 409, 422),
)
def compare_backtest(strategy_id: StrategyId, backtest_id: BacktestId) -> ComparisonOut:
    view = backtests.compare(strategy_id, backtest_id, owner=caller(), now=utc_now(), stores=stores())
    return ComparisonOut.model_validate(view)


@router.exception_handler(BacktestNotFound)
def _backtest_not_found(exc: BacktestNotFound) -> Response[Any]:
    # the same words whether it is missing or someone else's
    return errors.error_response("backtest_not_found", "backtest not found", request_id=_request_id())
