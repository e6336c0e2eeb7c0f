"""A consent scan as one self-contained HTML page a site owner can keep (pure): dated, no
script, no external asset; its own Content-Security-Policy allows only its stylesheet (by
hash), so even a mistake in escaping could not run anything.

Every value comes from the scanned site (titles, cookie names, storage keys, URLs) and is
hostile input: each goes through `escape`, attribute-safe.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape
from typing import Final

from gateway.core.scan.findings import JUDGED, MomentFindings, ScanReport, moment_problems
from gateway.core.scan.report import (
    MOMENT_TITLES,
    NO_BANNER,
    expiry,
    problem_text,
    verdict_lines,
)
from gateway.core.version import __version__

STYLESHEET: Final = (
    "body{font:15px/1.5 system-ui,sans-serif;color:#1b1f24;max-width:72rem;margin:2rem auto;"
    "padding:0 1rem}h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}"
    "h3{font-size:1rem}table{border-collapse:collapse;width:100%;margin:.5rem 0}"
    "th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #d0d7de;"
    "vertical-align:top;overflow-wrap:anywhere}th{background:#f6f8fa}"
    ".verdict{padding:.75rem 1rem;border-radius:6px;font-weight:600}"
    ".passed{background:#dafbe1;color:#116329}.failed{background:#ffebe9;color:#a40e26}"
    ".bad td{background:#fff5f5}.cat{font-weight:600}.muted{color:#59636e}"
    "code{font:13px ui-monospace,monospace}"
)
_STYLE_HASH: Final = base64.b64encode(hashlib.sha256(STYLESHEET.encode()).digest()).decode()
CSP: Final = f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; " \
             "form-action 'none'"


def report_html(report: ScanReport) -> str:
    when = report.scanned_at.strftime("%Y-%m-%d %H:%M UTC")
    return "".join((
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Consent scan of {escape(report.url)}, {escape(when)}</title>"
        f"<style>{STYLESHEET}</style></head><body>",
        f"<h1>Consent scan of <code>{escape(report.url)}</code></h1>",
        f'<p class="muted">Scanned on <time datetime="{escape(report.scanned_at.isoformat())}">'
        f"{escape(when)}</time> by consent-gateway {escape(__version__)} in headless "
        "Chromium, each moment in a fresh browser profile.</p>",
        _verdict(report),
        _pages(report),
        "".join(_moment(found) for found in report.moments),
        "</body></html>\n",
    ))


def _verdict(report: ScanReport) -> str:
    headline = verdict_lines(report)[0]
    items = "".join(f"<li>{escape(problem_text(p))}</li>" for p in report.problems)
    kind = "passed" if report.passed else "failed"
    return (f'<p class="verdict {kind}">{escape(headline)}</p>'
            + (f"<ul>{items}</ul>" if items else ""))


def _pages(report: ScanReport) -> str:
    rows = [[f"<code>{escape(p.url)}</code>", escape(p.title)] for p in report.pages]
    banner = "" if report.banner else f'<p class="muted">{escape(NO_BANNER)}.</p>'
    return "<h2>Pages visited</h2>" + _table(("Page", "Title"), rows) + banner


def _moment(found: MomentFindings) -> str:
    judged = found.moment in JUDGED
    requests = [
        [f"<code>{escape(r.host)}</code>" + ("" if r.party == "third" else " (this site)"),
         _category(r.category), escape(r.service), str(r.count),
         f"<code>{escape(r.example)}</code>"]
        for r in found.requests
    ]
    cookies = [
        [f"<code>{escape(c.name)}</code>", escape(c.domain + c.path),
         "yes" if c.http_only else "no", escape(expiry(c)), _category(c.category),
         escape(c.source)]
        for c in found.cookies
    ]
    storage = [[escape(s.origin), f"<code>{escape(s.key)}</code>", _category(s.category)]
               for s in found.storage]
    bad = {(p.kind, p.name, p.category) for p in moment_problems(found)} if judged else set()
    return (
        f"<h2>{escape(MOMENT_TITLES[found.moment])}</h2>"
        "<h3>Third-party and tracker requests</h3>"
        + _table(("Host", "Category", "Service", "Requests", "First URL"), requests,
                 [("request", r.host, r.category) in bad for r in found.requests])
        + "<h3>Cookies</h3>"
        + _table(("Name", "Domain and path", "HttpOnly", "Expires", "Category", "From"),
                 cookies, [("cookie", c.name, c.category) in bad for c in found.cookies])
        + "<h3>localStorage keys</h3>"
        + _table(("Origin", "Key", "Category"), storage,
                 [("storage", s.key, s.category) in bad for s in found.storage])
    )


def _category(category: str) -> str:
    return f'<span class="cat">{escape(category)}</span>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]],
           bad: Sequence[bool] = ()) -> str:
    """`rows`: cells already escaped; `bad`: per row, whether to mark it."""
    if not rows:
        return '<p class="muted">None.</p>'
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join(
        ("<tr class=\"bad\">" if n < len(bad) and bad[n] else "<tr>")
        + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
        for n, row in enumerate(rows)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
