"""A cron invocation returns before its timeout even with a large overflow and a slow queue."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from typing import Any

from engine.storage.messaging import Messaging
from engine.storage.strategies import StrategyRepository
from tests.integration.test_executor_exactly_once import logs_and_trades, seed_running
from tests.integration.test_worker_overflow import receive_all
from tests.support.builders import T0
from tests.support.lambda_context import handler_stack

SQS_LATENCY_SECONDS = 1.0  # per SendMessageBatch: a very slow queue (real SQS answers in ~20 ms)


def test_a_large_overflow_on_a_slow_queue_still_returns_inside_the_budget_and_loses_nothing() -> None:
    with handler_stack(SAFETY_MARGIN_SECONDS="4", RUN_DEADLINE_SECONDS="2") as stack:
        # Given 300 due strategies, a 9 s budget, and a queue taking 1 s per batch of 10: sending the
        # overflow (~25 batches, 25 s) cannot fit, wherever the tick sends it
        ids = seed_running(300)

        def slow_send(**_: Any) -> None:
            time.sleep(SQS_LATENCY_SECONDS)

        Messaging().sqs.meta.events.register("before-call.sqs.SendMessageBatch", slow_send)
        # When
        started = time.monotonic()
        report = stack.cron(T0 + timedelta(seconds=1), budget_seconds=9)
        elapsed = time.monotonic() - started
        # Then it returned with time to spare, and every due strategy ran, was queued, or is still due
        assert elapsed < 9
        assert report["due"] == 300
        logs, _trades = logs_and_trades(stack)
        ran = {log["strategy_id"] for log in logs}
        queued = {json.loads(m["Body"])["strategy_id"] for m in receive_all(stack)}
        assert report["executed"] == len(ran)
        assert report["deferred"] == len(queued)
        assert report["executed"] + report["deferred"] + report["left_due"] == 300
        assert report["left_due"] > 0  # the slow queue could not take everything in time
        # and what was neither run nor queued is still due, unclaimed, for the next tick
        still_due = [sid for sid in ids if sid not in ran and sid not in queued]
        assert len(still_due) == report["left_due"]
        for sid in still_due:
            stored = StrategyRepository().find(sid)
            assert stored is not None and stored.due_at == T0 and stored.claim_token is None


def test_the_overflow_is_queued_by_several_senders_so_a_slow_queue_still_takes_all_of_it() -> None:
    # A run deadline longer than the budget leaves no window to start a run: all 300 due are overflow at once
    with handler_stack(SAFETY_MARGIN_SECONDS="4", RUN_DEADLINE_SECONDS="40") as stack:
        # Given 300 due strategies, a 30 s budget, and a queue taking 1 s per batch of 10: one sender would
        # need 30 s for the 30 batches, more than the ~26 s it may use; four need ~8 s
        seed_running(300)
        in_flight: list[int] = [0]
        most: list[int] = [0]
        lock = threading.Lock()

        def slow_send(**_: Any) -> None:
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            time.sleep(SQS_LATENCY_SECONDS)
            with lock:
                in_flight[0] -= 1

        Messaging().sqs.meta.events.register("before-call.sqs.SendMessageBatch", slow_send)
        # When
        report = stack.cron(T0 + timedelta(seconds=1), budget_seconds=30)
        # Then every due strategy was queued, none left due, with batches sent concurrently
        queued = {json.loads(m["Body"])["strategy_id"] for m in receive_all(stack)}
        assert report["executed"] == 0 and report["left_due"] == 0 and report["defer_failed"] == 0
        assert report["deferred"] == len(queued) == 300
        assert most[0] > 1
