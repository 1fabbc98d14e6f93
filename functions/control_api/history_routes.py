"""Routes of a strategy's history: deployments, graph versions (and restore) and the activity timeline."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from engine.services import history

try:  # imported as a package: tests, the local stack, the OpenAPI printer
    from functions.control_api import app as api
    from functions.control_api import errors, history_schemas, idempotency, schemas
except ImportError:  # in Lambda the function's folder is the task root
    import app as api  # type: ignore[no-redef]
    import errors  # type: ignore[no-redef]
    import history_schemas  # type: ignore[no-redef]
    import idempotency  # type: ignore[no-redef]
    import schemas  # type: ignore[no-redef]

router = Router()  # type: ignore[no-untyped-call]

DeploymentId = Annotated[str, Path(min_length=1, max_length=64)]
GraphVersionNumber = Annotated[int, Path(ge=1, le=1_000_000)]


@router.get(
    "/strategies/<strategy_id>/deployments",
    summary="The strategy's deployment records, newest first",
    responses=errors.route_docs(200, history_schemas.DeploymentListOut, 400, 404, 422),
)
def list_deployments(
    strategy_id: api.StrategyId, limit: api.Limit = api.PAGE_DEFAULT, next_token: api.NextToken = None
) -> history_schemas.DeploymentListOut:
    page = history.list_deployments(
        strategy_id, owner=api.caller(), limit=limit, next_token=next_token, stores=api.stores()
    )
    return history_schemas.DeploymentListOut(
        items=[history_schemas.DeploymentOut.model_validate(d.model_dump()) for d in page.items],
        next_token=page.next_token,
    )


@router.get(
    "/strategies/<strategy_id>/deployments/<deployment_id>",
    summary="One deployment record: settings, graph versions that ran, and its final summary once replaced",
    responses=errors.route_docs(200, history_schemas.DeploymentOut, 404, 422),
)
def get_deployment(strategy_id: api.StrategyId, deployment_id: DeploymentId) -> history_schemas.DeploymentOut:
    deployment = history.get_deployment(strategy_id, deployment_id, owner=api.caller(), stores=api.stores())
    return history_schemas.DeploymentOut.model_validate(deployment.model_dump())


@router.get(
    "/strategies/<strategy_id>/versions",
    summary="Every kept graph version, newest first, the current one marked",
    responses=errors.route_docs(200, history_schemas.GraphVersionListOut, 400, 404, 422),
)
def list_versions(
    strategy_id: api.StrategyId, limit: api.Limit = api.PAGE_DEFAULT, next_token: api.NextToken = None
) -> history_schemas.GraphVersionListOut:
    strategy, page = history.list_versions(
        strategy_id, owner=api.caller(), limit=limit, next_token=next_token, stores=api.stores()
    )
    return history_schemas.GraphVersionListOut(
        items=[
            history_schemas.GraphVersionSummaryOut.of(v, current=strategy.graph_version) for v in page.items
        ],
        next_token=page.next_token,
    )


@router.get(
    "/strategies/<strategy_id>/versions/<graph_version>",
    summary="One graph version with its graph",
    responses=errors.route_docs(200, history_schemas.GraphVersionOut, 404, 422),
)
def get_version(
    strategy_id: api.StrategyId, graph_version: GraphVersionNumber
) -> history_schemas.GraphVersionOut:
    strategy, version = history.get_version(
        strategy_id, graph_version, owner=api.caller(), stores=api.stores()
    )
    return history_schemas.GraphVersionOut.full(version, current=strategy.graph_version)


@router.post(
    "/strategies/<strategy_id>/versions/<graph_version>/restore",
    summary="Make version n's graph current again, as a new version; the strategy",
    middlewares=[idempotency.idempotent_route],
    responses=errors.route_docs(200, schemas.StrategyOut, 400, 404, 409, 412, 413, 422),
)
def restore_version(
    strategy_id: api.StrategyId,
    graph_version: GraphVersionNumber,
    if_match: api.IfMatch = None,
    idempotency_key: api.IdempotencyKey = None,
) -> Response[schemas.StrategyOut]:
    strategy = history.restore_version(
        strategy_id,
        graph_version,
        owner=api.caller(),
        expected_version=api.expected_version(if_match),
        now=api.request_time(),
        stores=api.stores(),
    )
    return api.strategy_answer(strategy)


@router.get(
    "/strategies/<strategy_id>/events",
    summary="The activity timeline, newest first: who, when, from, to, reason",
    responses=errors.route_docs(200, history_schemas.StrategyEventListOut, 400, 404, 422),
)
def list_events(
    strategy_id: api.StrategyId, limit: api.Limit = api.PAGE_DEFAULT, next_token: api.NextToken = None
) -> history_schemas.StrategyEventListOut:
    page = history.list_events(
        strategy_id, owner=api.caller(), limit=limit, next_token=next_token, stores=api.stores()
    )
    return history_schemas.StrategyEventListOut(
        items=[history_schemas.StrategyEventOut.of(e) for e in page.items], next_token=page.next_token
    )
