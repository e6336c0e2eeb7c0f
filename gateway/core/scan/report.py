"""A consent scan as a table for the terminal and as JSON for machines (pure), and the JSON
read back (the dashboard shows the last saved scan).

Everything here comes from the scanned site (page titles, cookie names, storage keys,
URLs): in the table, control characters are shown as `?` so a hostile name cannot move the
cursor or recolour the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from gateway.core.scan.findings import (
    MOMENTS,
    CookieFinding,
    Moment,
    MomentFindings,
    PageSeen,
    Problem,
    RequestFinding,
    ScanReport,
    StorageFinding,
)

JSON_FORMAT: Final = "consent-gateway-scan/1"
MOMENT_TITLES: Final[dict[Moment, str]] = {
    "before": "Before any decision",
    "rejected": 'After "Reject all"',
    "accepted": 'After "Accept all"',
}
KIND_WORDS: Final = {"request": "request to", "cookie": "cookie", "storage": "localStorage key"}
NO_BANNER: Final = ("no banner found: only what happens before any decision was recorded "
                    "(a site without the consent gateway's banner)")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CELL_CAP: Final = 70


# ------------------------------------------------------------------ JSON


def report_json(report: ScanReport) -> dict[str, Any]:
    by_moment = {m.moment: m for m in report.moments}
    return {
        "format": JSON_FORMAT,
        "url": report.url,
        "scanned_at": report.scanned_at.isoformat(),
        "passed": report.passed,
        "banner": report.banner,
        "pages": [{"url": p.url, "title": p.title} for p in report.pages],
        "moments": {m: _moment_json(by_moment[m]) if m in by_moment else None for m in MOMENTS},
        "problems": [{"moment": p.moment, "kind": p.kind, "name": p.name,
                      "category": p.category} for p in report.problems],
    }


def _moment_json(found: MomentFindings) -> dict[str, Any]:
    return {
        "requests": [{"host": r.host, "party": r.party, "category": r.category,
                      "service": r.service, "count": r.count, "example": r.example}
                     for r in found.requests],
        "cookies": [{"name": c.name, "domain": c.domain, "path": c.path,
                     "http_only": c.http_only,
                     "expires": c.expires.isoformat() if c.expires else None,
                     "category": c.category, "source": c.source} for c in found.cookies],
        "local_storage": [{"origin": s.origin, "key": s.key, "category": s.category}
                          for s in found.storage],
    }


def report_from_json(document: Any) -> ScanReport:
    """The report `report_json` made; ValueError for anything else (a file from another
    version, or damaged)."""
    try:
        if document["format"] != JSON_FORMAT:
            raise ValueError(f"not a {JSON_FORMAT} document")
        moments = tuple(_moment_from_json(m, document["moments"][m])
                        for m in MOMENTS if document["moments"].get(m) is not None)
        return ScanReport(
            url=str(document["url"]),
            scanned_at=datetime.fromisoformat(document["scanned_at"]),
            pages=tuple(PageSeen(str(p["url"]), str(p["title"])) for p in document["pages"]),
            banner=bool(document["banner"]),
            moments=moments,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a scan report: {exc!r}") from None


def _moment_from_json(moment: Moment, found: dict[str, Any]) -> MomentFindings:
    return MomentFindings(
        moment=moment,
        requests=tuple(
            RequestFinding(str(r["host"]), r["party"], str(r["category"]), str(r["service"]),
                           int(r["count"]), str(r["example"])) for r in found["requests"]),
        cookies=tuple(
            CookieFinding(str(c["name"]), str(c["domain"]), str(c["path"]),
                          bool(c["http_only"]),
                          datetime.fromisoformat(c["expires"]) if c["expires"] else None,
                          str(c["category"]), str(c["source"])) for c in found["cookies"]),
        storage=tuple(StorageFinding(str(s["origin"]), str(s["key"]), str(s["category"]))
                      for s in found["local_storage"]),
    )


# ------------------------------------------------------------------ the table


def report_text(report: ScanReport) -> str:
    lines = [f"Consent scan of {_clean(report.url)}, "
             f"{report.scanned_at.strftime('%Y-%m-%d %H:%M')} UTC",
             f"pages: {', '.join(_clean(p.url) for p in report.pages)}"]
    if not report.banner:
        lines.append(NO_BANNER)
    for found in report.moments:
        lines += ["", MOMENT_TITLES[found.moment], *_moment_lines(found)]
    lines += ["", *verdict_lines(report)]
    return "\n".join(lines) + "\n"


def _moment_lines(found: MomentFindings) -> list[str]:
    lines = _section("third-party and tracker requests", (
        ("host", "category", "service", "requests"),
        *((r.host + ("" if r.party == "third" else " (this site)"), r.category,
           r.service or "-", str(r.count)) for r in found.requests),
    ))
    lines += _section("cookies", (
        ("name", "domain", "HttpOnly", "expires", "category", "from"),
        *((c.name, c.domain, "yes" if c.http_only else "no", expiry(c), c.category, c.source)
          for c in found.cookies),
    ))
    lines += _section("localStorage keys", (
        ("origin", "key", "category"), *((s.origin, s.key, s.category) for s in found.storage),
    ))
    return lines


def expiry(cookie: CookieFinding) -> str:
    return cookie.expires.strftime("%Y-%m-%d") if cookie.expires else "session"


def _section(title: str, rows: Sequence[Sequence[str]]) -> list[str]:
    if len(rows) == 1:
        return [f"  {title}: none"]
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return [f"  {title}:", *("    " + "  ".join(v.ljust(w) for v, w in zip(row, widths,
                                                                         strict=True)).rstrip()
                             for row in cells)]


def _cell(value: str) -> str:
    value = _clean(value)
    return value if len(value) <= _CELL_CAP else value[: _CELL_CAP - 1] + "…"


def _clean(value: str) -> str:
    return _CONTROL.sub("?", value)


def verdict_lines(report: ScanReport) -> list[str]:
    if report.passed:
        judged = " and after a refusal" if report.moment("rejected") else ""
        return [f"PASSED: nothing but necessary cookies and requests before a "
                f"decision{judged}."]
    count = len(report.problems)
    return [f"FAILED: {count} thing{'s' if count != 1 else ''} not necessary happened before "
            "a decision or after a refusal:",
            *(f"  {problem_text(p)}" for p in report.problems)]


def problem_text(problem: Problem) -> str:
    when = "before any decision" if problem.moment == "before" else 'after "Reject all"'
    return f"{when}: {KIND_WORDS[problem.kind]} {_clean(problem.name)} ({problem.category})"

