"""Headless Chromium over a site for `consent-gateway scan` (adapter), and the last scan's
file for the dashboard.

Playwright is an optional extra (`pip install 'consent-gateway[scan]'`) and is imported only
when a scan runs, so the gateway itself runs without it. The browser is the system's
Chromium (`/usr/bin/chromium`) when there is one, else Playwright's own download.

Each moment gets a fresh browser profile, a visitor who has never been on the site:

1. before any decision: the start page and up to `pages` more pages of the same origin,
   found by following links in document order (not the gateway's own `/_consent/` pages,
   nor `download` links); whether our banner is there;
2. after "Reject all": the start page, a click on the banner's `data-cg-action="reject_all"`
   button, then every page of step 1 again;
3. after "Accept all": the same with `accept_all`.

Without our banner only step 1 is recorded. Recorded at each moment: every request the
browser attempts (those of step 2 and 3 from the click on), `<link rel=preconnect|
dns-prefetch>` hints in the pages (the browser connects to those hosts without a request
event), the cookie jar at the end, and the pages' `localStorage` keys. Service workers are
blocked, so every request a page makes is seen.

Third-party requests go out as they would for a visitor: a real scan must see what those
scripts do next. `offline_third_parties` records and then aborts them instead (nothing
leaves the machine for another site: for tests, and for CI without network).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urldefrag, urlsplit

from gateway.core.errors import ScanError
from gateway.core.scan.findings import (
    BrowserCookie,
    BrowserScan,
    Moment,
    Observation,
    PageSeen,
    ScanReport,
    is_third_party,
)
from gateway.core.scan.report import report_from_json, report_json

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright, Request, Response, Route

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
)
BUTTONS: Final[dict[Moment, str]] = {
    "rejected": '[data-cg-action="reject_all"]',
    "accepted": '[data-cg-action="accept_all"]',
}
PAGE_TIMEOUT_MS: Final = 30_000
# After `load`, wait until the network has been quiet for 500 ms, but no longer than this.
SETTLE_MS: Final = 5_000
BANNER_TIMEOUT_MS: Final = 10_000
LAST_SCAN: Final = "last-scan.json"
_PAGE_FACTS: Final = """() => {
  let keys = [];
  try { keys = Object.keys(window.localStorage); } catch (e) { /* opaque origin */ }
  const hints = Array.from(document.querySelectorAll("link[href]"))
    .filter((l) => /(^|\\s)(preconnect|dns-prefetch)(\\s|$)/i.test(l.rel)).map((l) => l.href);
  return [location.origin, keys, hints];
}"""


@dataclass(frozen=True, slots=True)
class ScanOptions:
    pages: int = 5  # pages besides the start page
    offline_third_parties: bool = False
    consent_prefix: str = "/_consent"  # the gateway's own pages, never crawled


def scan_site(url: str, options: ScanOptions) -> BrowserScan:
    """`ScanError` when Playwright or Chromium is missing or the start page does not load."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        raise ScanError("the scan needs Playwright: pip install 'consent-gateway[scan]'") \
            from None
    with sync_playwright() as playwright:
        browser = _launch(playwright, Error)
        try:
            return _Scan(browser, url, options, Error).run()
        finally:
            browser.close()


def _launch(playwright: Playwright, error: type[Exception]) -> Browser:
    executable = str(CHROMIUM) if CHROMIUM.exists() else None
    if executable is None and not Path(playwright.chromium.executable_path).exists():
        raise ScanError("no Chromium found: install the system's (apt-get install chromium) "
                        "or Playwright's (python -m playwright install chromium)")
    try:
        return playwright.chromium.launch(executable_path=executable, headless=True,
                                          args=list(CHROMIUM_ARGS))
    except error as exc:
        raise ScanError(f"Chromium did not start: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class _Scan:
    def __init__(self, browser: Browser, url: str, options: ScanOptions,
                 error: type[Exception]) -> None:
        self.browser = browser
        self.url = url
        self.options = options
        self.error = error
        self.site_host = urlsplit(url).hostname or ""
        # A desktop Chrome's user agent: some sites turn "HeadlessChrome" away.
        self.user_agent = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
                           f"Gecko) Chrome/{browser.version} Safari/537.36")

    def run(self) -> BrowserScan:
        with self._visitor() as visitor:
            pages, banner = self._crawl(visitor)
            observations = [visitor.observation("before")]
        if banner:
            observations += [self._after(moment, pages) for moment in BUTTONS]
        return BrowserScan(self.url, tuple(pages), banner, tuple(observations))

    @contextmanager
    def _visitor(self) -> Iterator[_Visitor]:
        visitor = _Visitor(self, offline=self.options.offline_third_parties)
        try:
            yield visitor
        finally:
            visitor.context.close()

    def _crawl(self, visitor: _Visitor) -> tuple[list[PageSeen], bool]:
        start = visitor.visit(self.url)
        if start is None:
            raise ScanError(f"{self.url} did not load: {visitor.failure}")
        if visitor.status >= 400:
            raise ScanError(f"{self.url} answered HTTP {visitor.status}")
        banner = visitor.page.locator(BUTTONS["rejected"]).count() > 0
        pages, seen = [start], {urldefrag(self.url).url, urldefrag(start.url).url}
        origin = _origin(start.url)
        queue = deque(visitor.links())
        while queue and len(pages) <= self.options.pages:
            link = urldefrag(queue.popleft()).url
            if link in seen or _origin(link) != origin or self._own_page(link):
                continue
            seen.add(link)
            page = visitor.visit(link)
            if page is not None and visitor.status < 400:  # an error page is no page
                pages.append(page)
                queue.extend(visitor.links())
        return pages, banner

    def _own_page(self, url: str) -> bool:
        path = urlsplit(url).path
        prefix = self.options.consent_prefix.rstrip("/")
        return path == prefix or path.startswith(prefix + "/")

    def _after(self, moment: Moment, pages: list[PageSeen]) -> Observation:
        with self._visitor() as visitor:
            if visitor.visit(pages[0].url) is None:
                raise ScanError(f"{pages[0].url} did not load again: {visitor.failure}")
            visitor.decide(BUTTONS[moment])
            for page in pages:
                visitor.visit(page.url)
            return visitor.observation(moment)


class _Visitor:
    """One fresh browser profile, recording what it does."""

    def __init__(self, scan: _Scan, *, offline: bool) -> None:
        self.error = scan.error
        self.site_host = scan.site_host
        self.context = scan.browser.new_context(user_agent=scan.user_agent,
                                                service_workers="block")
        self.requests: list[tuple[str, str]] = []
        self.storage: set[tuple[str, str]] = set()
        self.status = 0
        self.failure = ""
        self.context.on("request", self._note_request)
        if offline:
            self.context.route("**/*", self._offline)
        self.page: Page = self.context.new_page()

    def _note_request(self, request: Request) -> None:
        self.requests.append((request.url, request.resource_type))

    def _offline(self, route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host and is_third_party(host, self.site_host):
            route.abort("blockedbyclient")
        else:
            route.continue_()

    def visit(self, url: str) -> PageSeen | None:
        """The page as loaded and settled; None (and `failure`) when it did not load."""
        try:
            response = self.page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        except self.error as exc:
            self.failure = _first_line(exc)
            return None
        self.status = response.status if response is not None else 0
        self._settle()
        try:
            origin, keys, hints = self.page.evaluate(_PAGE_FACTS)
            title = self.page.title()
        except self.error:  # the page navigated away meanwhile
            return PageSeen(self.page.url, "")
        self.storage.update((str(origin), str(key)) for key in keys)
        self.requests.extend((str(hint), "preconnect") for hint in hints)
        return PageSeen(self.page.url, title)

    def _settle(self) -> None:
        # A page that never falls quiet (polling, streaming) is taken as it is.
        with suppress(self.error):
            self.page.wait_for_load_state("networkidle", timeout=SETTLE_MS)

    def links(self) -> list[str]:
        try:
            found = self.page.eval_on_selector_all("a[href]:not([download])",
                                                   "(links) => links.map((a) => a.href)")
        except self.error:
            return []
        return [str(url) for url in found if str(url).startswith(("http://", "https://"))]

    def decide(self, selector: str) -> None:
        """Click the banner's button and wait for the gateway's answer; what the browser
        did before the click belongs to the moment before a decision."""
        button = self.page.locator(selector).first
        try:
            button.wait_for(state="visible", timeout=BANNER_TIMEOUT_MS)
            self.requests.clear()
            with self.page.expect_response(_is_decision, timeout=BANNER_TIMEOUT_MS) as answer:
                button.click()
        except self.error as exc:
            raise ScanError(f"the banner's button {selector} did not record a decision: "
                            f"{_first_line(exc)}") from None
        if not answer.value.ok:
            raise ScanError(f"the gateway refused the decision: HTTP {answer.value.status}")
        self._settle()

    def observation(self, moment: Moment) -> Observation:
        cookies = tuple(
            BrowserCookie(str(c.get("name", "")), str(c.get("domain", "")),
                          str(c.get("path", "/")), bool(c.get("httpOnly", False)),
                          _expiry(c.get("expires")))
            for c in self.context.cookies()
        )
        return Observation(moment, tuple(self.requests), cookies, tuple(sorted(self.storage)))


def _expiry(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and value >= 0 else None


def _is_decision(response: Response) -> bool:
    return response.request.method == "POST" and urlsplit(response.url).path.endswith(
        "/consent")


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


# ------------------------------------------------------------------ the last scan's file


def last_scan_path(storage_path: str) -> Path:
    """Next to the database file, where the dashboard looks."""
    return Path(storage_path).parent / LAST_SCAN


def save_last_scan(storage_path: str, report: ScanReport) -> Path:
    """Written whole or not at all (a temporary file renamed)."""
    path = last_scan_path(storage_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".last-scan-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(report_json(report), out, indent=2, ensure_ascii=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read_last_scan(storage_path: str) -> ScanReport | None:
    """None when no scan was saved, or the file cannot be read as one."""
    try:
        text = last_scan_path(storage_path).read_text(encoding="utf-8")
        return report_from_json(json.loads(text))
    except (OSError, ValueError):
        return None

