"""Synthetic traffic for `seed-demo` and the scale benchmark (pure, seeded `random.Random`).

A `TrafficPlan` yields, in time order day by day, what visitors do: a `Decision` on the
banner the first time a visitor comes (about a third refuse analytics, as measured consent
rates go), then `Hit`s — pageviews of visits of several pages a minute or so apart, the
entry page with a referrer or a UTM campaign, and now and then a custom event. Visitors
come back; a visitor's address is one MaxMind's GeoIP test database knows and its browser a
real user-agent string, so the ingest pipeline gives them countries, devices and browsers.
The beacons are what `consent.js` would send; the caller adds the tokens.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from gateway.core.types import Action, Category

# Addresses the GeoIP City test database (tests/data/geoip) knows: GB, SE, CN, US, PH, BT, JP.
GEO_TEST_ADDRESSES: Final = (
    "81.2.69.142", "81.2.69.160", "2.125.160.216", "89.160.20.112", "89.160.20.128",
    "175.16.199.1", "216.160.83.56", "214.78.0.1", "202.196.224.1", "2a02:cfc0::1",
    "2a02:cf40::1", "2001:218::1",
)
# A few real browsers (bench/user_agents.txt has more): desktop, phone, tablet.
USER_AGENTS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Mobile/15E148 Safari/604.1",
)
PATHS: Final = (
    "/", "/pricing", "/blog", "/blog/privacy-first-analytics", "/blog/cookie-banners",
    "/docs", "/docs/install", "/docs/configuration", "/about", "/contact", "/careers",
    "/blog/gdpr-checklist", "/products/gateway", "/products/scanner", "/faq",
)
SEARCH_TERMS: Final = ("cookies", "pricing", "gdpr", "install", "docker", "consent log",
                       "matomo", "export", "dashboard", "api")
# (referrer URL, share of entries); "" is direct traffic.
REFERRERS: Final = (
    ("", 40), ("https://www.google.com/", 30), ("https://duckduckgo.com/", 6),
    ("https://www.bing.com/", 4), ("https://news.ycombinator.com/", 5), ("https://t.co/", 3),
    ("https://www.linkedin.com/", 4), ("https://github.com/", 5), ("https://tweakers.net/", 3),
)
CAMPAIGNS: Final = (
    "utm_source=newsletter&utm_medium=email&utm_campaign=winter-sale",
    "utm_source=mastodon&utm_medium=social&utm_campaign=launch",
    "utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=consent+gateway",
)
CUSTOM_EVENTS: Final[tuple[tuple[str, dict[str, str]], ...]] = (
    ("Signup", {"plan": "pro"}), ("Signup", {"plan": "free"}), ("Download", {"file": "pdf"}),
    ("Outbound Link: Click", {"url": "https://github.com/"}), ("Newsletter", {}),
)
ACCEPT_SHARE: Final = 0.67  # of first decisions, analytics granted (all, or a custom choice)
BOUNCE_SHARE: Final = 0.4
EVENT_SHARE: Final = 0.08   # pageviews followed by a custom event
WEEKEND_FACTOR: Final = 0.7


@dataclass(frozen=True, slots=True)
class Visitor:
    number: int
    address: str
    user_agent: str
    screen_width: int


@dataclass(frozen=True, slots=True)
class Decision:
    at: datetime
    visitor: Visitor
    action: Action
    granted: frozenset[Category]
    page: str  # the path the banner was answered on


@dataclass(frozen=True, slots=True)
class Hit:
    at: datetime
    visitor: Visitor
    beacon: dict[str, Any]  # as consent.js sends it, without its tokens


@dataclass
class TrafficPlan:
    """`events` beacons (pageviews and custom events) over the `days` UTC days up to `now`
    (today only until `now`; yesterday is the last day when today has not had an hour yet)."""

    events: int
    days: int
    now: datetime
    base_url: str = "http://localhost"
    seed: int = 17
    search_param: str | None = None
    user_agents: Sequence[str] = USER_AGENTS
    addresses: Sequence[str] = GEO_TEST_ADDRESSES
    _decided: set[int] = field(default_factory=set, init=False, repr=False)

    def windows(self) -> list[tuple[datetime, datetime]]:
        """[start, end) of each day's traffic, oldest first."""
        midnight = datetime.combine(self.now.date(), time.min, tzinfo=UTC)
        last = self.now.date() if self.now - midnight >= timedelta(hours=1) \
            else self.now.date() - timedelta(days=1)
        days = [last - timedelta(days=n) for n in range(self.days - 1, -1, -1)]
        return [(_start(day), min(_start(day + timedelta(days=1)), self.now)) for day in days]

    def quotas(self) -> list[int]:
        """Beacons per day: weekdays busier than weekends, adding up to `events` exactly."""
        windows = self.windows()
        weights = [(end - start).total_seconds() / 86_400
                   * (WEEKEND_FACTOR if start.weekday() >= 5 else 1.0) for start, end in windows]
        total = sum(weights)
        cumulative = [round(self.events * acc / total) for acc in itertools.accumulate(weights)]
        return [b - a for a, b in zip([0, *cumulative], cumulative, strict=False)]

    def visitor(self, number: int) -> Visitor:
        widths = (1920, 1440, 1366, 390, 412, 820)
        return Visitor(number, self.addresses[number % len(self.addresses)],
                       self.user_agents[(number * 7 + number // 13) % len(self.user_agents)],
                       widths[number % len(widths)])

    def items(self) -> Iterator[Decision | Hit]:
        """Decisions and hits, in time order within each day; a visitor's first decision
        comes just before their first hit."""
        rnd = random.Random(self.seed)  # noqa: S311 (made-up traffic, no secret)
        pool = max(1, self.events // 7)  # visitors who accept; about 2.5 visits each
        refusers = itertools.count(pool)
        self._decided = set()
        for (start, end), quota in zip(self.windows(), self.quotas(), strict=True):
            day: list[Decision | Hit] = []
            while quota > 0:
                visitor = self.visitor(int(pool * rnd.random() ** 1.5))
                at = _moment(rnd, start, end)
                hits = self._visit(rnd, visitor, at, quota)
                quota -= len(hits)
                day.extend(hits)
                if rnd.random() < (1 - ACCEPT_SHARE) / ACCEPT_SHARE / 2.5:
                    day.append(self._refusal(rnd, self.visitor(next(refusers)), at))
            day.sort(key=lambda item: item.at)
            yield from self._with_decisions(rnd, day)

    def _with_decisions(self, rnd: random.Random,
                        day: list[Decision | Hit]) -> Iterator[Decision | Hit]:
        for item in day:
            if isinstance(item, Hit) and item.visitor.number not in self._decided:
                self._decided.add(item.visitor.number)
                custom = rnd.random() < 0.08
                granted: frozenset[Category] = frozenset({"analytics"}) if custom \
                    else frozenset({"preferences", "analytics", "marketing"})
                yield Decision(item.at - timedelta(seconds=rnd.randint(2, 20)), item.visitor,
                               "custom" if custom else "accept_all", granted,
                               _path_of(item.beacon["url"]))
            yield item

    def _refusal(self, rnd: random.Random, visitor: Visitor, at: datetime) -> Decision:
        if rnd.random() < 0.85:
            return Decision(at, visitor, "reject_all", frozenset(), "/")
        return Decision(at, visitor, "custom", frozenset({"preferences"}), "/")

    def _visit(self, rnd: random.Random, visitor: Visitor, at: datetime,
               most: int) -> list[Decision | Hit]:
        pages = 1 if rnd.random() < BOUNCE_SHARE else 2 + min(int(rnd.expovariate(0.4)), 12)
        referrer = _weighted(rnd, REFERRERS)
        campaign = rnd.choice(CAMPAIGNS) if rnd.random() < 0.12 else ""
        hits: list[Decision | Hit] = []
        while len(hits) < min(pages, most):
            url = self._page_url(rnd)
            if not hits and campaign:
                url += ("&" if "?" in url else "?") + campaign
            beacon: dict[str, Any] = {"type": "pageview", "url": url, "referrer": referrer,
                                      "w": visitor.screen_width}
            at = min(at, self.now - timedelta(seconds=31))  # today's visits end by now
            hits.append(Hit(at, visitor, beacon))
            referrer = url
            if len(hits) < most and rnd.random() < EVENT_SHARE:
                name, props = rnd.choice(CUSTOM_EVENTS)
                event = {"type": "event", "name": name, "url": url, "props": dict(props)}
                hits.append(Hit(at + timedelta(seconds=rnd.randint(1, 30)), visitor, event))
            at += timedelta(seconds=5 + min(rnd.expovariate(1 / 70), 1_200))
        return hits

    def _page_url(self, rnd: random.Random) -> str:
        if self.search_param and rnd.random() < 0.05:
            return f"{self.base_url}/search?{self.search_param}={rnd.choice(SEARCH_TERMS)}"
        index = min(int(rnd.paretovariate(1.1)) - 1, len(PATHS) - 1)
        return self.base_url + PATHS[index]


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _moment(rnd: random.Random, start: datetime, end: datetime) -> datetime:
    """A visit's start: busiest in the afternoon, never outside [start, end)."""
    hours = rnd.triangular(0.0, 24.0, 14.0)
    at = start + timedelta(hours=hours)
    if at >= end:  # today, before its afternoon
        at = start + (end - start) * rnd.random()
    return at


def _weighted(rnd: random.Random, choices: Sequence[tuple[str, int]]) -> str:
    cumulative = list(itertools.accumulate(weight for _, weight in choices))
    return choices[bisect.bisect_right(cumulative, rnd.random() * cumulative[-1])][0]


def _path_of(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return "/" + rest.split("/", 1)[1].split("?", 1)[0] if "/" in rest else "/"
