"""Consent enforced at the HTTP layer for any backend: a real upstream behind a real gateway,
checked over HTTP and in a real Chromium."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import LiveServer, free_port
from tests.support.browser import chromium, logged_actions
from tests.support.sample_site import blocking_rules, sample_site


@pytest.fixture
def upstream_port() -> Iterator[int]:
    with sample_site() as port:
        yield port


@pytest.fixture
def gateway(tmp_path: Path, upstream_port: int) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path, "--upstream", f"http://127.0.0.1:{upstream_port}",
                        env={"GATEWAY_BLOCKING_RULES": blocking_rules(upstream_port)}).start()
    yield server
    server.stop()


def cookie_names(response: httpx.Response) -> list[str]:
    return sorted(v.split("=")[0] for v in response.headers.get_list("set-cookie"))


@pytest.mark.parametrize("path", ["/", "/gz", "/br"])
def test_trackers_are_held_back_in_plain_gzip_and_brotli_pages(
    gateway: LiveServer, upstream_port: int, path: str
) -> None:
    response = httpx.get(gateway.url + path, headers={"Accept-Encoding": "gzip, br"})
    assert response.status_code == 200
    # Decoded to be rewritten, then compressed again for this browser (httpx undoes it).
    assert response.headers["content-encoding"] == "br"
    page = response.text
    assert ('<script type="text/plain" data-consent-category="analytics" async '
            f'src="http://analytics.localhost:{upstream_port}/gtag/js?id=G-TEST123">') in page
    assert page.count('<script type="text/plain" data-consent-category="analytics">') == 1
    assert '<script type="text/plain" data-consent-category="marketing">' in page  # fbq(
    assert '<script src="/app.js"></script>' in page  # own scripts untouched
    assert f'data-src="http://video.localhost:{upstream_port}/embed/abc"' in page
    assert 'data-consent-placeholder="marketing"' in page
    assert 'id="consent-gateway"' in page
    assert cookie_names(response) == ["sessionid"]


def test_after_accepting_analytics_its_tag_and_cookies_pass(
    gateway: LiveServer, upstream_port: int
) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        client.post("/_consent/consent", json={"action": "custom",
                                               "categories": {"analytics": True}})
        response = client.get("/")
        assert cookie_names(response) == ["_ga", "_ga_HTTPONLY", "sessionid"]
        page = response.text
        assert (f'<script async src="http://analytics.localhost:{upstream_port}/gtag/js?'
                f'id=G-TEST123"></script>') in page
        assert 'data-consent-category="analytics"' not in page
        assert 'data-consent-category="marketing"' in page


def test_the_gateway_adds_its_nonce_to_the_sites_csp(gateway: LiveServer) -> None:
    response = httpx.get(gateway.url + "/csp")
    policy = response.headers["content-security-policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert policy.count(f"'nonce-{nonce}'") == 2  # script-src and style-src
    assert f'id="consent-gateway" nonce="{nonce}"' in response.text


def test_the_cookie_inventory_records_what_the_upstream_sets(
    tmp_path: Path, gateway: LiveServer
) -> None:
    httpx.get(gateway.url + "/")
    httpx.get(gateway.url + "/gz")
    gateway.stop()  # shutdown flushes the inventory
    conn = sqlite3.connect(tmp_path / "gateway.sqlite3")
    rows = conn.execute(
        "SELECT name, category, count, http_only FROM cookie_inventory ORDER BY name").fetchall()
    conn.close()
    assert rows == [("_fbp", "marketing", 2, 0), ("_ga", "analytics", 2, 0),
                    ("_ga_HTTPONLY", "analytics", 2, 1), ("sessionid", "necessary", 2, 1)]


def test_websockets_pass_through(gateway: LiveServer) -> None:
    async def talk() -> str:
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(gateway.url.replace("http", "ws") + "/ws") as ws:
            await ws.send_str("hello")
            message = await ws.receive(timeout=5)
            return str(message.data)

    assert asyncio.run(talk()) == "echo: hello"


def test_a_stopped_upstream_gives_502_within_a_second(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, "--upstream", f"http://127.0.0.1:{free_port()}").start()
    try:
        started = time.monotonic()
        response = httpx.get(server.url + "/")
        elapsed = time.monotonic() - started
        assert response.status_code == 502 and elapsed < 1.0
        assert httpx.get(server.url + "/_consent/state").status_code == 200
    finally:
        server.stop()


# ------------------------------------------------------------------------- in Chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(extra_http_headers={"Accept-Language": "en"})
    tab = context.new_page()
    yield tab
    context.close()


def names_in(page: Page) -> set[str]:
    return {c["name"] for c in page.context.cookies()}


@pytest.mark.browser
def test_a_visitors_choice_holds_for_the_upstream_site(
    page: Page, gateway: LiveServer, tmp_path: Path
) -> None:
    page.goto(gateway.url + "/")
    expect(page.get_by_role("dialog")).to_be_visible()
    assert page.evaluate("window.appRan") is True  # the site's own script runs
    assert page.evaluate("window.analyticsTagRan") is None
    assert page.evaluate("window.gtagConfigRan") is None
    assert page.evaluate("window.fbqRan") is None
    assert not {"_ga", "_ga_HTTPONLY", "_fbp"} & names_in(page)
    page.reload()
    expect(page.locator("#session")).to_have_text("session: s3ss10n")  # session cookie works

    page.get_by_role("button", name="Settings").click()
    page.locator("#cg-cat-analytics").check()
    page.get_by_role("button", name="Save choices").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.wait_for_function("window.analyticsTagRan === true")  # no reload needed
    assert page.evaluate("window.gtagConfigRan") is True
    assert page.evaluate("window.fbqRan") is None
    assert "_ga" in names_in(page) and "_fbp" not in names_in(page)
    page.reload()
    assert {"_ga", "_ga_HTTPONLY"} <= names_in(page) and "_fbp" not in names_in(page)

    page.get_by_role("button", name="Cookie settings").click()
    page.get_by_role("button", name="Withdraw consent").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert not {name for name in names_in(page) if name.startswith("_ga")}
    assert "sessionid" in names_in(page)
    assert [a for a, _, _ in logged_actions(tmp_path)] == ["custom", "withdraw"]


@pytest.mark.browser
def test_a_held_back_video_can_be_loaded_once_or_allowed(
    page: Page, gateway: LiveServer, upstream_port: int, tmp_path: Path
) -> None:
    page.goto(gateway.url + "/")
    frame = page.locator("iframe[title='Product video']")
    expect(frame).not_to_have_attribute("src", f"http://video.localhost:{upstream_port}/embed/abc")
    placeholder = page.locator("[data-consent-placeholder='marketing']")
    expect(placeholder).to_contain_text("video.localhost")
    placeholder.get_by_role("button", name="Load once").click()
    expect(frame).to_have_attribute("src", f"http://video.localhost:{upstream_port}/embed/abc")
    expect(placeholder).to_have_count(0)
    assert logged_actions(tmp_path) == []  # loading once decides nothing
    page.reload()
    page.get_by_role("button", name="Always allow Marketing").click()
    expect(frame).to_have_attribute("src", f"http://video.localhost:{upstream_port}/embed/abc")
    assert logged_actions(tmp_path)[-1][2] == '["necessary", "marketing"]'


@pytest.mark.browser
def test_the_banner_works_under_the_sites_own_csp(page: Page, gateway: LiveServer) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if "Content Security" in m.text else None)
    page.goto(gateway.url + "/csp")
    expect(page.get_by_role("dialog")).to_be_visible()
    assert not [e for e in errors if "consent" in e]
