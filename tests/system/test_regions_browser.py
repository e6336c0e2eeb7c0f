"""Regional rules in a real Chromium (issue 20): a US visitor under a `notice` rule meets a
banner that informs while analytics is on, and refuses in one click; a GB visitor gets the
default opt-in; a JP visitor under `none` gets no banner but keeps the floating button; an
address no database places gets opt-in. The consent record holds the mode each time.

Chromium talks to the gateway from 127.0.0.1, a trusted proxy here, so `X-Forwarded-For`
presents the address MaxMind's test database places."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import LiveServer
from tests.support.browser import chromium, logged_columns
from tests.web.test_regions import GB, JP, UNKNOWN, US, regional_env

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path, env=regional_env()).start()
    yield live
    live.stop()


def visit(browser: Browser, server: LiveServer, address: str) -> Page:
    context = browser.new_context(locale="en-GB", extra_http_headers={
        "Accept-Language": "en-GB", "X-Forwarded-For": address})
    page = context.new_page()
    page.goto(server.url + "/")
    page.wait_for_function("() => document.querySelector('.cg-banner') !== null")
    return page


def logged(tmp_path: Path) -> list[tuple[str, ...]]:
    return logged_columns(tmp_path, "action", "mode", "granted")


def granted(page: Page) -> object:
    return page.evaluate("() => window.consentGateway.get()")


def test_a_us_visitor_under_notice_is_informed_and_refuses_in_one_click(
    browser: Browser, server: LiveServer, tmp_path: Path
) -> None:
    page = visit(browser, server, US)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("data-mode", "notice")
    assert granted(page) == {"necessary": True, "preferences": False, "analytics": True,
                             "marketing": False}
    dialog.get_by_role("button", name="Reject all").click()
    expect(dialog).to_be_hidden()
    assert granted(page) == {"necessary": True, "preferences": False, "analytics": False,
                             "marketing": False}
    page.reload()
    expect(page.locator(".cg-reopen")).to_be_visible()
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.context.close()
    assert logged(tmp_path) == [("implied", "notice", '["necessary", "analytics"]'),
                                ("reject_all", "notice", '["necessary"]')]


@pytest.mark.parametrize("address", [GB, UNKNOWN])
def test_a_gb_or_unplaced_visitor_gets_the_opt_in_banner(
    browser: Browser, server: LiveServer, tmp_path: Path, address: str
) -> None:
    page = visit(browser, server, address)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("data-mode", "opt-in")
    assert granted(page) is None
    dialog.get_by_role("button", name="Accept all").click()
    expect(dialog).to_be_hidden()
    page.context.close()
    assert logged(tmp_path) == [
        ("accept_all", "opt-in", '["necessary", "preferences", "analytics", "marketing"]')]


def test_a_jp_visitor_under_none_gets_no_banner_but_can_still_change_the_choice(
    browser: Browser, server: LiveServer, tmp_path: Path
) -> None:
    page = visit(browser, server, JP)
    expect(page.get_by_role("dialog")).to_be_hidden()
    reopen = page.locator(".cg-reopen")
    expect(reopen).to_be_visible()
    reopen.click()
    settings = page.get_by_role("dialog")
    expect(settings).to_be_visible()
    expect(settings.get_by_role("checkbox", name="Analytics")).to_be_checked()
    settings.get_by_role("checkbox", name="Analytics").uncheck()
    settings.get_by_role("button", name="Save").click()
    expect(settings).to_be_hidden()
    page.context.close()
    assert [(a, m) for a, m, _ in logged(tmp_path)] == [("implied", "none"), ("custom", "none")]
    assert logged(tmp_path)[-1][2] == '["necessary", "preferences"]'
