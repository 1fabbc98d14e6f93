"""Which parts of a graph would read the present while replaying the past (look-ahead), by node and field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.models.strategy import NodeGraph

# Market fields Polymarket keeps no history of: a backtest only knows today's value.
PROXY_FIELDS = frozenset(
    {
        "volume",
        "volume_24h",
        "liquidity",
        "spread",
        "best_bid",
        "best_ask",
        "last_trade_price",
        "price_change_1h",
        "price_change_24h",
        "price_change_7d",
    }
)
# config keys that name such a field through their own meaning
_KEY_FIELDS = {"min_liquidity": "liquidity", "min_volume": "volume"}
# node types that read live order books, which have no public history
BOOK_NODE_TYPES = frozenset({"BOOK_SIGNAL"})


@dataclass(frozen=True)
class ProxyUse:
    node_id: str
    field: str
    where: str  # the config path, e.g. "conditions[0].field"

    @property
    def message(self) -> str:
        return (
            f"node '{self.node_id}' reads '{self.field}' ({self.where}), which has no history: "
            "the value known now stands in for the past (look-ahead)"
        )

    def warning(self) -> dict[str, str]:
        return {
            "code": "look_ahead_proxy",
            "node_id": self.node_id,
            "field": self.field,
            "message": self.message,
        }


def _walk(node_id: str, value: Any, path: str, found: list[ProxyUse]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            where = f"{path}.{key}" if path else str(key)
            if (
                key in ("field", "order_by", "sort", "sort_by")
                and isinstance(inner, str)
                and inner in PROXY_FIELDS
            ):
                found.append(ProxyUse(node_id, inner, where))
            elif key in _KEY_FIELDS and inner is not None:
                found.append(ProxyUse(node_id, _KEY_FIELDS[key], where))
            else:
                _walk(node_id, inner, where, found)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            _walk(node_id, inner, f"{path}[{i}]", found)


def proxy_uses(graph: NodeGraph) -> list[ProxyUse]:
    """Every node and config field that has no history, in node order."""
    found: list[ProxyUse] = []
    for node in graph.nodes:
        if node.type in BOOK_NODE_TYPES:
            found.append(ProxyUse(node.id, "order_book", "type"))
            continue
        config = dict(node.config)
        if node.type == "DATA_SOURCE":
            config.setdefault("order_by", "volume")  # the default ranks by today's volume
        _walk(node.id, config, "", found)
    return found
