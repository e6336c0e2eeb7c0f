"""Visits (pure): how a visitor's events form visits — the rule the store keeps at ingest.

The same rule as the oracle `stats.compute_stats` (Plausible's): a visitor's hits, taken in
*hit order*, belong to one visit while each follows the previous one by at most `gap`; the
visit counts on the UTC day its first hit falls on, also when it runs past midnight. Its
sources (referrer, UTM) are those of its first hit, a pageview or a custom event; its entry
page is the path of its first pageview, its exit page that of its last. A bounce is a visit
of one pageview and no custom event.

A `pagehide` (the visitor left a page) is a hit like the others for where visits begin and
end: it extends its visit (so the visit's duration), or, after a silence longer than the
gap, begins one. It is no pageview or custom event: it counts nowhere, does not keep a visit
from being a bounce, and a visit of pagehides only (`Visit.empty`: a tab closed long after
its last pageview) is kept but reported nowhere.

**Time on page**: a pageview's time is the time until the visit's next pageview or custom
event, or a pagehide of the same path, whichever comes first; unknown (not counted) when
none comes. Per path the visit keeps the microseconds and how many views they cover
(`page_times`); the pageview still waiting for its end is the exit page, since `open_at`.

Hit order is time, then, for hits of the same microsecond, custom events before pageviews,
then the remaining fields: so the same events give the same visits whatever order they
arrived in, in whatever batches, in whichever worker.

The store (`adapters/store/sqlite/visits.py`) feeds hits in and keeps the `Visit` values it
gets back; reports clip visits at the range edges with `sessionise` too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from gateway.core.analytics.events import AnalyticsEvent

ONE_MICROSECOND = timedelta(microseconds=1)


# Where and on what a hit was made: (country, region, city, browser, os, device).
Place = tuple[str, str, str, str, str, str]


class Hit(NamedTuple):
    """What a visit needs of one stored event. A tuple whose field order *is* hit order:
    the oracle's (time, pageview, path, referrer, host, UTM source, medium, campaign),
    then the rest."""

    ts: datetime
    pageview: bool
    path: str
    referrer_host: str = ""
    hostname: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    name: str = ""
    utm_term: str = ""
    utm_content: str = ""
    country: str = ""
    region: str = ""
    city: str = ""
    browser: str = ""
    os: str = ""
    device: str = ""
    search: str = ""
    pagehide: bool = False

    @classmethod
    def of(cls, event: AnalyticsEvent) -> Hit:
        # Positional: this runs for every event written.
        return cls(
            utc(event.ts), event.type == "pageview", event.path, event.referrer_host,
            event.hostname, event.utm_source, event.utm_medium, event.utm_campaign,
            event.name, event.utm_term, event.utm_content, event.country, event.region,
            event.city, event.browser, event.os, event.device, event.search,
            event.type == "pagehide",
        )

    @property
    def place(self) -> Place:
        return (self.country, self.region, self.city, self.browser, self.os, self.device)

    @property
    def source_host(self) -> str:
        """The referrer as a visit's source: none for a link within the site itself."""
        return "" if self.referrer_host == self.hostname else self.referrer_host


@dataclass(slots=True)
class Visit:
    """One visit as the store keeps it; (`site`, `visitor`, `started_at`) identifies it.

    `referrer_host` is empty for a direct visit (no referrer, or the site itself); the
    location, browser, OS and device are those of its first hit. What breakdowns count per
    hit is kept too, so a report reads visits only: `pages` (path -> pageviews), `names`
    (custom event -> uses), `places` (place -> pageviews; a custom event adds its place with
    none), `searches` (term -> uses), `page_times` (path -> [microseconds, timed views]) and
    `open_at` (when the exit page, whose time is still unknown, was viewed). Mutable, and
    extended in place: ingest runs this for every event on the event
    loop, where a copy per hit would cost more than everything else it does.
    """

    site: str
    visitor: str
    started_at: datetime
    ended_at: datetime
    pageviews: int
    events: int
    entry_page: str
    exit_page: str
    referrer_host: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    country: str
    region: str
    city: str
    browser: str
    os: str
    device: str
    pages: dict[str, int] = field(default_factory=dict)
    names: dict[str, int] = field(default_factory=dict)
    places: dict[Place, int] = field(default_factory=dict)
    searches: dict[str, int] = field(default_factory=dict)
    page_times: dict[str, list[int]] = field(default_factory=dict)
    open_at: datetime | None = None

    @classmethod
    def begin(cls, site: str, visitor: str, hit: Hit) -> Visit:
        first = cls(
            site=site, visitor=visitor, started_at=hit.ts, ended_at=hit.ts, pageviews=0,
            events=0, entry_page="", exit_page="", referrer_host=hit.source_host,
            utm_source=hit.utm_source, utm_medium=hit.utm_medium,
            utm_campaign=hit.utm_campaign, utm_term=hit.utm_term, utm_content=hit.utm_content,
            country=hit.country, region=hit.region, city=hit.city, browser=hit.browser,
            os=hit.os, device=hit.device,
        )
        first.extend(hit)
        return first

    def extend(self, hit: Hit) -> None:
        """Add `hit`, a hit that comes after all of this visit's own in hit order."""
        self.ended_at = hit.ts
        opened = self.open_at
        if opened is not None and (not hit.pagehide or hit.path == self.exit_page):
            timed = self.page_times.setdefault(self.exit_page, [0, 0])
            timed[0] += (hit.ts - opened) // ONE_MICROSECOND
            timed[1] += 1
            self.open_at = None
        if hit.pagehide:
            return
        place = hit.place
        self.places[place] = self.places.get(place, 0) + hit.pageview
        if not hit.pageview:
            self.events += 1
            self.names[hit.name] = self.names.get(hit.name, 0) + 1
            return
        if not self.pageviews:
            self.entry_page = hit.path
        self.pageviews += 1
        self.exit_page = hit.path
        self.open_at = hit.ts
        self.pages[hit.path] = self.pages.get(hit.path, 0) + 1
        if hit.search:
            self.searches[hit.search] = self.searches.get(hit.search, 0) + 1

    def takes(self, hit: Hit, gap: timedelta) -> bool:
        """Whether `hit`, coming after this visit in hit order, still belongs to it."""
        return hit.ts - self.ended_at <= gap

    @property
    def day(self) -> date:
        return self.started_at.date()

    @property
    def last_day(self) -> date:
        return self.ended_at.date()

    @property
    def empty(self) -> bool:
        """Pagehides only: kept (later hits may join it) but reported nowhere."""
        return not self.pageviews and not self.events

    @property
    def bounce(self) -> bool:
        return self.pageviews == 1 and self.events == 0

    @property
    def duration_us(self) -> int:
        return (self.ended_at - self.started_at) // ONE_MICROSECOND


def utc(moment: datetime) -> datetime:
    """As the store writes it: UTC (a naive time is taken as UTC, as the oracle does)."""
    if moment.tzinfo is UTC:
        return moment
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def sessionise(site: str, visitor: str, hits: Iterable[Hit], gap: timedelta) -> list[Visit]:
    """All the visits of one visitor's hits (any order)."""
    return continue_visits(None, site, visitor, sorted(hits), gap)


def continues(latest: Visit | None, ordered: list[Hit]) -> bool:
    """Whether hits in hit order can simply be added after `latest`, the visitor's newest
    visit: they all come strictly later than it ended. A hit at or before that instant
    may belong inside an earlier visit, or join two: the store then rebuilds the visits
    around it from the stored events."""
    return latest is None or not ordered or ordered[0].ts > latest.ended_at


def continue_visits(
    latest: Visit | None, site: str, visitor: str, ordered: list[Hit], gap: timedelta
) -> list[Visit]:
    """The visits that change when hits in hit order (see `continues`) are added after
    `latest`: `latest` extended in place (if the first hit is close enough), then any new
    ones."""
    changed: dict[datetime, Visit] = {}  # by start: each visit once, in order
    current = latest
    for hit in ordered:
        if current is not None and current.takes(hit, gap):
            current.extend(hit)
        else:
            current = Visit.begin(site, visitor, hit)
        changed[current.started_at] = current
    return list(changed.values())
