"""The control API (DESIGN 4): HTTP API payload 2.0 events in, one engine use case per route, answers out.

Thin on purpose: parse and validate (Powertools resolver with pydantic), call one function of
engine.services, shape the answer. Domain errors become HTTP answers in one place, the exception handlers
below; nothing an exception says about internals reaches a client.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ResponseValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AwareDatetime

from engine.clock import Deadline, utc_now
from engine.errors import (
    Conflict,
    DomainError,
    ExecutionNotFound,
    InvalidNextToken,
    InvalidTransition,
    KillSwitchActive,
    LiveTradingUnavailable,
    NotFound,
    PreconditionFailed,
    QuotaExceeded,
    RateLimited,
    StrategyNotFound,
    ValidationFailed,
)
from engine.models.execution import RunStatus
from engine.models.strategy import Action, Strategy
from engine.services import kill_switch, strategies
from engine.settings import Settings, get_settings

try:  # imported as a package: tests, the local stack, the OpenAPI printer
    from functions.control_api import (
        backtests,
        errors,
        idempotency,
        node_routes,
        notifications,
        portfolio_routes,
        risk_routes,
        schemas,
    )
    from functions.control_api import schedules as schedule_routes
except ImportError:  # in Lambda the function's folder is the task root, so its modules are top-level
    import backtests  # type: ignore[no-redef]
    import errors  # type: ignore[no-redef]
    import idempotency  # type: ignore[no-redef]
    import node_routes  # type: ignore[no-redef]
    import notifications  # type: ignore[no-redef]
    import portfolio_routes  # type: ignore[no-redef]
    import risk_routes  # type: ignore[no-redef]
    import schedules as schedule_routes  # type: ignore[no-redef]
    import schemas  # type: ignore[no-redef]

logger = Logger()
metrics = Metrics()
tracer = Tracer()
# A response that fails its own model is our bug: 500, never a 422 blaming the client.
app = APIGatewayHttpResolver(enable_validation=True, response_validation_error_http_code=500)

app.include_router(notifications.router)

RUN_MARGIN_SECONDS = 3.0  # left after a manual run to write its log and answer before Lambda stops us
PAGE_DEFAULT = 20
MAX_VERSION_DIGITS = 18

Limit = Annotated[int, Query(ge=1, le=100, description="page size, 1..100")]
NextToken = Annotated[str | None, Query(max_length=4096, description="from the previous page")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="idempotency-key",
        max_length=idempotency.MAX_KEY_CHARS,
        description="a retry with the same key returns the first answer and does nothing again",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(alias="if-match", max_length=64, description="the strategy's `version` (412 on mismatch)"),
]
StrategyId = Annotated[str, Path(min_length=1, max_length=64)]
DeploymentFilter = Annotated[
    str | None, Query(min_length=1, max_length=64, description="only those of this deployment")
]
ExecutionId = Annotated[str, Path(min_length=1, max_length=64)]


# -- request context ---------------------------------------------------------------------------------------


def caller() -> str:
    """The JWT `sub`; the early gate already answered 401 for events without it."""
    return str(app.current_event.request_context.authorizer.jwt_claim["sub"])


def request_time() -> datetime:
    """The request's `now` (one clock for every route module; tests replace `utc_now`)."""
    return utc_now()


def request_id() -> str:
    return str(app.current_event.request_context.request_id or "")


def settings() -> Settings:
    return get_settings()


def stores() -> strategies.Stores:
    return strategies.Stores.default()


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match names (`3`, `"3"`, `W/"3"`); `*` or none: no condition."""
    if if_match is None or if_match.strip() == "*":
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    # isdigit() is true for "²" and other Unicode digits int() refuses; a version fits in 18 digits
    if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_VERSION_DIGITS):
        raise ValidationFailed(
            "If-Match must be the strategy's version",
            details=[{"loc": ["header", "If-Match"], "msg": 'an integer version, e.g. "3"'}],
        )
    return int(raw)


def strategy_answer(strategy: Strategy, status_code: int = 200) -> Response[schemas.StrategyOut]:
    return Response(
        status_code=status_code,
        content_type=errors.CONTENT_TYPE,
        body=schemas.StrategyOut.of(strategy),
        headers={"ETag": f'"{strategy.version}"'},
    )


def run_budget_seconds(context: LambdaContext | None) -> float:
    """The manual run's deadline: the configured one, and never past Lambda's remaining time minus a
    margin (API Gateway gives up at 29 s; the function's timeout is 28 s)."""
    budget = settings().manual_run_deadline_seconds
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining_ms):
        budget = min(budget, remaining_ms() / 1000 - RUN_MARGIN_SECONDS)
    return max(budget, 0.0)


# -- routes ------------------------------------------------------------------------------------------------


@app.post(
    "/strategies",
    status_code=201,
    summary="Create a strategy (DRAFT)",
    middlewares=[idempotency.idempotent_route],
    responses=errors.route_docs(201, schemas.StrategyOut, 400, 413, 422, 429),
)
def create_strategy(
    body: schemas.CreateStrategyIn, idempotency_key: IdempotencyKey = None
) -> Response[schemas.StrategyOut]:
    strategy = strategies.create_strategy(
        owner=caller(),
        name=body.strategy_name,
        description=body.strategy_description,
        strategy_type=body.strategy_type,
        node_graph=body.node_graph,
        now=utc_now(),
        quota=settings().strategy_quota,
        stores=stores(),
    )
    answer = strategy_answer(strategy, status_code=201)
    answer.headers["Location"] = f"/strategies/{strategy.strategy_id}"
    return answer


@app.get(
    "/strategies",
    summary="The caller's strategies, newest first",
    responses=errors.route_docs(200, schemas.StrategyListOut, 400, 422),
)
def list_strategies(limit: Limit = PAGE_DEFAULT, next_token: NextToken = None) -> schemas.StrategyListOut:
    page = strategies.list_strategies(caller(), limit=limit, next_token=next_token, stores=stores())
    return schemas.StrategyListOut(
        items=[schemas.StrategyOut.of(s) for s in page.items], next_token=page.next_token
    )


@app.get(
    "/strategies/<strategy_id>",
    summary="One strategy with its next 5 slots",
    responses=errors.route_docs(200, schemas.StrategyDetailOut, 404, 422),
)
def get_strategy(strategy_id: StrategyId) -> Response[schemas.StrategyDetailOut]:
    view = strategies.get_strategy(strategy_id, owner=caller(), now=utc_now(), stores=stores())
    out = schemas.StrategyOut.of(view.strategy).model_dump()
    body = schemas.StrategyDetailOut.model_validate({**out, "next_slots": view.next_slots})
    return Response(
        status_code=200,
        content_type=errors.CONTENT_TYPE,
        body=body,
        headers={"ETag": f'"{view.strategy.version}"'},
    )


@app.patch(
    "/strategies/<strategy_id>",
    summary="Change name, description or node graph (graph changes apply from the next run)",
    responses=errors.route_docs(200, schemas.StrategyOut, 400, 404, 409, 412, 413, 422),
)
def patch_strategy(
    strategy_id: StrategyId, body: schemas.PatchStrategyIn, if_match: IfMatch = None
) -> Response[schemas.StrategyOut]:
    strategy = strategies.patch_strategy(
        strategy_id,
        owner=caller(),
        changes=body.changes(),
        expected_version=expected_version(if_match),
        now=utc_now(),
        stores=stores(),
    )
    return strategy_answer(strategy)


@app.delete(
    "/strategies/<strategy_id>",
    status_code=204,
    summary="Delete a strategy and its data (not while RUNNING)",
    responses=errors.route_docs(204, None, 404, 409, 422),
)
def delete_strategy(strategy_id: StrategyId) -> Response[None]:
    strategies.delete_strategy(strategy_id, owner=caller(), stores=stores(), now=utc_now())
    return Response(status_code=204)


@app.post(
    "/strategies/<strategy_id>/deploy",
    summary="Deploy on a schedule with a paper bankroll (auto_start: RUNNING at once)",
    middlewares=[idempotency.idempotent_route],
    responses=errors.route_docs(200, schemas.StrategyOut, 400, 404, 409, 412, 413, 422),
)
def deploy_strategy(
    strategy_id: StrategyId,
    body: schemas.DeployStrategyIn,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[schemas.StrategyOut]:
    strategy = strategies.deploy_strategy(
        strategy_id,
        owner=caller(),
        config=body,
        expected_version=expected_version(if_match),
        now=utc_now(),
        stores=stores(),
    )
    return strategy_answer(strategy)


def _state_change(strategy_id: str, action: Action) -> Response[schemas.StrategyOut]:
    return strategy_answer(
        kill_switch.change_state(strategy_id, action, owner=caller(), now=utc_now(), stores=stores())
    )


@app.post(
    "/strategies/<strategy_id>/start",
    summary="DEPLOYED or STOPPED to RUNNING, from the next slot strictly after now",
    middlewares=[idempotency.idempotent_route],
    responses=errors.route_docs(200, schemas.StrategyOut, 400, 404, 409, 413, 422),
)
def start_strategy(
    strategy_id: StrategyId, idempotency_key: IdempotencyKey = None
) -> Response[schemas.StrategyOut]:
    return _state_change(strategy_id, Action.START)


@app.post(
    "/strategies/<strategy_id>/pause",
    summary="RUNNING to PAUSED (positions are kept and still settle)",
    middlewares=[idempotency.idempotent_route],
    responses=errors.route_docs(200, schemas.StrategyOut, 400, 404, 409, 413, 422),
)
def pause_strategy(
    strategy_id: StrategyId, idempotency_key: IdempotencyKey = None
) -> Response[schemas.StrategyOut]:
    return _state_change(strategy_id, Action.PAUSE)


@app.post(
    "/strategies/<strategy_id>/stop",
    summary="RUNNING or PAUSED to STOPPED (positions are kept and still settle)",
    middlewares=[idempotency.idempotent_route],
    responses=errors.route_docs(200, schemas.StrategyOut, 400, 404, 409, 413, 422),
)
def stop_strategy(
    strategy_id: StrategyId, idempotency_key: IdempotencyKey = None
) -> Response[schemas.StrategyOut]:
    return _state_change(strategy_id, Action.STOP)


@app.post(
    "/strategies/<strategy_id>/resume",
    summary="PAUSED to RUNNING, from the next slot strictly after now",
    middlewares=[idempotency.idempotent_route],
    responses=errors.route_docs(200, schemas.StrategyOut, 400, 404, 409, 413, 422),
)
def resume_strategy(
    strategy_id: StrategyId, idempotency_key: IdempotencyKey = None
) -> Response[schemas.StrategyOut]:
    return _state_change(strategy_id, Action.RESUME)


@app.post(
    "/strategies/<strategy_id>/run",
    summary="Run once now (bounded to finish inside API Gateway's 29 s); the execution log",
    middlewares=[idempotency.idempotent_route],
    responses=errors.route_docs(200, schemas.ExecutionLogOut, 400, 404, 409, 413, 422, 429),
)
def run_strategy(strategy_id: StrategyId, idempotency_key: IdempotencyKey = None) -> schemas.ExecutionLogOut:
    from engine.services import execution  # the run path pulls in market data and the graph runner

    # run_manual checks owner and state table itself (404, 409) before it fetches any market data
    log = execution.run_manual(
        strategy_id, owner=caller(), now=utc_now(), deadline=Deadline(run_budget_seconds(app.lambda_context))
    )
    return schemas.ExecutionLogOut.model_validate(log.model_dump())


@app.get(
    "/strategies/<strategy_id>/executions",
    summary="Execution logs, newest first (of one deployment with deployment_id)",
    responses=errors.route_docs(200, schemas.ExecutionLogListOut, 400, 404, 422),
)
def list_executions(  # noqa: PLR0917 (the resolver passes query parameters by name)
    strategy_id: StrategyId,
    limit: Limit = PAGE_DEFAULT,
    next_token: NextToken = None,
    status: Annotated[RunStatus | None, Query(description="only logs with this status")] = None,
    since: Annotated[AwareDatetime | None, Query(description="only slots at or after (RFC 3339)")] = None,
    deployment_id: DeploymentFilter = None,
) -> schemas.ExecutionLogListOut:
    page = strategies.list_executions(
        strategy_id,
        owner=caller(),
        limit=limit,
        next_token=next_token,
        status=status.value if status is not None else None,
        since=since,
        stores=stores(),
        deployment_id=deployment_id,
    )
    return schemas.ExecutionLogListOut(
        items=[schemas.ExecutionLogSummaryOut.model_validate(log.model_dump()) for log in page.items],
        next_token=page.next_token,
    )


@app.get(
    "/strategies/<strategy_id>/executions/<execution_id>",
    summary="One execution log with its per-node trace",
    responses=errors.route_docs(200, schemas.ExecutionLogOut, 404, 422),
)
def get_execution(strategy_id: StrategyId, execution_id: ExecutionId) -> schemas.ExecutionLogOut:
    log = strategies.get_execution(strategy_id, execution_id, owner=caller(), stores=stores())
    return schemas.ExecutionLogOut.model_validate(log.model_dump())


@app.get(
    "/strategies/<strategy_id>/trades",
    summary="Paper trades, newest first (of one deployment with deployment_id)",
    responses=errors.route_docs(200, schemas.TradeListOut, 400, 404, 422),
)
def list_trades(
    strategy_id: StrategyId,
    limit: Limit = PAGE_DEFAULT,
    next_token: NextToken = None,
    deployment_id: DeploymentFilter = None,
) -> schemas.TradeListOut:
    page = strategies.list_trades(
        strategy_id,
        owner=caller(),
        limit=limit,
        next_token=next_token,
        stores=stores(),
        deployment_id=deployment_id,
    )
    return schemas.TradeListOut(
        items=[schemas.TradeOut.of(t) for t in page.items], next_token=page.next_token
    )


@app.get(
    "/strategies/<strategy_id>/portfolio",
    summary="The portfolio (the opening one until the first trade)",
    responses=errors.route_docs(200, schemas.PortfolioOut, 404, 409, 422),
)
def get_portfolio(strategy_id: StrategyId) -> schemas.PortfolioOut:
    portfolio = strategies.get_portfolio(strategy_id, owner=caller(), stores=stores())
    return schemas.PortfolioOut.model_validate(portfolio.model_dump())


@app.get(
    "/strategies/<strategy_id>/performance",
    summary="Equity curve and metrics",
    responses=errors.route_docs(200, schemas.PerformanceOut, 404, 409, 422),
)
def get_performance(strategy_id: StrategyId) -> schemas.PerformanceOut:
    performance = strategies.get_performance(strategy_id, owner=caller(), now=utc_now(), stores=stores())
    return schemas.PerformanceOut.model_validate(performance.model_dump())


app.include_router(node_routes.router)  # GET /node-types, POST /strategies/validate and /preview
app.include_router(backtests.router)
app.include_router(portfolio_routes.router)  # GET /portfolio, /portfolio/performance, /strategies/compare
app.include_router(risk_routes.router)  # PUT/GET /risk-limits, POST/DELETE /kill-switch


# -- errors: each domain error mapped once -----------------------------------------------------------------


def _domain_answer(exc: DomainError) -> Response[Any]:
    return errors.error_response(exc.code, exc.message, request_id=request_id(), details=exc.details)


app.include_router(schedule_routes.router)


@app.exception_handler(StrategyNotFound)
def _not_found(exc: StrategyNotFound) -> Response[Any]:
    # the same words whether it is missing or someone else's
    return errors.error_response("strategy_not_found", "strategy not found", request_id=request_id())


@app.exception_handler(NotFound)
def _sub_resource_not_found(exc: NotFound) -> Response[Any]:
    # a deployment or graph version of the caller's own strategy that does not exist
    return errors.error_response("not_found", exc.message, request_id=request_id())


@app.exception_handler(ExecutionNotFound)
def _execution_not_found(exc: ExecutionNotFound) -> Response[Any]:
    return errors.error_response("execution_not_found", "execution not found", request_id=request_id())


@app.exception_handler(InvalidTransition)
def _invalid_transition(exc: InvalidTransition) -> Response[Any]:
    return _domain_answer(exc)


@app.exception_handler(KillSwitchActive)
def _kill_switch_active(exc: KillSwitchActive) -> Response[Any]:
    return _domain_answer(exc)


@app.exception_handler(Conflict)
def _conflict(exc: Conflict) -> Response[Any]:
    return errors.error_response(
        "conflict", exc.message, request_id=request_id(), details=_public(exc.details)
    )


@app.exception_handler(LiveTradingUnavailable)
def _live(exc: LiveTradingUnavailable) -> Response[Any]:
    return _domain_answer(exc)


@app.exception_handler(PreconditionFailed)
def _precondition(exc: PreconditionFailed) -> Response[Any]:
    return _domain_answer(exc)


@app.exception_handler(QuotaExceeded)
def _quota(exc: QuotaExceeded) -> Response[Any]:
    return _domain_answer(exc)


@app.exception_handler(RateLimited)
def _rate_limited(exc: RateLimited) -> Response[Any]:
    answer = _domain_answer(exc)
    answer.headers["Retry-After"] = str(exc.retry_after)
    return answer


@app.exception_handler(InvalidNextToken)
def _next_token(exc: InvalidNextToken) -> Response[Any]:
    return errors.error_response(
        "invalid_next_token", "next_token is not valid for this list", request_id=request_id()
    )


@app.exception_handler(ValidationFailed)
def _domain_validation(exc: ValidationFailed) -> Response[Any]:
    return errors.error_response(
        "validation_error", exc.message, request_id=request_id(), details=_in_body(exc.details)
    )


@app.exception_handler(RequestValidationError)
def _request_validation(exc: RequestValidationError) -> Response[Any]:
    details = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors()[:50]
    ]
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    return errors.error_response(
        "validation_error", f"{where}: {first['msg']}", request_id=request_id(), details=details
    )


@app.exception_handler(RequestUnsupportedContentType)
def _not_json(exc: RequestUnsupportedContentType) -> Response[Any]:
    return errors.error_response(
        "invalid_json",
        "the body must be sent as Content-Type: application/json",
        request_id=request_id(),
        details=[{"loc": ["header", "Content-Type"], "msg": "application/json"}],
    )


@app.exception_handler(IdempotencyValidationError)
def _idempotency_reused(exc: IdempotencyValidationError) -> Response[Any]:
    return errors.error_response(
        "validation_error",
        "this Idempotency-Key was used with a different body",
        request_id=request_id(),
        details=[{"loc": ["header", "Idempotency-Key"], "msg": "reused with a different body"}],
    )


@app.exception_handler(IdempotencyAlreadyInProgressError)
def _idempotency_in_progress(exc: IdempotencyAlreadyInProgressError) -> Response[Any]:
    return errors.error_response(
        "conflict", "a request with this Idempotency-Key is still running", request_id=request_id()
    )


@app.exception_handler(ResponseValidationError)
def _bad_answer(exc: ResponseValidationError) -> Response[Any]:
    logger.error("answer failed its own model", extra={"errors": str(exc.errors())[:2000]})
    return errors.error_response("internal_error", errors.GENERIC_500, request_id=request_id())


@app.exception_handler(DomainError)
def _unexpected_domain_error(exc: DomainError) -> Response[Any]:
    # storage outages and the like: the detail (AWS codes and text) is for the log, not the client
    logger.error("request failed", extra={"error_code": exc.code, "details": str(exc.details)[:2000]})
    return errors.error_response("internal_error", errors.GENERIC_500, request_id=request_id())


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response[Any]:
    logger.exception("unhandled error")
    return errors.error_response("internal_error", errors.GENERIC_500, request_id=request_id())


def _public(details: Any) -> Any:
    # storage conflicts carry AWS's own words in their details; only our own dict shapes go out
    if isinstance(details, dict) and "aws_code" in details:
        return None
    return details


def _in_body(details: Any) -> Any:
    """Engine paths name strategy fields; when the request sent that field, the path points into its body,
    like the resolver's own (`["body", "node_graph", ...]`). A deploy's graph check names the stored graph."""
    if not isinstance(details, list):
        return details
    try:
        sent = app.current_event.json_body
    except ValueError:
        sent = None
    fields = set(sent) if isinstance(sent, dict) else set()
    shaped = []
    for detail in details:
        loc = list(detail.get("loc", [])) if isinstance(detail, dict) else []
        shaped.append({**detail, "loc": ["body", *loc]} if loc and loc[0] in fields else detail)
    return shaped


@app.not_found
def _unknown_route(exc: NotFoundError) -> Response[Any]:
    return errors.error_response("not_found", "no such route", request_id=request_id())


# -- the handler -------------------------------------------------------------------------------------------


def _record(event: dict[str, Any], answer: dict[str, Any]) -> None:
    """One metric per request, by route and outcome (the error code, or ok)."""
    status = int(answer.get("statusCode", 500))
    outcome = "ok"
    if status >= 400:
        outcome = next((code for code, known in errors.STATUS_OF.items() if known == status), "error")
        with contextlib.suppress(ValueError, KeyError, TypeError):
            outcome = str(json.loads(answer.get("body") or "{}")["error"]["code"])
    metrics.add_dimension(name="route", value=str(event.get("routeKey") or "unknown"))
    metrics.add_dimension(name="outcome", value=outcome)
    metrics.add_metric(name="ApiRequests", unit=MetricUnit.Count, value=1)
    log = logger.warning if status >= 500 else logger.info
    log("request answered", extra={"status": status, "outcome": outcome})


_signing_key_ready = False


def _require_signing_key() -> None:
    """Refuse to start without the next_token signing key (DESIGN 4.1): the first invocation of an instance
    reads it and raises, uncaught, when no secret is configured or it cannot be read. No derived fallback."""
    global _signing_key_ready  # noqa: PLW0603 (once per instance, like a cold start)
    if not _signing_key_ready:
        from engine.storage.tokens import require_signing_key

        require_signing_key()
        _signing_key_ready = True


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _require_signing_key()
    idempotency.register_context(context)
    path_parameters = event.get("pathParameters") or {}
    logger.append_keys(caller=errors.caller_of(event), strategy_id=path_parameters.get("id"))
    answer = errors.early_rejection(event) or app.resolve(event, context)
    _record(event, answer)
    return answer


# routes of other resources, each in its own module on this one resolver (imported last: they use the
# helpers above)
try:
    from functions.control_api import history_routes, watchlist_routes
except ImportError:  # in Lambda
    import history_routes  # type: ignore[no-redef]
    import watchlist_routes  # type: ignore[no-redef]

app.include_router(history_routes.router)
app.include_router(watchlist_routes.router)

__all__ = ["app", "lambda_handler"]
