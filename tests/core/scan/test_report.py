"""A consent scan as a table, as JSON and as an HTML page (gateway/core/scan/report.py,
htmlreport.py), with hostile names from the scanned site."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from gateway.core.scan.findings import Observation, PageSeen, ScanReport
from gateway.core.scan.htmlreport import STYLESHEET, report_html
from gateway.core.scan.report import report_from_json, report_json, report_text
from tests.core.scan.scans import SITE, cookie, scan

HOSTILE = "<script>alert(1)</script>"
HOTJAR = ("https://static.hotjar.com/c/hotjar-1234567.js?sv=6", "script")


def full_scan() -> ScanReport:
    origin = "https://www.fietsen.example"
    return scan(
        Observation("before", requests=(HOTJAR,), cookies=(cookie("sessionid"),),
                    storage=((origin, "cart-draft"),)),
        Observation("rejected", cookies=(cookie("consent", http_only=True, expires=1.8e9),)),
        Observation("accepted", requests=(HOTJAR,), cookies=(cookie("_ga", expires=1.8e9),)),
        pages=(PageSeen(SITE, "Fietsen"), PageSeen(SITE + "winkel", "Winkel")),
    )


def test_the_json_has_the_three_moments_and_the_verdict() -> None:
    document = json.loads(json.dumps(report_json(full_scan())))
    assert set(document["moments"]) == {"before", "rejected", "accepted"}
    assert document["passed"] is False
    assert document["problems"] == [{"moment": "before", "kind": "request",
                                     "name": "static.hotjar.com", "category": "analytics"}]
    assert document["moments"]["rejected"]["cookies"][0]["http_only"] is True
    assert document["moments"]["before"]["local_storage"] == [
        {"origin": "https://www.fietsen.example", "key": "cart-draft", "category": "unknown"}]


def test_a_site_without_our_banner_has_only_the_moment_before_a_decision() -> None:
    document = report_json(scan(Observation("before"), banner=False))
    assert document["banner"] is False
    assert document["moments"]["rejected"] is None
    assert document["moments"]["accepted"] is None
    assert "no banner found" in report_text(scan(Observation("before"), banner=False))


def test_the_json_reads_back_as_the_same_report() -> None:
    report = full_scan()
    assert report_from_json(json.loads(json.dumps(report_json(report)))) == report


@pytest.mark.parametrize("document", [
    {}, [], {"format": "something-else/1"}, {"format": "consent-gateway-scan/1", "url": "x"},
])
def test_anything_else_is_refused_as_a_scan_report(document: object) -> None:
    with pytest.raises(ValueError, match="scan"):
        report_from_json(document)


def test_the_table_names_each_moment_and_ends_with_the_verdict() -> None:
    text = report_text(full_scan())
    assert text.index("Before any decision") < text.index('After "Reject all"') \
        < text.index('After "Accept all"')
    assert "static.hotjar.com  analytics  Hotjar" in text
    assert text.rstrip().splitlines()[-2:] == [
        "FAILED: 1 thing not necessary happened before a decision or after a refusal:",
        "  before any decision: request to static.hotjar.com (analytics)"]


def test_a_passing_scan_says_so() -> None:
    text = report_text(scan(Observation("before"), Observation("rejected"),
                            Observation("accepted")))
    assert text.rstrip().endswith("PASSED: nothing but necessary cookies and requests before "
                                  "a decision and after a refusal.")


def test_control_characters_from_the_site_never_reach_the_terminal() -> None:
    report = scan(Observation("before", cookies=(cookie("evil\x1b[2J\x07name"),)),
                  pages=(PageSeen(SITE + "\x1b]0;owned\x07", "t"),))
    text = report_text(report)
    assert "\x1b" not in text and "\x07" not in text
    assert "evil?[2J?name" in text


def test_the_html_report_escapes_everything_the_site_supplied() -> None:
    report = scan(
        Observation("before", requests=((f"https://x.example/{HOSTILE}", "script"),),
                    cookies=(cookie(HOSTILE),), storage=(("https://www.fietsen.example",
                                                          '"><img src=x onerror=alert(1)>'),)),
        pages=(PageSeen(SITE, HOSTILE),))
    page = report_html(report)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_html_report_is_dated_self_contained_and_allows_only_its_stylesheet() -> None:
    page = report_html(full_scan())
    assert "2026-11-21 12:00 UTC" in page
    assert not re.search(r"(src|href)=", page)
    digest = base64.b64encode(hashlib.sha256(STYLESHEET.encode()).digest()).decode()
    assert f"default-src &#x27;none&#x27;; style-src &#x27;sha256-{digest}&#x27;" in page
    assert f"<style>{STYLESHEET}</style>" in page


def test_the_html_report_marks_what_failed() -> None:
    page = report_html(full_scan())
    assert page.count('<tr class="bad">') == 1
    assert "FAILED: 1 thing not necessary" in page
