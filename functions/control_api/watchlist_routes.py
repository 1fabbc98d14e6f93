"""Routes of a user's watchlists and their items."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from engine.clock import Deadline
from engine.errors import MarketDataUnavailable
from engine.services import watchlists
from engine.storage.strategies import StrategyRepository
from engine.storage.watchlists import WatchlistRepository

try:  # imported as a package: tests, the local stack, the OpenAPI printer
    from functions.control_api import app as api
    from functions.control_api import errors, idempotency, watchlist_schemas
except ImportError:  # in Lambda the function's folder is the task root
    import app as api  # type: ignore[no-redef]
    import errors  # type: ignore[no-redef]
    import idempotency  # type: ignore[no-redef]
    import watchlist_schemas  # type: ignore[no-redef]

router = Router()  # type: ignore[no-untyped-call]

WatchlistId = Annotated[str, Path(min_length=1, max_length=64)]
MarketId = Annotated[str, Path(min_length=1, max_length=128)]
RESOLVE_SECONDS = 10.0  # resolving markets must leave time to answer inside API Gateway's 29 s


def repo() -> WatchlistRepository:
    return WatchlistRepository()


def _out(watchlist: Any) -> watchlist_schemas.WatchlistOut:
    return watchlist_schemas.WatchlistOut.model_validate(watchlist.model_dump())


@router.post(
    "/watchlists",
    status_code=201,
    summary="Create a watchlist (at most 50 a user)",
    middlewares=[idempotency.idempotent_route],
    responses=errors.route_docs(201, watchlist_schemas.WatchlistOut, 400, 413, 422, 429),
)
def create_watchlist(
    body: watchlist_schemas.CreateWatchlistIn, idempotency_key: api.IdempotencyKey = None
) -> Response[watchlist_schemas.WatchlistOut]:
    watchlist = watchlists.create_watchlist(
        owner=api.caller(), name=body.name, description=body.description, now=api.request_time(), repo=repo()
    )
    return Response(
        status_code=201,
        content_type=errors.CONTENT_TYPE,
        body=_out(watchlist),
        headers={"Location": f"/watchlists/{watchlist.watchlist_id}"},
    )


@router.get(
    "/watchlists",
    summary="The caller's watchlists, newest first",
    responses=errors.route_docs(200, watchlist_schemas.WatchlistListOut, 400, 422),
)
def list_watchlists(
    limit: api.Limit = api.PAGE_DEFAULT, next_token: api.NextToken = None
) -> watchlist_schemas.WatchlistListOut:
    page = repo().list_by_owner(api.caller(), limit=limit, next_token=next_token)
    return watchlist_schemas.WatchlistListOut(items=[_out(w) for w in page.items], next_token=page.next_token)


@router.get(
    "/watchlists/<watchlist_id>",
    summary="One watchlist",
    responses=errors.route_docs(200, watchlist_schemas.WatchlistOut, 404, 422),
)
def get_watchlist(watchlist_id: WatchlistId) -> watchlist_schemas.WatchlistOut:
    return _out(repo().get(watchlist_id, owner=api.caller()))


@router.patch(
    "/watchlists/<watchlist_id>",
    summary="Rename a watchlist or change its description",
    responses=errors.route_docs(200, watchlist_schemas.WatchlistOut, 400, 404, 413, 422),
)
def patch_watchlist(
    watchlist_id: WatchlistId, body: watchlist_schemas.PatchWatchlistIn
) -> watchlist_schemas.WatchlistOut:
    watchlist = watchlists.update_watchlist(
        watchlist_id, owner=api.caller(), changes=body.changes(), now=api.request_time(), repo=repo()
    )
    return _out(watchlist)


@router.delete(
    "/watchlists/<watchlist_id>",
    status_code=204,
    summary="Delete a watchlist and its items (409 while a deployed strategy reads it)",
    responses=errors.route_docs(204, None, 404, 409, 422),
)
def delete_watchlist(watchlist_id: WatchlistId) -> Response[None]:
    watchlists.delete_watchlist(
        watchlist_id, owner=api.caller(), repo=repo(), strategies=StrategyRepository()
    )
    return Response(status_code=204)


@router.post(
    "/watchlists/<watchlist_id>/items",
    summary="Add markets by id or event slug, each with a snapshot of the market now; the items added",
    middlewares=[idempotency.idempotent_route],
    responses=errors.route_docs(200, watchlist_schemas.WatchlistItemListOut, 400, 404, 413, 422, 429, 503),
)
def add_items(
    watchlist_id: WatchlistId, body: watchlist_schemas.AddItemsIn, idempotency_key: api.IdempotencyKey = None
) -> watchlist_schemas.WatchlistItemListOut:
    from engine.market.polymarket import client_from_settings

    budget = min(RESOLVE_SECONDS, api.run_budget_seconds(api.app.lambda_context))
    added = watchlists.add_items(
        watchlist_id,
        owner=api.caller(),
        market_ids=body.market_ids,
        event_slugs=body.event_slugs,
        reason=body.reason,
        ttl_hours=body.ttl_hours,
        now=api.request_time(),
        provider=client_from_settings(),
        deadline=Deadline(budget),
        repo=repo(),
    )
    return watchlist_schemas.WatchlistItemListOut(
        items=[watchlist_schemas.WatchlistItemOut.model_validate(i.model_dump()) for i in added]
    )


@router.get(
    "/watchlists/<watchlist_id>/items",
    summary="The items of a watchlist",
    responses=errors.route_docs(200, watchlist_schemas.WatchlistItemListOut, 400, 404, 422),
)
def list_items(
    watchlist_id: WatchlistId, limit: api.Limit = api.PAGE_DEFAULT, next_token: api.NextToken = None
) -> watchlist_schemas.WatchlistItemListOut:
    page = watchlists.list_items(
        watchlist_id, owner=api.caller(), limit=limit, next_token=next_token, repo=repo()
    )
    return watchlist_schemas.WatchlistItemListOut(
        items=[watchlist_schemas.WatchlistItemOut.model_validate(i.model_dump()) for i in page.items],
        next_token=page.next_token,
    )


@router.delete(
    "/watchlists/<watchlist_id>/items/<market_id>",
    status_code=204,
    summary="Take a market off a watchlist",
    responses=errors.route_docs(204, None, 404, 422),
)
def remove_item(watchlist_id: WatchlistId, market_id: MarketId) -> Response[Any]:
    if not watchlists.remove_item(watchlist_id, market_id, owner=api.caller(), repo=repo()):
        return errors.error_response(
            "not_found", f"market {market_id} is not on this watchlist", request_id=api.request_id()
        )
    return Response(status_code=204)


@router.exception_handler(MarketDataUnavailable)
def _market_data_unavailable(exc: MarketDataUnavailable) -> Response[Any]:
    return errors.error_response(
        "market_data_unavailable",
        "the market data source cannot be reached to resolve the markets; try again",
        request_id=api.request_id(),
    )
