"""LOGIC: combines the sets on its input edges, each seen apart: `and` (in every input), `or` (in any), `not`
(in an input on the `include` handle and in none on the `exclude` handle)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.market.types import Market
from engine.models.base import Model
from engine.nodes.base import EXCLUDE, INCLUDE, Category, NodeOutput, RunContext
from engine.nodes.registry import register


class LogicConfig(Model):
    model_config = ConfigDict(extra="forbid")

    op: Literal["and", "or", "not"] = Field(
        description="`and`: markets in every input; `or`: in any input; `not`: in the `include` inputs and "
        "in none of the `exclude` inputs."
    )


def _union(groups: list[list[Market]]) -> list[Market]:
    seen: set[str] = set()
    merged: list[Market] = []
    for markets in groups:
        for market in markets:
            if market.market_id not in seen:
                seen.add(market.market_id)
                merged.append(market)
    return merged


@register
class Logic:
    type_name: ClassVar[str] = "LOGIC"
    config_model: ClassVar[type[BaseModel]] = LogicConfig
    is_source: ClassVar[bool] = False
    is_sink: ClassVar[bool] = False
    sees_inputs_apart: ClassVar[bool] = True
    category: ClassVar[Category] = "logic"
    title: ClassVar[str] = "Logic"
    description: ClassVar[str] = (
        "Combines its inputs, each seen apart: `and` keeps markets on every input edge, `or` on any, `not` "
        "keeps the markets on edges into its `include` handle minus those on edges into its `exclude` handle."
    )
    inputs: ClassVar[tuple[int, int | None]] = (1, None)
    handles: ClassVar[tuple[str, ...]] = (INCLUDE, EXCLUDE)
    example: ClassVar[dict[str, Any]] = {"op": "and"}

    def run(self, config: LogicConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        # called with the union only when the runner cannot split inputs: `or` semantics
        return self.run_apart(config, {INCLUDE: [inputs]}, ctx)

    def run_apart(
        self, config: LogicConfig, groups: dict[str, list[list[Market]]], ctx: RunContext
    ) -> NodeOutput:
        included = groups.get(INCLUDE, [])
        excluded = groups.get(EXCLUDE, [])
        if config.op == "or":
            kept = _union(included)
        elif config.op == "and":
            if not included:
                kept = []
            else:
                rest = [{m.market_id for m in markets} for markets in included[1:]]
                kept = [m for m in _union(included[:1]) if all(m.market_id in ids for ids in rest)]
        else:
            dropped = {m.market_id for m in _union(excluded)}
            kept = [m for m in _union(included) if m.market_id not in dropped]
        summary = {
            "op": config.op,
            "inputs": [len(markets) for markets in included],
            "excluded_inputs": [len(markets) for markets in excluded],
            "kept": len(kept),
        }
        return NodeOutput(markets=kept, decisions=[summary])
