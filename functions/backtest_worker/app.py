"""SQS BacktestQueue -> runs one chunk (a window of slots) of a backtest per message (DESIGN 9).

The checkpoint in the Backtests table says where a backtest stands, so a redelivered message changes
nothing and a chunk that crashed runs again from the last checkpoint without a duplicate trade.
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
from engine.market.polymarket import PolymarketClient, client_from_settings
from engine.services.backtests import BacktestStores, run_chunk
from engine.settings import get_settings

logger = Logger()
metrics = Metrics()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)
copy_config_to_registered_loggers(source_logger=logger, include={"engine"})

_provider: PolymarketClient | None = None


def market_provider() -> PolymarketClient:
    global _provider  # noqa: PLW0603 - a cached factory, the one global a handler keeps
    if _provider is None:
        _provider = client_from_settings(get_settings())
    return _provider


def record_handler(record: SQSRecord, *, stores: BacktestStores) -> None:
    """Raises on a poison body or a crash: SQS redelivers, and after a few receives the DLQ keeps it."""
    # every delivery counts, a failing one too (BacktestChunkDeliveries - BacktestChunks: the retries)
    metrics.add_metric(name="BacktestChunkDeliveries", unit=MetricUnit.Count, value=1)
    message = json.loads(record.body)
    provider = market_provider()
    outcome = run_chunk(message, stores=stores, markets=provider, history=provider, now=clock.utc_now())
    logger.info(
        "backtest chunk", extra={"backtest_id": message.get("backtest_id"), "outcome": outcome.outcome}
    )
    metrics.add_metric(name="BacktestChunks", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="BacktestHistoryRequests", unit=MetricUnit.Count, value=outcome.history_requests)


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
