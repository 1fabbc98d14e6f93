"""The contract every node type implements, and what a run gives its nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel

from engine.clock import Deadline
from engine.market.types import Market, MarketSource
from engine.models.trading import Account, Order

if TYPE_CHECKING:
    from engine.nodes.watchlist import WatchlistAccess


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
    watchlists: WatchlistAccess | None = None  # the owner's lists, for graphs that name one


@dataclass
class NodeOutput:
    markets: list[Market] = field(default_factory=list)  # flows along the node's out-edges
    orders: list[Order] = field(default_factory=list)  # decided orders (orchestrators)
    decisions: list[dict[str, Any]] = field(default_factory=list)  # for the trace: what and why


class NodeType(Protocol):
    """A node type: a name, a pydantic config model (extra keys forbidden) and a run function."""

    type_name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    is_source: ClassVar[bool]  # takes no inputs (DATA_SOURCE)
    is_sink: ClassVar[bool]  # decides orders (ORCHESTRATOR)

    def run(self, config: Any, inputs: list[Market], ctx: RunContext) -> NodeOutput: ...
