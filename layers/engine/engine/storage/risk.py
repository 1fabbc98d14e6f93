"""Shared limits, exposure counters and the kill switch in the Portfolios table, one partition per user
(`RISK#<owner>`): `LIMITS` (limits and kill switch), `EXP#TOTAL`, `EXP#M#<market>`, `EXP#E#<event>` (cost
basis of open positions), `DAY#<local date>` (the day's P&L). Strategies of a user with limits or a kill
switch carry `account_guard` (the limits' timezone), so a run of anyone else reads none of this."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from engine.clock import iso
from engine.errors import StorageError
from engine.models.risk import KillSwitch, RiskLimits
from engine.money import ZERO, to_decimal
from engine.storage.dynamo import StorageClients, error_code, from_item, get_clients, map_error, to_item
from engine.storage.portfolios import ACCOUNT_SK, account_from_item
from engine.storage.query import Expr, batch_get, query_all

RISK_PREFIX = "RISK#"
LIMITS_SK = "LIMITS"
TOTAL_SK = "EXP#TOTAL"
MARKET_PREFIX = "EXP#M#"
EVENT_PREFIX = "EXP#E#"
DAY_PREFIX = "DAY#"
TWR_SK = "TWR"  # the owner's time-weighted index and its peak, for max_drawdown_pct
GUARD_ATTRIBUTE = "account_guard"
BATCH_GET_MAX = 100


def risk_key(owner: str) -> str:
    return RISK_PREFIX + owner


@dataclass
class GuardState:
    """What a run of a guarded strategy reads in its one extra request."""

    limits: RiskLimits | None = None
    kill: KillSwitch | None = None
    total_usd: Decimal = ZERO
    by_market: dict[str, Decimal] = field(default_factory=dict)
    by_event: dict[str, Decimal] = field(default_factory=dict)
    day_pnl_usd: Decimal = ZERO


class RiskRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        self.clients = clients or get_clients()
        self.db = self.clients.dynamodb
        self.table = self.clients.settings.portfolios_table
        self.strategies_table = self.clients.settings.strategies_table

    def _key(self, owner: str, sk: str) -> dict[str, Any]:
        return {"strategy_id": {"S": risk_key(owner)}, "sk": {"S": sk}}

    # -- limits and kill switch -----------------------------------------------------------------------

    def get_settings(self, owner: str) -> tuple[RiskLimits | None, KillSwitch | None, datetime | None]:
        try:
            response = self.db.get_item(
                TableName=self.table, Key=self._key(owner, LIMITS_SK), ConsistentRead=True
            )
        except ClientError as exc:
            raise map_error(exc, what="read risk limits") from exc
        item = response.get("Item")
        if item is None:
            return None, None, None
        return _settings_from(from_item(item))

    def put_limits(self, owner: str, limits: RiskLimits, *, now: datetime) -> None:
        expr = Expr()
        try:
            self.db.update_item(
                TableName=self.table,
                Key=self._key(owner, LIMITS_SK),
                UpdateExpression=(
                    f"SET {expr.name('limits')} = {expr.value(limits.model_dump(mode='python'))}, "
                    f"{expr.name('updated_at')} = {expr.value(now)}"
                ),
                **expr.kwargs(),
            )
        except ClientError as exc:
            raise map_error(exc, what="write risk limits") from exc

    def set_kill(self, owner: str, kill: KillSwitch) -> bool:
        """Turn the kill switch on; False when it already was (the first one stays)."""
        expr = Expr()
        try:
            self.db.update_item(
                TableName=self.table,
                Key=self._key(owner, LIMITS_SK),
                UpdateExpression=f"SET {expr.name('kill')} = {expr.value(kill.model_dump(mode='python'))}",
                ConditionExpression=f"attribute_not_exists({expr.name('kill')})",
                **expr.kwargs(),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise map_error(exc, what="set kill switch") from exc
        return True

    def update_kill_paused(self, owner: str, paused: list[str]) -> None:
        expr = Expr()
        try:
            self.db.update_item(
                TableName=self.table,
                Key=self._key(owner, LIMITS_SK),
                UpdateExpression=f"SET {expr.name('kill')}.{expr.name('paused_strategy_ids')} = "
                f"{expr.value(paused)}",
                ConditionExpression=f"attribute_exists({expr.name('kill')})",
                **expr.kwargs(),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return
            raise map_error(exc, what="record paused strategies") from exc

    def clear_kill(self, owner: str) -> KillSwitch | None:
        """Turn the kill switch off; the switch as it was, or None when it was off."""
        expr = Expr()
        try:
            response = self.db.update_item(
                TableName=self.table,
                Key=self._key(owner, LIMITS_SK),
                UpdateExpression=f"REMOVE {expr.name('kill')}",
                ConditionExpression=f"attribute_exists({expr.name('kill')})",
                ReturnValues="ALL_OLD",
                **expr.kwargs(),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise map_error(exc, what="clear kill switch") from exc
        _, kill, _ = _settings_from(from_item(response.get("Attributes") or {}))
        return kill

    # -- the guard flag on strategies -------------------------------------------------------------------

    def owner_strategy_ids(self, owner: str) -> list[str]:
        expr = Expr()
        params = {
            "TableName": self.strategies_table,
            "IndexName": "by_owner",
            "KeyConditionExpression": f"{expr.name('created_by')} = {expr.value(owner)}",
            "ProjectionExpression": expr.name("strategy_id"),
            **expr.kwargs(),
        }
        return [i["strategy_id"]["S"] for i in query_all(self.db, params, what="list owner strategies")]

    def set_guard(self, strategy_ids: Iterable[str], guard: str | None) -> None:
        """Mark (or unmark, `guard` None) strategies as subject to the shared limits and kill switch."""
        for strategy_id in strategy_ids:
            expr = Expr()
            update = (
                f"REMOVE {expr.name(GUARD_ATTRIBUTE)}"
                if guard is None
                else f"SET {expr.name(GUARD_ATTRIBUTE)} = {expr.value(guard)}"
            )
            try:
                self.db.update_item(
                    TableName=self.strategies_table,
                    Key={"strategy_id": {"S": strategy_id}},
                    UpdateExpression=update,
                    ConditionExpression=f"attribute_exists({expr.name('strategy_id')})",
                    **expr.kwargs(),
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    continue  # deleted meanwhile
                raise map_error(exc, what="mark strategy guarded") from exc

    # -- exposure and the day's P&L -------------------------------------------------------------------

    def recount_exposure(self, owner: str, strategy_ids: Sequence[str], *, attempts: int = 5) -> None:
        """Set the counters to the cost basis the accounts of `strategy_ids` hold now (strongly consistent
        reads). A counter is written only if no commit moved it since it was read (its version); else it is
        counted again, so a run committing meanwhile is neither lost nor counted twice."""
        for _ in range(attempts):
            seen = self._counters(owner)
            truth = self._open_cost(strategy_ids)
            stale = [
                sk
                for sk in sorted(set(seen) | set(truth))
                if truth.get(sk, ZERO) != (seen[sk][0] if sk in seen else ZERO)
            ]
            written = [self._set_counter(owner, sk, truth.get(sk, ZERO), seen.get(sk)) for sk in stale]
            if all(written):
                return
        raise StorageError("the exposure kept changing while it was counted; try again")

    def _counters(self, owner: str) -> dict[str, tuple[Decimal, int | None]]:
        expr = Expr()
        params = {
            "TableName": self.table,
            "KeyConditionExpression": (
                f"{expr.name('strategy_id')} = {expr.value(risk_key(owner))} "
                f"AND begins_with({expr.name('sk')}, {expr.value('EXP#')})"
            ),
            "ConsistentRead": True,
            **expr.kwargs(),
        }
        counters: dict[str, tuple[Decimal, int | None]] = {}
        for item in query_all(self.db, params, what="read exposure"):
            values = from_item(item)
            version = values.get("version")
            counters[str(values["sk"])] = (
                to_decimal(values.get("exposure_usd", 0)),
                None if version is None else int(version),
            )
        return counters

    def _open_cost(self, strategy_ids: Sequence[str]) -> dict[str, Decimal]:
        """The cost basis of open positions in the accounts, by counter sort key (the total always)."""
        cost: dict[str, Decimal] = {TOTAL_SK: ZERO}
        ids = list(dict.fromkeys(strategy_ids))
        keys = [{"strategy_id": {"S": sid}, "sk": {"S": ACCOUNT_SK}} for sid in ids]
        for item in batch_get(self.db, self.table, keys, consistent=True, what="read accounts"):
            for holding in account_from_item(item).positions.values():
                cost[TOTAL_SK] += holding.cost_usd
                market = MARKET_PREFIX + holding.market_id
                cost[market] = cost.get(market, ZERO) + holding.cost_usd
                if holding.event_id:
                    event = EVENT_PREFIX + holding.event_id
                    cost[event] = cost.get(event, ZERO) + holding.cost_usd
        return cost

    def _set_counter(
        self, owner: str, sk: str, value: Decimal, seen: tuple[Decimal, int | None] | None
    ) -> bool:
        expr = Expr()
        version = seen[1] if seen is not None else None
        condition = (
            f"attribute_not_exists({expr.name('version')})"
            if version is None
            else f"{expr.name('version')} = {expr.value(version)}"
        )
        item = {
            "strategy_id": risk_key(owner),
            "sk": sk,
            "exposure_usd": value,
            "version": (version or 0) + 1,
        }
        try:
            self.db.put_item(
                TableName=self.table, Item=to_item(item), ConditionExpression=condition, **expr.kwargs()
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise map_error(exc, what="recount exposure") from exc
        return True

    def read_guard(
        self, owner: str, *, markets: Iterable[str], events: Iterable[str], day: str
    ) -> GuardState:
        """Limits, kill switch, exposure counters and the day's P&L in one BatchGetItem (another only for
        keys DynamoDB left unprocessed)."""
        keys = [LIMITS_SK, TOTAL_SK, DAY_PREFIX + day]
        keys += [MARKET_PREFIX + m for m in sorted(set(markets))]
        keys += [EVENT_PREFIX + e for e in sorted(set(events))]
        keys = keys[:BATCH_GET_MAX]
        state = GuardState()
        for item in batch_get(
            self.db,
            self.table,
            [self._key(owner, sk) for sk in keys],
            consistent=True,
            what="read shared limits",
        ):
            values = from_item(item)
            sk = str(values["sk"])
            if sk == LIMITS_SK:
                state.limits, state.kill, _ = _settings_from(values)
            elif sk == TOTAL_SK:
                state.total_usd = to_decimal(values.get("exposure_usd", 0))
            elif sk.startswith(MARKET_PREFIX):
                state.by_market[sk[len(MARKET_PREFIX) :]] = to_decimal(values.get("exposure_usd", 0))
            elif sk.startswith(EVENT_PREFIX):
                state.by_event[sk[len(EVENT_PREFIX) :]] = to_decimal(values.get("exposure_usd", 0))
            elif sk.startswith(DAY_PREFIX):
                state.day_pnl_usd = to_decimal(values.get("pnl_usd", 0))
        return state

    def exposure_item(self, owner: str, sk: str, delta: Decimal, cap: Decimal | None) -> dict[str, Any]:
        """A transaction Update adding `delta` to one counter; an increase is conditioned on staying within
        `cap`, so two runs racing for the last dollar cannot both pass."""
        expr = Expr()
        exposure = expr.name("exposure_usd")
        item: dict[str, Any] = {
            "TableName": self.table,
            "Key": self._key(owner, sk),
            # the version tells a recount that a commit moved the counter since it was read
            "UpdateExpression": f"ADD {exposure} {expr.value(delta)}, {expr.name('version')} {expr.value(1)}",
        }
        if cap is not None and delta > ZERO:
            item["ConditionExpression"] = (
                f"(attribute_not_exists({exposure}) AND {expr.value(delta)} <= {expr.value(cap)}) "
                f"OR {exposure} <= {expr.value(cap - delta)}"
            )
        item.update(expr.kwargs())
        return {"Update": item}

    def drop_account(self, strategy_id: str, *, version: int, exposure: list[dict[str, Any]]) -> bool:
        """Delete a deleted strategy's account (at the version read) and release its positions' exposure in
        one transaction; False when the account changed meanwhile (read it again)."""
        expr = Expr()
        delete = {
            "Delete": {
                "TableName": self.table,
                "Key": {"strategy_id": {"S": strategy_id}, "sk": {"S": ACCOUNT_SK}},
                "ConditionExpression": f"{expr.name('version')} = {expr.value(version)}",
                **expr.kwargs(),
            }
        }
        try:
            self.db.transact_write_items(TransactItems=[delete, *exposure])
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                return False
            raise map_error(exc, what="release a deleted strategy's exposure") from exc
        return True

    def add_day_pnl(self, owner: str, day: str, delta: Decimal) -> None:
        expr = Expr()
        try:
            self.db.update_item(
                TableName=self.table,
                Key=self._key(owner, DAY_PREFIX + day),
                UpdateExpression=f"ADD {expr.name('pnl_usd')} {expr.value(delta)}",
                **expr.kwargs(),
            )
        except ClientError as exc:
            raise map_error(exc, what="add the day's P&L") from exc

    def fold_twr(
        self, owner: str, *, pnl: Decimal, flow: Decimal, at: datetime, attempts: int = 5
    ) -> tuple[Decimal, Decimal]:
        """Move the owner's time-weighted index by one strategy's P&L (`flow`: money in or out, no return);
        (index, its running peak). Optimistic: conditioned on the version read, retried when raced."""
        key = self._key(owner, TWR_SK)
        for _ in range(attempts):
            try:
                item = self.db.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
            except ClientError as exc:
                raise map_error(exc, what="read the time-weighted index") from exc
            values = from_item(item) if item else {}
            equity = to_decimal(values.get("equity_usd", 0))
            index = to_decimal(values.get("index", 1))
            peak = to_decimal(values.get("peak", 1))
            version = int(values.get("version", 0))
            base = equity + max(flow, ZERO)
            if base > ZERO:
                index = index * (1 + pnl / base)
            index = index.quantize(Decimal("0.000000000001"))
            peak = max(peak, index)
            new: dict[str, Any] = {
                "strategy_id": risk_key(owner),
                "sk": TWR_SK,
                "equity_usd": equity + pnl + flow,
                "index": index,
                "peak": peak,
                "version": version + 1,
                "updated_at": iso(at),
            }
            expr = Expr()
            condition = (
                f"attribute_not_exists({expr.name('sk')})"
                if not item
                else f"{expr.name('version')} = {expr.value(version)}"
            )
            try:
                self.db.put_item(
                    TableName=self.table, Item=to_item(new), ConditionExpression=condition, **expr.kwargs()
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    continue
                raise map_error(exc, what="write the time-weighted index") from exc
            return index, peak
        raise StorageError("the time-weighted index kept changing; the record is retried")

    def exposure(self, owner: str) -> dict[str, Decimal]:
        """Every counter by sort key (tests and tools)."""
        return {sk: value for sk, (value, _version) in self._counters(owner).items()}


def _settings_from(values: Mapping[str, Any]) -> tuple[RiskLimits | None, KillSwitch | None, datetime | None]:
    limits_raw = values.get("limits")
    kill_raw = values.get("kill")
    limits = RiskLimits.model_validate(limits_raw) if isinstance(limits_raw, Mapping) else None
    kill = KillSwitch.model_validate(kill_raw) if isinstance(kill_raw, Mapping) else None
    updated = values.get("updated_at")
    updated_at = datetime.fromisoformat(str(updated).replace("Z", "+00:00")) if updated else None
    return limits, kill, updated_at


__all__ = ["GUARD_ATTRIBUTE", "GuardState", "RiskRepository", "iso", "risk_key"]
