"""NOTIFY: what it tells (on: new vs every_run), how its message reads, and what a preview does."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from engine.market.types import Market
from engine.nodes.base import NodeOutput, places_orders
from engine.nodes.notify import Notify, NotifyConfig, render
from engine.nodes.registry import get_node_type
from tests.support.markets import make_context, make_market


def run(markets: list[Market], seen: frozenset[str] | None = None, **config: Any) -> NodeOutput:
    alert_seen = {} if seen is None else {"alert": seen}
    ctx = make_context(markets, node_id="alert", alert_seen=alert_seen)
    return Notify().run(NotifyConfig.model_validate(config), markets, ctx)


def test_notify_is_a_registered_sink_with_a_valid_example() -> None:
    # Given the registry / When NOTIFY is looked up / Then it carries the catalogue's metadata
    node_type: Any = get_node_type("NOTIFY")
    assert node_type.category == "sink" and node_type.inputs == (1, None)
    assert node_type.handles == ("include",) and node_type.is_sink and not places_orders(node_type)
    assert NotifyConfig.model_validate(node_type.example).on == "new"


def test_on_new_tells_only_the_markets_that_entered_the_set_since_the_last_run() -> None:
    a, b, c = make_market("a"), make_market("b"), make_market("c")
    # Given a first run (no previous set) / Then everything is new
    first = run([a, b])
    assert [m["market_id"] for m in first.alerts[0].markets] == ["a", "b"]
    assert first.alerts[0].seen == {"a", "b"}
    # When the next run sees b and c after a and b / Then only c is told, and the new set is kept
    second = run([b, c], seen=frozenset({"a", "b"}))
    assert [m["market_id"] for m in second.alerts[0].markets] == ["c"]
    assert second.alerts[0].seen == {"b", "c"} and second.alerts[0].total == 1
    # When nothing entered / Then the alert has nothing to say (nothing is sent), but the set is still kept
    third = run([b, c], seen=frozenset({"b", "c"}))
    assert not third.alerts[0].has_news and third.alerts[0].seen == {"b", "c"}
    # When a market left and came back / Then it is new again
    fourth = run([a, b], seen=frozenset({"b"}))
    assert [m["market_id"] for m in fourth.alerts[0].markets] == ["a"]


def test_every_run_tells_the_whole_set_each_time() -> None:
    a, b = make_market("a"), make_market("b")
    out = run([a, b], seen=frozenset({"a", "b"}), on="every_run")
    assert [m["market_id"] for m in out.alerts[0].markets] == ["a", "b"]


def test_the_message_lines_follow_the_template_and_are_capped() -> None:
    markets = [make_market(f"m{i}", question=f"Question {i}?") for i in range(5)]
    out = run(markets, template="{question} -> {market_id} {url}", max_markets=2)
    alert = out.alerts[0]
    assert alert.total == 5 and len(alert.lines) == 2
    assert alert.lines[0] == f"Question 0? -> m0 https://polymarket.com/market/{markets[0].slug}"


@pytest.mark.parametrize(
    ("key", "template"),
    [("template", "{question} {secret}"), ("title", "{__class__}"), ("title", "{question}")],
)
def test_unknown_placeholders_are_refused_on_save(key: str, template: str) -> None:
    with pytest.raises(ValidationError) as info:
        NotifyConfig.model_validate({key: template})
    assert info.value.errors()[0]["loc"] == (key,)
    assert "unknown placeholder" in info.value.errors()[0]["msg"]


def test_render_substitutes_known_names_only() -> None:
    assert render("{a} and {b} {{c}}", {"a": "1"}) == "1 and {b} {{c}}"


def test_a_preview_decides_but_sends_nothing() -> None:
    markets = [make_market("a")]
    ctx = make_context(markets, node_id="alert", dry_run=True)
    out = Notify().run(NotifyConfig(), markets, ctx)
    assert out.alerts == [] and out.decisions[0]["dry_run"] is True and len(out.markets) == 1
