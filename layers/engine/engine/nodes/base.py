"""The contract every node type implements, and what a run gives its nodes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel

from engine.clock import Deadline
from engine.market.types import Market, MarketSource
from engine.models.alerts import Alert
from engine.models.trading import Account, Order


@dataclass
class RunContext:
    """Everything a node may look at during one run. Nodes never do I/O except through `markets`."""

    strategy_id: str
    slot: datetime  # the run's slot, UTC; `hours_to_close` counts from it
    slot_key: str
    markets: MarketSource
    account: Account
    bankroll_usd: Decimal
    deadline: Deadline
    dry_run: bool = False  # a preview: sinks decide but do not act (nothing notified, nothing written)
    timezone: str = "UTC"  # the strategy's timezone (the daily loss stop's day)
    # fields signal nodes wrote, per market id: later FILTERs, the sizing and the trace read them
    annotations: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # run-level notes for a preview (simulated data...)
    # the orchestrator's memory between runs, read from and written back to the account item (risk rules)
    risk_state: dict[str, Any] = field(default_factory=dict)

    def annotate(self, market_id: str, name: str, value: Any) -> None:
        self.annotations.setdefault(market_id, {})[name] = value

    def annotation(self, market_id: str, name: str) -> Any:
        return self.annotations.get(market_id, {}).get(name)

    # the node being run (the runner sets it) and the NOTIFY nodes' sets of the previous run, by node id
    node_id: str = ""
    alert_seen: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass
class NodeOutput:
    markets: list[Market] = field(default_factory=list)  # flows along the node's out-edges
    orders: list[Order] = field(default_factory=list)  # decided orders (orchestrators)
    decisions: list[dict[str, Any]] = field(default_factory=list)  # for the trace: what and why
    alerts: list[Alert] = field(default_factory=list)  # what NOTIFY tells the owner once the run commits


Category = Literal["source", "filter", "signal", "logic", "sink"]
INCLUDE = "include"
EXCLUDE = "exclude"


class NodeType(Protocol):
    """A node type: a name, a pydantic config model (extra keys forbidden), a run function, and what the
    catalogue (`GET /node-types`) says of it."""

    type_name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    is_source: ClassVar[bool]  # takes no inputs (DATA_SOURCE)
    is_sink: ClassVar[bool]  # acts (ORCHESTRATOR trades, NOTIFY tells): no outputs

    def run(self, config: Any, inputs: list[Market], ctx: RunContext) -> NodeOutput: ...


class NodeMeta:
    """The catalogue's ClassVars every built-in node type declares (tests' throwaway types may not)."""

    category: ClassVar[Category]
    title: ClassVar[str]
    description: ClassVar[str]
    inputs: ClassVar[tuple[int, int | None]]  # (min, max) input edges; sources (0, 0)
    handles: ClassVar[tuple[str, ...]] = (INCLUDE,)  # LOGIC: (include, exclude)
    example: ClassVar[dict[str, Any]]  # a valid config


def category_of(node_type: object) -> Category:
    category = getattr(node_type, "category", None)
    if category is not None:
        return category  # type: ignore[no-any-return]
    if getattr(node_type, "is_source", False):
        return "source"
    return "sink" if getattr(node_type, "is_sink", False) else "filter"


def handles_of(node_type: object) -> tuple[str, ...]:
    return tuple(getattr(node_type, "handles", (INCLUDE,)))


def input_range(node_type: object) -> tuple[int, int | None]:
    inputs = getattr(node_type, "inputs", None)
    if inputs is not None:
        return (int(inputs[0]), inputs[1])
    return (0, 0) if getattr(node_type, "is_source", False) else (1, None)


def places_orders(node_type: object) -> bool:
    """A sink that trades (ORCHESTRATOR); alert sinks (NOTIFY, WATCHLIST) set `places_orders = False`."""
    if not getattr(node_type, "is_sink", False):
        return False
    if getattr(node_type, "type_name", "") in ("NOTIFY", "WATCHLIST"):
        return False
    return bool(getattr(node_type, "places_orders", True))
