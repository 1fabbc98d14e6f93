"""POST /schedules/preview: the next slots of a frequency preset or cron expression in a timezone (the deploy
dialog shows them before a deploy). Pure computation: no storage, nothing owned."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from engine.clock import utc_now
from engine.models.base import Model, UtcDatetime
from engine.services.schedules import SchedulePreview, preview_slots

try:  # imported as a package: tests, the local stack, the OpenAPI printer
    from functions.control_api import errors
except ImportError:  # in Lambda the function's folder is the task root
    import errors  # type: ignore[no-redef]

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


class SchedulePreviewIn(SchedulePreview):
    """`{frequency | schedule_cron, timezone?, count?}` (count 1..20, default 5)."""


class SchedulePreviewOut(Model):
    next_slots: list[UtcDatetime]


@router.post(
    "/schedules/preview",
    summary="The next slots of a schedule",
    description="The next `count` slots (UTC) strictly after now, by the scheduler's own rule.",
    responses=errors.route_docs(200, SchedulePreviewOut, 400, 413, 422),
)
def preview_schedule(body: SchedulePreviewIn) -> SchedulePreviewOut:
    return SchedulePreviewOut(next_slots=preview_slots(body, now=utc_now()))
