"""The dashboard's numbers (SPEC §3.6 `GET /_consent/admin/stats`) from raw events (pure):
the **test oracle**. Production answers from the visits the store keeps at ingest
(`reports.py`, `adapters/store/sqlite/reports.py`); a property test holds the two equal, so
this stays the plain, obviously-right definition and nothing in production calls it.

Visits are rebuilt here from the events the way Plausible defines them, so the numbers
mean what a Plausible user expects: a visitor's events belong to one visit until they fall
silent for longer than `session_gap`; a visit belongs, whole, to the UTC day it starts
(also the hits it has after midnight), and a range holds the visits that start in it; a
bounce is a visit of one pageview and no custom event. A `pagehide` counts nowhere, but it
is a hit for where visits begin and end (so it lengthens a visit), and it ends its page's
time; a visit of pagehides only is no visit. A page's time on page is the mean over its
pageviews whose end is known: the visit's next pageview or custom event, or a pagehide of
the same path, whichever is first.

Events are read once and kept per visitor until that visitor's visits are counted; then
the visitor's list is dropped.

Breakdowns are k-anonymous: a row seen by fewer than `min_visitors` distinct visitors would
point at a handful of people ("the one visitor from Reykjavík"), so such rows, and rows
beyond `top`, are folded into one `"other"` row at the end.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, NamedTuple

from gateway.core.analytics.events import AnalyticsEvent
from gateway.core.analytics.reports import DIRECT, OTHER

__all__ = ["BREAKDOWNS", "DIRECT", "OTHER", "city_label", "compute_stats", "region_label"]

# Output order of the breakdowns; keys of `breakdowns` in the JSON.
BREAKDOWNS: Final = (
    "pages", "entry_pages", "referrers", "utm_sources", "utm_mediums", "utm_campaigns",
    "countries", "regions", "cities", "browsers", "os", "devices", "events", "searches",
)  # fmt: skip


class _Hit(NamedTuple):
    """The part of an event visit-building needs; everything else was tallied on arrival.

    A plain tuple with `ts` first, so sorting a visitor's hits orders them by time and
    breaks ties on the remaining fields: the same events give the same visits whatever
    order they arrived in.
    """

    ts: datetime
    pageview: bool
    path: str
    referrer_host: str
    hostname: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    pagehide: bool


@dataclass(slots=True)
class _Visit:
    first: _Hit
    last_ts: datetime
    pageviews: int = 0
    events: int = 0
    entry_page: str = ""

    @classmethod
    def begin(cls, hit: _Hit) -> _Visit:
        visit = cls(first=hit, last_ts=hit.ts)
        visit.extend(hit)
        return visit

    def extend(self, hit: _Hit) -> None:
        self.last_ts = hit.ts
        if hit.pagehide:
            return
        if not hit.pageview:
            self.events += 1
            return
        self.pageviews += 1
        if self.pageviews == 1:
            self.entry_page = hit.path

    @property
    def bounce(self) -> bool:
        return self.pageviews == 1 and self.events == 0

    @property
    def seconds(self) -> float:
        # A bounce is a single event, so this is 0 for it without a special case.
        return (self.last_ts - self.first.ts).total_seconds()

    @property
    def referrer(self) -> str:
        """Where the visit came from; a link within the site itself is no source."""
        host = self.first.referrer_host
        return DIRECT if not host or host == self.first.hostname else host


@dataclass(slots=True)
class _Summary:
    """The headline numbers of a set of visits: the whole range, or one day."""

    visitors: set[str] = field(default_factory=set)
    visits: int = 0
    pageviews: int = 0
    events: int = 0
    bounces: int = 0
    seconds: float = 0.0

    def add(self, visit: _Visit, visitor: str) -> None:
        self.visitors.add(visitor)
        self.visits += 1
        self.pageviews += visit.pageviews
        self.events += visit.events
        self.bounces += visit.bounce
        self.seconds += visit.seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "visitors": len(self.visitors),
            "visits": self.visits,
            "pageviews": self.pageviews,
            "events": self.events,
            "bounce_rate": _mean(100.0 * self.bounces, self.visits),
            "visit_duration": _mean(self.seconds, self.visits),
        }


def _mean(total: float, count: int) -> float:
    return round(total / count, 1) if count else 0.0


class _Tally:
    """One breakdown: per value, the distinct visitors and a count (pageviews, or uses)."""

    def __init__(self) -> None:
        self.visitors: defaultdict[str, set[str]] = defaultdict(set)
        self.counts: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()  # pages: time on page, in microseconds
        self.timed: Counter[str] = Counter()  # pages: the views whose time is known

    def add(self, value: str, visitor: str, count: int) -> None:
        if value:  # unknown (not looked up, not kept, no UTM) is not a row of its own
            self.visitors[value].add(visitor)
            self.counts[value] += count


def compute_stats(
    events: Iterable[AnalyticsEvent],
    *,
    site: str,
    start: date,
    end: date,
    session_gap: timedelta = timedelta(minutes=30),
    min_visitors: int = 5,
    top: int = 10,
) -> dict[str, Any]:
    """The JSON behind the dashboard for `site` over the UTC days `start`..`end` inclusive.

    `events` may come in any order and may include other sites and days; those are skipped.
    """
    _check_options(start=start, end=end, session_gap=session_gap, top=top)
    tallies = {name: _Tally() for name in BREAKDOWNS}
    hits = _collect_hits(events, site=site)
    totals = _Summary()
    days = {start + timedelta(days=n): _Summary() for n in range((end - start).days + 1)}
    while hits:  # popping lets each visitor's hits go as soon as they are counted
        visitor, visitor_hits = hits.popitem()
        for visit, visit_events in _split_visits(visitor_hits, session_gap):
            if not start <= visit.first.ts.date() <= end or not (visit.pageviews
                                                                   or visit.events):
                continue
            totals.add(visit, visitor)
            days[visit.first.ts.date()].add(visit, visitor)
            _tally_visit(tallies, visit, visitor)
            for event in visit_events:
                _tally_event(tallies, event)
            _time_pages(tallies["pages"], visit_events)
    return {
        "site": site,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "totals": totals.to_json(),
        "days": [{"date": day.isoformat(), **summary.to_json()} for day, summary in days.items()],
        "breakdowns": {
            name: _breakdown_rows(tallies[name], name=name, min_visitors=min_visitors, top=top)
            for name in BREAKDOWNS
        },
        "min_visitors": min_visitors,
    }


def _check_options(*, start: date, end: date, session_gap: timedelta, top: int) -> None:
    """Nonsense here is the caller's bug; the endpoint validates what visitors send."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if session_gap <= timedelta(0):
        raise ValueError("session_gap must be positive")
    if top < 0:
        raise ValueError("top must not be negative")


def _utc(moment: datetime) -> datetime:
    # A naive timestamp is taken as UTC: the store writes UTC, and guessing the server's
    # local zone would make the numbers depend on where the gateway runs.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _collect_hits(
    events: Iterable[AnalyticsEvent], *, site: str
) -> dict[str, list[tuple[_Hit, AnalyticsEvent]]]:
    """The site's events by visitor, each with what visit-building needs of it."""
    hits: defaultdict[str, list[tuple[_Hit, AnalyticsEvent]]] = defaultdict(list)
    for event in events:
        if event.site == site:
            hits[event.visitor].append((_hit(event, _utc(event.ts)), event))
    return hits


def _hit(event: AnalyticsEvent, ts: datetime) -> _Hit:
    return _Hit(
        ts=ts,
        pageview=event.type == "pageview",
        path=event.path,
        referrer_host=event.referrer_host,
        hostname=event.hostname,
        utm_source=event.utm_source,
        utm_medium=event.utm_medium,
        utm_campaign=event.utm_campaign,
        pagehide=event.type == "pagehide",
    )


def _tally_event(tallies: dict[str, _Tally], event: AnalyticsEvent) -> None:
    if event.type == "pagehide":
        return
    visitor = event.visitor
    tallies["searches"].add(event.search if event.type == "pageview" else "", visitor, 1)
    pageviews = 1 if event.type == "pageview" else 0
    if pageviews:
        tallies["pages"].add(event.path, visitor, 1)
    else:
        tallies["events"].add(event.name, visitor, 1)
    for name, value in (
        ("countries", event.country),
        ("regions", region_label(event.country, event.region)),
        ("cities", city_label(event.country, event.city)),
        ("browsers", event.browser),
        ("os", event.os),
        ("devices", event.device),
    ):
        tallies[name].add(value, visitor, pageviews)


def _time_pages(pages: _Tally, visit_events: list[AnalyticsEvent]) -> None:
    """Each pageview's time: until the next pageview or custom event of its visit, or a
    pagehide of its path (events in hit order)."""
    for n, view in enumerate(visit_events):
        if view.type != "pageview":
            continue
        end = next((later for later in visit_events[n + 1:]
                    if later.type != "pagehide" or later.path == view.path), None)
        if end is not None:
            pages.seconds[view.path] += (_utc(end.ts) - _utc(view.ts)) // timedelta(
                microseconds=1)
            pages.timed[view.path] += 1


def _tally_visit(tallies: dict[str, _Tally], visit: _Visit, visitor: str) -> None:
    """Sources are a property of the visit: what its first event carried."""
    for name, value in (
        ("entry_pages", visit.entry_page),
        ("referrers", visit.referrer),
        ("utm_sources", visit.first.utm_source),
        ("utm_mediums", visit.first.utm_medium),
        ("utm_campaigns", visit.first.utm_campaign),
    ):
        tallies[name].add(value, visitor, visit.pageviews)


def region_label(country: str, region: str) -> str:
    """ISO 3166-2 style, `GB-ENG`: a region code alone is ambiguous across countries."""
    if not region or not country or region.startswith(f"{country}-"):
        return region
    return f"{country}-{region}"


def city_label(country: str, city: str) -> str:
    """`London, GB`, so London, CA is a row of its own."""
    return f"{city}, {country}" if city and country else city


def _split_visits(
    hits: list[tuple[_Hit, AnalyticsEvent]], session_gap: timedelta
) -> Iterator[tuple[_Visit, list[AnalyticsEvent]]]:
    """A visitor's hits cut into visits wherever they were silent for over `session_gap`,
    each with its events."""
    visit: _Visit | None = None
    events: list[AnalyticsEvent] = []
    for hit, event in sorted(hits, key=lambda pair: pair[0]):
        if visit is not None and hit.ts - visit.last_ts <= session_gap:
            visit.extend(hit)
            events.append(event)
            continue
        if visit is not None:
            yield visit, events
        visit, events = _Visit.begin(hit), [event]
    if visit is not None:
        yield visit, events


def _breakdown_rows(
    tally: _Tally, *, name: str, min_visitors: int, top: int
) -> list[dict[str, Any]]:
    """Rows ranked by visitors, then count, then value; small and surplus rows folded.

    A real value spelled `"other"` (the device kind) always joins the folded row, so the
    output never holds two rows of that name.
    """
    count_key = "count" if name in ("events", "searches") else "pageviews"
    ranked = sorted(tally.counts, key=lambda v: (-len(tally.visitors[v]), -tally.counts[v], v))
    eligible = [v for v in ranked if v != OTHER and len(tally.visitors[v]) >= min_visitors]
    shown = eligible[:top]
    rows = [_row(v, tally.visitors[v], tally.counts[v], count_key) for v in shown]
    shown_set = set(shown)
    folded = [v for v in ranked if v not in shown_set]
    if folded:
        # A union, not a sum: one visitor seen in two small rows is still one visitor.
        visitors: set[str] = set().union(*(tally.visitors[v] for v in folded))
        rows.append(_row(OTHER, visitors, sum(tally.counts[v] for v in folded), count_key))
    if name == "pages":
        for row, values in zip(rows, [[v] for v in shown] + [folded], strict=False):
            timed = sum(tally.timed[v] for v in values)
            seconds = sum(tally.seconds[v] for v in values) / 1_000_000
            row["time_on_page"] = round(seconds / timed, 1) if timed else None
    return rows


def _row(value: str, visitors: set[str], count: int, count_key: str) -> dict[str, Any]:
    return {"value": value, "visitors": len(visitors), count_key: count}
