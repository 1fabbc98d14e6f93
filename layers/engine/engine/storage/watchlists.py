"""Watchlists table: a user's lists and their items, with the per-user and per-list limits race-free.

Keys (`pk`, `sk`): `OWNER#<owner>` / `LIST#<watchlist_id>` is a list (reading it through its owner's partition
scopes every read to the owner for free), `OWNER#<owner>` / `QUOTA` counts the owner's lists, and
`LIST#<watchlist_id>` / `ITEM#<market_id>` is an item. Creating a list and counting it, adding an item and
counting it, are one transaction each, conditioned on the count staying under its limit: two racing writers
at the limit cannot both pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from engine.errors import Conflict, QuotaExceeded, WatchlistNotFound
from engine.models.watchlist import ItemStatus, Watchlist, WatchlistItem
from engine.storage.dynamo import StorageClients, error_code, from_item, get_clients, map_error, to_item
from engine.storage.pages import Page
from engine.storage.query import Expr, batch_write, query_all, signed_page_query

QUOTA_SK = "QUOTA"
LIST_PREFIX = "LIST#"
ITEM_PREFIX = "ITEM#"
STORAGE_ONLY = ("pk", "sk")


def owner_pk(owner: str) -> str:
    return f"OWNER#{owner}"


def list_pk(watchlist_id: str) -> str:
    return f"{LIST_PREFIX}{watchlist_id}"


def _clean(item: Mapping[str, Any]) -> dict[str, Any]:
    values = from_item(item)
    for attribute in STORAGE_ONLY:
        values.pop(attribute, None)
    return values


def watchlist_from_item(item: Mapping[str, Any]) -> Watchlist:
    return Watchlist.model_validate(_clean(item))


def item_from_item(item: Mapping[str, Any]) -> WatchlistItem:
    return WatchlistItem.model_validate(_clean(item))


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


class WatchlistRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        self.clients = clients or get_clients()
        self.db = self.clients.dynamodb
        self.settings = self.clients.settings
        self.table = self.settings.watchlists_table

    # -- lists ----------------------------------------------------------------------------------------

    def create(self, watchlist: Watchlist, *, max_lists: int) -> None:
        """Store a new list and count it; QuotaExceeded when the owner has `max_lists` already."""
        expr = Expr()
        count = expr.name("lists_count")
        items = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _key(owner_pk(watchlist.owner), QUOTA_SK),
                    "UpdateExpression": f"ADD {count} {expr.value(1)}",
                    "ConditionExpression": (
                        f"attribute_not_exists({count}) OR {count} < {expr.value(max_lists)}"
                    ),
                    **expr.kwargs(),
                }
            },
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item(
                        {
                            **watchlist.model_dump(mode="python"),
                            "pk": owner_pk(watchlist.owner),
                            "sk": list_pk(watchlist.watchlist_id),
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        try:
            self.db.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException" and _failed(exc, 0):
                raise QuotaExceeded(
                    f"at most {max_lists} watchlists per user", details={"quota": max_lists}
                ) from exc
            raise map_error(exc, what="create watchlist") from exc

    def get(self, watchlist_id: str, *, owner: str) -> Watchlist:
        """The owner's list; WatchlistNotFound when it is missing or someone else's (same error)."""
        found = self.find(watchlist_id, owner=owner)
        if found is None:
            raise WatchlistNotFound("watchlist not found")
        return found

    def find(self, watchlist_id: str, *, owner: str) -> Watchlist | None:
        try:
            response = self.db.get_item(
                TableName=self.table, Key=_key(owner_pk(owner), list_pk(watchlist_id)), ConsistentRead=True
            )
        except ClientError as exc:
            raise map_error(exc, what="read watchlist") from exc
        item = response.get("Item")
        return None if item is None else watchlist_from_item(item)

    def list_by_owner(self, owner: str, *, limit: int, next_token: str | None) -> Page[Watchlist]:
        """The owner's lists, newest first (ids sort by creation time)."""
        expr = Expr()
        params = {
            "TableName": self.table,
            "KeyConditionExpression": (
                f"{expr.name('pk')} = {expr.value(owner_pk(owner))} "
                f"AND begins_with({expr.name('sk')}, {expr.value(LIST_PREFIX)})"
            ),
            "ScanIndexForward": False,
            **expr.kwargs(),
        }
        items, token = signed_page_query(
            self.db,
            params,
            settings=self.settings,
            scope=f"watchlists|{owner}",
            bound=("pk", owner_pk(owner)),
            next_token=next_token,
            limit=limit,
            key_attributes=("pk", "sk"),
            filtered=False,
            what="list watchlists",
        )
        return Page(items=[watchlist_from_item(i) for i in items], next_token=token)

    def update(
        self, watchlist_id: str, *, owner: str, set_fields: Mapping[str, Any], now: datetime
    ) -> Watchlist:
        """Change name or description (None removes); WatchlistNotFound when it is not the owner's."""
        expr = Expr()
        sets = [f"{expr.name('updated_at')} = {expr.value(now)}"]
        removes = []
        for name, value in set_fields.items():
            if value is None:
                removes.append(expr.name(name))
            else:
                sets.append(f"{expr.name(name)} = {expr.value(value)}")
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key=_key(owner_pk(owner), list_pk(watchlist_id)),
                UpdateExpression=update,
                ConditionExpression=f"attribute_exists({expr.name('pk')})",
                ReturnValues="ALL_NEW",
                **expr.kwargs(),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise WatchlistNotFound("watchlist not found") from exc
            raise map_error(exc, what="update watchlist") from exc
        return watchlist_from_item(response["Attributes"])

    def delete(self, watchlist_id: str, *, owner: str) -> None:
        """Delete the list and uncount it (one transaction), then its items."""
        expr = Expr()
        items = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": _key(owner_pk(owner), list_pk(watchlist_id)),
                    "ConditionExpression": f"attribute_exists({expr.name('pk')})",
                    "ExpressionAttributeNames": dict(expr.names),
                }
            },
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _key(owner_pk(owner), QUOTA_SK),
                    "UpdateExpression": "ADD lists_count :minus",
                    "ExpressionAttributeValues": {":minus": {"N": "-1"}},
                }
            },
        ]
        try:
            self.db.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException" and _failed(exc, 0):
                raise WatchlistNotFound("watchlist not found") from exc
            raise map_error(exc, what="delete watchlist") from exc
        self.purge_items(watchlist_id)

    def purge_items(self, watchlist_id: str) -> None:
        expr = Expr()
        params = {
            "TableName": self.table,
            "KeyConditionExpression": f"{expr.name('pk')} = {expr.value(list_pk(watchlist_id))}",
            "ProjectionExpression": f"{expr.name('pk')}, {expr.name('sk')}",
            **expr.kwargs(),
        }
        keys = [{"pk": i["pk"], "sk": i["sk"]} for i in query_all(self.db, params, what="purge watchlist")]
        batch_write(
            self.db, self.table, ({"DeleteRequest": {"Key": k}} for k in keys), what="purge watchlist"
        )

    # -- items ----------------------------------------------------------------------------------------

    def add_item(self, item: WatchlistItem, *, owner: str, max_items: int) -> bool:
        """Add one item and count it, in one transaction. False when the market is on the list already
        (nothing changes); QuotaExceeded at `max_items`; WatchlistNotFound when the list is gone."""
        expr = Expr()
        count = expr.name("items_count")
        condition = (
            f"attribute_exists({expr.name('pk')}) AND "
            f"(attribute_not_exists({count}) OR {count} < {expr.value(max_items)})"
        )
        items = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _key(owner_pk(owner), list_pk(item.watchlist_id)),
                    "UpdateExpression": f"ADD {count} {expr.value(1)}",
                    "ConditionExpression": condition,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    **expr.kwargs(),
                }
            },
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item(
                        {
                            **item.model_dump(mode="python"),
                            "pk": list_pk(item.watchlist_id),
                            "sk": ITEM_PREFIX + item.market_id,
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        try:
            self.db.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise map_error(exc, what="add watchlist item") from exc
            reasons = exc.response.get("CancellationReasons") or []
            if _failed(exc, 1):
                return False  # already on the list
            if _failed(exc, 0):
                if not (reasons and reasons[0].get("Item")):
                    raise WatchlistNotFound("watchlist not found") from exc
                raise QuotaExceeded(
                    f"at most {max_items} items per watchlist", details={"quota": max_items}
                ) from exc
            raise Conflict("the watchlist changed meanwhile; try again") from exc
        return True

    def remove_item(self, watchlist_id: str, market_id: str, *, owner: str) -> bool:
        """Remove one item and uncount it; False when it was not on the list."""
        items = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": _key(list_pk(watchlist_id), ITEM_PREFIX + market_id),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _key(owner_pk(owner), list_pk(watchlist_id)),
                    "UpdateExpression": "ADD items_count :minus",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":minus": {"N": "-1"}},
                }
            },
        ]
        try:
            self.db.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException" and (_failed(exc, 0) or _failed(exc, 1)):
                return False
            raise map_error(exc, what="remove watchlist item") from exc
        return True

    def set_status(self, watchlist_id: str, market_id: str, status: ItemStatus, *, now: datetime) -> bool:
        """Move an item's status (idempotent: setting the same status again changes nothing that matters);
        False when the market is not on the list."""
        expr = Expr()
        try:
            self.db.update_item(
                TableName=self.table,
                Key=_key(list_pk(watchlist_id), ITEM_PREFIX + market_id),
                UpdateExpression=(
                    f"SET {expr.name('status')} = {expr.value(status.value)}, "
                    f"{expr.name('status_changed_at')} = {expr.value(now)}"
                ),
                ConditionExpression=(
                    f"attribute_exists({expr.name('pk')}) "
                    f"AND {expr.name('status')} <> {expr.value(status.value)}"
                ),
                **expr.kwargs(),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise map_error(exc, what="move watchlist item") from exc
        return True

    def list_items(
        self, watchlist_id: str, *, scope: str, limit: int, next_token: str | None
    ) -> Page[WatchlistItem]:
        expr = Expr()
        params = {
            "TableName": self.table,
            "KeyConditionExpression": f"{expr.name('pk')} = {expr.value(list_pk(watchlist_id))}",
            **expr.kwargs(),
        }
        items, token = signed_page_query(
            self.db,
            params,
            settings=self.settings,
            scope=f"watchlist-items|{scope}|{watchlist_id}",
            bound=("pk", list_pk(watchlist_id)),
            next_token=next_token,
            limit=limit,
            key_attributes=("pk", "sk"),
            filtered=False,
            what="list watchlist items",
        )
        return Page(items=[item_from_item(i) for i in items], next_token=token)

    def all_items(self, watchlist_id: str) -> list[WatchlistItem]:
        """Every item of a list (at most its limit), for a run's DATA_SOURCE."""
        expr = Expr()
        params = {
            "TableName": self.table,
            "KeyConditionExpression": f"{expr.name('pk')} = {expr.value(list_pk(watchlist_id))}",
            "ConsistentRead": True,
            **expr.kwargs(),
        }
        return [item_from_item(i) for i in query_all(self.db, params, what="read watchlist items")]

    def owned_ids(self, owner: str, watchlist_ids: Sequence[str]) -> set[str]:
        """Which of these ids are lists of `owner` (graph checks at save and deploy)."""
        return {wid for wid in dict.fromkeys(watchlist_ids) if self.find(wid, owner=owner) is not None}


def _failed(exc: ClientError, index: int) -> bool:
    reasons = exc.response.get("CancellationReasons") or []
    return len(reasons) > index and reasons[index].get("Code") == "ConditionalCheckFailed"


__all__ = ["WatchlistRepository", "item_from_item", "list_pk", "owner_pk", "watchlist_from_item"]
