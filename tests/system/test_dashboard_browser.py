"""The admin dashboard in a real Chromium against a real `consent-gateway serve`: the seeded
numbers of tests/web/admin/test_dashboard.py on the charts of the wide and the narrow
drawing, nothing blocked by the CSP, axe-core, and the screenshots for the docs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from gateway.adapters.store.sqlite import SQLiteStore
from gateway.web.admin import token_hash
from tests.conftest import REPO, LiveServer
from tests.support.browser import chromium
from tests.system.test_banner_browser import assert_no_axe_violations
from tests.web.admin.test_dashboard import (
    ADMIN,
    AUTH,
    DAYS,
    DECISIONS,
    RANGE,
    TOKEN,
    VISITORS,
    WITHDRAWALS,
    pageviews_of,
    seed,
)


@pytest.fixture
def seeded_server(tmp_path: Path) -> Iterator[LiveServer]:
    async def fill() -> None:
        store = SQLiteStore(tmp_path / "gateway.sqlite3")
        await store.open()
        await seed(store)
        await store.close()

    asyncio.run(fill())
    # Long retention: the seeded November 2026 must not be purged when the server starts.
    server = LiveServer(tmp_path, env={
        "GATEWAY_ADMIN_TOKEN_HASHES": token_hash(TOKEN),
        "GATEWAY_RETENTION_ANALYTICS_DAYS": "3650",
        "GATEWAY_RETENTION_CONSENT_LOG_DAYS": "3650",
    }).start()
    yield server
    server.stop()


@pytest.mark.browser
def test_chromium_shows_the_seeded_numbers_with_no_axe_violations(
    seeded_server: LiveServer,
) -> None:
    url = f"{seeded_server.url}{ADMIN}{RANGE}&lang=en"
    with chromium() as browser:
        check_in_browser(browser, url, 1280, "wide", "dashboard.png")
        check_in_browser(browser, url, 390, "narrow", "dashboard-phone.png")


def check_in_browser(browser: Browser, url: str, width: int, variant: str, shot: str) -> None:
    """The seeded numbers in the visible drawing, nothing the CSP blocked, no sideways
    scrolling, a screenshot for the docs, and axe-core with every table opened."""
    context = browser.new_context(extra_http_headers=AUTH,
                                  viewport={"width": width, "height": 900})
    page = context.new_page()
    messages: list[ConsoleMessage] = []

    def remember(message: ConsoleMessage) -> None:
        messages.append(message)

    page.on("console", remember)
    page.goto(url)
    assert chart_titles(page, variant, "traffic", "rect") == expected_traffic()
    assert chart_titles(page, variant, "decisions", "rect") == expected_decisions()
    assert chart_titles(page, variant, "rate", "circle")[0] == (
        "1 November 2026 — Consent rate: 60%")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert not [m.text for m in messages if "Content Security Policy" in m.text]
    page.screenshot(path=str(REPO / "docs" / "img" / shot), full_page=True)
    for summary in page.locator("summary").all():  # the tables behind the charts too
        summary.click()
    assert_no_axe_violations(page, f"dashboard at {width}px")
    context.close()


def chart_titles(page: Page, variant: str, chart: str, shape: str) -> list[str]:
    """The titles of the visible drawing's bars: what a mouse-over shows."""
    drawing = f"svg.chart-{variant}[aria-labelledby^='{chart}-']"
    other = "narrow" if variant == "wide" else "wide"
    assert page.locator(drawing).is_visible()
    assert page.locator(f"svg.chart-{other}[aria-labelledby^='{chart}-']").is_hidden()
    return list(page.locator(f"{drawing} {shape} > title").all_text_contents())


def expected_traffic() -> list[str]:
    titles = []
    for day, visitors in zip(DAYS, VISITORS, strict=True):
        label = f"{day.day} November 2026"
        titles += [f"{label} — Visitors: {visitors}",
                   f"{label} — Pageviews: {pageviews_of(visitors)}"]
    return titles


def expected_decisions() -> list[str]:
    titles = []
    for day, (accept, reject, custom_yes, custom_no) in DECISIONS.items():
        label = f"{day.day} November 2026"
        parts = [("Accept all", accept), ("Custom", custom_yes + custom_no),
                 ("Reject all", reject), ("Withdrawn", WITHDRAWALS.get(day, 0))]
        titles += [f"{label} — {name}: {n}" for name, n in parts if n]
    return titles
