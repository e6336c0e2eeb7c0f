"""What the scan tests classify with: a few rules and known cookies written down here, so
each verdict can be checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from gateway.core.enforcement.cookies import CookieClassifier
from gateway.core.enforcement.knowncookies import KnownCookie
from gateway.core.enforcement.rules import BlockRule, BlockRules
from gateway.core.scan.findings import (
    BrowserCookie,
    BrowserScan,
    Observation,
    PageSeen,
    ScanClassifiers,
    ScanReport,
    build_report,
)

SITE: Final = "https://www.fietsen.example/"
SCANNED_AT: Final = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CLASSIFIERS: Final = ScanClassifiers(
    cookie=CookieClassifier(
        [("sessionid", "necessary"), ("_ga*", "analytics")],
        database=[KnownCookie("_hjid", "analytics", platform="Hotjar"),
                  KnownCookie("theme", "preferences")],
    ).classify,
    rules=BlockRules([
        BlockRule("hotjar.com", "analytics", service="Hotjar"),
        BlockRule("recaptcha.net", "necessary", urls=("www.google.com/recaptcha/*",),
                  service="Google reCAPTCHA"),
        BlockRule("", "analytics", paths=("*/matomo.js",), service="Matomo"),
    ]),
    own_cookies=frozenset({"consent", "__Host-consent"}),
)


def cookie(name: str, *, domain: str = "www.fietsen.example", expires: float | None = None,
           http_only: bool = False) -> BrowserCookie:
    return BrowserCookie(name, domain, "/", http_only, expires)


def scan(*observations: Observation, banner: bool = True,
         pages: tuple[PageSeen, ...] = (PageSeen(SITE, "Fietsen"),)) -> ScanReport:
    return build_report(BrowserScan(SITE, pages, banner, observations), CLASSIFIERS,
                        scanned_at=SCANNED_AT)
