"""The per-user running-backtest quota as a counter item, changed in the same transaction as what it counts.

The counter is one item of the Backtests table, `Q#<owner>`/`RUNNING`, holding the ids of the owner's queued
or running backtests as a string set (no `owner` attribute: no index or owner-scoped read ever sees it). The
count is the set's size; a set rather than a number because taking an id out is idempotent, so a final status
retried, or reached by two paths, gives back exactly one place. A start is one TransactWriteItems: the id goes
in only while the set is below the quota, and the backtest is put only if that held, so ten racing starts one
below the quota leave exactly one started. Each move to a final status takes its id out in the same
transaction as the status change.

A user without a counter (backtests started before it existed) gets one from the `by_owner` index's running
ones, put on condition that no counter appeared meanwhile. A place held by a backtest that no longer runs
(its partition removed without ending it) is taken back when a start finds the quota full.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from engine.storage.dynamo import error_code

RUNNING = "running"  # the string set of running backtest ids
SEEDED = "seeded"  # present once the set counts everything (a first use counted the older ones)
ATTEMPTS = 8  # a racing start or end changed the counter meanwhile: decide again on the fresh one


def running_key(owner: str) -> dict[str, Any]:
    return {"pk": {"S": f"Q#{owner}"}, "sk": {"S": "RUNNING"}}


def running_ids(item: dict[str, Any] | None) -> set[str]:
    return set((item or {}).get(RUNNING, {}).get("SS", []))


def is_seeded(item: dict[str, Any] | None) -> bool:
    return SEEDED in (item or {})


def take_op(
    table: str, owner: str, backtest_id: str, *, quota: int, seed: Iterable[str] | None
) -> dict[str, Any]:
    """The start's counter step: add the id below the quota, or (first use) the running ones and the id."""
    names = {"#r": RUNNING, "#s": SEEDED}
    if seed is None:
        return {
            "Update": {
                "TableName": table,
                "Key": running_key(owner),
                "UpdateExpression": "ADD #r :id",
                "ConditionExpression": (
                    "attribute_exists(#s) AND (attribute_not_exists(#r) OR size(#r) < :quota)"
                ),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {":id": {"SS": [backtest_id]}, ":quota": {"N": str(quota)}},
            }
        }
    return {
        "Update": {
            "TableName": table,
            "Key": running_key(owner),
            "UpdateExpression": "SET #s = :true ADD #r :ids",
            "ConditionExpression": "attribute_not_exists(#s)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {
                ":ids": {"SS": sorted({*seed, backtest_id})},
                ":true": {"BOOL": True},
            },
        }
    }


def release_op(table: str, owner: str, backtest_ids: Iterable[str]) -> dict[str, Any]:
    """The end's counter step: take the ids out (no condition: an id already out, or no counter, is fine)."""
    return {
        "Update": {
            "TableName": table,
            "Key": running_key(owner),
            "UpdateExpression": "DELETE #r :ids",
            "ExpressionAttributeNames": {"#r": RUNNING},
            "ExpressionAttributeValues": {":ids": {"SS": sorted(set(backtest_ids))}},
        }
    }


def cancellation_reasons(exc: ClientError) -> list[str]:
    if error_code(exc) != "TransactionCanceledException":
        return []
    return [str(r.get("Code", "")) for r in exc.response.get("CancellationReasons", [])]
