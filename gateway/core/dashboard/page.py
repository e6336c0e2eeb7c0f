"""The dashboard page (pure): one HTML document from the numbers the web layer gathered.

No script, no external asset, no style attribute; the stylesheet is inline and allowed by
its hash (`style.DASHBOARD_CSP`). The site and period pickers are a plain GET form, so the
page works in any browser and every view has a URL to bookmark or share with a colleague.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from html import escape
from typing import Any
from urllib.parse import urlencode

from gateway.core.dashboard.decisions import (
    DecisionCounts,
    DecisionDay,
    ModeCounts,
    days_by_mode,
    decision_days,
    overall_rate,
)
from gateway.core.dashboard.sections import (
    actions_card,
    breakdown_cards,
    cookies_card,
    decisions_card,
    rate_card,
    scan_card,
    traffic_card,
)
from gateway.core.dashboard.style import STYLESHEET
from gateway.core.dashboard.texts import (
    DASHBOARD_LANGUAGES,
    DashboardLanguage,
    Words,
    format_duration,
)
from gateway.core.enforcement.cookies import Classification, SeenCookie
from gateway.core.scan.findings import ScanReport

_LANGUAGE_NAMES = {"nl": "Nederlands", "en": "English"}


@dataclass(frozen=True, slots=True)
class DashboardData:
    site: str
    sites: tuple[str, ...]  # every configured site, for the picker
    start: date
    end: date
    language: DashboardLanguage
    stats: Mapping[str, Any]  # `core/analytics/reports.report_json`, plus "bots"
    decisions: DecisionCounts
    cookies: Sequence[SeenCookie]
    unknown_policy: str = "block"
    # What the known-cookie data says about each name in `cookies` (platform, purpose,
    # retention); a name missing here is shown without.
    cookie_facts: Mapping[str, Classification] = field(default_factory=dict)
    last_scan: ScanReport | None = None  # the last `consent-gateway scan --save`
    by_mode: ModeCounts = field(default_factory=dict)  # the decisions split by region mode


def render_dashboard(data: DashboardData) -> str:
    w = Words(data.language)
    days = decision_days(data.decisions, data.start, data.end)
    return "".join((
        f'<!doctype html><html lang="{data.language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(w['title'])} · {escape(data.site)} · {escape(w['product'])}</title>"
        f"<style>{STYLESHEET}</style></head><body>",
        _header(data, w),
        '<main class="wrap">',
        _filters(data, w),
        _kpis(data.stats["totals"], days, w),
        '<div class="grid">',
        traffic_card(data.stats["days"], w),
        decisions_card(days, w),
        '</div><div class="grid">',
        rate_card(days, w, days_by_mode(data.by_mode, data.start, data.end)),
        actions_card(days, w),
        "</div>",
        breakdown_cards(data.stats["breakdowns"], w),
        cookies_card(data.cookies, data.unknown_policy, w, facts=data.cookie_facts),
        scan_card(data.last_scan, w),
        "</main>",
        _footer(data, w),
        "</body></html>",
    ))


def _header(data: DashboardData, w: Words) -> str:
    period = f"{w.long_date(data.start)} – {w.long_date(data.end)}"
    return (
        '<header class="top"><div class="wrap"><div>'
        f'<p class="product">{escape(w["product"])}</p>'
        f'<h1>{escape(w["title"])} <span class="site">{escape(data.site)}</span></h1>'
        f'<p class="period">{escape(period)}</p></div>'
        f'<nav aria-label="{escape(w["language_nav"])}">{_language_links(data)}</nav>'
        "</div></header>"
    )


def _language_links(data: DashboardData) -> str:
    links = []
    for language in DASHBOARD_LANGUAGES:
        query = urlencode({"site": data.site, "from": data.start.isoformat(),
                           "to": data.end.isoformat(), "lang": language})
        current = ' aria-current="page"' if language == data.language else ""
        links.append(f'<a href="?{escape(query)}" lang="{language}" hreflang="{language}"'
                     f"{current}>{_LANGUAGE_NAMES[language]}</a>")
    return "".join(links)


def _filters(data: DashboardData, w: Words) -> str:
    options = "".join(
        f'<option value="{escape(site)}"{" selected" if site == data.site else ""}>'
        f"{escape(site)}</option>"
        for site in data.sites
    )
    return (
        f'<form class="filters" method="get" aria-label="{escape(w["filters"])}">'
        f'<div class="field"><label for="f-site">{escape(w["site"])}</label>'
        f'<select id="f-site" name="site">{options}</select></div>'
        f'<div class="field"><label for="f-from">{escape(w["from"])}</label>'
        f'<input id="f-from" type="date" name="from" value="{data.start.isoformat()}" required>'
        f'</div><div class="field"><label for="f-to">{escape(w["to"])}</label>'
        f'<input id="f-to" type="date" name="to" value="{data.end.isoformat()}" required></div>'
        f'<input type="hidden" name="lang" value="{data.language}">'
        f'<button type="submit">{escape(w["show"])}</button></form>'
    )


def _kpis(totals: Mapping[str, Any], days: Sequence[DecisionDay], w: Words) -> str:
    figures = (
        ("visitors", w.number(totals["visitors"])),
        ("visits", w.number(totals["visits"])),
        ("pageviews", w.number(totals["pageviews"])),
        ("bounce_rate", w.percent(totals["bounce_rate"])),
        ("visit_duration", format_duration(totals["visit_duration"])),
        ("decisions", w.number(sum(day.total for day in days))),
        ("consent_rate", _rate(overall_rate(days), w)),
    )
    items = "".join(
        f'<li class="kpi-{key}"><span class="kpi-label">{escape(w.get(f"kpi_{key}", w[key]))}'
        f'</span><span class="kpi-value">{escape(value)}</span></li>'
        for key, value in figures
    )
    return (f'<section aria-labelledby="h-overview"><h2 id="h-overview">'
            f'{escape(w["traffic"])}</h2><ul class="kpis">{items}</ul></section>')


def _rate(rate: float | None, w: Words) -> str:
    return w["no_rate"] if rate is None else w.percent(rate)


def _footer(data: DashboardData, w: Words) -> str:
    notes = [
        w["folded_note"].format(min=data.stats.get("min_visitors", 1)),
        w["bots_note"].format(bots=w.number(data.stats.get("bots", 0))),
        w["times_note"],
    ]
    estimates = data.stats.get("visitor_estimates", {})
    if estimates.get("estimated"):
        notes.append(w["estimates_note"].format(
            exact=estimates["exact_up_to"],
            error=w.number(round(100 * estimates["standard_error"], 1))))
    paragraphs = "".join(f"<p>{escape(note)}</p>" for note in notes)
    return f'<footer class="wrap">{paragraphs}</footer>'
