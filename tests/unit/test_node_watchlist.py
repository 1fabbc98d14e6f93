"""The WATCHLIST sink and DATA_SOURCE `source: watchlist` with an in-memory watchlist view, and the graph
version summary."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from engine.graph.validate import validate_graph
from engine.models.history import summarize_change
from engine.models.strategy import NodeGraph
from engine.nodes.data_source import DataSource, DataSourceConfig
from engine.nodes.registry import BUILTINS, get_node_type
from engine.nodes.watchlist import NoWatchlists, WatchlistConfig, WatchlistSink, WatchlistWrite
from tests.support.markets import make_context, make_market


@dataclass
class FakeWatchlists:
    """One list with some markets on it and room for `room` more."""

    listed: dict[str, list[str]]
    capacity: int = 1000
    staged: list[WatchlistWrite] = field(default_factory=list)

    def live_market_ids(self, watchlist_id: str) -> list[str]:
        return list(self.listed.get(watchlist_id, []))

    def on_list(self, watchlist_id: str, market_id: str) -> bool:
        return market_id in self.listed.get(watchlist_id, [])

    def room(self, watchlist_id: str) -> int:
        added = sum(1 for s in self.staged if s.action == "add")
        return self.capacity - len(self.listed.get(watchlist_id, [])) - added

    def stage(self, write: WatchlistWrite) -> None:
        self.staged.append(write)


def test_the_watchlist_node_is_a_registered_sink_with_its_catalogue_metadata() -> None:
    node = get_node_type("WATCHLIST")
    assert "engine.nodes.watchlist" in BUILTINS
    assert (node.is_source, node.is_sink) == (False, True)
    assert WatchlistSink.category == "sink" and WatchlistSink.inputs == (1, None)
    assert WatchlistSink.handles == ("include",) and WatchlistSink.title
    WatchlistConfig.model_validate(WatchlistSink.example)


def test_adding_stages_new_markets_and_skips_those_beyond_the_limit_saying_so() -> None:
    # Given a list holding m1 with room for one more
    lists = FakeWatchlists({"w": ["m1"]}, capacity=2)
    ctx = make_context(watchlists=lists)
    markets = [make_market("m1"), make_market("m2"), make_market("m3")]

    # When the node adds three markets
    out = WatchlistSink().run(WatchlistConfig(watchlist_id="w", reason="why"), markets, ctx)

    # Then m2 is staged, m1 was there already, m3 is over the limit and the trace says so
    assert [(s.action, s.market.market_id, s.reason) for s in lists.staged] == [("add", "m2", "why")]
    decision = out.decisions[0]
    assert (decision["staged"], decision["already_listed"], decision["skipped_over_limit"]) == (1, 1, 1)
    assert decision["skipped_markets"] == ["m3"] and out.orders == []


def test_remove_and_escalate_touch_only_listed_markets() -> None:
    lists = FakeWatchlists({"w": ["m1"]})
    ctx = make_context(watchlists=lists)
    for action in ("remove", "escalate"):
        WatchlistSink().run(
            WatchlistConfig(action=action, watchlist_id="w"), [make_market("m1"), make_market("m2")], ctx
        )
    assert [(s.action, s.market.market_id) for s in lists.staged] == [("remove", "m1"), ("escalate", "m1")]


def test_a_watchlist_source_reads_only_the_lists_live_markets() -> None:
    # Given a list of m2 and m3 among the snapshot's markets (m3 closed)
    markets = [make_market("m1"), make_market("m2"), make_market("m3", closed=True, active=False)]
    ctx = make_context(markets, watchlists=FakeWatchlists({"w": ["m2", "m3"]}))

    # When the DATA_SOURCE reads the list
    out = DataSource().run(DataSourceConfig(source="watchlist", watchlist_id="w"), [], ctx)

    # Then only the list's open market flows on
    assert [m.market_id for m in out.markets] == ["m2"]


def test_a_run_without_watchlist_access_fails_the_node() -> None:
    with pytest.raises(NoWatchlists):
        DataSource().run(DataSourceConfig(source="watchlist", watchlist_id="w"), [], make_context())


def test_an_alert_graph_with_a_watchlist_sink_is_deployable() -> None:
    graph = {
        "nodes": [
            {"id": "src", "type": "DATA_SOURCE", "config": {}},
            {"id": "alert", "type": "WATCHLIST", "config": {"watchlist_id": "w"}},
        ],
        "edges": [{"source": "src", "target": "alert"}],
    }
    assert validate_graph(graph, for_deploy=True).nodes[1].type == "WATCHLIST"


def test_a_version_summary_names_nodes_added_removed_and_configs_changed() -> None:
    before = NodeGraph.model_validate(
        {
            "nodes": [
                {"id": "a", "type": "DATA_SOURCE", "config": {"limit": 10}},
                {"id": "b", "type": "FILTER", "config": {"conditions": []}},
            ],
            "edges": [{"source": "a", "target": "b"}],
        }
    )
    after = NodeGraph.model_validate(
        {
            "nodes": [
                {"id": "a", "type": "DATA_SOURCE", "config": {"limit": 20}},
                {"id": "c", "type": "ORCHESTRATOR", "config": {}},
            ],
            "edges": [{"source": "a", "target": "c"}],
        }
    )
    summary = summarize_change(before, after)
    assert summary == "nodes added: c; nodes removed: b; configs changed: a; edges: +1 -1"
    assert summarize_change(None, after) == "initial graph: 2 nodes, 1 edges"
