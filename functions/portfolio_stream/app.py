"""DynamoDB stream of the Trades table -> keeps each strategy's portfolio read model (DESIGN 1, 2).

A record is only a trigger: the strategy it names is synced once per batch, from the ledger, so records
delivered twice, late or out of order change nothing. Reported as batch item failures: every record of a
strategy whose sync failed, and any record that names no strategy (a poison record); the rest is applied.
REMOVE records (a deleted strategy's trades) need no sync.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from engine import clock
from engine.services.portfolio_stream import PortfolioStores, sync_strategy

logger = Logger()
metrics = Metrics()
tracer = Tracer()
# Kept at the default on purpose: when every record fails, the invocation raises, so Lambda retries the
# batch and bisects it (BisectBatchOnFunctionError) instead of reading "all failed" as a partial answer.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=True)
copy_config_to_registered_loggers(source_logger=logger, include={"engine"})


class PoisonRecord(ValueError):
    """A record that names no strategy: it can never succeed, so it is reported on its own."""


class StrategySyncFailed(RuntimeError):
    """The strategy a record names could not be synced in this invocation (Lambda delivers it again)."""


def strategy_of(record: DynamoDBRecord) -> str | None:
    """The strategy a record triggers a sync for; None for a REMOVE. PoisonRecord when it names none."""
    try:
        event_name = record.event_name
        stream = record.dynamodb
        keys = stream.keys if stream is not None else {}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PoisonRecord(f"not a DynamoDB stream record: {exc}") from exc
    if event_name is DynamoDBRecordEventName.REMOVE:
        return None
    strategy_id = keys.get("strategy_id")
    if event_name is None or not isinstance(strategy_id, str) or not strategy_id:
        raise PoisonRecord("the record's Keys name no strategy_id")
    if not isinstance(keys.get("trade_id"), str):
        raise PoisonRecord("the record's Keys name no trade_id")
    return strategy_id


@dataclass
class BatchSync:
    """One invocation's record handler: each strategy synced once, at its first record in batch order."""

    stores: PortfolioStores
    now: datetime
    outcomes: dict[str, BaseException | None] = field(default_factory=dict)

    def __call__(self, record: DynamoDBRecord) -> None:
        strategy_id = strategy_of(record)
        if strategy_id is None:
            return
        if strategy_id not in self.outcomes:
            try:
                sync_strategy(strategy_id, now=self.now, stores=self.stores)
            except Exception as exc:  # one strategy's failure never stops the others
                logger.exception("portfolio sync failed", extra={"strategy_id": strategy_id})
                self.outcomes[strategy_id] = exc
            else:
                self.outcomes[strategy_id] = None
        failure = self.outcomes[strategy_id]
        if failure is not None:
            raise StrategySyncFailed(f"portfolio of {strategy_id} not synced") from failure


def _sequence_number(record: Any) -> str | None:
    stream = record.get("dynamodb") if isinstance(record, dict) else None
    number = stream.get("SequenceNumber") if isinstance(stream, dict) else None
    return number if isinstance(number, str) and number else None


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    records = records if isinstance(records, list) else []
    # A batch item failure names its record by SequenceNumber; one without it cannot be reported alone.
    # Apply the rest, then fail the invocation, so Lambda retries and bisects down to that record.
    unnamed = [r for r in records if _sequence_number(r) is None]
    named = [r for r in records if _sequence_number(r) is not None]
    sync = BatchSync(stores=PortfolioStores.default(), now=clock.utc_now())
    metrics.add_metric(name="StreamRecords", unit=MetricUnit.Count, value=len(records))
    response: dict[str, Any] = {"batchItemFailures": []}
    failed = len(named)  # until the processor answers: when every record fails, it raises
    try:
        if named:
            response = dict(
                process_partial_response(
                    event={"Records": named}, record_handler=sync, processor=processor, context=context
                )
            )
        failed = len(response.get("batchItemFailures", []))
    finally:
        synced = sum(1 for outcome in sync.outcomes.values() if outcome is None)
        metrics.add_metric(name="StrategiesSynced", unit=MetricUnit.Count, value=synced)
        metrics.add_metric(name="StreamRecordFailures", unit=MetricUnit.Count, value=failed + len(unnamed))
    if unnamed:
        raise PoisonRecord(
            f"{len(unnamed)} record(s) without a SequenceNumber; the batch is retried and bisected"
        )
    return response
