"""NOTIFY: a sink that tells the strategy's owner about the markets reaching it (DESIGN 5, "NOTIFY").

The node only decides what to say. The message leaves after the run is committed (engine.services.alerts),
to the owner's notifications topic and webhook, with the execution id and node id as its idempotency id,
so a retried run never says it twice. With `on: new` (the default) it tells only the markets that entered its
set since the previous run; the previous set is the node's durable state, written in the run's commit.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.clock import iso
from engine.market.types import Market
from engine.models.alerts import Alert, NotifyOn
from engine.models.base import Model
from engine.nodes.base import NodeOutput, RunContext
from engine.nodes.registry import register

PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)\}")
TITLE_FIELDS = frozenset({"strategy_name", "count", "node_id"})
MARKET_FIELDS = frozenset(
    {"question", "market_id", "slug", "url", "yes_price", "no_price", "volume", "liquidity", "end_date"}
)
MARKET_URL = "https://polymarket.com/market/{slug}"
DEFAULT_TITLE = "{strategy_name}: {count} market(s)"
DEFAULT_TEMPLATE = "{question} (YES {yes_price})"


def placeholders(template: str) -> list[str]:
    return PLACEHOLDER.findall(template)


def render(template: str, values: dict[str, str]) -> str:
    """`{name}` replaced by its value; only known names are ever substituted (never str.format: a
    template is user input, and format would let it reach attributes)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _check(template: str, allowed: frozenset[str]) -> str:
    unknown = sorted(set(placeholders(template)) - allowed)
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
            f"known: {', '.join('{' + a + '}' for a in sorted(allowed))}"
        )
    return template


class NotifyConfig(Model):
    model_config = ConfigDict(extra="forbid")

    on: NotifyOn = Field(
        default="new",
        description="`new`: only the markets that entered the set since the previous run; "
        "`every_run`: the whole set on every run that has one.",
    )
    title: str = Field(
        default=DEFAULT_TITLE,
        min_length=1,
        max_length=200,
        description="The message's title; placeholders {strategy_name}, {count}, {node_id}.",
    )
    template: str = Field(
        default=DEFAULT_TEMPLATE,
        min_length=1,
        max_length=500,
        description="One line per market; placeholders {question}, {market_id}, {slug}, {url}, {yes_price}, "
        "{no_price}, {volume}, {liquidity}, {end_date}.",
    )
    max_markets: int = Field(
        default=20, ge=1, le=100, description="At most this many markets are listed in one message."
    )

    @field_validator("title")
    @classmethod
    def _title_placeholders(cls, value: str) -> str:
        return _check(value, TITLE_FIELDS)

    @field_validator("template")
    @classmethod
    def _template_placeholders(cls, value: str) -> str:
        return _check(value, MARKET_FIELDS)


def _text(value: Decimal | None) -> str:
    return "n/a" if value is None else format(value.normalize(), "f")


def market_fields(market: Market) -> dict[str, str]:
    """What a message says about a market (strings: the same in JSON, SNS and a template)."""
    return {
        "market_id": market.market_id,
        "question": market.question,
        "slug": market.slug,
        "url": MARKET_URL.format(slug=market.slug),
        "yes_price": _text(market.yes_price),
        "no_price": _text(market.no_price),
        "volume": _text(market.volume),
        "liquidity": _text(market.liquidity),
        "end_date": iso(market.end_date) if market.end_date is not None else "n/a",
    }


@register
class Notify:
    type_name: ClassVar[str] = "NOTIFY"
    config_model: ClassVar[type[BaseModel]] = NotifyConfig
    is_source: ClassVar[bool] = False
    is_sink: ClassVar[bool] = True
    places_orders: ClassVar[bool] = False  # tells the owner, trades nothing
    category: ClassVar[Literal["source", "filter", "signal", "logic", "sink"]] = "sink"
    title: ClassVar[str] = "Notify"
    description: ClassVar[str] = (
        "Tells the strategy's owner about the markets that reach it (its notifications topic and webhook), "
        "after the run is committed. `on: new` tells only markets that entered the set since the last run."
    )
    inputs: ClassVar[tuple[int, int | None]] = (1, None)
    handles: ClassVar[tuple[str, ...]] = ("include",)
    example: ClassVar[dict[str, Any]] = {
        "on": "new",
        "title": "{strategy_name}: {count} new market(s)",
        "template": "{question} at {yes_price} {url}",
        "max_markets": 10,
    }

    def run(self, config: NotifyConfig, inputs: list[Market], ctx: RunContext) -> NodeOutput:
        current = frozenset(m.market_id for m in inputs)
        previous = ctx.alert_seen.get(ctx.node_id)
        if config.on == "every_run" or previous is None:
            told = list(inputs)  # the first run of `on: new` has no previous set: everything is new
        else:
            told = [m for m in inputs if m.market_id not in previous]
        listed = [market_fields(m) for m in told[: config.max_markets]]
        summary: dict[str, Any] = {
            "received": len(inputs),
            "on": config.on,
            "previous": None if previous is None else len(previous),
            "notify": len(told),
        }
        if ctx.dry_run:
            summary["dry_run"] = True  # a preview: nothing is sent and no state is kept
            return NodeOutput(markets=told, decisions=[summary])
        alert = Alert(
            node_id=ctx.node_id,
            on=config.on,
            title_template=config.title,
            lines=tuple(render(config.template, fields) for fields in listed),
            markets=tuple(listed),
            total=len(told),
            seen=current,
        )
        decisions = [summary, *({"market_id": m["market_id"], "action": "notify"} for m in listed)]
        return NodeOutput(markets=told, decisions=decisions, alerts=[alert])
