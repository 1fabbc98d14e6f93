"""Portfolios table: the account (`ACCOUNT`), the read model (`PORTFOLIO`) and equity points (`EQ#...`)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engine.clock import iso
from engine.drawdown import RunningDrawdown
from engine.models.portfolio import EquityPoint, Portfolio
from engine.models.trading import Account
from engine.money import ZERO
from engine.portfolio import EquityTier, equity_point, equity_point_keys
from engine.storage.dynamo import (
    StorageClients,
    error_code,
    from_item,
    get_clients,
    map_error,
    time_key,
    to_item,
)
from engine.storage.query import Expr, batch_write, key_of, query_all
from engine.storage.strategies import DUE_PAGE_SIZE, due_shard

ACCOUNT_SK = "ACCOUNT"
PORTFOLIO_SK = "PORTFOLIO"
EQUITY_PREFIX = "EQ#"
# the running drawdown on the PORTFOLIO item, and how many points it folded (what its writes are
# conditioned on)
DRAWDOWN_ATTRIBUTE = "drawdown"
DRAWDOWN_POINTS_ATTRIBUTE = "drawdown_points"


SETTLE_INDEX = "settle_due"
# keys of the sparse settle_due index: present only on ACCOUNT items that hold positions
SETTLE_ATTRIBUTES = ("settle_shard", "settle_check_at")


SETTLE_RECHECK = timedelta(minutes=15)  # holdings awaiting resolution are looked at again after this


def settle_check_for(account: Account, *, settled_at: datetime | None = None) -> datetime | None:
    """When the account next needs a settlement look; None when it holds nothing.

    Without `settled_at`: the earliest end date among its held markets (a holding with no known end date
    counts from when it was opened, so it is checked at once). With `settled_at` (its resolved holdings were
    just settled against the tick's markets): the next end date still ahead, or a re-check after
    SETTLE_RECHECK of what already ended but has not resolved, so nothing is re-read every minute.
    """
    if not account.positions:
        return None
    if settled_at is None:
        return min(h.end_date or h.opened_at for h in account.positions.values())
    ahead = [
        h.end_date for h in account.positions.values() if h.end_date is not None and h.end_date > settled_at
    ]
    return min([settled_at + SETTLE_RECHECK, *ahead])


def account_from_item(item: Mapping[str, Any]) -> Account:
    values = from_item(item)
    for attribute in ("sk", *SETTLE_ATTRIBUTES):
        values.pop(attribute, None)
    return Account.model_validate(values)


def account_item(
    account: Account, *, version: int, shards: int = 1, settled_at: datetime | None = None
) -> dict[str, Any]:
    """The ACCOUNT item for `account` as stored at `version` (the caller's conditional write decides).

    It joins the sparse `settle_due` index while it holds positions (`shards`: settings.due_shards).
    """
    values = account.model_dump(mode="python")
    values["sk"] = ACCOUNT_SK
    values["version"] = version
    check_at = settle_check_for(account, settled_at=settled_at)
    if check_at is not None:
        values["settle_shard"] = due_shard(account.strategy_id, shards)
        values["settle_check_at"] = check_at
    return to_item(values)


class AccountRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        self.clients = clients or get_clients()
        self.db = self.clients.dynamodb
        self.table = self.clients.settings.portfolios_table

    def item_for(self, account: Account, *, version: int) -> dict[str, Any]:
        return account_item(account, version=version, shards=self.clients.settings.due_shards)

    def query_settle_due(self, *, now: datetime, limit: int) -> list[str]:
        """Strategy ids whose accounts may need settling (`settle_check_at <= now`), earliest first, at most
        `limit`; every shard of the sparse `settle_due` index queried concurrently."""
        if limit <= 0:
            return []
        upper = time_key(now)
        shards = [str(i) for i in range(self.clients.settings.due_shards)]
        with ThreadPoolExecutor(max_workers=min(len(shards), 32)) as pool:
            found = list(pool.map(lambda shard: self._settle_shard(shard, upper, limit), shards))
        merged = heapq.merge(*found)
        return [sid for _, (_, sid) in zip(range(limit), merged, strict=False)]

    def _settle_shard(self, shard: str, upper: str, limit: int) -> list[tuple[str, str]]:
        expr = Expr()
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": SETTLE_INDEX,
            "KeyConditionExpression": (
                f"{expr.name('settle_shard')} = {expr.value(shard)} "
                f"AND {expr.name('settle_check_at')} <= {expr.value(upper)}"
            ),
            **expr.kwargs(),
        }
        found: list[tuple[str, str]] = []
        while len(found) < limit:
            request["Limit"] = min(DUE_PAGE_SIZE, limit - len(found))  # bounded pages, as the due read
            try:
                response = self.db.query(**request)
            except (ClientError, BotoCoreError) as exc:  # a timeout too: the tick logs it and goes on
                raise map_error(exc, what="query accounts to settle") from exc
            found += [(i["settle_check_at"]["S"], i["strategy_id"]["S"]) for i in response.get("Items", [])]
            if not response.get("LastEvaluatedKey"):
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found

    def push_settle_check(self, strategy_id: str, *, at: datetime) -> bool:
        """Move the account's next settlement check to `at` (a market awaits resolution). False when the
        account holds nothing any more. The next run that trades recomputes it from the end dates."""
        expr = Expr()
        try:
            self.db.update_item(
                TableName=self.table,
                Key={"strategy_id": {"S": strategy_id}, "sk": {"S": ACCOUNT_SK}},
                UpdateExpression=f"SET {expr.name('settle_check_at')} = {expr.value(at)}",
                ConditionExpression=f"attribute_exists({expr.name('settle_shard')})",
                **expr.kwargs(),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise map_error(exc, what="push settlement check") from exc
        return True

    def get(self, strategy_id: str) -> Account | None:
        try:
            response = self.db.get_item(
                TableName=self.table,
                Key={"strategy_id": {"S": strategy_id}, "sk": {"S": ACCOUNT_SK}},
                ConsistentRead=True,  # the orchestrator trades against it: never a stale read
            )
        except ClientError as exc:
            raise map_error(exc, what="read account") from exc
        item = response.get("Item")
        return None if item is None else account_from_item(item)

    def open(
        self,
        strategy_id: str,
        *,
        bankroll: Decimal,
        epoch: int,
        now: datetime,
        deployment_id: str | None = None,
    ) -> Account:
        """A fresh account (cash = bankroll, no positions), its trades belonging to `deployment_id`.

        The stored version keeps counting instead of restarting at 0, so a run that read the old account
        can never pass its `version = :read` condition against the new one.
        """
        expr = Expr()
        update = (
            f"SET {expr.name('epoch')} = {expr.value(epoch)}, "
            f"{expr.name('bankroll_usd')} = {expr.value(bankroll)}, "
            f"{expr.name('cash_usd')} = {expr.value(bankroll)}, "
            f"{expr.name('positions')} = {expr.value({})}, "
            f"{expr.name('trade_seq')} = {expr.value(0)}"
            + (f", {expr.name('deployment_id')} = {expr.value(deployment_id)} " if deployment_id else " ")
            + f"ADD {expr.name('version')} {expr.value(1)} "
            # a fresh account holds nothing: it leaves the sparse settle_due index
            f"REMOVE {expr.name('settle_shard')}, {expr.name('settle_check_at')}"
        )
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key={"strategy_id": {"S": strategy_id}, "sk": {"S": ACCOUNT_SK}},
                UpdateExpression=update,
                ReturnValues="ALL_NEW",
                **expr.kwargs(),
            )
        except ClientError as exc:
            raise map_error(exc, what="open account") from exc
        return account_from_item(response["Attributes"])

    def follow_deployment(self, strategy_id: str, deployment_id: str) -> bool:
        """A redeploy that keeps the open positions: the account's next trades (settlements included)
        belong to the new deployment. The version moves, so a run that read the account before retries on
        it. False when there is no account."""
        expr = Expr()
        try:
            self.db.update_item(
                TableName=self.table,
                Key={"strategy_id": {"S": strategy_id}, "sk": {"S": ACCOUNT_SK}},
                UpdateExpression=(
                    f"SET {expr.name('deployment_id')} = {expr.value(deployment_id)} "
                    f"ADD {expr.name('version')} {expr.value(1)}"
                ),
                ConditionExpression=f"attribute_exists({expr.name('sk')})",
                **expr.kwargs(),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise map_error(exc, what="move account to deployment") from exc
        return True


def fresh_portfolio(strategy_id: str, bankroll: Decimal, now: datetime) -> Portfolio:
    return Portfolio(
        strategy_id=strategy_id,
        bankroll_usd=bankroll,
        cash_usd=bankroll,
        equity_usd=bankroll,
        positions_value_usd=ZERO,
        realized_pnl_usd=ZERO,
        unrealized_pnl_usd=ZERO,
        total_pnl_usd=ZERO,
        roi_pct=ZERO,
        updated_at=now,
    )


def _equity_sk(key: str) -> str:
    return key if key.startswith(EQUITY_PREFIX) else EQUITY_PREFIX + key


class PortfolioRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        self.clients = clients or get_clients()
        self.db = self.clients.dynamodb
        self.table = self.clients.settings.portfolios_table

    def _portfolio_item(self, strategy_id: str) -> dict[str, Any] | None:
        try:
            response = self.db.get_item(
                TableName=self.table,
                Key={"strategy_id": {"S": strategy_id}, "sk": {"S": PORTFOLIO_SK}},
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise map_error(exc, what="read portfolio") from exc
        item = response.get("Item")
        return None if item is None else from_item(item)

    def get_state(self, strategy_id: str) -> tuple[dict[str, Any] | None, int]:
        """(the stored sync state or None, its applied_seq; 0 when there is no item).

        Numbers in the state come back as Decimal. After `reset` the state is None and applied_seq 0;
        `get_record` also gives the epoch and bankroll to start from.
        """
        values = self._portfolio_item(strategy_id)
        if values is None:
            return None, 0
        return values.get("state"), int(values.get("applied_seq", 0))

    def get_record(self, strategy_id: str) -> dict[str, Any] | None:
        """The PORTFOLIO item as plain values: state, applied_seq, epoch, bankroll_usd, portfolio."""
        return self._portfolio_item(strategy_id)

    def put_state(
        self,
        strategy_id: str,
        *,
        state: dict[str, Any],
        portfolio: Portfolio,
        expected_applied_seq: int | None,
        epoch: int,
        applied_seq: int | None = None,
        expected_epoch: int | None = None,
        drawdown: RunningDrawdown | None = None,
        expected_drawdown_points: int | None = None,
    ) -> bool:
        """Write state and read model if nobody wrote since it was read; False when the condition failed.

        `expected_applied_seq` None: the item must not exist yet. An int: the item's applied_seq must equal
        it (a missing item counts as 0) and its epoch must be `expected_epoch`, by default `epoch` (a
        redeploy in between wins). A sync that starts a new epoch passes the old epoch it read there.
        The stored applied_seq becomes `applied_seq`, else the state's own `applied_seq`.
        `drawdown` (the running drawdown with this portfolio's point folded in) is written beside them,
        conditioned on the stored one still having `expected_drawdown_points` points (None: no stored one).
        """
        if applied_seq is None:
            applied_seq = int(state.get("applied_seq", expected_applied_seq or 0))
        values = {
            "strategy_id": strategy_id,
            "sk": PORTFOLIO_SK,
            "state": state,
            "portfolio": portfolio.model_dump(mode="python"),
            "applied_seq": applied_seq,
            "epoch": epoch,
            "bankroll_usd": portfolio.bankroll_usd,
        }
        expr = Expr()
        if expected_applied_seq is None:
            condition = f"attribute_not_exists({expr.name('sk')})"
        else:
            condition = (
                f"attribute_not_exists({expr.name('sk')}) OR ({expr.name('applied_seq')} = "
                f"{expr.value(expected_applied_seq)} AND {expr.name('epoch')} = "
                f"{expr.value(epoch if expected_epoch is None else expected_epoch)})"
            )
        if drawdown is not None:
            values[DRAWDOWN_ATTRIBUTE] = drawdown.to_item()
            values[DRAWDOWN_POINTS_ATTRIBUTE] = drawdown.points
            points = expr.name(DRAWDOWN_POINTS_ATTRIBUTE)
            seen = (
                f"attribute_not_exists({points})"
                if expected_drawdown_points is None
                else f"{points} = {expr.value(expected_drawdown_points)}"
            )
            condition = f"({condition}) AND ({seen})"
        try:
            self.db.put_item(
                TableName=self.table, Item=to_item(values), ConditionExpression=condition, **expr.kwargs()
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise map_error(exc, what="write portfolio") from exc
        return True

    def get_portfolio(self, strategy_id: str) -> Portfolio | None:
        values = self._portfolio_item(strategy_id)
        if values is None or "portfolio" not in values:
            return None
        return Portfolio.model_validate(values["portfolio"])

    def reset(self, strategy_id: str, *, bankroll: Decimal, epoch: int, now: datetime) -> Portfolio:
        """A fresh portfolio for a new epoch (redeploy); the old equity points go. The account is opened
        separately with `AccountRepository.open`."""
        portfolio = fresh_portfolio(strategy_id, bankroll, now)
        opening = RunningDrawdown.opening(bankroll, now)
        values = {
            "strategy_id": strategy_id,
            "sk": PORTFOLIO_SK,
            "portfolio": portfolio.model_dump(mode="python"),
            "applied_seq": 0,
            "epoch": epoch,
            "bankroll_usd": bankroll,
            DRAWDOWN_ATTRIBUTE: opening.to_item(),
            DRAWDOWN_POINTS_ATTRIBUTE: opening.points,
        }
        try:
            self.db.put_item(TableName=self.table, Item=to_item(values))
        except ClientError as exc:
            raise map_error(exc, what="reset portfolio") from exc
        expr = Expr()
        params = {
            "TableName": self.table,
            "KeyConditionExpression": (
                f"{expr.name('strategy_id')} = {expr.value(strategy_id)} "
                f"AND begins_with({expr.name('sk')}, {expr.value(EQUITY_PREFIX)})"
            ),
            "ProjectionExpression": f"{expr.name('strategy_id')}, {expr.name('sk')}",
            **expr.kwargs(),
        }
        old = query_all(self.db, params, what="reset equity history")
        requests = ({"DeleteRequest": {"Key": key_of(i, ("strategy_id", "sk"))}} for i in old)
        batch_write(self.db, self.table, requests, what="reset equity history")
        # the curve starts with the bankroll at deploy time, so a loss before the first sync counts
        self.put_equity_points(strategy_id, equity_point_keys(now), equity_point(portfolio, at=now))
        return portfolio

    def equity_range(
        self, strategy_id: str, *, tier: EquityTier, since: datetime | None, now: datetime
    ) -> list[EquityPoint]:
        """The points of one tier (`m`, `h` or `d`) from `since` (None: its first) to now, oldest first,
        with one Query on the sort key's range; items whose TTL has passed are skipped (deleted late)."""
        prefix = f"{EQUITY_PREFIX}{tier}#"
        expr = Expr()
        sk = expr.name("sk")
        if since is None:
            range_condition = f"begins_with({sk}, {expr.value(prefix)})"
        else:
            start = prefix + (since.date().isoformat() if tier == "d" else iso(since))
            range_condition = f"{sk} BETWEEN {expr.value(start)} AND {expr.value(prefix + '~')}"
        params = {
            "TableName": self.table,
            "KeyConditionExpression": (
                f"{expr.name('strategy_id')} = {expr.value(strategy_id)} AND {range_condition}"
            ),
            **expr.kwargs(),
        }
        cutoff = int(now.timestamp())
        points: list[EquityPoint] = []
        for item in query_all(self.db, params, what="read equity history"):
            values = from_item(item)
            expires = values.pop("expires_at", None)
            if expires is not None and int(expires) <= cutoff:
                continue
            values.pop("sk", None)
            values.pop("strategy_id", None)
            points.append(EquityPoint.model_validate(values))
        return points

    def put_equity_point(self, strategy_id: str, key: str, ttl: int | None, point: EquityPoint) -> None:
        """Store one point under sk `EQ#<key>`; `ttl` is the epoch second DynamoDB may delete it after."""
        self.put_equity_points(strategy_id, [(key, ttl)], point)

    def put_equity_points(
        self, strategy_id: str, keys: Iterable[tuple[str, int | None]], point: EquityPoint
    ) -> None:
        """Store one point under each (key, ttl) of its thinning tiers in one BatchWriteItem (plain
        overwrites, so a retry or a partial write repeated is harmless)."""
        requests = []
        for key, ttl in keys:
            values: dict[str, Any] = {"strategy_id": strategy_id, "sk": _equity_sk(key), **point.model_dump()}
            values["expires_at"] = ttl
            requests.append({"PutRequest": {"Item": to_item(values)}})
        batch_write(self.db, self.table, requests, what="write equity points")

    def equity_points(self, strategy_id: str, *, now: datetime) -> list[tuple[str, EquityPoint]]:
        """(key, point) in key order, skipping items whose TTL has passed (DynamoDB deletes them late)."""
        expr = Expr()
        params = {
            "TableName": self.table,
            "KeyConditionExpression": (
                f"{expr.name('strategy_id')} = {expr.value(strategy_id)} "
                f"AND begins_with({expr.name('sk')}, {expr.value(EQUITY_PREFIX)})"
            ),
            **expr.kwargs(),
        }
        cutoff = int(now.timestamp())
        points: list[tuple[str, EquityPoint]] = []
        for item in query_all(self.db, params, what="read equity history"):
            values = from_item(item)
            expires = values.pop("expires_at", None)
            if expires is not None and int(expires) <= cutoff:
                continue
            sk = str(values.pop("sk"))
            values.pop("strategy_id", None)
            points.append((sk[len(EQUITY_PREFIX) :], EquityPoint.model_validate(values)))
        return points
