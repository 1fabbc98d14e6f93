"""The dashboard's charts and sections in Debian's Chromium against the local stack with real data: the equity
chart's time axis against the points' times, the metric labels, the history, watchlist, account, kill-switch
and backtest sections on the API's real shapes, and /app/ with a trailing slash. Every test fails on a console
error (the dashboard tests' `page` fixture)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from local.clock import FastClock
from local.stack import LocalStack
from tests.e2e.test_web_dashboard import browser, call, page, pytestmark, running_strategy, shot, stack

__all__ = ["browser", "page", "pytestmark", "stack"]  # the dashboard tests' fixtures and skips, shared

LONE_POINT_PAD_S = 3600  # web/src/components/timeScale.ts: a lone point gets an hour either side


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def drawn_range(page: Any) -> tuple[float, float]:
    chart = page.get_by_role("img", name="Equity", exact=True)
    chart.locator("canvas").wait_for()
    page.wait_for_function(
        "() => document.querySelector('[aria-label=\"Equity\"]')?.dataset.xMax !== undefined"
    )
    return float(chart.get_attribute("data-x-min")), float(chart.get_attribute("data-x-max"))


def test_the_equity_axis_of_a_freshly_deployed_strategy_spans_its_points_times_not_years(
    page: Any, stack: LocalStack
) -> None:
    # Given a strategy just deployed: its curve is the bankroll's one opening point
    user = f"axis-{uuid.uuid4().hex[:6]}"
    sid = running_strategy(stack, user, "Fresh axis")
    curve = call(stack, "GET", f"/strategies/{sid}/performance", user)["equity_curve"]
    assert len(curve) == 1

    # When its page draws the equity chart
    page.goto(f"{stack.api_url}/app/strategies/{sid}#access_token={stack.token(user)}")
    low, high = drawn_range(page)

    # Then the axis is the point's time with an hour either side (it ran 2.7 years ahead)
    at = epoch(curve[0]["at"])
    assert (low, high) == (at - LONE_POINT_PAD_S, at + LONE_POINT_PAD_S)
    shot(page, "equity-fresh")

    # And once minutes of points exist, the axis runs from the first point's time to the last one's
    start = stack.clock.now()
    for minutes in (5, 10, 15):
        stack.step(start + timedelta(minutes=minutes))
    stack.settle()
    curve = call(stack, "GET", f"/strategies/{sid}/performance", user)["equity_curve"]
    assert len(curve) >= 2
    page.reload()
    low, high = drawn_range(page)
    assert (low, high) == (epoch(curve[0]["at"]), epoch(curve[-1]["at"]))


DASH = "\u2013"  # what the page shows for a value not set
RAW_NAME = re.compile(r"_|\b(usd|pct)\b", re.IGNORECASE)


def labels(figures: Any) -> list[str]:
    return [text.strip() for text in figures.locator("dt").all_inner_texts()]


def figure(figures: Any, label: str) -> str:
    """The value shown under the figure labelled exactly `label`."""
    term = figures.page.locator("dt", has_text=re.compile(f"^{re.escape(label)}$"))
    return str(figures.locator("div", has=term).locator("dd").inner_text())


def later(stack: LocalStack, *, minutes: int) -> None:
    assert isinstance(stack.clock, FastClock)
    stack.clock.advance(timedelta(minutes=minutes))


def traded_strategy(stack: LocalStack, user: str, name: str) -> str:
    sid = running_strategy(stack, user, name)
    call(stack, "POST", f"/strategies/{sid}/run", user)
    stack.settle()
    return sid


def test_the_overview_names_every_figure_in_words_with_its_unit_and_drives_the_kill_switch(
    page: Any, stack: LocalStack
) -> None:
    # Given a user with two strategies that traded, and risk limits set
    user = f"account-{uuid.uuid4().hex[:6]}"
    first = traded_strategy(stack, user, "Account one")
    traded_strategy(stack, user, "Account two")
    limits = {"max_total_exposure_usd": 5000, "max_drawdown_pct": 25, "timezone": "Europe/Paris"}
    call(stack, "PUT", "/risk-limits", user, limits)
    account = call(stack, "GET", "/portfolio", user)["paper"]
    assert account["strategies_count"] == 2 and account["exposure"]["by_market"]

    # When the overview is opened
    page.goto(f"{stack.api_url}/app/overview#access_token={stack.token(user)}")
    figures = page.get_by_label("Account figures (paper)")
    figures.wait_for()

    # Then every figure has a label in words (no raw field name) and a unit
    shown = labels(figures)
    assert [name for name in shown if RAW_NAME.search(name)] == []
    assert {"Equity", "Total P&L", "Cash", "Open positions", "Strategies"} <= set(shown)
    assert figure(figures, "Equity") == f"${account['equity_usd']:,.2f}"
    assert figure(figures, "Strategies") == "2"
    assert figure(figures, "Open positions") == str(account["open_positions_count"])
    # the exposure by market is labelled with the market's question (the API's `label`), not its id
    top = account["exposure"]["by_market"][0]
    market_rows = page.locator("table.exposure", has=page.locator("caption", has_text="Exposure by market"))
    assert market_rows.locator("tbody tr th").first.inner_text() == top["label"]
    shares = page.locator("table.shares")
    assert {"Account one", "Account two"} <= set(shares.locator("tbody a").all_inner_texts())
    assert "%" in shares.locator("tbody td").last.inner_text()
    # the risk limits, from GET /risk-limits, in words; a limit not set is a dash
    risk = page.get_by_label("Risk limits")
    assert figure(risk, "Max total exposure") == "$5,000.00"
    assert figure(risk, "Max drawdown (kill switch)") == "25.00%"
    assert figure(risk, "Daily loss stop") == DASH
    assert figure(risk, "Timezone") == "Europe/Paris"
    assert [name for name in labels(risk) if RAW_NAME.search(name)] == []

    # And the comparison of two strategies labels its figures from the same table
    page.get_by_label("Account one").check()
    page.get_by_label("Account two").check()
    compared = page.locator("table.compared")
    compared.wait_for()
    rows = compared.locator("tbody th").all_inner_texts()
    assert {"Win rate", "Max drawdown %", "Sharpe", "Fees paid"} <= set(rows)
    assert [name for name in rows if RAW_NAME.search(name)] == []
    page.get_by_role("img", name="Equity compared").locator("canvas").wait_for()
    shot(page, "overview-figures")

    # When the kill switch is engaged through its button
    assert page.get_by_role("button", name="Release").is_disabled()
    page.get_by_role("button", name="Halt everything").click()
    page.get_by_role("dialog").get_by_role("button", name="Confirm").click()

    # Then the API has it on, the strategies are paused by it, and the page says so
    page.locator(".kill-state", has_text="ON (halt)").wait_for()
    state = call(stack, "GET", "/risk-limits", user)["kill_switch"]
    assert state["mode"] == "halt" and len(state["paused_strategy_ids"]) == 2
    assert "2 strategies paused by it" in page.locator(".kill-state").inner_text()
    assert call(stack, "GET", f"/strategies/{first}", user)["pause_reason"] == "kill_switch"
    assert page.get_by_role("button", name="Halt everything").is_disabled()

    # And releasing it resumes them
    page.get_by_role("button", name="Release").click()
    page.get_by_role("dialog").get_by_role("button", name="Confirm").click()
    page.locator(".kill-state", has_text="Off").wait_for()
    assert call(stack, "GET", "/risk-limits", user)["kill_switch"] is None
    assert call(stack, "GET", f"/strategies/{first}", user)["status"] == "RUNNING"


def test_the_strategy_page_shows_its_deployments_versions_activity_and_watchlists_from_the_real_routes(
    page: Any, stack: LocalStack
) -> None:
    # Given a strategy reading one watchlist and writing another, deployed, edited and deployed again
    user = f"history-{uuid.uuid4().hex[:6]}"
    source = call(stack, "POST", "/watchlists", user, {"name": "To trade", "description": "hand-picked"})
    target = call(stack, "POST", "/watchlists", user, {"name": "Seen liquid"})
    graph = {
        "nodes": [
            {
                "id": "src",
                "type": "DATA_SOURCE",
                "config": {"source": "watchlist", "watchlist_id": source["watchlist_id"]},
            },
            {
                "id": "flt",
                "type": "FILTER",
                "config": {"conditions": [{"field": "yes_price", "op": "<=", "value": 0.9}]},
            },
            {
                "id": "keep",
                "type": "WATCHLIST",
                "config": {"action": "add", "watchlist_id": target["watchlist_id"]},
            },
        ],
        "edges": [{"source": "src", "target": "flt"}, {"source": "flt", "target": "keep"}],
    }
    created = call(stack, "POST", "/strategies", user, {"strategy_name": "With history", "node_graph": graph})
    sid = created["strategy_id"]
    markets = call(
        stack, "GET", "/strategies/" + traded_strategy(stack, user, "Market finder") + "/trades", user
    )
    market_id = markets["items"][0]["market_id"]
    call(stack, "POST", f"/watchlists/{source['watchlist_id']}/items", user, {"market_ids": [market_id]})
    deploy = {"frequency": "15m", "auto_start": True}
    call(stack, "POST", f"/strategies/{sid}/deploy", user, deploy)
    graph["nodes"][1]["config"]["conditions"][0]["value"] = 0.8
    call(stack, "PATCH", f"/strategies/{sid}", user, {"node_graph": graph})
    call(stack, "POST", f"/strategies/{sid}/stop", user)
    later(stack, minutes=1)  # deployment ids sort by deploy time: the redeploy is a minute later
    call(stack, "POST", f"/strategies/{sid}/deploy", user, {**deploy, "frequency": "30m"})
    deployments = call(stack, "GET", f"/strategies/{sid}/deployments", user)["items"]
    assert len(deployments) == 2 and deployments[1]["ended_at"]

    # When its page is opened
    page.goto(f"{stack.api_url}/app/strategies/{sid}#access_token={stack.token(user)}")
    page.get_by_role("heading", name="With history").wait_for()

    # Then the deployments are listed newest first, the current one and the ended one with its versions
    records = page.locator("ol.deployments > li")
    records.nth(1).wait_for()
    assert "every 30m" in records.nth(0).inner_text() and "current" in records.nth(0).inner_text()
    assert "every 15m" in records.nth(1).inner_text() and "ended" in records.nth(1).inner_text()
    assert "Graph versions: 1, 2" in records.nth(1).inner_text()
    # the graph versions with the API's summary, the current one marked
    versions = page.locator("ol.versions > li")
    versions.nth(1).wait_for()
    listed = call(stack, "GET", f"/strategies/{sid}/versions", user)["items"]
    assert "Version 2 (current)" in versions.nth(0).inner_text()
    assert listed[0]["summary"] in versions.nth(0).inner_text()
    # the activity in words, with the state changes the API recorded
    timeline = page.locator("ol.timeline")
    timeline.get_by_text("Graph changed").first.wait_for()
    text = timeline.inner_text()
    assert "Deployed" in text and "Created" in text and "Stopped" in text and "DRAFT → RUNNING" in text
    assert f"by {user}" in text
    # the watchlists it reads and writes, by name, with their item counts
    lists = page.locator("ul.watchlists")
    lists.get_by_text("To trade").wait_for()
    assert "Node src reads To trade (1 item)" in lists.inner_text()
    assert "Node keep writes to Seen liquid" in lists.inner_text()
    shot(page, "strategy-history")

    # When version 1 is restored through its button
    page.get_by_role("button", name="Restore version 1").click()
    page.get_by_role("dialog").get_by_role("button", name="Confirm").click()

    # Then the API has a third version restored from the first, and the page lists it as current
    page.get_by_text("Version 3 (current)").wait_for()
    newest = call(stack, "GET", f"/strategies/{sid}/versions", user)["items"][0]
    assert (newest["graph_version"], newest["restored_from"], newest["current"]) == (3, 1, True)
    assert "restored from version 1" in versions.nth(0).inner_text()


def test_a_backtest_started_from_the_page_runs_and_shows_its_figures_and_curve_beside_the_live_one(
    page: Any, stack: LocalStack
) -> None:
    # Given a strategy that ran live on the recorded markets
    user = f"backtest-{uuid.uuid4().hex[:6]}"
    sid = traded_strategy(stack, user, "Backtested")
    page.goto(f"{stack.api_url}/app/strategies/{sid}#access_token={stack.token(user)}")
    form = page.get_by_role("form", name="New backtest")
    form.wait_for()

    # When a backtest of the day before is started from the form (the example filters on volume: proxies)
    today = stack.clock.now().date()
    form.get_by_label("From", exact=True).fill((today - timedelta(days=1)).isoformat())
    form.get_by_label("To", exact=True).fill(today.isoformat())
    form.get_by_label("Every").select_option("1h")
    form.get_by_label("Use today's values for fields without history").check()
    form.get_by_role("button", name="Run backtest").click()
    page.locator("ul.backtests li").first.wait_for()
    stack.drain_backtests()
    page.reload()

    # Then the API has it completed, and the page shows its figures, warnings and curve in words
    [backtest] = call(stack, "GET", f"/strategies/{sid}/backtests", user)["items"]
    assert backtest["status"] == "completed" and backtest["allow_proxies"] is True
    page.locator("ul.backtests button").first.click()
    result = page.get_by_label("Backtest result")
    result.get_by_text("completed").first.wait_for()
    progress = page.get_by_label("Backtest progress")
    assert figure(progress, "Slots") == str(backtest["slots_total"]) == figure(progress, "Slots done")
    figures = page.get_by_label("Backtest figures")
    assert figure(figures, "Equity") == f"${backtest['performance']['equity_usd']:,.2f}"
    assert [name for name in labels(figures) if RAW_NAME.search(name)] == []
    assert "look_ahead_proxy" in result.inner_text()
    page.get_by_role("img", name="Backtest and live equity").locator("canvas").wait_for()
    shot(page, "strategy-backtest")


def test_the_dashboard_with_a_trailing_slash_is_the_same_page(page: Any, stack: LocalStack) -> None:
    # Given a user with a strategy
    user = f"slash-{uuid.uuid4().hex[:6]}"
    running_strategy(stack, user, "Behind a slash")

    # When the dashboard is opened at /app/ (the address people type)
    answer = page.goto(f"{stack.api_url}/app/#access_token={stack.token(user)}")

    # Then it is the dashboard's page, signed in, with the strategy listed, and no error on the way
    assert answer is not None and answer.status == 200
    page.get_by_role("heading", name="Strategies").wait_for()
    page.get_by_role("link", name="Behind a slash").wait_for()
    assert "access_token" not in page.url


def test_a_strategy_opened_from_the_list_asks_for_its_curve_beside_the_strategy_not_after_it(
    page: Any, stack: LocalStack
) -> None:
    # Given a deployed strategy in the list
    user = f"beside-{uuid.uuid4().hex[:6]}"
    sid = traded_strategy(stack, user, "Opened from the list")
    page.goto(f"{stack.api_url}/app#access_token={stack.token(user)}")
    link = page.get_by_role("link", name="Opened from the list")
    link.wait_for()
    events: list[str] = []

    def record(kind: str, url: str) -> None:
        if sid in url:  # the strategy's own requests: "" for the strategy, "/performance" for its curve
            events.append(f"{kind} {url.split(sid, 1)[-1]}")

    page.on("request", lambda r: record("request", r.url))
    page.on("response", lambda r: record("response", r.url))

    # When it is opened from the list
    link.click()
    page.get_by_role("img", name="Equity", exact=True).locator("canvas").wait_for()

    # Then the curve was asked for before the strategy's own answer came back
    assert events.index("request /performance") < events.index("response ")
    assert events.index("request ") < events.index("response ")
