"""Settings from the environment, validated once (the template sets every variable a function reads)."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import ConfigDict, Field

from engine.models.base import Model


class Settings(Model):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    strategies_table: str = Field(default="autopilot-strategies", alias="STRATEGIES_TABLE")
    executions_table: str = Field(default="autopilot-executions", alias="EXECUTIONS_TABLE")
    trades_table: str = Field(default="autopilot-trades", alias="TRADES_TABLE")
    portfolios_table: str = Field(default="autopilot-portfolios", alias="PORTFOLIOS_TABLE")
    idempotency_table: str = Field(default="autopilot-idempotency", alias="IDEMPOTENCY_TABLE")
    watchlists_table: str = Field(default="autopilot-watchlists", alias="WATCHLISTS_TABLE")
    execution_queue_url: str = Field(default="", alias="EXECUTION_QUEUE_URL")
    notifications_topic_arn: str = Field(default="", alias="NOTIFICATIONS_TOPIC_ARN")
    # NOTIFY's alerts go to the owner: their own topic and webhook queue, never the alarms topic
    user_notifications_topic_arn: str = Field(default="", alias="USER_NOTIFICATIONS_TOPIC_ARN")
    webhook_queue_url: str = Field(default="", alias="WEBHOOK_QUEUE_URL")
    user_settings_table: str = Field(default="autopilot-user-settings", alias="USER_SETTINGS_TABLE")
    webhook_secrets_key_id: str = Field(default="", alias="WEBHOOK_SECRETS_KEY_ID")
    # local stack and tests only: accept http:// and private addresses for webhooks (never set when deployed)
    webhook_allow_private_urls: bool = Field(default=False, alias="WEBHOOK_ALLOW_PRIVATE_URLS")
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=30, alias="WEBHOOK_TIMEOUT_SECONDS")
    due_shards: int = Field(default=4, ge=1, le=1000, alias="DUE_SHARDS")
    execution_log_ttl_days: int = Field(default=30, ge=1, le=3650, alias="EXECUTION_LOG_TTL_DAYS")
    strategy_quota: int = Field(default=100, ge=1, alias="STRATEGY_QUOTA")
    polymarket_gamma_url: str = Field(
        default="https://gamma-api.polymarket.com", alias="POLYMARKET_GAMMA_URL"
    )
    polymarket_clob_url: str = Field(default="https://clob.polymarket.com", alias="POLYMARKET_CLOB_URL")
    market_snapshot_size: int = Field(default=1000, ge=1, le=10000, alias="MARKET_SNAPSHOT_SIZE")
    history_cache_ttl_seconds: float = Field(default=60.0, ge=0, alias="HISTORY_CACHE_TTL_SECONDS")
    history_requests_per_run: int = Field(default=100, ge=0, le=10000, alias="HISTORY_REQUESTS_PER_RUN")
    preview_cooldown_seconds: float = Field(default=5.0, ge=0, le=300, alias="PREVIEW_COOLDOWN_SECONDS")
    http_timeout_seconds: float = Field(default=5.0, gt=0, alias="HTTP_TIMEOUT_SECONDS")
    claim_lease_seconds: int = Field(default=120, ge=5, alias="CLAIM_LEASE_SECONDS")
    run_concurrency: int = Field(default=8, ge=1, le=64, alias="RUN_CONCURRENCY")
    run_deadline_seconds: float = Field(default=20.0, gt=0, alias="RUN_DEADLINE_SECONDS")
    safety_margin_seconds: float = Field(default=8.0, ge=0, alias="SAFETY_MARGIN_SECONDS")
    max_due_per_tick: int = Field(default=5000, ge=1, alias="MAX_DUE_PER_TICK")
    manual_run_deadline_seconds: float = Field(default=20.0, gt=0, le=25, alias="MANUAL_RUN_DEADLINE_SECONDS")
    manual_run_cooldown_seconds: int = Field(default=30, ge=0, le=86400, alias="MANUAL_RUN_COOLDOWN_SECONDS")
    # next_token HMAC key: the Secrets Manager secret's ARN or name, read at run time (never the key itself)
    token_signing_secret_id: str = Field(default="", alias="TOKEN_SIGNING_SECRET_ID")
    token_key_max_age: int = Field(default=300, ge=0, le=86400, alias="TOKEN_KEY_MAX_AGE_SECONDS")
    secretsmanager_endpoint_url: str | None = Field(default=None, alias="SECRETSMANAGER_ENDPOINT_URL")
    dynamodb_endpoint_url: str | None = Field(default=None, alias="DYNAMODB_ENDPOINT_URL")
    sqs_endpoint_url: str | None = Field(default=None, alias="SQS_ENDPOINT_URL")
    sns_endpoint_url: str | None = Field(default=None, alias="SNS_ENDPOINT_URL")
    kms_endpoint_url: str | None = Field(default=None, alias="KMS_ENDPOINT_URL")
    # backtests (DESIGN 9)
    backtests_table: str = Field(default="autopilot-backtests", alias="BACKTESTS_TABLE")
    backtest_queue_url: str = Field(default="", alias="BACKTEST_QUEUE_URL")
    backtest_chunk_slots: int = Field(default=500, ge=1, le=20_000, alias="BACKTEST_CHUNK_SLOTS")
    backtest_running_quota: int = Field(default=2, ge=1, alias="BACKTEST_RUNNING_QUOTA")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.model_validate(dict(os.environ))


def reset_settings() -> None:
    """Tests change the environment; this drops the cached settings."""
    get_settings.cache_clear()
