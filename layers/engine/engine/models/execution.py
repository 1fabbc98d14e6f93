"""Execution logs and the per-node trace (DESIGN 2)."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from engine.models.base import DomainModel, UtcDatetime


class RunStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"


class NodeTrace(DomainModel):
    node_id: str
    type: str
    received: int = 0  # items received (markets, orders)
    kept: int = 0
    duration_ms: int = 0
    decisions: list[dict[str, Any]] = Field(default_factory=list)  # what it decided and why (capped)
    error: str | None = None
    truncated: bool = False


class ExecutionLog(DomainModel):
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
    deployment_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    missed_slots: int | None = None
    trace: list[NodeTrace] = Field(default_factory=list)
    truncated: bool = False


def execution_id_for(strategy_id: str, slot_key: str, kind: str = "run") -> str:
    raw = "|".join((strategy_id, slot_key, kind))
    return "x_" + hashlib.sha256(raw.encode()).hexdigest()[:32]
