"""NOTIFY's webhook end to end: a tick commits an alert strategy's run, the notification worker posts the
alert to the owner's webhook (a local plain-HTTP receiver), signed, exactly once per execution even when the
run or the message is retried; a failing receiver is retried through the queue; the secret never logged."""

from __future__ import annotations

import io
import json
import logging
import os
import time
from datetime import timedelta
from typing import Any

from engine.clock import utc_now
from engine.services.webhooks import set_webhook, verify
from engine.storage.user_settings import SecretBox, UserSettingsRepository
from functions.notification_worker import app as worker_app
from tests.integration.test_alert_runs import seed_alert_strategy
from tests.support.builders import T0
from tests.support.lambda_context import HandlerStack, handler_stack, lambda_context, sqs_event
from tests.support.webhook_receiver import webhook_receiver


def register(owner: str, url: str) -> str:
    _, secret = set_webhook(
        owner, url, now=utc_now(), repo=UserSettingsRepository(), box=SecretBox(), allow_private=True
    )
    return secret


def receive(stack: HandlerStack) -> list[dict[str, Any]]:
    sqs = stack.aws.session.client("sqs")
    got = sqs.receive_message(
        QueueUrl=os.environ["WEBHOOK_QUEUE_URL"],
        MaxNumberOfMessages=10,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    messages: list[dict[str, Any]] = got.get("Messages", [])
    return messages


def run_worker(stack: HandlerStack, messages: list[dict[str, Any]]) -> dict[str, Any]:
    arn = stack.aws.names.queue_arns["WebhookQueue"]
    context = lambda_context(30, function_name="autopilot-test-notification-worker")
    result: dict[str, Any] = worker_app.lambda_handler(sqs_event(messages, queue_arn=arn), context)
    return result


def test_the_webhook_gets_each_alert_once_signed_even_when_the_run_and_the_message_are_retried() -> None:
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    root = logging.getLogger()
    root.addHandler(handler)
    worker_app.logger.addHandler(handler)
    try:
        with (
            handler_stack(SAFETY_MARGIN_SECONDS="2", WEBHOOK_ALLOW_PRIVATE_URLS="true") as stack,
            webhook_receiver() as receiver,
        ):
            # Given an alert strategy whose owner registered a webhook
            seed_alert_strategy("new", owner="owner-1")
            secret = register("owner-1", receiver.url)

            # When a tick runs it, and the same tick is delivered again (a retried run)
            stack.cron(T0 + timedelta(seconds=2))
            stack.cron(T0 + timedelta(seconds=2))
            messages = receive(stack)
            # Then one alert was queued
            assert len(messages) == 1

            # When the worker handles it, and then the same message again (an SQS redelivery)
            first = run_worker(stack, messages)
            second = run_worker(stack, messages)

            # Then the webhook got it once, with a signature that verifies over the raw body
            assert first == {"batchItemFailures": []} and second == {"batchItemFailures": []}
            [request] = receiver.requests
            header = request.headers["X-Autopilot-Signature"]
            assert verify(secret, request.body, header, now=int(time.time()))
            assert not verify(secret, request.body + b" ", header, now=int(time.time()))
            assert not verify("whsec_other", request.body, header, now=int(time.time()))
            alert = json.loads(request.body)
            assert request.headers["X-Autopilot-Idempotency-Id"] == alert["id"]
            assert alert["id"] == f"{alert['execution_id']}:alert" and alert["count"] == 5
    finally:
        root.removeHandler(handler)
        worker_app.logger.removeHandler(handler)
    # And the secret appears in no log line
    assert secret not in log.getvalue()


def test_a_failing_webhook_is_retried_through_the_queue_and_delivered_once() -> None:
    with (
        handler_stack(SAFETY_MARGIN_SECONDS="2", WEBHOOK_ALLOW_PRIVATE_URLS="true") as stack,
        webhook_receiver() as receiver,
    ):
        # Given a receiver that fails its first request
        seed_alert_strategy("every_run", owner="owner-2")
        register("owner-2", receiver.url)
        receiver.fail_next = 1
        stack.cron(T0 + timedelta(seconds=2))
        messages = receive(stack)

        # When the worker handles the alert / Then it reports the record failed, so SQS redelivers it
        failed = run_worker(stack, messages)
        assert failed == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
        assert receiver.requests == []

        # When it comes back / Then it is delivered, once
        assert run_worker(stack, messages) == {"batchItemFailures": []}
        assert len(receiver.requests) == 1


def test_no_webhook_or_a_foreign_message_posts_nothing() -> None:
    with (
        handler_stack(SAFETY_MARGIN_SECONDS="2", WEBHOOK_ALLOW_PRIVATE_URLS="true") as stack,
        webhook_receiver() as receiver,
    ):
        # Given an alert strategy whose owner has no webhook, and another user's webhook
        seed_alert_strategy("new", owner="owner-3")
        register("someone-else", receiver.url)
        stack.cron(T0 + timedelta(seconds=2))
        messages = receive(stack)
        # When the worker handles the alert, and a poison message / Then nothing is posted, nothing retried
        poison = {**messages[0], "MessageId": "poison", "Body": "not json"}
        assert run_worker(stack, [*messages, poison]) == {"batchItemFailures": []}
        assert receiver.requests == []


def test_without_the_local_setting_a_loopback_webhook_is_never_called() -> None:
    with handler_stack(SAFETY_MARGIN_SECONDS="2") as stack, webhook_receiver() as receiver:
        # Given a loopback webhook stored while the local setting allowed it, in a stack that does not
        seed_alert_strategy("new", owner="owner-4")
        register("owner-4", receiver.url.replace("http://127.0.0.1", "http://localhost"))
        stack.cron(T0 + timedelta(seconds=2))
        # When the worker handles the alert / Then it refuses the address: nothing posted, nothing retried
        assert run_worker(stack, receive(stack)) == {"batchItemFailures": []}
        assert receiver.requests == []
