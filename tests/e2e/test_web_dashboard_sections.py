"""The dashboard's charts and sections in Debian's Chromium against the local stack with real data: the equity
chart's time axis against the points' times, the metric labels, the history, watchlist, account, kill-switch
and backtest sections on the API's real shapes, and /app/ with a trailing slash. Every test fails on a console
error (the dashboard tests' `page` fixture)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

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
