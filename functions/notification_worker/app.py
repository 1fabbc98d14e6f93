"""SQS WebhookQueue -> posts each owner's alert to their webhook, signed, at most once per alert id."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from engine import clock
from engine.services.webhooks import Urllib3Http, deliver, parse_alert
from engine.settings import get_settings
from engine.storage.dynamo import get_clients
from engine.storage.user_settings import SecretBox, UserSettingsRepository

logger = Logger()
metrics = Metrics()
tracer = Tracer()
# a batch whose every alert failed is still answered with its failures (SQS retries each), not an error
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
copy_config_to_registered_loggers(source_logger=logger, include={"engine"})

# One delivery per alert id, whatever SQS does: a redelivered or duplicated message finds the stored record
# and is not posted again; a failed delivery leaves no record, so the queue's retry posts it.
KEPT_SECONDS = 7 * 24 * 60 * 60
_CONFIG = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=KEPT_SECONDS)
_http = Urllib3Http()


@lru_cache(maxsize=4)
def _persistence(table: str, endpoint: str | None) -> DynamoDBPersistenceLayer:
    del endpoint  # part of the cache key only: the engine's client honours DYNAMODB_ENDPOINT_URL
    return DynamoDBPersistenceLayer(table_name=table, boto3_client=get_clients().dynamodb, key_attr="id")


def _deliver_once(message: dict[str, Any], body: str) -> dict[str, Any]:
    settings = get_settings()

    @idempotent_function(
        data_keyword_argument="message",
        config=_CONFIG,
        persistence_store=_persistence(settings.idempotency_table, settings.dynamodb_endpoint_url),
    )
    def send(message: dict[str, Any]) -> dict[str, Any]:
        delivery = deliver(
            body,
            now=clock.utc_now(),
            repo=UserSettingsRepository(),
            box=SecretBox(settings),
            http=_http,
            allow_private=settings.webhook_allow_private_urls,
            timeout=settings.webhook_timeout_seconds,
        )
        return {"outcome": delivery.outcome, "status": delivery.status}

    result: dict[str, Any] = send(message={"id": "webhook:" + message["id"]})
    return result


def record_handler(record: SQSRecord) -> None:
    """Raises when the alert should come back (the receiver failed): SQS redelivers it, then the DLQ."""
    try:
        message = parse_alert(record.body)
    except ValueError:
        logger.error("poison message dropped", extra={"message_id": record.message_id})
        return  # retrying cannot make it one of ours
    metrics.add_metric(name="WebhookAttempts", unit=MetricUnit.Count, value=1)
    result = _deliver_once(message, record.body)
    logger.info("alert handled", extra={"alert_id": message["id"], **result})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _CONFIG.register_lambda_context(context)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
