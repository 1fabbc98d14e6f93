"""moto in-process with the template's resources, and the environment the functions read."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
from moto import mock_aws

from engine.settings import reset_settings
from engine.storage.tokens import reset_signing_keys
from local.infra import Names, create_resources


@dataclass
class AwsEnv:
    names: Names
    session: boto3.Session

    def env(self) -> dict[str, str]:
        n = self.names
        return {
            "STRATEGIES_TABLE": n.table("StrategiesTable"),
            "EXECUTIONS_TABLE": n.table("ExecutionLogsTable"),
            "TRADES_TABLE": n.table("TradesTable"),
            "PORTFOLIOS_TABLE": n.table("PortfoliosTable"),
            "IDEMPOTENCY_TABLE": n.table("IdempotencyTable"),
            "WATCHLISTS_TABLE": n.table("WatchlistsTable"),
            "BACKTESTS_TABLE": n.table("BacktestsTable"),
            "BACKTEST_QUEUE_URL": n.queues.get("BacktestQueue", ""),
            "EXECUTION_QUEUE_URL": n.queues.get("ExecutionQueue", ""),
            "NOTIFICATIONS_TOPIC_ARN": n.topics.get("NotificationsTopic", ""),
            "USER_NOTIFICATIONS_TOPIC_ARN": n.topics.get("UserNotificationsTopic", ""),
            "WEBHOOK_QUEUE_URL": n.queues.get("WebhookQueue", ""),
            "USER_SETTINGS_TABLE": n.tables.get("UserSettingsTable", ""),
            "WEBHOOK_SECRETS_KEY_ID": n.keys.get("WebhookSecretsKey", ""),
            "TOKEN_SIGNING_SECRET_ID": n.secrets.get("TokenSigningSecret", ""),
        }


@contextmanager
def moto_stack(prefix: str = "test") -> Iterator[AwsEnv]:
    """Everything the template declares, on an in-process moto, with the env vars pointing at it."""
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        names = create_resources(session, prefix)
        aws = AwsEnv(names=names, session=session)
        saved = {k: os.environ.get(k) for k in aws.env()}
        os.environ.update(aws.env())
        reset_settings()
        reset_signing_keys()
        try:
            yield aws
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            reset_settings()
            reset_signing_keys()
