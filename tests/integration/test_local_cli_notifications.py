"""`autopilot notifications set|show|delete` and deploying an alert strategy without a bankroll."""

from __future__ import annotations

import json

from tests.integration.test_local_cli import Setup, setup

__all__ = ["setup"]


def test_notifications_commands_call_their_routes(setup: Setup) -> None:
    # When each command runs / Then it calls its route with the body DESIGN gives
    code, _, err = setup.run("notifications", "set", "https://hooks.example.com/x")
    assert code == 0, err
    event = setup.api.events[-1]
    assert event["routeKey"] == "PUT /notification-settings"
    assert json.loads(event["body"]) == {"webhook_url": "https://hooks.example.com/x"}
    for argv, route in (("show", "GET /notification-settings"), ("delete", "DELETE /notification-settings")):
        code, _, err = setup.run("notifications", argv)
        assert code == 0, err
        assert setup.api.events[-1]["routeKey"] == route


def test_an_alert_strategy_deploys_without_bankroll(setup: Setup) -> None:
    # When deployed with no --bankroll / Then the body has none
    code, _, err = setup.run("deploy", "s-1", "--frequency", "1m")
    assert code == 0, err
    assert json.loads(setup.api.events[-1]["body"]) == {"frequency": "1m"}
