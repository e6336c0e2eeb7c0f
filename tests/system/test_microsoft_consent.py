"""Microsoft's consent signals next to Google's: on a page that uses UET and Clarity,
consent.js queues `uetq.push('consent', 'update', …)` and `clarity('consentv2', …)` on every
decision, for the scripts to read once they are allowed to load."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from playwright.sync_api import Route

from tests.conftest import LiveServer
from tests.support.browser import chromium, serving

PAGE = b"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>shop</title>
<script>
(function (w, d, t, r, u) { w[u] = w[u] || []; var n = d.createElement(t);
  n.src = "https://bat.bing.com/bat.js"; n.async = 1; d.head.appendChild(n); })
(window, document, "script", "https://bat.bing.com/bat.js", "uetq");
</script>
<script async src="https://www.clarity.ms/tag/abcdef1234"></script>
</head><body><h1>Shop</h1></body></html>"""


class Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[LiveServer]:
    with serving(Site) as upstream:
        server = LiveServer(tmp_path, "--upstream", upstream).start()
        yield server
        server.stop()


def third_parties_aborted(route: Route) -> None:
    if route.request.url.startswith("http://127.0.0.1"):
        route.continue_()
    else:
        route.abort()


@pytest.mark.browser
@pytest.mark.parametrize(("button", "ad", "analytics"), [
    ("Accept all", "granted", "granted"), ("Reject all", "denied", "denied")])
def test_each_decision_is_queued_for_uet_and_clarity(
    gateway: LiveServer, button: str, ad: str, analytics: str
) -> None:
    with chromium() as browser:
        context = browser.new_context(locale="en-GB")
        context.route("**/*", third_parties_aborted)
        page = context.new_page()
        page.goto(gateway.url + "/")
        assert page.evaluate("() => window.uetq === undefined || window.uetq.length === 0")
        page.get_by_role("button", name=button).click()
        page.wait_for_function("() => window.clarity && window.clarity.q")
        uet = page.evaluate("() => Array.from(window.uetq)")
        clarity = page.evaluate("() => window.clarity.q.map((a) => Array.from(a))")
        context.close()
    assert uet[-3:] == ["consent", "update", {"ad_storage": ad}]
    assert clarity[-1] == ["consentv2", {"ad_Storage": ad, "analytics_Storage": analytics}]
