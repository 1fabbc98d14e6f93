"""The per-user strategy quota as a counter item, changed in the same transaction as the strategy it counts.

The counter lives in the Strategies table under `quota#<owner>` (no `created_by`, no index keys: no list,
index or owner-scoped read ever sees it). A create is one TransactWriteItems: the counter goes up only while
below the quota, and the strategy is put only if that held, so twenty racing creates at quota - 1 leave
exactly one strategy. A user without a counter (strategies created before it existed) gets one from a count
of their strategies, put on condition that no counter appeared meanwhile. A delete takes one off in its own
transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from engine.errors import Conflict, QuotaExceeded
from engine.storage.dynamo import error_code, map_error
from engine.storage.query import Expr

COUNT = "strategy_count"
ATTEMPTS = 4  # a counter created or changed meanwhile: decide again on the fresh one


def counter_key(owner: str) -> dict[str, Any]:
    return {"strategy_id": {"S": f"quota#{owner}"}}


def _reasons(exc: ClientError) -> list[str]:
    return [str(r.get("Code", "")) for r in exc.response.get("CancellationReasons", [])]


def _counter_op(table: str, owner: str, *, quota: int, counted: int | None) -> dict[str, Any]:
    """The transaction's counter step: +1 below the quota, or a fresh counter of `counted` + 1."""
    expr = Expr()
    if counted is None:
        count = expr.name(COUNT)
        return {
            "Update": {
                "TableName": table,
                "Key": counter_key(owner),
                "UpdateExpression": f"ADD {count} {expr.value(1)}",
                "ConditionExpression": f"{count} < {expr.value(quota)}",
                **expr.kwargs(),
            }
        }
    return {
        "Put": {
            "TableName": table,
            "Item": {**counter_key(owner), COUNT: {"N": str(counted + 1)}, "quota_owner": {"S": owner}},
            "ConditionExpression": f"attribute_not_exists({expr.name('strategy_id')})",
            **expr.kwargs(),
        }
    }


def create_within_quota(
    db: Any,
    table: str,
    owner: str,
    item: Mapping[str, Any],
    *,
    quota: int,
    count_existing: Any,
    also: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Put `item` (a new strategy) and count it, atomically; QuotaExceeded at the quota.

    `count_existing(up_to)` counts the owner's strategies, for a counter's first use; `also` are more
    TransactWriteItems entries (the first graph version, the `created` event) in the same transaction.
    """
    for _ in range(ATTEMPTS):
        try:
            current = db.get_item(TableName=table, Key=counter_key(owner), ConsistentRead=True).get("Item")
        except ClientError as exc:
            raise map_error(exc, what="read strategy quota") from exc
        counted: int | None = None
        if current is None:
            counted = int(count_existing(quota))
            if counted >= quota:
                raise QuotaExceeded(f"at most {quota} strategies per user", details={"quota": quota})
        put = {
            "Put": {
                "TableName": table,
                "Item": dict(item),
                "ConditionExpression": "attribute_not_exists(strategy_id)",
            }
        }
        try:
            db.transact_write_items(
                TransactItems=[_counter_op(table, owner, quota=quota, counted=counted), put, *also]
            )
            return
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise map_error(exc, what="create strategy") from exc
            counter_reason, put_reason = [*_reasons(exc), "", ""][:2]
            if put_reason == "ConditionalCheckFailed":
                raise Conflict("a strategy with this id exists") from exc
            if counter_reason != "ConditionalCheckFailed":
                raise map_error(exc, what="create strategy") from exc
            if counted is None:
                raise QuotaExceeded(f"at most {quota} strategies per user", details={"quota": quota}) from exc
            # a racing first use created the counter: go again on it
    raise Conflict("the strategy quota keeps changing; try again")


def uncount_op(table: str, owner: str) -> dict[str, Any]:
    """The step a delete's transaction adds: one strategy less, when the owner has a counter."""
    expr = Expr()
    count = expr.name(COUNT)
    return {
        "Update": {
            "TableName": table,
            "Key": counter_key(owner),
            "UpdateExpression": f"ADD {count} {expr.value(-1)}",
            "ConditionExpression": f"attribute_exists({count}) AND {count} > {expr.value(0)}",
            **expr.kwargs(),
        }
    }


def has_counter(db: Any, table: str, owner: str) -> bool:
    try:
        return "Item" in db.get_item(TableName=table, Key=counter_key(owner), ConsistentRead=True)
    except ClientError as exc:
        raise map_error(exc, what="read strategy quota") from exc
