"""The analytics client as a visitor's browser runs it: real Chromium against a real
`consent-gateway serve`. Nothing is sent before consent or after a refusal; after
"Accept all" the pageview, single-page navigations and custom events are stored."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request

from tests.conftest import LiveServer
from tests.support.browser import chromium, static_site
from tests.web.test_collect import CHROME_UA

pytestmark = pytest.mark.browser
COLLECT = "/_consent/collect"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # The whole browser as a desktop Chrome: a beacon sent while a page unloads (pagehide)
    # carries the browser's own user agent, not the context's override, and a headless one
    # is dropped as a bot.
    with chromium(f"--user-agent={CHROME_UA}") as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # Headless Chromium announces itself as HeadlessChrome, which the gateway drops as a bot.
    context = browser.new_context(user_agent=CHROME_UA,
                                  extra_http_headers={"Accept-Language": "en"})
    yield context.new_page()
    context.close()


def beacons(page: Page) -> list[Request]:
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request) if COLLECT in request.url else None)
    return sent


def open_site(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("() => !!window.consentGateway")
    page.get_by_role("dialog").wait_for()


def stored_events(tmp_path: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(tmp_path / "gateway.sqlite3")
    rows = db.execute("SELECT type, path, name FROM analytics_events ORDER BY id").fetchall()
    db.close()
    return [(str(t), str(p), str(n)) for t, p, n in rows]


def test_nothing_is_sent_before_the_visitor_decides(page: Page, live_server: LiveServer) -> None:
    sent = beacons(page)
    open_site(page, live_server.url + "/")
    page.evaluate("() => { history.pushState({}, '', '/elsewhere'); "
                  "consentGateway.track('signup'); }")
    page.wait_for_timeout(300)
    assert sent == []


def test_after_accepting_pageviews_navigations_and_events_are_stored(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    open_site(page, live_server.url + "/")
    with page.expect_response(lambda r: COLLECT in r.url) as first:
        page.get_by_role("button", name="Accept all").click()
    assert first.value.status == 202
    assert first.value.header_value("x-consent-dropped") is None
    with page.expect_response(lambda r: COLLECT in r.url) as navigation:
        page.evaluate("() => history.pushState({}, '', '/spa/checkout?step=2')")
    assert navigation.value.header_value("x-consent-dropped") is None
    with page.expect_response(lambda r: COLLECT in r.url) as custom:
        page.evaluate("() => consentGateway.track('signup', {plan: 'pro'})")
    assert custom.value.header_value("x-consent-dropped") is None
    live_server.stop()  # the writer flushes at shutdown
    assert stored_events(tmp_path) == [
        ("pageview", "/", ""),
        ("pageview", "/spa/checkout", ""),
        ("event", "/spa/checkout", "signup"),
    ]


def test_a_refusal_sends_nothing_even_on_navigation(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    sent = beacons(page)
    open_site(page, live_server.url + "/")
    page.get_by_role("button", name="Reject all").click()
    page.get_by_role("dialog").wait_for(state="hidden")
    page.evaluate("() => { history.pushState({}, '', '/next'); consentGateway.track('x'); }")
    page.goto(live_server.url + "/shop")
    page.wait_for_timeout(300)
    assert sent == []
    live_server.stop()
    assert stored_events(tmp_path) == []


def test_a_returning_visitor_with_consent_sends_the_pageview_on_load(
    page: Page, live_server: LiveServer
) -> None:
    open_site(page, live_server.url + "/")
    with page.expect_response(lambda r: COLLECT in r.url):
        page.get_by_role("button", name="Accept all").click()
    with page.expect_response(lambda r: COLLECT in r.url) as again:
        page.goto(live_server.url + "/shop")
    assert again.value.header_value("x-consent-dropped") is None


def test_snippet_mode_pageviews_from_another_origin_are_stored(
    browser: Browser, tmp_path: Path
) -> None:
    gateway = LiveServer(tmp_path)
    page_html = f"""<!doctype html><html lang="en"><head><title>Elsewhere</title>
<script src="{gateway.url.replace('127.0.0.1', 'localhost')}/_consent/consent.js"
 data-site="demo"></script></head><body><h1>A site not behind the gateway</h1></body></html>"""
    with static_site(page_html) as origin:
        gateway.env["GATEWAY_SITES_DEMO_ORIGINS"] = origin
        gateway.start()
        context = browser.new_context(user_agent=CHROME_UA)
        tab = context.new_page()
        try:
            tab.goto(origin + "/landing")
            with tab.expect_response(lambda r: COLLECT in r.url) as first:
                tab.get_by_role("button", name="Accept all").click()
            assert first.value.header_value("x-consent-dropped") is None
            with tab.expect_response(lambda r: COLLECT in r.url
                                     and '"pageview"' in (r.request.post_data or "")) as second:
                tab.reload()  # the consent now comes from the first-party token
            assert second.value.header_value("x-consent-dropped") is None
        finally:
            context.close()
            gateway.stop()
    # Leaving the page for the reload (and closing the tab) ends its time on page: a
    # pagehide too, whose beacon may arrive after the new page's.
    stored = stored_events(tmp_path)
    assert [e for e in stored if e[0] == "pageview"] == [("pageview", "/landing", "")] * 2
    assert ("pagehide", "/landing", "") in stored


def test_leaving_a_page_sends_a_pagehide_and_a_search_page_keeps_its_term(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    """The example config names `q` as the demo site's search parameter."""
    open_site(page, live_server.url + "/?q=Red%20%20Shoes&page=2")
    with page.expect_response(lambda r: COLLECT in r.url):
        page.get_by_role("button", name="Accept all").click()
    with page.expect_response(lambda r: COLLECT in r.url
                              and '"pageview"' in (r.request.post_data or "")):
        page.goto(live_server.url + "/shop")  # leaving "/" sends its pagehide
    page.wait_for_timeout(500)
    live_server.stop()
    db = sqlite3.connect(tmp_path / "gateway.sqlite3")
    rows = db.execute("SELECT type, path, search FROM analytics_events ORDER BY ts, id").fetchall()
    visits = db.execute("SELECT pageviews, events, page_times FROM visits").fetchall()
    db.close()
    assert sorted(rows) == [("pagehide", "/", ""), ("pageview", "/", "red shoes"),
                            ("pageview", "/shop", "")]
    ((pageviews, events, page_times),) = visits
    assert (pageviews, events) == (2, 0)
    assert list(json.loads(page_times)) == ["/"]  # its time ended; /shop's is still open
