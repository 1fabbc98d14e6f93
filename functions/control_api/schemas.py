"""The control API's edge models: request bodies (`<Verb><Noun>In`) and answers (`<Noun>Out`) of DESIGN 4.

Answers are built from domain objects here, so internal fields (due_at, claims, due_shard, portfolio_epoch,
total_execution_time_ms, ledger seq numbers) can never reach a client by accident: an Out model lists what
is public, field by field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from engine.models.base import Model, Money, UtcDatetime
from engine.models.execution import ExecutionLog, RunStatus
from engine.models.portfolio import Portfolio
from engine.models.strategy import (
    DeployConfig,
    ExecutionMode,
    NodeGraph,
    PauseReason,
    Strategy,
    StrategyStatus,
)
from engine.models.trading import Fill, Side, Trade, TradeReason
from engine.performance import Performance

NAME_MAX = 120
DESCRIPTION_MAX = 2000
TYPE_MAX = 64


class _In(Model):
    # unknown keys are mistakes (a misspelt field would otherwise be dropped silently)
    model_config = ConfigDict(extra="forbid")


class CreateStrategyIn(_In):
    """POST /strategies."""

    strategy_name: str = Field(min_length=1, max_length=NAME_MAX)
    strategy_description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    strategy_type: str | None = Field(default=None, max_length=TYPE_MAX)
    node_graph: NodeGraph


class PatchStrategyIn(_In):
    """PATCH /strategies/{id}: any of name, description (null clears it) and node graph."""

    strategy_name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    strategy_description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    node_graph: NodeGraph | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> PatchStrategyIn:
        if not self.model_fields_set:
            raise ValueError("give at least one of strategy_name, strategy_description, node_graph")
        for name in ("strategy_name", "node_graph"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent: an omitted description stays, a null one is cleared."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class DeployStrategyIn(DeployConfig):
    """POST /strategies/{id}/deploy: paper bankroll 100..1,000,000, `frequency` or `schedule_cron`, zone."""


class StrategyOut(Model):
    """A strategy as clients see it (DESIGN 2)."""

    strategy_id: str
    strategy_name: str
    strategy_description: str | None = None
    strategy_type: str | None = None
    node_graph: NodeGraph
    graph_version: int
    status: StrategyStatus
    execution_mode: ExecutionMode
    is_active: bool
    schedule_cron: str | None = None
    frequency: str | None = None
    timezone: str
    trading_mode: Literal["paper", "live"]
    paper_bankroll_usd: Money | None = None
    paper_pnl_usd: Money
    paper_positions_count: int
    total_executions: int
    last_executed_at: UtcDatetime | None = None
    last_execution_status: str | None = None
    next_execution_at: UtcDatetime | None = None
    avg_execution_time_ms: Money | None = None
    consecutive_failures: int
    max_consecutive_failures: int
    pause_reason: PauseReason | None = None
    created_by: str
    created_at: UtcDatetime
    updated_at: UtcDatetime
    version: int
    deployment_id: str | None = None
    sparkline: list[Money] = Field(
        default_factory=list,
        description="equity, one value per hour (the latest last, at most 48), kept by the portfolio stream",
    )

    @classmethod
    def of(cls, strategy: Strategy) -> StrategyOut:
        values = strategy.model_dump(include=set(StrategyOut.model_fields))
        running = strategy.status is StrategyStatus.RUNNING
        # derived here, not trusted from storage: is_active and next_execution_at follow the status
        values["is_active"] = running
        values["next_execution_at"] = (strategy.next_execution_at or strategy.due_at) if running else None
        values["avg_execution_time_ms"] = strategy.derived_avg_ms()
        return cls.model_validate(values)


class StrategyDetailOut(StrategyOut):
    """GET /strategies/{id}: the strategy and its next 5 slots (UTC)."""

    next_slots: list[UtcDatetime] = Field(default_factory=list)


class StrategyListOut(Model):
    items: list[StrategyOut]
    next_token: str | None = None


class ExecutionLogOut(ExecutionLog):
    """One run: status, timing, trades created and the per-node trace (capped, `truncated` when cut)."""


class ExecutionLogSummaryOut(Model):
    """One run as a list shows it: the log without its trace (GET .../executions/{execution_id} has it)."""

    execution_id: str
    strategy_id: str
    status: RunStatus
    scheduled_for: UtcDatetime
    trigger: Literal["schedule", "manual"]
    executed_at: UtcDatetime
    execution_time_ms: int = 0
    nodes_executed: int = 0
    trades_created: int = 0
    graph_version: int = 0
    error_code: str | None = None
    error_message: str | None = None
    missed_slots: int | None = None
    truncated: bool = False
    deployment_id: str | None = None  # the deployment it ran under (none before deployment records)


class ExecutionLogListOut(Model):
    items: list[ExecutionLogSummaryOut]
    next_token: str | None = None


class TradeOut(Model):
    """One paper trade (DESIGN 2); `fill` on BUY and SELL."""

    trade_id: str
    strategy_id: str
    execution_id: str | None = None
    deployment_id: str | None = None
    market_id: str
    token_id: str
    question: str = ""
    outcome: Literal["YES", "NO"]
    outcome_label: str
    side: Side
    shares: Money
    price: Money
    fee_usd: Money
    notional_usd: Money
    created_at: UtcDatetime
    reason: TradeReason
    fill: Fill | None = None

    @classmethod
    def of(cls, trade: Trade) -> TradeOut:
        return cls.model_validate(trade.model_dump(include=set(TradeOut.model_fields)))


class TradeListOut(Model):
    items: list[TradeOut]
    next_token: str | None = None


class PortfolioOut(Portfolio):
    """The portfolio read model: cash, equity, P&L, ratios and the open positions at their marks."""


class PerformanceOut(Performance):
    """The equity curve and the metrics (Freqtrade's formulas; ratios 0..1, `_pct` in percent)."""


class ErrorBody(Model):
    code: str = Field(description="One of DESIGN 4's error codes, e.g. strategy_not_found")
    message: str
    details: Any = Field(default=None, description="validation_error: [{loc, msg, type}]; others vary")
    request_id: str = Field(description="The request id; the log lines of this request carry it too")


class ErrorOut(Model):
    """Every error answer: `{"error": {"code", "message", "details", "request_id"}}`."""

    error: ErrorBody
