"""The web dashboard in Debian's Chromium (Playwright for Python) against the local stack with real runs on
the recorded market data: sign-in through the PKCE path, create, deploy, run, the strategy's trades, chart and
trace, controls that change the API's state, a 409 in words, a phone viewport. Every test fails on a console
error; screenshots of each page go to test-artifacts/screenshots (gitignored)."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from local.clock import FastClock
from local.stack import LocalStack, StackConfig

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
DIST = ROOT / "functions" / "web_static" / "dist" / "index.html"
SHOTS = ROOT / "test-artifacts" / "screenshots"
RECORDING_TIME = datetime(2026, 2, 7, 12, 50, tzinfo=UTC)  # the recorded markets' time: the example trades
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
EXAMPLE = json.loads((ROOT / "local" / "samples" / "design_example.json").read_text())

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (make test installs it)"),
    pytest.mark.skipif(not DIST.exists(), reason="needs the built dashboard (make web)"),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    config = StackConfig(
        prefix=f"web{uuid.uuid4().hex[:6]}",
        driven=True,
        quiet=True,
        state_dir=tmp_path_factory.mktemp("state"),
    )
    with LocalStack(config, clock=FastClock(RECORDING_TIME)) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


class Console:
    """Console errors and uncaught exceptions of a page; `expect` names the failed loads a test provokes."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.expected: list[str] = []

    def on_message(self, message: Any) -> None:
        if message.type == "error":
            where = (message.location or {}).get("url", "")
            self.errors.append(f"{message.text} @ {where}")

    def on_page_error(self, error: Any) -> None:
        self.errors.append(f"uncaught: {error}")

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(marker in e for marker in self.expected)]


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    viewport = getattr(request, "param", {"width": 1280, "height": 900})
    context = browser.new_context(viewport=viewport, timezone_id="Europe/Paris", locale="en-GB")
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    console = Console()
    opened.on("console", console.on_message)
    opened.on("pageerror", console.on_page_error)
    opened.console = console
    yield opened
    context.close()
    assert console.unexpected() == [], "console errors"


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def call(stack: LocalStack, method: str, path: str, user: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        stack.api_url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"authorization": f"Bearer {stack.token(user)}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def running_strategy(stack: LocalStack, user: str, name: str) -> str:
    created = call(stack, "POST", "/strategies", user, {**EXAMPLE, "strategy_name": name})
    sid = str(created["strategy_id"])
    deploy = {"paper_bankroll_usd": 1000, "frequency": "5m", "auto_start": True}
    call(stack, "POST", f"/strategies/{sid}/deploy", user, deploy)
    return sid


def test_sign_in_through_pkce_create_deploy_and_run_then_the_page_shows_trades_chart_and_trace(
    page: Any, stack: LocalStack
) -> None:
    # Given a user signed in through the authorization-code + PKCE path
    user = f"pkce-{uuid.uuid4().hex[:6]}"
    page.goto(stack.api_url + "/app")
    shot(page, "sign-in")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Another user").fill(user)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Strategies").wait_for()
    assert "code=" not in page.url and page.get_by_text(user).is_visible()

    # When they create DESIGN 5's example in the JSON editor, deploy it (seeing its next five slots), run it
    page.get_by_role("button", name="New strategy").click()
    page.get_by_role("button", name="Create").click()
    page.get_by_role("heading", name="Mid-priced volume").wait_for()
    sid = page.url.rstrip("/").rsplit("/", 1)[-1]
    page.get_by_role("button", name="Deploy").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Paper bankroll (USD)").fill("1000")
    dialog.locator("ol.slots li").nth(4).wait_for()
    shot(page, "deploy-dialog")
    dialog.get_by_role("button", name="Deploy").click()
    page.locator(".status", has_text="RUNNING").first.wait_for()
    page.get_by_role("button", name="Run now").click()
    page.get_by_role("dialog").get_by_role("button", name="Confirm").click()
    page.get_by_text("Run finished: completed").wait_for(timeout=30_000)
    stack.settle()  # the stream delivers the run's trades to the portfolio read model
    page.reload()

    # Then the API has it running with trades, and the page shows them, the charts and the run's trace
    strategy = call(stack, "GET", f"/strategies/{sid}", user)
    trades = call(stack, "GET", f"/strategies/{sid}/trades", user)["items"]
    assert strategy["status"] == "RUNNING" and strategy["created_by"] == user
    assert trades, "the example trades on the recorded markets"
    listed = next(s for s in call(stack, "GET", "/strategies", user)["items"] if s["strategy_id"] == sid)
    equity = call(stack, "GET", f"/strategies/{sid}/portfolio", user)["equity_usd"]
    assert listed["sparkline"] == [equity], "the stream keeps the list's sparkline"
    page.get_by_role("heading", name="Trades").wait_for()
    # the sections below the figures load once the figures and curve are in (issue 16's first-chart speed)
    page.locator("table.trades tbody tr").nth(min(len(trades), 20) - 1).wait_for()
    assert page.locator("table.trades tbody tr").count() == min(len(trades), 20)
    page.locator("table.positions tbody tr").first.wait_for()
    equity = page.get_by_role("img", name="Equity", exact=True)
    equity.locator("canvas").wait_for()
    assert page.get_by_role("img", name="Drawdown", exact=True).locator("canvas").count() == 1
    figures = page.get_by_label("Key figures")
    assert "Equity" in figures.inner_text() and "$" in figures.inner_text()
    page.locator(".run-head").first.click()
    trace = page.locator(".trace table")
    trace.wait_for()
    assert {"src", "flt", "orc"} <= set(trace.locator("tbody code").all_inner_texts())
    shot(page, "strategy")

    # And the list shows the strategy with its figures
    page.get_by_role("link", name="Strategies", exact=True).click()
    row = page.locator("table.strategies tbody tr", has_text="Mid-priced volume")
    row.wait_for()
    assert "RUNNING" in row.inner_text() and "$1,000.00" in row.inner_text()
    shot(page, "strategies")


def test_pause_through_the_button_changes_the_status_the_api_reports(page: Any, stack: LocalStack) -> None:
    # Given a running strategy, opened with a local ready-to-open URL
    user = f"pause-{uuid.uuid4().hex[:6]}"
    sid = running_strategy(stack, user, "Pause me")
    page.goto(f"{stack.api_url}/app/strategies/{sid}#access_token={stack.token(user)}")
    page.get_by_role("heading", name="Pause me").wait_for()
    assert "access_token" not in page.url
    assert page.get_by_role("button", name="Resume").is_disabled()

    # When Pause is pressed and confirmed
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("dialog").get_by_role("button", name="Confirm").click()
    page.get_by_text("Pause: the strategy is now PAUSED").wait_for()

    # Then the API says paused by the user, and the page offers Resume
    strategy = call(stack, "GET", f"/strategies/{sid}", user)
    assert (strategy["status"], strategy["pause_reason"]) == ("PAUSED", "user")
    page.get_by_role("button", name="Resume").wait_for(state="visible")
    assert page.get_by_role("button", name="Resume").is_enabled()
    assert page.get_by_role("button", name="Pause").is_disabled()


def test_a_409_is_shown_in_words_with_the_actions_allowed_now(page: Any, stack: LocalStack) -> None:
    # Given a paused strategy open in the page, resumed meanwhile elsewhere
    user = f"conflict-{uuid.uuid4().hex[:6]}"
    sid = running_strategy(stack, user, "Stale page")
    call(stack, "POST", f"/strategies/{sid}/pause", user)
    page.goto(f"{stack.api_url}/app/strategies/{sid}#access_token={stack.token(user)}")
    page.get_by_role("button", name="Resume").wait_for()
    call(stack, "POST", f"/strategies/{sid}/resume", user)
    # the browser itself reports the refused request; that one failed load is this test's purpose
    page.console.expected.append(f"/strategies/{sid}/resume")

    # When Resume is pressed on the stale page
    page.get_by_role("button", name="Resume").click()
    page.get_by_role("dialog").get_by_role("button", name="Confirm").click()

    # Then the API's message and the allowed actions are shown in words
    alert = page.get_by_role("alert")
    alert.wait_for()
    text = alert.inner_text()
    assert "RUNNING" in text and "Allowed now: Edit, Pause, Run now, Stop." in text
    shot(page, "conflict-409")


@pytest.mark.parametrize("page", [{"width": 390, "height": 844}], indirect=True)
def test_a_phone_viewport_never_scrolls_sideways(page: Any, stack: LocalStack) -> None:
    # Given a strategy with trades, on a phone-sized screen
    user = f"phone-{uuid.uuid4().hex[:6]}"
    sid = running_strategy(stack, user, "On the phone")
    call(stack, "POST", f"/strategies/{sid}/run", user)
    stack.settle()

    # When the list and the strategy page are shown
    page.goto(f"{stack.api_url}/app#access_token={stack.token(user)}")
    page.get_by_role("link", name="On the phone").wait_for()
    wide = "document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(wide)
    shot(page, "phone-strategies")
    page.get_by_role("link", name="On the phone").click()
    page.get_by_role("img", name="Equity", exact=True).locator("canvas").wait_for()

    # Then nothing is wider than the screen and the controls are reachable
    assert page.evaluate(wide)
    assert page.get_by_role("button", name="Pause").is_visible()
    shot(page, "phone-strategy")


def test_routes_this_server_lacks_show_not_available_and_an_expired_token_leads_to_sign_in(
    page: Any, stack: LocalStack
) -> None:
    # Given a signed-in user on the overview of this server, which has the account routes
    user = f"overview-{uuid.uuid4().hex[:6]}"
    page.goto(f"{stack.api_url}/app/overview#access_token={stack.token(user)}")
    page.get_by_role("heading", name="Overview").wait_for()
    # Then the account view and the kill switch's state are shown
    page.get_by_role("heading", name="paper").wait_for()
    page.get_by_text("Off", exact=True).wait_for()
    assert page.get_by_text("not available on this server").count() == 0
    shot(page, "overview")

    # Given a server whose runtime config lists no account routes (an older API behind the same app)
    def without_account_routes(route: Any) -> None:
        config = json.loads(route.fetch().text())
        account = ("/portfolio", "/risk-limits")
        config["routes"] = [key for key in config["routes"] if not key.split(" ")[-1].startswith(account)]
        route.fulfill(json=config)

    page.route("**/app/config.json", without_account_routes)
    page.reload()  # the app reads its runtime config once, at load
    page.get_by_role("heading", name="Overview").wait_for()
    # Then each missing section says so, without an error
    page.get_by_text("The account view: not available on this server.").wait_for()
    assert page.get_by_role("alert").count() == 0
    shot(page, "overview-older-server")
    page.unroute("**/app/config.json")

    # When a token that has run out is used
    page.goto(f"{stack.api_url}/app#access_token={stack.token(user, hours=0.0001)}")

    # Then the page offers sign-in, not a blank page
    page.get_by_role("button", name="Sign in").wait_for()
