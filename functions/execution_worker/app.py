"""SQS ExecutionQueue -> runs the (strategy, slot) pairs a tick could not fit, through the cron's path."""

from __future__ import annotations

from dataclasses import dataclass
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
from engine.market.snapshot import MarketSnapshot
from engine.services.execution import Engine
from engine.services.tick import run_deferred
from engine.settings import get_settings
from engine.storage.messaging import Messaging

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


@dataclass
class Invocation:
    """What every record of one invocation shares: one market snapshot (and its book cache)."""

    engine: Engine
    messaging: Messaging
    snapshot: MarketSnapshot
    context: LambdaContext
    invocation_id: str


def record_handler(record: SQSRecord, *, invocation: Invocation) -> None:
    """Raises when the record should come back (poison, no time left, not committed): SQS redelivers it,
    and after a few receives it lands in the dead-letter queue."""
    outcome = run_deferred(
        record.body,
        engine=invocation.engine,
        snapshot=invocation.snapshot,
        now=clock.utc_now(),
        remaining_seconds=invocation.context.get_remaining_time_in_millis() / 1000.0,
        publisher=invocation.messaging,
        tick_id=invocation.invocation_id,
    )
    metrics.add_metric(name="WorkerRuns", unit=MetricUnit.Count, value=1)
    if outcome.outcome == "commit_failed":
        raise RuntimeError(f"run of {outcome.strategy_id} not committed; retried after the lease")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    engine = Engine.from_settings(settings)
    budget = clock.Deadline(
        max(0.0, context.get_remaining_time_in_millis() / 1000.0 - settings.safety_margin_seconds)
    )
    invocation = Invocation(
        engine=engine,
        messaging=Messaging(settings),
        snapshot=engine.snapshot(market_provider(), now=clock.utc_now(), deadline=budget),
        context=context,
        invocation_id=context.aws_request_id,
    )
    logger.append_keys(tick_id=invocation.invocation_id)
    response = process_partial_response(
        event=event,
        record_handler=partial(record_handler, invocation=invocation),
        processor=processor,
        context=context,
    )
    return dict(response)
