"""Account-wide routes (issue 14): GET /portfolio, GET /portfolio/performance, GET /strategies/compare."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import Field

from engine.clock import utc_now
from engine.models.account_view import AccountPerformance, AccountPortfolio
from engine.models.base import Model, Money, UtcDatetime
from engine.services import account_view, strategies
from engine.storage.account_view import AccountViewRepository

try:  # imported as a package: tests, the local stack, the OpenAPI printer
    from functions.control_api import errors
except ImportError:  # in Lambda the function's folder is the task root
    import errors  # type: ignore[no-redef]

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


def caller() -> str:
    return str(router.current_event.request_context.authorizer.jwt_claim["sub"])


class AccountPortfolioOut(AccountPortfolio):
    """Every strategy of the caller together, paper and live apart."""


class AccountPerformanceOut(AccountPerformance):
    """The combined hourly equity curve and its time-weighted metrics."""


class NormalizedPoint(Model):
    at: UtcDatetime
    value: Money = Field(description="equity / bankroll")


class ComparedStrategyOut(Model):
    strategy_id: str
    strategy_name: str
    bankroll_usd: Money
    metrics: dict[str, Money | int | None]
    normalized_curve: list[NormalizedPoint]


class CompareOut(Model):
    items: list[ComparedStrategyOut]


CompareIds = Annotated[
    str,
    Query(min_length=1, max_length=1000, description="2 to 10 of the caller's strategy ids, comma-separated"),
]


@router.get(
    "/portfolio",
    summary="Every strategy together, paper and live apart",
    responses=errors.route_docs(200, AccountPortfolioOut, 422),
)
def get_account_portfolio() -> AccountPortfolioOut:
    view = account_view.account_portfolio(caller(), views=AccountViewRepository())
    return AccountPortfolioOut.model_validate(view.model_dump())


@router.get(
    "/portfolio/performance",
    summary="Combined hourly equity curve and time-weighted metrics",
    responses=errors.route_docs(200, AccountPerformanceOut, 422),
)
def get_account_performance() -> AccountPerformanceOut:
    performance = account_view.account_performance(caller(), now=utc_now(), views=AccountViewRepository())
    return AccountPerformanceOut.model_validate(performance.model_dump())


@router.get(
    "/strategies/compare",
    summary="2 to 10 strategies side by side, curves normalized to their bankroll",
    responses=errors.route_docs(200, CompareOut, 404, 409, 422),
)
def compare_strategies(ids: CompareIds) -> CompareOut:
    owner, now, stores = caller(), utc_now(), strategies.Stores.default()
    items = []
    for strategy_id in account_view.parse_compare_ids(ids):
        strategy = stores.strategies.get(strategy_id, owner=owner)  # 404 for a foreign or unknown id
        performance = strategies.get_performance(strategy_id, owner=owner, now=now, stores=stores)
        items.append(
            ComparedStrategyOut.model_validate(
                {
                    "strategy_id": strategy_id,
                    "strategy_name": strategy.strategy_name,
                    **account_view.compared(performance),
                }
            )
        )
    return CompareOut(items=items)


__all__ = ["router"]
