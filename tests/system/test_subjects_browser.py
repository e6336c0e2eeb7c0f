"""Visitors' rights in a real Chromium against a real `consent-gateway serve`: a visitor
downloads exactly their own data through the banner's link, erases it from the preferences
page, and the admin sees the erasure (over HTTP: tests/web/test_subjects.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from gateway.core.consent.banner import OWN_DATA_TEXTS
from gateway.web.admin import new_admin_token
from tests.conftest import LiveServer
from tests.support.browser import chromium
from tests.web.test_collect import CHROME_UA, TOKEN_ATTR, beacon
from tests.web.test_subjects import SUBJECTS, bearer


@pytest.fixture
def admin_token() -> tuple[str, str]:
    return new_admin_token()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def admin_server(tmp_path: Path, admin_token: tuple[str, str]) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path, env={"GATEWAY_ADMIN_TOKEN_HASHES": admin_token[1]})
    yield server.start()
    server.stop()


def another_visitors_events(server: LiveServer) -> str:
    """Someone else accepts and is measured, so "exactly their own" means something."""
    with httpx.Client(base_url=server.url, headers={"User-Agent": CHROME_UA}) as other:
        consent_id = other.post("/_consent/consent", json={"action": "accept_all"}).json()[
            "consent_id"]
        found = TOKEN_ATTR.search(other.get("/").text)
        assert found
        for path in ("/other/1", "/other/2"):
            body = beacon(found.group(1), url=f"{server.url}{path}")
            response = other.post("/_consent/collect", content=json.dumps(body))
            assert "x-consent-dropped" not in response.headers, response.text
    return str(consent_id)


def download_my_data(page: Page) -> dict[str, Any]:
    """Through the link in the banner's second layer, as the visitor would."""
    page.get_by_role("button", name="Cookie settings").click()
    link = page.get_by_role("dialog").get_by_role("link", name="Download my data")
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.startswith("my-data-demo-")
    document: dict[str, Any] = json.loads(Path(download.path()).read_text("utf-8"))
    return document


@pytest.mark.browser
def test_in_chromium_a_visitor_downloads_their_own_data_then_erases_it(
    browser: Browser, admin_server: LiveServer, admin_token: tuple[str, str]
) -> None:
    other_id = another_visitors_events(admin_server)
    context = browser.new_context(user_agent=CHROME_UA, accept_downloads=True,
                                  extra_http_headers={"Accept-Language": "en"})
    page = context.new_page()
    try:
        page.goto(admin_server.url + "/")
        page.get_by_role("dialog").wait_for()
        with page.expect_response(lambda r: "/_consent/collect" in r.url) as pageview:
            page.get_by_role("button", name="Accept all").click()
        assert pageview.value.status == 202
        assert pageview.value.header_value("x-consent-dropped") is None
        page.get_by_role("dialog").wait_for(state="hidden")

        document = download_my_data(page)
        consent_id = document["consent_id"]
        assert consent_id and consent_id != other_id
        assert [e["path"] for e in document["analytics_events"]] == ["/"]
        assert [(r["consent_id"], r["action"], r["source"])
                for r in document["consent_history"]] == [(consent_id, "accept_all", "banner")]
        assert other_id not in json.dumps(document)

        page.get_by_role("dialog").get_by_role("link", name="Erase my data").click()
        page.wait_for_url("**/_consent/preferences*")
        assert page.locator("code").inner_text() == consent_id  # to quote when writing in
        page.get_by_role("button", name="Erase my data").click()
        page.get_by_role("status").wait_for()
        assert page.get_by_role("status").inner_text() == OWN_DATA_TEXTS["en"]["erased"]
        page.goto(admin_server.url + "/")  # the preferences page's CSP allows no fetch
        after: dict[str, Any] = page.evaluate(
            "() => fetch('/_consent/me').then((response) => response.json())")
    finally:
        context.close()
    assert after["analytics_events"] == [] and after["consent_history"] == []
    with httpx.Client(base_url=admin_server.url, headers=bearer(admin_token)) as admin:
        export = admin.get(f"{SUBJECTS}/{consent_id}").json()
        others = admin.get(f"{SUBJECTS}/{other_id}").json()
    assert export["analytics_events"] == []
    assert [r["action"] for r in export["consent_history"]] == ["accept_all", "erase"]
    assert export["consent_history"][-1]["source"] == "preferences"
    assert [e["path"] for e in others["analytics_events"]] == ["/other/1", "/other/2"]
