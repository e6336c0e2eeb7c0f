"""Shared by the browser tests: Chromium from Debian driven by Playwright, and a second
origin serving a page that embeds the snippet."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


@contextmanager
def chromium(*extra_args: str) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs it (apt-get install chromium)")
    playwright: Playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


def logged_actions(tmp_path: Path) -> list[tuple[str, str, str]]:
    """(action, source, granted) of every consent record, in order."""
    conn = sqlite3.connect(tmp_path / "gateway.sqlite3")
    rows = conn.execute("SELECT action, source, granted FROM consent_log ORDER BY seq").fetchall()
    conn.close()
    return [(str(a), str(s), str(g)) for a, s, g in rows]


def logged_columns(tmp_path: Path, *columns: str) -> list[tuple[str, ...]]:
    """The given columns of every consent record, as text, in order."""
    conn = sqlite3.connect(tmp_path / "gateway.sqlite3")
    query = f"SELECT {', '.join(columns)} FROM consent_log ORDER BY seq"
    rows = conn.execute(query).fetchall()
    conn.close()
    return [tuple(str(value) for value in row) for row in rows]


@contextmanager
def static_site(html: str) -> Iterator[str]:
    """Another origin (its own port) serving one page, as a site using the snippet would."""
    body = html.encode("utf-8")

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Page) as url:
        yield url


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server on a free local port answering with `handler`; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
