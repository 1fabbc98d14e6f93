"""The local stack delivers NOTIFY's webhooks: an alert strategy made through the gateway, a webhook on
this machine, and a driven minute later the receiver holds one signed alert (as `make up` and `make demo`)."""

from __future__ import annotations

import json
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.services.webhooks import verify
from local.clock import FastClock
from local.stack import LocalStack, StackConfig
from tests.support.webhook_receiver import webhook_receiver

START = datetime(2026, 2, 7, 12, 50, 10, tzinfo=UTC)
ALERT_GRAPH: dict[str, Any] = {
    "nodes": [
        {"id": "src", "type": "DATA_SOURCE", "config": {"limit": 3}},
        {"id": "alert", "type": "NOTIFY", "config": {"on": "new"}},
    ],
    "edges": [{"source": "src", "target": "alert"}],
}


def call(stack: LocalStack, token: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        stack.api_url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        raw = answer.read()
    return json.loads(raw) if raw else None


def test_a_driven_minute_delivers_an_alert_to_a_local_webhook_signed(tmp_path: Path) -> None:
    config = StackConfig(prefix=f"w{uuid.uuid4().hex[:6]}", driven=True, state_dir=tmp_path, quiet=True)
    with webhook_receiver() as receiver, LocalStack(config, clock=FastClock(START)) as stack:
        # Given an alert strategy running every minute, and its owner's webhook on this machine
        token = stack.token("alice")
        secret = call(stack, token, "PUT", "/notification-settings", {"webhook_url": receiver.url})[
            "webhook_secret"
        ]
        created = call(
            stack, token, "POST", "/strategies", {"strategy_name": "Watch", "node_graph": ALERT_GRAPH}
        )
        sid = created["strategy_id"]
        call(stack, token, "POST", f"/strategies/{sid}/deploy", {"frequency": "1m", "auto_start": True})

        # When two minutes are driven
        stack.step(datetime(2026, 2, 7, 12, 51, tzinfo=UTC))
        stack.step(datetime(2026, 2, 7, 12, 52, tzinfo=UTC))

        # Then the webhook got one alert (the second minute had nothing new), signed with the owner's secret
        [request] = receiver.requests
        stamp = int(request.headers["X-Autopilot-Signature"].split(",")[0].removeprefix("t="))
        assert verify(secret, request.body, request.headers["X-Autopilot-Signature"], now=stamp)
        alert = json.loads(request.body)
        assert alert["strategy_id"] == sid and alert["count"] == 3 and alert["title"] == "Watch: 3 market(s)"
        assert abs(stamp - int((START + timedelta(minutes=1)).timestamp())) < 120
