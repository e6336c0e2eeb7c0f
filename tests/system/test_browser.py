"""A visitor in a real Chromium (Playwright driving /usr/bin/chromium) against a real server."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import LiveServer
from tests.support.browser import chromium

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="nl-NL", extra_http_headers={"Accept-Language": "nl"})
    tab = context.new_page()
    yield tab
    context.close()


def banner_buttons(page: Page) -> list[str]:
    return page.locator(".cg-banner .cg-btn:visible").all_inner_texts()


def logged_actions(tmp_path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(tmp_path / "gateway.sqlite3")
    rows = conn.execute("SELECT action, granted FROM consent_log ORDER BY seq").fetchall()
    conn.close()
    return [(str(a), str(g)) for a, g in rows]


def test_first_visit_shows_three_equal_buttons(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/")
    banner = page.get_by_role("dialog")
    expect(banner).to_be_visible()
    assert banner_buttons(page) == ["Alles accepteren", "Alles weigeren", "Instellingen"]
    styles = page.eval_on_selector_all(
        ".cg-banner .cg-btn:not([hidden])",
        "els => els.map(e => { const s = getComputedStyle(e);"
        " return [s.backgroundColor, s.color, s.fontWeight, s.borderWidth, s.fontSize]; })",
    )
    assert len(styles) == 3 and styles[0] == styles[1] == styles[2]


def test_accepting_sets_an_httponly_cookie_and_runs_held_back_scripts(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    page.goto(live_server.url + "/")
    expect(page.locator("#analytics-status")).to_have_text("niet geladen")
    page.get_by_role("button", name="Alles accepteren").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.locator("#analytics-status")).to_contain_text("geladen (u accepteerde")
    cookie = next(c for c in page.context.cookies() if c["name"] == "consent")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("consent=") == -1  # scripts cannot read it
    page.reload()
    expect(page.locator(".cg-reopen")).to_be_visible()
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.locator("#analytics-status")).to_contain_text("geladen (u accepteerde")
    assert logged_actions(tmp_path) == [
        ("accept_all", '["necessary", "preferences", "analytics", "marketing"]')]


def test_rejecting_keeps_scripts_and_tracking_cookies_out(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Alles weigeren").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.goto(live_server.url + "/shop")
    names = {c["name"] for c in page.context.cookies()}
    assert names == {"consent", "cart"}
    expect(page.locator("#analytics-status")).to_have_count(0)
    assert page.get_attribute("html", "data-fake-analytics") is None
    assert logged_actions(tmp_path) == [("reject_all", '["necessary"]')]


def test_settings_offer_one_switch_per_category_nothing_pre_ticked(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Instellingen").click()
    necessary = page.locator("#cg-cat-necessary")
    expect(necessary).to_be_checked()
    expect(necessary).to_be_disabled()
    for category in ("preferences", "analytics", "marketing"):
        expect(page.locator(f"#cg-cat-{category}")).not_to_be_checked()
    page.locator("#cg-cat-analytics").check()
    page.get_by_role("button", name="Keuze opslaan").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.locator("#analytics-status")).to_contain_text("geladen (u accepteerde")
    assert logged_actions(tmp_path) == [("custom", '["necessary", "analytics"]')]


def test_the_footer_link_reopens_settings_and_withdraw_is_one_click(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Alles accepteren").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.get_by_role("link", name="Cookie-instellingen").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.locator("#cg-cat-marketing")).to_be_checked()
    page.get_by_role("button", name="Toestemming intrekken").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert [a for a, _ in logged_actions(tmp_path)] == ["accept_all", "withdraw"]
    state = page.evaluate("window.consentGateway.get()")
    assert state == {"necessary": True, "preferences": False, "analytics": False,
                     "marketing": False}
