"""EventBridge every minute -> one scheduling tick (DESIGN 1). Adapter only: event in, report out."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AwareDatetime, ConfigDict

from engine import clock
from engine.market.polymarket import PolymarketClient, client_from_settings
from engine.models.base import Model
from engine.services.tick import TickReport, run_tick
from engine.settings import get_settings

logger = Logger()
metrics = Metrics()
tracer = Tracer()
# the engine logs with the standard library; its lines get this logger's JSON format and keys
copy_config_to_registered_loggers(source_logger=logger, include={"engine"})

_provider: PolymarketClient | None = None


class ScheduledEvent(Model):
    """The two fields of EventBridge's scheduled event the tick reads. Powertools' EventBridgeModel would do
    the same, but importing its parser builds every event model it has: a cold start pays for all of them."""

    model_config = ConfigDict(extra="ignore")

    id: str
    time: AwareDatetime


def market_provider() -> PolymarketClient:
    """One HTTP client (and connection pool) per container, reused by every tick."""
    global _provider  # noqa: PLW0603 - a cached factory, the one global a handler keeps
    if _provider is None:
        _provider = client_from_settings(get_settings())
    return _provider


def emit_metrics(report: TickReport) -> None:
    counts = {
        "Due": report.due,
        "Executed": report.executed,
        "Failed": report.failed,
        "TimedOut": report.timed_out,
        "Deferred": report.deferred,
        "SkippedSlots": report.skipped_slots,
    }
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.add_metric(name="TickDurationMs", unit=MetricUnit.Milliseconds, value=report.duration_ms)
    metrics.add_metric(name="SchedulingLagSeconds", unit=MetricUnit.Seconds, value=report.lag_seconds)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started_at = clock.utc_now()
    scheduled = ScheduledEvent.model_validate(event)
    # the tick's slot is the event's time, never the wall clock: a late or retried invocation works on
    # the minute it was meant for
    slot = clock.floor_minute(scheduled.time)
    tick_id = scheduled.id
    logger.append_keys(tick_id=tick_id, tick_slot=clock.iso(slot))
    report = run_tick(
        slot=slot,
        remaining_ms=context.get_remaining_time_in_millis,
        provider=market_provider(),
        settings=get_settings(),
        tick_id=tick_id,
        started_at=started_at,
    )
    emit_metrics(report)
    logger.info("tick", extra={"event": "tick", **report.as_dict()})
    return report.as_dict()
