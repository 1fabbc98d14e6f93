"""Shared limits and the kill switch (issue 14): PUT/GET /risk-limits, POST/DELETE /kill-switch."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import ConfigDict

from engine.clock import utc_now
from engine.models.base import Model
from engine.models.risk import KillMode, KillSwitch, RiskLimits, RiskSettings
from engine.services import kill_switch, risk, strategies
from engine.storage.risk import RiskRepository

try:  # imported as a package: tests, the local stack, the OpenAPI printer
    from functions.control_api import errors
except ImportError:  # in Lambda the function's folder is the task root
    import errors  # type: ignore[no-redef]

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


def caller() -> str:
    return str(router.current_event.request_context.authorizer.jwt_claim["sub"])


class RiskLimitsIn(RiskLimits):
    """PUT /risk-limits: every limit optional (null or absent: none); the whole set is replaced."""

    model_config = ConfigDict(extra="forbid")


class RiskSettingsOut(RiskSettings):
    """The limits, when they were set, and the kill switch when it is on."""


class KillSwitchIn(Model):
    model_config = ConfigDict(extra="forbid")

    mode: KillMode


class KillSwitchOut(Model):
    kill_switch: KillSwitch


class ReleasedOut(Model):
    resumed_strategy_ids: list[str]


@router.put(
    "/risk-limits",
    summary="Set the limits shared by all the caller's strategies",
    responses=errors.route_docs(200, RiskSettingsOut, 400, 413, 422),
)
def put_risk_limits(body: RiskLimitsIn) -> RiskSettingsOut:
    limits = RiskLimits.model_validate(body.model_dump())
    settings = risk.put_limits(caller(), limits, now=utc_now(), risk=RiskRepository())
    return RiskSettingsOut.model_validate(settings.model_dump())


@router.get(
    "/risk-limits",
    summary="The shared limits and the kill switch",
    responses=errors.route_docs(200, RiskSettingsOut),
)
def get_risk_limits() -> RiskSettingsOut:
    settings = risk.get_settings(caller(), risk=RiskRepository())
    return RiskSettingsOut.model_validate(settings.model_dump())


@router.post(
    "/kill-switch",
    summary="halt: pause every strategy; exits_only: close positions, open none",
    responses=errors.route_docs(200, KillSwitchOut, 400, 409, 413, 422),
)
def engage_kill_switch(body: KillSwitchIn) -> KillSwitchOut:
    stores = strategies.Stores.default()
    kill = risk.engage_kill_switch(
        caller(),
        body.mode,
        now=utc_now(),
        reason="user",
        risk=RiskRepository(stores.strategies.clients),
        pauser=kill_switch.Pauser(stores),
    )
    return KillSwitchOut(kill_switch=kill)


@router.delete(
    "/kill-switch",
    summary="Release the kill switch; resumes only the strategies it paused",
    responses=errors.route_docs(200, ReleasedOut),
)
def release_kill_switch() -> ReleasedOut:
    stores = strategies.Stores.default()
    resumed = risk.release_kill_switch(
        caller(),
        now=utc_now(),
        risk=RiskRepository(stores.strategies.clients),
        pauser=kill_switch.Pauser(stores),
    )
    return ReleasedOut(resumed_strategy_ids=resumed)


__all__ = ["router"]
