"""Test-wide set-up: fake AWS credentials and region, never the real AWS; moto's quirks handled here."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        # botocore >= 1.44.4 calls an account-id endpoint moto does not match (TOOLING.md)
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_METRICS_NAMESPACE": "AutopilotTest",
        "POWERTOOLS_SERVICE_NAME": "autopilot",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
    }
)
for _var in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_var, None)


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    from engine.settings import reset_settings

    reset_settings()
    yield
    reset_settings()
