"""The strategy, its node graph structure and its deployment config (DESIGN 2, 3, 4)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from engine import schedule
from engine.models.base import DomainModel, Model, Money, UtcDatetime

MAX_NODES = 50
MAX_EDGES = 100
MIN_ZOOM, MAX_ZOOM = 0.001, 1000  # a builder's canvas zoom (React Flow's own defaults are 0.5..2)
MIN_BANKROLL = Decimal(100)
MAX_BANKROLL = Decimal(1_000_000)


class StrategyStatus(StrEnum):
    DRAFT = "DRAFT"
    DEPLOYED = "DEPLOYED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"


class PauseReason(StrEnum):
    """Why a strategy is PAUSED (DESIGN 2). Stored as these strings, which the API shows unchanged."""

    USER = "user"
    CONSECUTIVE_FAILURES = "auto:consecutive_failures"
    MAX_DRAWDOWN = "auto:max_drawdown"
    KILL_SWITCH = "kill_switch"  # the account-wide kill switch (DESIGN 13) paused it; its release resumes it


class ExecutionMode(StrEnum):
    MANUAL = "MANUAL"
    SCHEDULED = "SCHEDULED"


class Action(StrEnum):
    DEPLOY = "deploy"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    RUN = "run"
    PATCH = "patch"
    DELETE = "delete"


class Node(Model):
    """A graph node. Extra keys (a builder's `position`, `label`) are kept as given."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=64)
    type: str = Field(min_length=1, max_length=64)
    config: dict[str, Any] = Field(default_factory=dict)


class Edge(Model):
    model_config = ConfigDict(extra="allow")

    source: str = Field(min_length=1, max_length=64)
    target: str = Field(min_length=1, max_length=64)


class Viewport(Model):
    """Where a builder's canvas was looking: its pan (`x`, `y`, screen pixels) and `zoom`."""

    model_config = ConfigDict(extra="forbid")

    x: float = Field(strict=True, allow_inf_nan=False)
    y: float = Field(strict=True, allow_inf_nan=False)
    zoom: float = Field(strict=True, ge=MIN_ZOOM, le=MAX_ZOOM, allow_inf_nan=False)


class Layout(Model):
    """A builder's view of the whole graph, kept as given: `viewport`, plus any other keys it stores."""

    model_config = ConfigDict(extra="allow")

    viewport: Viewport


def _not_nullable(schema: dict[str, Any]) -> None:
    """An optional field's schema without its `null` branch: the key may be left out, not sent as null."""
    branches = [b for b in schema.pop("anyOf", []) if b != {"type": "null"}]
    schema.update(branches[0] if len(branches) == 1 else {"anyOf": branches})


class NodeGraph(Model):
    """Structure only; semantic checks (types, configs, cycles, reachability) are in engine.graph.validate."""

    model_config = ConfigDict(extra="forbid")

    nodes: list[Node] = Field(max_length=MAX_NODES)
    edges: list[Edge] = Field(default_factory=list, max_length=MAX_EDGES)
    # absent stays absent (a graph without a layout reads back without the key); null is refused, so what
    # reads back is always what was given
    layout: Layout | None = Field(
        default=None, exclude_if=lambda value: value is None, json_schema_extra=_not_nullable
    )

    @field_validator("layout", mode="before")
    @classmethod
    def _layout_not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("give an object with `viewport`, or leave `layout` out")
        return value


Frequency = Literal["1m", "5m", "15m", "30m", "1h"]


class ScheduleChoice(Model):
    """A schedule as clients give it (DESIGN 4): exactly one of `frequency` (a preset) or `schedule_cron`, in
    `timezone` (IANA). One set of rules for deploys, schedule previews and backtests."""

    model_config = ConfigDict(extra="forbid")

    frequency: Frequency | None = None
    schedule_cron: str | None = Field(default=None, max_length=200)
    timezone: str = Field(default="UTC", max_length=64)

    @field_validator("schedule_cron")
    @classmethod
    def _cron_grammar(cls, value: str | None) -> str | None:
        return None if value is None else schedule.validate_cron(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return schedule.validate_timezone(value)

    @model_validator(mode="after")
    def _one_schedule(self) -> Self:
        if (self.frequency is None) == (self.schedule_cron is None):
            raise ValueError("give exactly one of `frequency` or `schedule_cron`")
        if self.schedule_cron is not None:
            schedule.ensure_fires(self.schedule_cron, self.timezone, self.fires_from())
        return self

    def fires_from(self) -> datetime | None:
        """When the expression must fire within a year of; None is now (a model has no clock to pass)."""
        return None

    @property
    def cron(self) -> str:
        if self.frequency is not None:
            return schedule.FREQUENCIES[self.frequency]
        assert self.schedule_cron is not None
        return self.schedule_cron


class DeployConfig(ScheduleChoice):
    """The body of POST /strategies/{id}/deploy, validated with the rules of DESIGN 4."""

    trading_mode: Literal["paper", "live"] = "paper"
    # required unless the graph is an alert strategy (NOTIFY sinks only), which never trades
    paper_bankroll_usd: Money | None = Field(default=None, ge=MIN_BANKROLL, le=MAX_BANKROLL)
    auto_start: bool = False
    max_consecutive_failures: int = Field(default=3, ge=1, le=100)


class Strategy(DomainModel):
    """The strategy as the domain sees it (DESIGN 2). Storage maps its items to and from this."""

    strategy_id: str
    strategy_name: str = Field(min_length=1, max_length=120)
    strategy_description: str | None = Field(default=None, max_length=2000)
    strategy_type: str | None = Field(default=None, max_length=64)
    node_graph: NodeGraph
    graph_version: int = 1
    status: StrategyStatus = StrategyStatus.DRAFT
    execution_mode: ExecutionMode = ExecutionMode.MANUAL
    is_active: bool = False
    schedule_cron: str | None = None
    frequency: str | None = None
    timezone: str = "UTC"
    trading_mode: Literal["paper", "live"] = "paper"
    paper_bankroll_usd: Money | None = None
    paper_pnl_usd: Money = Decimal(0)
    paper_positions_count: int = 0
    total_executions: int = 0
    total_execution_time_ms: int = 0
    last_executed_at: UtcDatetime | None = None
    last_execution_status: str | None = None
    next_execution_at: UtcDatetime | None = None
    avg_execution_time_ms: Money | None = None
    consecutive_failures: int = 0
    max_consecutive_failures: int = 3
    pause_reason: PauseReason | None = None
    created_by: str
    created_at: UtcDatetime
    updated_at: UtcDatetime
    version: int = 1
    deployment_id: str | None = None  # the current deployment record (none before the first deploy)
    # internal scheduling state (never in API answers)
    due_at: UtcDatetime | None = None
    claim_token: str | None = None
    claim_slot: UtcDatetime | None = None
    claim_expires_at: UtcDatetime | None = None
    portfolio_epoch: int = 0
    # equity, one value per hour, the latest last (engine.sparkline); kept by the portfolio stream
    sparkline: list[Money] = Field(default_factory=list)
    sparkline_at: UtcDatetime | None = None
    # the owner's shared-limits timezone while limits or a kill switch are set (issue 14): runs of other
    # strategies read nothing more
    account_guard: str | None = None

    def derived_avg_ms(self) -> Decimal | None:
        if not self.total_executions:
            return None
        return (Decimal(self.total_execution_time_ms) / Decimal(self.total_executions)).quantize(
            Decimal("0.01")
        )


ALLOWED: dict[StrategyStatus, frozenset[Action]] = {
    StrategyStatus.DRAFT: frozenset({Action.DEPLOY, Action.PATCH, Action.DELETE}),
    StrategyStatus.DEPLOYED: frozenset(
        {Action.DEPLOY, Action.START, Action.RUN, Action.PATCH, Action.DELETE}
    ),
    StrategyStatus.RUNNING: frozenset({Action.PAUSE, Action.STOP, Action.RUN, Action.PATCH}),
    StrategyStatus.PAUSED: frozenset(
        {Action.DEPLOY, Action.RESUME, Action.STOP, Action.RUN, Action.PATCH, Action.DELETE}
    ),
    StrategyStatus.STOPPED: frozenset({Action.DEPLOY, Action.START, Action.RUN, Action.PATCH, Action.DELETE}),
}


def allowed_actions(status: StrategyStatus) -> list[str]:
    return sorted(a.value for a in ALLOWED[status])


__all__ = [
    "ALLOWED",
    "Action",
    "DeployConfig",
    "Edge",
    "ExecutionMode",
    "Frequency",
    "Node",
    "NodeGraph",
    "PauseReason",
    "ScheduleChoice",
    "Strategy",
    "StrategyStatus",
    "allowed_actions",
]
