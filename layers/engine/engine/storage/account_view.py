"""The account-wide view's items in the Portfolios table, under one partition per user (`USER#<owner>`):
`S#<strategy_id>` the strategy's latest summary, `UH#<hour>` what each strategy's equity was at the end of
that hour (one attribute per strategy, so strategies never overwrite each other), and deletions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from engine.clock import iso, to_utc
from engine.models.account_view import StrategySummary
from engine.storage.dynamo import StorageClients, error_code, from_item, get_clients, map_error, to_item
from engine.storage.query import Expr, query_all

USER_PREFIX = "USER#"
SUMMARY_PREFIX = "S#"
HOUR_PREFIX = "UH#"
ENTRY_PREFIX = "s_"  # an hour item's attribute per strategy: {equity, bankroll, epoch}
DELETED_PREFIX = "d_"  # a deletion in that hour: {equity} (the money that left)


def user_key(owner: str) -> str:
    return USER_PREFIX + owner


def hour_of(at: datetime) -> datetime:
    return to_utc(at).replace(minute=0, second=0, microsecond=0)


class StrategyHeader:
    """What the view needs of a strategy item: its owner, name and trading mode."""

    def __init__(self, owner: str, name: str, trading_mode: str, guard: str | None = None) -> None:
        self.owner = owner
        self.name = name
        self.trading_mode = trading_mode
        self.guard = guard  # the shared limits' timezone when the owner has limits (issue 14)


class HourEntries:
    """One `UH#` item: each strategy's (equity, bankroll, epoch) at the end of the hour, and deletions."""

    def __init__(self, hour: datetime, entries: dict[str, dict[str, Any]], deleted: dict[str, Decimal]):
        self.hour = hour
        self.entries = entries
        self.deleted = deleted


SUMMARY_ATTRIBUTE = "summary_json"


def _summary_of(item: dict[str, Any]) -> StrategySummary:
    return StrategySummary.model_validate_json(item[SUMMARY_ATTRIBUTE]["S"])


class AccountViewRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        self.clients = clients or get_clients()
        self.db = self.clients.dynamodb
        self.table = self.clients.settings.portfolios_table
        self.strategies_table = self.clients.settings.strategies_table

    def strategy_header(self, strategy_id: str) -> StrategyHeader | None:
        """Owner, name and trading mode of a strategy (a projected read); None when it is gone."""
        expr = Expr()
        try:
            response = self.db.get_item(
                TableName=self.strategies_table,
                Key={"strategy_id": {"S": strategy_id}},
                ProjectionExpression=", ".join(
                    expr.name(n) for n in ("created_by", "strategy_name", "trading_mode", "account_guard")
                ),
                ExpressionAttributeNames=expr.kwargs()["ExpressionAttributeNames"],
            )
        except ClientError as exc:
            raise map_error(exc, what="read strategy owner") from exc
        item = response.get("Item")
        if item is None or "created_by" not in item:
            return None
        values = from_item(item)
        return StrategyHeader(
            owner=str(values["created_by"]),
            name=str(values.get("strategy_name") or ""),
            trading_mode=str(values.get("trading_mode") or "paper"),
            guard=str(values["account_guard"]) if values.get("account_guard") else None,
        )

    def put_summary(self, owner: str, summary: StrategySummary) -> tuple[bool, StrategySummary | None]:
        """Keep the newest summary of a strategy (a late sync never replaces a newer one): (written, the
        summary it replaced)."""
        values = {
            "strategy_id": user_key(owner),
            "sk": SUMMARY_PREFIX + summary.strategy_id,
            # one JSON string, not a nested map: a user's summaries are read together on every GET /portfolio,
            # and a string is the cheapest attribute to store, send and parse
            SUMMARY_ATTRIBUTE: summary.model_dump_json(),
            "as_of": iso(summary.as_of),
            "epoch": summary.epoch,
        }
        expr = Expr()
        condition = (
            f"attribute_not_exists({expr.name('sk')}) OR {expr.name('epoch')} < {expr.value(summary.epoch)} "
            f"OR ({expr.name('epoch')} = {expr.value(summary.epoch)} AND "
            f"{expr.name('as_of')} <= {expr.value(iso(summary.as_of))})"
        )
        try:
            response = self.db.put_item(
                TableName=self.table,
                Item=to_item(values),
                ConditionExpression=condition,
                ReturnValues="ALL_OLD",
                **expr.kwargs(),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False, None
            raise map_error(exc, what="write account summary") from exc
        old = response.get("Attributes")
        return True, None if not old else _summary_of(old)

    def record_hour(self, owner: str, summary: StrategySummary) -> None:
        """Set the strategy's entry in the hour item of its `as_of` (an overwrite: repeating is harmless)."""
        expr = Expr()
        entry = {"equity": summary.equity_usd, "bankroll": summary.bankroll_usd, "epoch": summary.epoch}
        try:
            self.db.update_item(
                TableName=self.table,
                Key={
                    "strategy_id": {"S": user_key(owner)},
                    "sk": {"S": HOUR_PREFIX + iso(hour_of(summary.as_of))},
                },
                UpdateExpression=(
                    f"SET {expr.name(ENTRY_PREFIX + summary.strategy_id)} = {expr.value(entry)}"
                ),
                **expr.kwargs(),
            )
        except ClientError as exc:
            raise map_error(exc, what="write account hour") from exc

    def get_summary(self, owner: str, strategy_id: str) -> StrategySummary | None:
        try:
            response = self.db.get_item(
                TableName=self.table,
                Key={"strategy_id": {"S": user_key(owner)}, "sk": {"S": SUMMARY_PREFIX + strategy_id}},
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise map_error(exc, what="read account summary") from exc
        item = response.get("Item")
        return None if item is None else _summary_of(item)

    def record_deletion(self, owner: str, strategy_id: str, *, at: datetime) -> None:
        """The strategy's money leaves the account in the hour of `at`; its summary goes."""
        summary = self.get_summary(owner, strategy_id)
        if summary is None:
            return
        expr = Expr()
        try:
            self.db.update_item(
                TableName=self.table,
                Key={"strategy_id": {"S": user_key(owner)}, "sk": {"S": HOUR_PREFIX + iso(hour_of(at))}},
                UpdateExpression=(
                    f"SET {expr.name(DELETED_PREFIX + strategy_id)} = "
                    f"{expr.value({'equity': summary.equity_usd})}"
                ),
                **expr.kwargs(),
            )
            self.db.delete_item(
                TableName=self.table,
                Key={"strategy_id": {"S": user_key(owner)}, "sk": {"S": SUMMARY_PREFIX + strategy_id}},
            )
        except ClientError as exc:
            raise map_error(exc, what="record strategy deletion") from exc

    def summaries(self, owner: str) -> list[StrategySummary]:
        """Every summary of the user: one Query on the user's partition."""
        expr = Expr()
        params = {
            "TableName": self.table,
            "KeyConditionExpression": (
                f"{expr.name('strategy_id')} = {expr.value(user_key(owner))} "
                f"AND begins_with({expr.name('sk')}, {expr.value(SUMMARY_PREFIX)})"
            ),
            # only the summary: every attribute returned costs (moto serializes each one slowly)
            "ProjectionExpression": expr.name(SUMMARY_ATTRIBUTE),
            **expr.kwargs(),
        }
        return [_summary_of(item) for item in query_all(self.db, params, what="read account summaries")]

    def hours(self, owner: str) -> list[HourEntries]:
        """Every hour item of the user, oldest first."""
        expr = Expr()
        params = {
            "TableName": self.table,
            "KeyConditionExpression": (
                f"{expr.name('strategy_id')} = {expr.value(user_key(owner))} "
                f"AND begins_with({expr.name('sk')}, {expr.value(HOUR_PREFIX)})"
            ),
            **expr.kwargs(),
        }
        found: list[HourEntries] = []
        for item in query_all(self.db, params, what="read account hours"):
            values = from_item(item)
            hour = datetime.fromisoformat(str(values["sk"])[len(HOUR_PREFIX) :].replace("Z", "+00:00"))
            entries = {k[len(ENTRY_PREFIX) :]: v for k, v in values.items() if k.startswith(ENTRY_PREFIX)}
            deleted = {
                k[len(DELETED_PREFIX) :]: Decimal(v["equity"])
                for k, v in values.items()
                if k.startswith(DELETED_PREFIX)
            }
            found.append(HourEntries(to_utc(hour), entries, deleted))
        return found


__all__ = ["AccountViewRepository", "HourEntries", "StrategyHeader", "hour_of", "user_key"]
