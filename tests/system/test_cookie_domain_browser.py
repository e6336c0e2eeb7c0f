"""One decision for a whole domain in a real Chromium (issue 20): `www.example.test` and
`blog.example.test` (two sites behind one gateway, `consent.cookie_domain =
"example.test"`; Chromium resolves both to the live server) share the visitor's decision,
and a withdrawal on one is seen on the other."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer
from tests.support.browser import chromium
from tests.web.test_cookie_domain import BLOG, WWW, hosts_logged, start, two_sites

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start(tmp_path, two_sites(tmp_path))
    yield live
    live.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium("--host-resolver-rules=MAP *.example.test 127.0.0.1") as browser:
        yield browser


def test_two_hosts_share_a_decision_and_a_withdrawal(
    browser: Browser, server: LiveServer, tmp_path: Path
) -> None:
    context = browser.new_context(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
    www, blog = context.new_page(), context.new_page()
    www.goto(f"http://{WWW}:{server.port}/")
    www.get_by_role("dialog").get_by_role("button", name="Accept all").click()
    expect(www.get_by_role("dialog")).to_be_hidden()
    cookie = next(c for c in context.cookies() if c["name"] == "consent")
    assert cookie["domain"] == ".example.test"

    blog.goto(f"http://{BLOG}:{server.port}/")
    blog.wait_for_function("() => document.querySelector('.cg-reopen') !== null")
    expect(blog.get_by_role("dialog")).to_be_hidden()  # already decided on www
    assert blog.evaluate("() => window.consentGateway.get().analytics") is True
    blog.locator(".cg-reopen").click()
    blog.get_by_role("dialog").get_by_role("button", name="Withdraw consent").click()
    expect(blog.get_by_role("dialog")).to_be_hidden()

    www.reload()
    www.wait_for_function("() => window.consentGateway && window.consentGateway.get()")
    assert www.evaluate("() => window.consentGateway.get()") == {
        "necessary": True, "preferences": False, "analytics": False, "marketing": False}
    context.close()
    assert hosts_logged(tmp_path) == [("accept_all", "demo", WWW), ("withdraw", "blog", BLOG)]
