"""Strategy-language routes (DESIGN 5.1): the node catalogue, graph validation and the dry-run preview.

A Router included by app.py; errors raised here are answered by app.py's exception handlers.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import ConfigDict, Field

from engine.clock import Deadline, utc_now
from engine.models.base import Model, Money
from engine.models.strategy import MAX_BANKROLL, MIN_BANKROLL
from engine.models.trading import OutcomeSide, TradeReason
from engine.settings import get_settings

try:  # imported as a package: tests, the local stack, the OpenAPI printer
    from functions.control_api import errors
except ImportError:  # in Lambda the function's folder is the task root, so its modules are top-level
    import errors  # type: ignore[no-redef]

router = Router()  # type: ignore[no-untyped-call]
PREVIEW_MARGIN_SECONDS = 3.0


# -- edge models -------------------------------------------------------------------------------------------


class InputsOut(Model):
    min: int
    max: int | None = Field(description="null: any number of input edges")


class NodeTypeOut(Model):
    type: str
    category: Literal["source", "filter", "signal", "logic", "sink"]
    title: str
    description: str
    inputs: InputsOut
    handles: list[str]
    config_schema: dict[str, Any] = Field(description="JSON Schema 2020-12 of the node's `config`")
    example: dict[str, Any] = Field(description="a valid config")


class NodeTypeListOut(Model):
    items: list[NodeTypeOut]


class GraphIn(Model):
    """POST /strategies/validate: the graph as a client would save it."""

    model_config = ConfigDict(extra="forbid")

    node_graph: dict[str, Any]


class FindingOut(Model):
    node_id: str | None
    loc: list[str | int]
    code: str
    message: str
    level: Literal["error", "warning"]


class GraphValidationOut(Model):
    valid: bool = Field(description="passes the save checks")
    deployable: bool = Field(description="passes the deploy checks too")
    errors: list[FindingOut]


class PreviewIn(Model):
    model_config = ConfigDict(extra="forbid")

    node_graph: dict[str, Any]
    paper_bankroll_usd: Money | None = Field(default=None, ge=MIN_BANKROLL, le=MAX_BANKROLL)


class PreviewNodeOut(Model):
    node_id: str
    type: str
    received: int
    kept: int
    duration_ms: int
    decisions: list[dict[str, Any]]
    truncated: bool = False
    error: str | None = None


class PreviewOrderOut(Model):
    market_id: str
    token_id: str
    outcome: OutcomeSide
    outcome_label: str
    question: str
    side: Literal["BUY", "SELL"]
    reason: TradeReason
    usd: Money | None = None
    shares: Money | None = None


class PreviewOut(Model):
    nodes: list[PreviewNodeOut]
    orders: list[PreviewOrderOut]
    warnings: list[str]


# -- routes ------------------------------------------------------------------------------------------------


def _caller() -> str:
    event = cast(APIGatewayProxyEventV2, router.current_event)
    return str(event.request_context.authorizer.jwt_claim["sub"])


@router.get(
    "/node-types",
    summary="The node catalogue: every node type with its config schema and an example",
    responses=errors.route_docs(200, NodeTypeListOut),
)
def list_node_types() -> NodeTypeListOut:
    from engine.nodes.catalogue import catalogue

    return NodeTypeListOut.model_validate({"items": catalogue()})


@router.post(
    "/strategies/validate",
    summary="Check a graph for save and deploy without writing anything",
    responses=errors.route_docs(200, GraphValidationOut, 400, 413, 422),
)
def validate_strategy_graph(body: GraphIn) -> GraphValidationOut:
    from engine.graph.validate import check_graph

    report = check_graph(body.node_graph)
    return GraphValidationOut.model_validate(
        {"valid": report.valid, "deployable": report.deployable, "errors": report.errors}
    )


@router.post(
    "/strategies/preview",
    summary="One dry run of a graph on current market data with an empty account (nothing is written)",
    responses=errors.route_docs(200, PreviewOut, 400, 413, 422, 429),
)
def preview_strategy(body: PreviewIn) -> PreviewOut:
    from engine.market.polymarket import client_from_settings
    from engine.services.preview import preview_graph
    from engine.storage.cooldowns import CooldownRepository
    from engine.storage.dynamo import get_clients

    settings = get_settings()
    now = utc_now()
    budget = settings.manual_run_deadline_seconds
    remaining_ms = getattr(router.lambda_context, "get_remaining_time_in_millis", None)
    if callable(remaining_ms):
        budget = min(budget, remaining_ms() / 1000 - PREVIEW_MARGIN_SECONDS)
    from engine.graph.validate import validate_graph

    validate_graph(body.node_graph)  # a graph that would not save costs no cooldown
    CooldownRepository(get_clients(settings)).take(
        "preview", _caller(), now=now, seconds=settings.preview_cooldown_seconds
    )
    preview = preview_graph(
        body.node_graph,
        now=now,
        deadline=Deadline(max(budget, 0.0)),
        provider=client_from_settings(settings),
        settings=settings,
        bankroll_usd=body.paper_bankroll_usd,
    )
    return PreviewOut.model_validate(
        {
            "nodes": [t.model_dump() for t in preview.nodes],
            "orders": [o.model_dump() for o in preview.orders],
            "warnings": preview.warnings,
        }
    )
