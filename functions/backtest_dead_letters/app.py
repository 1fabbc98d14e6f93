"""SQS BacktestDLQ -> ends the backtest of each dead-lettered chunk `failed` (DESIGN 9).

A chunk whose message failed every delivery (an exception, a timeout, the runtime out of memory) lands in
the BacktestDLQ; without this its backtest would stay `running` forever and hold a place of the owner's
running quota. A body that names no backtest is logged and dropped (nothing to end); a storage failure
raises, so SQS delivers the message again.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from engine import clock
from engine.services.backtests import BacktestStores, fail_dead_lettered
from engine.settings import get_settings

logger = Logger()
metrics = Metrics()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)
copy_config_to_registered_loggers(source_logger=logger, include={"engine"})


def record_handler(record: SQSRecord, *, stores: BacktestStores) -> None:
    # every record counts (one metric per invocation at least: Powertools warns on an empty flush)
    metrics.add_metric(name="BacktestChunksDeadLettered", unit=MetricUnit.Count, value=1)
    try:
        message = json.loads(record.body)
    except ValueError:
        message = None
    if not isinstance(message, dict) or not message.get("backtest_id"):
        logger.error("dead-lettered backtest message names no backtest", extra={"body": record.body[:500]})
        return
    outcome = fail_dead_lettered(message, stores=stores, now=clock.utc_now())
    logger.warning(
        "backtest chunk dead-lettered",
        extra={"backtest_id": message["backtest_id"], "chunk": message, "outcome": outcome},
    )
    if outcome == "failed":
        metrics.add_metric(name="BacktestsFailedDeadLettered", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    stores = BacktestStores.default(get_settings())
    response = process_partial_response(
        event=event,
        record_handler=partial(record_handler, stores=stores),
        processor=processor,
        context=context,
    )
    return dict(response)
