"""DynamoDB stream records exactly as Lambda delivers them, built from moto's stream or from table items.

moto's `get_records` answers as the DynamoDB Streams API does: no `eventSourceARN`, `eventVersion` 1.0,
`ApproximateCreationDateTime` a datetime, binary values as bytes. Lambda's event adds the ARN, says 1.1,
carries the time as epoch seconds and binary values base64-encoded (TOOLING.md). `lambda_record` does that
conversion; `StreamReader` reads a table's stream shard by shard from where it left off.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.ledger import LedgerState, apply_to_account, replay
from engine.models.strategy import StrategyStatus
from engine.models.trading import Side, Trade, TradeReason, settlement_trade_id
from engine.storage.portfolios import AccountRepository, PortfolioRepository
from engine.storage.runs import RunCommit, RunRepository
from engine.storage.strategies import StrategyRepository
from local.infra import load_template
from local.pollers import matches_pattern
from tests.support.builders import T0, make_strategy, make_trade

REGION = "us-east-1"
ACCOUNT = "123456789012"


def _lambda_json(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Mapping):
        return {k: _lambda_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lambda_json(v) for v in value]
    return value


def lambda_record(raw: Mapping[str, Any], *, stream_arn: str) -> dict[str, Any]:
    """One record of moto's (or the Streams API's) `get_records` in the shape of Lambda's event."""
    record: dict[str, Any] = _lambda_json(raw)
    record["eventVersion"] = "1.1"
    record["eventSourceARN"] = stream_arn
    record.setdefault("awsRegion", REGION)
    stream = dict(record.get("dynamodb") or {})
    created = raw.get("dynamodb", {}).get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = int(created.timestamp())
    elif created is not None:
        stream["ApproximateCreationDateTime"] = int(float(created))
    record["dynamodb"] = stream
    return record


def record_from_item(
    item: Mapping[str, Any],
    *,
    stream_arn: str,
    sequence_number: str,
    event_name: str = "INSERT",
    old_item: Mapping[str, Any] | None = None,
    created_at: datetime | None = None,
    key_names: tuple[str, ...] = ("strategy_id", "trade_id"),
) -> dict[str, Any]:
    """A Lambda stream record for a typed table item (as `to_item` writes it), without a stream to read:
    for sample events and unit-sized tests. REMOVE records carry only the old image."""
    source = old_item if event_name == "REMOVE" and old_item is not None else item
    stream: dict[str, Any] = {
        "Keys": {name: dict(source[name]) for name in key_names},
        "SequenceNumber": sequence_number,
        "SizeBytes": len(json.dumps(_lambda_json(dict(item)))),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if created_at is not None:
        stream["ApproximateCreationDateTime"] = int(created_at.timestamp())
    if event_name != "REMOVE":
        stream["NewImage"] = _lambda_json(dict(item))
    if old_item is not None:
        stream["OldImage"] = _lambda_json(dict(old_item))
    return {
        "eventID": f"{int(sequence_number):032x}"[-32:],
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": stream,
        "eventSourceARN": stream_arn,
    }


def stream_event(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {"Records": [dict(r) for r in records]}


def template_stream_filters(function_logical_id: str = "PortfolioStreamFunction") -> list[dict[str, Any]]:
    """The FilterCriteria patterns of the function's DynamoDB event source in template.yaml."""
    events = load_template()["Resources"][function_logical_id]["Properties"]["Events"]
    for spec in events.values():
        if spec.get("Type") == "DynamoDB":
            filters = spec["Properties"].get("FilterCriteria", {}).get("Filters", [])
            return [json.loads(f["Pattern"]) for f in filters]
    return []


def passes_filters(record: Mapping[str, Any], filters: list[dict[str, Any]]) -> bool:
    """What Lambda's event filtering lets through (no filters: everything)."""
    return not filters or any(matches_pattern(p, dict(record)) for p in filters)


@dataclass
class StreamReader:
    """Reads a table's stream from moto, every shard, from where the previous `read` stopped."""

    client: Any  # a dynamodbstreams client
    stream_arn: str
    filters: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[str, str] = field(default_factory=dict)  # shard id -> last sequence number read

    def raw(self) -> list[dict[str, Any]]:
        """The new records of every shard as `get_records` answers them, in shard order."""
        out: list[dict[str, Any]] = []
        description = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            position = self.positions.get(shard_id)
            if position is None:
                iterator = self.client.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            else:
                iterator = self.client.get_shard_iterator(
                    StreamArn=self.stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                    SequenceNumber=position,
                )["ShardIterator"]
            while iterator:
                response = self.client.get_records(ShardIterator=iterator, Limit=1000)
                records = response.get("Records", [])
                if not records:
                    break
                out.extend(records)
                self.positions[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                iterator = response.get("NextShardIterator")
        return out

    def read(self) -> list[dict[str, Any]]:
        """The new records in Lambda's shape, after the template's event filter."""
        converted = [lambda_record(r, stream_arn=self.stream_arn) for r in self.raw()]
        return [r for r in converted if passes_filters(r, self.filters)]


def batches(records: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [records[i : i + size] for i in range(0, len(records), size)]


def write_event(path: Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Save a sample event (events/stream/*.json)."""
    path.write_text(json.dumps(stream_event(records), indent=2, sort_keys=True) + "\n")


# -- a trading desk that writes runs as the executor does -------------------------------------------------


@dataclass
class Desk:
    """Writes strategies, accounts and runs through the storage the executor uses (`commit_run`: trades,
    account and marks in one transaction), and remembers every trade so tests can replay the ledger."""

    trades: dict[tuple[str, int], list[Trade]] = field(default_factory=dict)  # (strategy, epoch) -> trades

    def deploy(
        self,
        *,
        bankroll: Decimal = Decimal(1000),
        epoch: int = 0,
        now: datetime = T0,
        strategy_id: str | None = None,
    ) -> str:
        """A deployed strategy with its account and opening portfolio, as `deploy_strategy` leaves them."""
        strategy = make_strategy(
            status=StrategyStatus.DEPLOYED, paper_bankroll_usd=bankroll, portfolio_epoch=epoch
        )
        if strategy_id is not None:
            strategy = strategy.model_copy(update={"strategy_id": strategy_id})
        StrategyRepository().create(strategy)
        AccountRepository().open(strategy.strategy_id, bankroll=bankroll, epoch=epoch, now=now)
        PortfolioRepository().reset(strategy.strategy_id, bankroll=bankroll, epoch=epoch, now=now)
        return strategy.strategy_id

    def run(
        self,
        strategy_id: str,
        orders: Iterable[tuple[Side, str, Decimal, Decimal]] = (),
        *,
        at: datetime,
        marks: Mapping[str, tuple[Decimal, str]] | None = None,
        fee: Decimal = Decimal("0.10"),
    ) -> list[Trade]:
        """One committed run at `at`: `orders` are (side, market, shares, price); `marks` are
        {market: (price, status)} for the YES token of each market."""
        before = AccountRepository().get(strategy_id)
        assert before is not None, "deploy first"
        slot = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        trades: list[Trade] = []
        for offset, (side, market, shares, price) in enumerate(orders, start=1):
            overrides: dict[str, Any] = {}
            if side is Side.SETTLE:
                overrides = {
                    "trade_id": settlement_trade_id(strategy_id, market, "YES", before.epoch),
                    "reason": TradeReason.RESOLUTION,
                }
            trades.append(
                make_trade(
                    strategy_id,
                    seq=before.trade_seq + offset,
                    epoch=before.epoch,
                    slot_key=slot,
                    market_id=market,
                    side=side,
                    shares=shares,
                    price=price,
                    fee_usd=Decimal(0) if side is Side.SETTLE else fee,
                    created_at=at,
                    **overrides,
                )
            )
        stored_marks = None
        if marks is not None:
            stored_marks = {f"tok-{m}-yes": {"price": p, "status": s} for m, (p, s) in marks.items()}
        commit = RunCommit(
            strategy_id=strategy_id,
            trades=trades,
            account_before=before,
            account_after=apply_to_account(before, trades) if trades else None,
            marks=stored_marks,
            marked_at=at if marks is not None else None,
            deployment_id=before.deployment_id,  # as the executor does: the account's deployment
        )
        result = RunRepository().commit_run(commit)
        assert result.ok, result
        self.trades.setdefault((strategy_id, before.epoch), []).extend(trades)
        return trades

    def replay(self, strategy_id: str, *, bankroll: Decimal = Decimal(1000), epoch: int = 0) -> LedgerState:
        """The ledger state the portfolio must equal: every trade written, replayed from the bankroll."""
        return replay(bankroll, self.trades.get((strategy_id, epoch), []))


__all__ = [
    "ACCOUNT",
    "REGION",
    "Desk",
    "StreamReader",
    "batches",
    "lambda_record",
    "passes_filters",
    "record_from_item",
    "stream_event",
    "template_stream_filters",
    "write_event",
]
