"""The dashboard's cards: charts per day, breakdown tables, the cookie inventory (pure).

Every text that comes from data (a path, a referrer, a campaign, an event or cookie name) is
written through `escape`, attribute-safe, so a hostile value shows as text and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from html import escape
from typing import Any, Final

from gateway.core.analytics.stats import DIRECT, OTHER
from gateway.core.dashboard.decisions import CHART_ACTIONS, MODES, DecisionDay, shown_actions
from gateway.core.dashboard.svg import Chart, Series, bar_chart, line_chart, share_bar
from gateway.core.dashboard.texts import Words, format_duration
from gateway.core.enforcement.cookies import Classification, SeenCookie
from gateway.core.scan.findings import MOMENTS, NECESSARY, ScanReport
from gateway.core.types import CATEGORIES

# (breakdown in the stats, heading, first column): the tables, in page order.
BREAKDOWN_TABLES: Final = (
    ("pages", "pages", "page"),
    ("referrers", "referrers", "referrer"),
    ("countries", "countries", "country"),
    ("utm_sources", "utm_sources", "source"),
    ("utm_campaigns", "utm_campaigns", "campaign"),
    ("devices", "devices", "device"),
    ("browsers", "browsers", "browser"),
    ("os", "os", "system"),
    ("events", "events", "event"),
    ("searches", "searches", "search"),
)
UNKNOWN: Final = "unknown"
# Unknown cookies first: they are the ones that need the owner's attention.
COOKIE_ORDER: Final = (UNKNOWN, *CATEGORIES)
PERCENT_TICKS: Final = (0.0, 25.0, 50.0, 75.0, 100.0)


def card(ident: str, heading: str, body: str) -> str:
    return (f'<section class="card" aria-labelledby="h-{ident}">'
            f'<h2 id="h-{ident}">{escape(heading)}</h2>{body}</section>')


def legend(series: Sequence[Series]) -> str:
    items = "".join(
        f'<li><span class="sw s-{escape(s.key)}" aria-hidden="true"></span>{escape(s.name)}</li>'
        for s in series
    )
    return f'<ul class="legend">{items}</ul>'


def table(headers: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]], *,
          row_classes: Sequence[str] = ()) -> str:
    """`headers`: (text, class of the column: "num", "label" or ""); `rows`: cells already
    escaped (HTML); `row_classes`: a class per row ("" for none)."""
    head = "".join(f'<th scope="col"{_class(cls)}>{escape(text)}</th>' for text, cls in headers)
    body = []
    for n, row in enumerate(rows):
        cls = _class(row_classes[n] if n < len(row_classes) else "")
        cells = "".join(f"<td{_class(headers[i][1])}>{cell}</td>" for i, cell in enumerate(row))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _class(name: str) -> str:
    return f' class="{name}"' if name else ""


def details(summary: str, content: str) -> str:
    return f"<details><summary>{escape(summary)}</summary>{content}</details>"


def _axis(days: Sequence[date], w: Words) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(w.short_date(d) for d in days), tuple(w.long_date(d) for d in days)


def traffic_card(days: Sequence[Mapping[str, Any]], w: Words) -> str:
    """Visitors and pageviews per day: bars, and the numbers as a table."""
    dates = [date.fromisoformat(str(d["date"])) for d in days]
    labels, long_labels = _axis(dates, w)
    series = tuple(
        Series(w[key], key, tuple(float(d[key]) for d in days))
        for key in ("visitors", "pageviews")
    )
    chart = Chart(
        id="traffic", title=w["visitors_per_day"],
        desc=w["visitors_chart_desc"].format(first=long_labels[0], last=long_labels[-1]),
        labels=labels, long_labels=long_labels, series=series, fmt=w.number,
    )
    rows = [
        [escape(w.long_date(day)), w.number(d["visitors"]), w.number(d["visits"]),
         w.number(d["pageviews"]), w.percent(d["bounce_rate"]),
         format_duration(d["visit_duration"])]
        for day, d in zip(dates, days, strict=True)
    ]
    headers = [(w["date"], ""), (w["visitors"], "num"), (w["visits"], "num"),
               (w["pageviews"], "num"), (w["bounce_rate"], "num"), (w["visit_duration"], "num")]
    body = legend(series) + bar_chart(chart) + details(w["as_table"], table(headers, rows))
    return card("traffic", w["visitors_per_day"], body)


def decisions_card(days: Sequence[DecisionDay], w: Words) -> str:
    """Decisions per day stacked by action, and the numbers (with the rate) as a table."""
    labels, long_labels = _axis([d.day for d in days], w)
    actions = shown_actions(days)
    series = _action_series(days, actions, w)
    chart = Chart(
        id="decisions", title=w["decisions_per_day"],
        desc=w["decisions_chart_desc"].format(first=long_labels[0], last=long_labels[-1]),
        labels=labels, long_labels=long_labels, series=series, fmt=w.number, stacked=True,
    )
    body = (legend(series) + bar_chart(chart)
            + details(w["as_table"], _decisions_table(days, actions, w)))
    return card("decisions", w["decisions_per_day"], body)


def _action_series(days: Sequence[DecisionDay], actions: Sequence[str],
                   w: Words) -> tuple[Series, ...]:
    return tuple(
        Series(_action(a, w), _action_key(a), tuple(float(d.by_action.get(a, 0)) for d in days))
        for a in actions
    )


def _action_key(action: str) -> str:
    return action if action in CHART_ACTIONS else "other"


def rate_card(days: Sequence[DecisionDay], w: Words,
              by_mode: Mapping[str, Sequence[DecisionDay]] | None = None) -> str:
    """The consent rate per day as a line, with what it counts spelt out; with decisions
    under more than opt-in (`[[regions]]`), one more line per mode."""
    labels, long_labels = _axis([d.day for d in days], w)
    series = [Series(w["consent_rate"], "rate", tuple(d.rate for d in days))]
    if by_mode and set(by_mode) != {"opt-in"}:
        series += [Series(f'{w["consent_rate"]} · {w.get(f"mode_{mode}", mode)}',
                          f"mode-{mode}" if mode in MODES else "other",
                          tuple(d.rate for d in mode_days))
                   for mode, mode_days in by_mode.items()]
    chart = Chart(
        id="rate", title=w["rate_per_day"],
        desc=w["rate_chart_desc"].format(first=long_labels[0], last=long_labels[-1]),
        labels=labels, long_labels=long_labels, fmt=w.percent, ticks=PERCENT_TICKS,
        series=tuple(series),
    )
    body = ((legend(tuple(series)) if len(series) > 1 else "") + line_chart(chart)
            + f'<p class="help">{escape(w["consent_rate_help"])}</p>')
    return card("rate", w["rate_per_day"], body)


def actions_card(days: Sequence[DecisionDay], w: Words) -> str:
    """Every decision of the period by action, with its share of all decisions."""
    actions = shown_actions(days)
    totals = {a: sum(d.by_action.get(a, 0) for d in days) for a in actions}
    everything = sum(totals.values())
    if not everything:
        return card("actions", w["decisions_by_action"],
                    f'<p class="empty">{escape(w["no_data"])}</p>')
    rows = [
        [f'<span class="sw s-{_action_key(a)}" aria-hidden="true"></span> '
         f'<span class="label">{escape(_action(a, w))}</span>'
         f"{share_bar(n / everything, key=_action_key(a))}",
         w.number(n), w.percent(round(100 * n / everything, 1))]
        for a, n in totals.items()
    ]
    rows.append([escape(w["total"]), w.number(everything), w.percent(100)])
    headers = [(w["action"], "label"), (w["count"], "num"), (w["share"], "num")]
    return card("actions", w["decisions_by_action"],
                table(headers, rows, row_classes=[""] * len(totals) + ["sum"]))


def _decisions_table(days: Sequence[DecisionDay], actions: Sequence[str], w: Words) -> str:
    headers = [(w["date"], ""), *((_action(a, w), "num") for a in actions),
               (w["total"], "num"), (w["consent_rate"], "num")]
    rows = [
        [escape(w.long_date(d.day)), *(w.number(d.by_action.get(a, 0)) for a in actions),
         w.number(d.total), w.percent(d.rate)]
        for d in days
    ]
    return table(headers, rows)


def _action(action: str, w: Words) -> str:
    return w.get(f"action_{action}", action)


def breakdown_cards(breakdowns: Mapping[str, Sequence[Mapping[str, Any]]], w: Words) -> str:
    cards = []
    for name, heading, column in BREAKDOWN_TABLES:
        rows = breakdowns.get(name, ())
        cards.append(card(name, w[heading], _breakdown_table(name, rows, w[column], w)))
    return f'<div class="grid tables">{"".join(cards)}</div>'


def _breakdown_table(name: str, rows: Sequence[Mapping[str, Any]], column: str,
                     w: Words) -> str:
    if not rows:
        return f'<p class="empty">{escape(w["no_data"])}</p>'
    uses = name in ("events", "searches")
    count_key = "count" if uses else "pageviews"
    peak = max(int(r["visitors"]) for r in rows) or 1
    cells = [
        [f'<span class="label">{escape(_value(name, str(r["value"]), w))}</span>'
         f'{share_bar(int(r["visitors"]) / peak)}',
         ("≈ " if r.get("estimated") else "") + w.number(r["visitors"]),
         w.number(r[count_key]),
         *([_time_on_page(r.get("time_on_page"))] if name == "pages" else [])]
        for r in rows
    ]
    headers = [(column, "label"), (w["visitors"], "num"),
               (w["uses"] if uses else w["pageviews"], "num"),
               *([(w["time_on_page"], "num")] if name == "pages" else [])]
    return table(headers, cells)


def _time_on_page(seconds: object) -> str:
    """The mean time on page, or a dash when no view of the page has a known end."""
    return format_duration(seconds) if isinstance(seconds, int | float) else "–"


def _value(name: str, value: str, w: Words) -> str:
    """The row's name as shown: the fixed markers translated, anything else as it is."""
    if value == OTHER:
        return w["other"]
    if name == "referrers" and value == DIRECT:
        return w["direct"]
    if name == "devices":
        return w.get(f"device_{value}", value)
    return value


def cookies_card(
    cookies: Sequence[SeenCookie], unknown_policy: str, w: Words,
    *, facts: Mapping[str, Classification] | None = None,
) -> str:
    """The cookie inventory by category, unknown ones first and marked in words and colour,
    each with where its category came from and, where known, what it is for and how long
    it lives (`facts`, by name)."""
    if not cookies:
        body = f'<p class="empty">{escape(w["no_cookies"])}</p>'
        return card("cookies", w["cookies"], body)
    ordered = sorted(cookies, key=lambda c: (_category_rank(c.category), c.name))
    unknown = sum(1 for c in cookies if c.category == UNKNOWN)
    body = (
        f'<p class="help">{escape(w["cookies_help"])}</p>'
        + _category_counts(ordered, w) + (_unknown_warning(unknown, unknown_policy, w)
                                          if unknown else "")
        + _cookie_table(ordered, facts or {}, w)
    )
    return card("cookies", w["cookies"], body)


def _category_rank(category: str) -> int:
    return COOKIE_ORDER.index(category) if category in COOKIE_ORDER else len(COOKIE_ORDER)


def _category(category: str, w: Words) -> str:
    return w.get(f"category_{category}", category)


def _category_counts(cookies: Sequence[SeenCookie], w: Words) -> str:
    counts: dict[str, int] = {}
    for cookie in cookies:
        counts[cookie.category] = counts.get(cookie.category, 0) + 1
    items = "".join(
        f'<li><span class="badge{" unknown" if category == UNKNOWN else ""}">'
        f"{escape(_category(category, w))}: {n}</span></li>"
        for category, n in counts.items()
    )
    return f'<ul class="counts">{items}</ul>'


def _unknown_warning(count: int, policy: str, w: Words) -> str:
    text = w["unknown_warning_one"] if count == 1 else w["unknown_warning"]
    policy_text = w["policy_allow"] if policy == "allow" else w["policy_block"]
    return f'<p class="warning">{escape(text.format(count=count, policy=policy_text))}</p>'


def _cookie_table(
    cookies: Sequence[SeenCookie], facts: Mapping[str, Classification], w: Words
) -> str:
    headers = [(w["cookie"], ""), (w["category"], ""), (w["category_from"], ""),
               (w["purpose"], "text"), (w["retention"], ""), (w["where"], ""),
               (w["http_only"], ""), (w["seen"], "num"), (w["first_seen"], ""),
               (w["last_seen"], "")]
    rows = []
    for c in cookies:
        known = facts.get(c.name)
        script = (f'<span class="note">{escape(w["set_by_script"])}</span>'
                  if c.set_by == "script" else "")
        rows.append([
            f"<code>{escape(c.name)}</code>",
            f'<span class="badge{" unknown" if c.category == UNKNOWN else ""}">'
            f"{escape(_category(c.category, w))}</span>",
            escape(w.get(f"from_{c.source}", c.source)) + script,
            _purpose(known),
            escape(known.retention if known else ""),
            "" if c.set_by == "script" else f"<code>{escape(c.domain + c.path)}</code>",
            escape(w["yes"] if c.http_only else w["no"]), w.number(c.count),
            escape(w.long_date(c.first_seen.date())), escape(w.long_date(c.last_seen.date())),
        ])
    classes = [UNKNOWN if c.category == UNKNOWN else "" for c in cookies]
    # Focusable, so a keyboard can scroll it on a narrow screen.
    return (f'<div class="scroll" tabindex="0" role="region" '
            f'aria-label="{escape(w["cookie_table"])}">'
            f"{table(headers, rows, row_classes=classes)}</div>")


def _purpose(known: Classification | None) -> str:
    """The known-cookie data's description, with the product that sets the cookie."""
    if known is None or not (known.description or known.platform):
        return ""
    platform = f'<span class="note">{escape(known.platform)}</span>' if known.platform else ""
    return escape(known.description) + platform


# ------------------------------------------------------------------ the last consent scan

SCAN_PROBLEMS_SHOWN: Final = 10


def scan_card(report: ScanReport | None, w: Words) -> str:
    """The last saved `consent-gateway scan --save`: verdict, what each moment saw, and
    the first problems; nothing when no scan was saved."""
    if report is None:
        return ""
    summary = w["scan_summary"].format(url=report.url, date=w.long_date(report.scanned_at.date()),
                                       pages=w.number(len(report.pages)))
    verdict = (w["scan_passed"] if report.passed
               else w["scan_failed"].format(count=w.number(len(report.problems))))
    headers = [(w["scan_moment"], ""), (w["scan_hosts"], "num"),
               (w["scan_not_necessary"], "num"), (w["scan_cookies"], "num"),
               (w["scan_not_necessary"], "num")]
    rows = []
    for moment in MOMENTS:
        found = report.moment(moment)
        if found is None:
            rows.append([escape(w[f"scan_{moment}"]), escape(w["scan_not_recorded"]), "", "", ""])
            continue
        hosts = {r.host for r in found.requests}
        optional_hosts = {r.host for r in found.requests if r.category != NECESSARY}
        rows.append([escape(w[f"scan_{moment}"]), w.number(len(hosts)),
                     w.number(len(optional_hosts)), w.number(len(found.cookies)),
                     w.number(sum(1 for c in found.cookies if c.category != NECESSARY))])
    shown = f"<p>{escape(verdict)}</p>" if report.passed \
        else f'<p class="warning">{escape(verdict)}</p>'
    body = (f'<p class="help">{escape(summary)}</p>' + shown
            + table(headers, rows) + _scan_problems(report, w)
            + f'<p class="help">{escape(w["scan_help"])}</p>')
    return card("scan", w["scan"], body)


def _scan_problems(report: ScanReport, w: Words) -> str:
    items = [
        f"<li>{escape(w[f'scan_{p.moment}'])}: "
        + escape(w[f"scan_problem_{p.kind}"].format(name=p.name,
                                                    category=_category(p.category, w)))
        + "</li>"
        for p in report.problems[:SCAN_PROBLEMS_SHOWN]
    ]
    hidden = len(report.problems) - SCAN_PROBLEMS_SHOWN
    if hidden > 0:
        items.append(f"<li>{escape(w['scan_more'].format(count=w.number(hidden)))}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else ""
