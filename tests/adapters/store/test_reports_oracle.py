"""The store's reports equal the oracle's (`core/analytics/stats.py`, `compute_stats`) for
every figure, on real SQLite files.

Random event sets: several sites and visitors (one pseudonym also on a second site), visits
across midnight and gaps of exactly the visit gap, custom events, sources and locations
that change within a visit; the events arrive shuffled, in several batches, through two
store instances on one file (two workers); then perhaps an erasure and a retention purge in
small batches. Reports are asked after the first batch too, so daily archives are kept
and must give way to what later batches, the erasure and the purge change. Each report
range — the whole span, and ranges with visits running over their edges (a visit belongs
whole to the day it starts) — is compared, folding into "other" included (small
`min_visitors` and `top`, so rows both show and fold).

Timestamps are whole seconds: the oracle sums visit durations as floats, the store as
integer microseconds, and only then are the two sums exactly equal.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.adapters.store import Store
from gateway.adapters.store.postgres import PostgresStore
from gateway.adapters.store.sqlite import SQLiteStore
from gateway.core.analytics.events import AnalyticsEvent, EventType
from gateway.core.analytics.reports import ReportRequest, report_json
from gateway.core.analytics.stats import compute_stats
from tests.support.postgres import _admin as admin
from tests.support.postgres import with_database

DATABASES = itertools.count(1)
GAP = timedelta(minutes=30)
BASE = datetime(2026, 3, 1, 21, 0, tzinfo=UTC)  # three hours before the first midnight
FIRST_DAY = BASE.date()
SITES = ("shop", "blog")
# Seconds after BASE: 22:30 before each of three midnights, and noon between them.
KINDS: tuple[EventType, ...] = ("pageview", "pageview", "pageview", "event", "pagehide")
ANCHORS = tuple(day * 86_400 + minutes * 60 for day in range(3) for minutes in (90, 900))


def hit(draw: st.DrawFn, site: str, visitor: str, ts: datetime) -> AnalyticsEvent:
    """One event, its fields from small sets so values repeat across visitors: pageviews
    (some with a search term), custom events and pagehides."""
    kind: EventType = draw(st.sampled_from(KINDS))
    pageview = kind == "pageview"
    country = draw(st.sampled_from(("", "NL", "GB", "GB")))
    return AnalyticsEvent(
        site=site, ts=ts, visitor=visitor, type=kind,
        search=draw(st.sampled_from(("", "", "shoes", "red shoes"))) if pageview else "",
        path=draw(st.sampled_from(("/", "/a", "/b", "/other"))),
        name="" if kind != "event" else draw(st.sampled_from(("signup", "other", ""))),
        hostname="shop.example",
        referrer_host=draw(st.sampled_from(("", "", "search.example", "shop.example"))),
        utm_source=draw(st.sampled_from(("", "", "news", "ads"))),
        utm_medium=draw(st.sampled_from(("", "mail"))),
        utm_campaign=draw(st.sampled_from(("", "spring", "other"))),
        country=country, region=draw(st.sampled_from(("", "ENG", "GB-ENG"))) if country else "",
        city=draw(st.sampled_from(("", "London"))) if country else "",
        browser=draw(st.sampled_from(("Chrome", "Firefox"))),
        os=draw(st.sampled_from(("Windows", "Other"))),
        device=draw(st.sampled_from(("desktop", "mobile", "other"))),
    )


# Steps between a visitor's hits: within the gap, exactly the gap, a second more, more.
STEPS = (timedelta(0), timedelta(minutes=10), timedelta(minutes=20), GAP, GAP,
         GAP + timedelta(seconds=1), timedelta(hours=2))


@st.composite
def visits(draw: st.DrawFn) -> list[AnalyticsEvent]:
    """A run of one visitor's hits on one site from an anchor: usually one visit, sometimes
    two (a step over the gap), often over a midnight."""
    site = draw(st.sampled_from(SITES))
    visitor = draw(st.sampled_from(("v1", "v2", "v3", "v4", "v5")))
    ts = BASE + timedelta(seconds=draw(st.sampled_from(ANCHORS)) + draw(st.integers(0, 5)) * 600)
    run = []
    for _ in range(draw(st.integers(1, 6))):
        run.append(hit(draw, site, visitor, ts))
        ts += draw(st.sampled_from(STEPS))
    return run


@dataclass(frozen=True)
class Scenario:
    events: list[AnalyticsEvent]
    arrival_seed: int
    batches: int
    erase: tuple[str, str | None] | None  # visitor, site (None: every site)
    purge_before: datetime | None
    min_visitors: int
    top: int


scenarios = st.builds(
    Scenario,
    events=st.lists(visits(), min_size=1, max_size=12).map(
        lambda runs: [event for run in runs for event in run]),
    arrival_seed=st.integers(0, 2**32),
    batches=st.integers(1, 6),
    erase=st.none() | st.tuples(st.sampled_from(("v1", "v2")), st.sampled_from((None, *SITES))),
    purge_before=st.none() | st.integers(0, 3 * 24 * 6).map(
        lambda n: BASE + timedelta(minutes=10 * n, seconds=1)),
    min_visitors=st.integers(1, 3),
    top=st.integers(0, 3),
)


def report_ranges() -> list[tuple[date, date]]:
    day = timedelta(days=1)
    return [
        (FIRST_DAY, FIRST_DAY + 3 * day),  # everything
        (FIRST_DAY + day, FIRST_DAY + day),  # one day: visits over both midnights
        (FIRST_DAY, FIRST_DAY + day),  # visits running past the end
        (FIRST_DAY + 2 * day, FIRST_DAY + 5 * day),  # visits from before, empty days after
    ]


async def stored_reports(
    make: Callable[[], Store], scenario: Scenario
) -> list[dict[str, Any]]:
    arriving = list(scenario.events)
    random.Random(scenario.arrival_seed).shuffle(arriving)
    workers = [make(), make()]
    for worker in workers:
        await worker.open()
    try:
        size = -(-len(arriving) // scenario.batches)
        store = workers[0]
        for n, start in enumerate(range(0, len(arriving), size)):
            await workers[n % 2].add_events(arriving[start:start + size])
            if n == 0:  # archives kept now must give way to the later batches' changes
                for request in requests(scenario):
                    await store.analytics_report(request)
        if scenario.erase is not None:
            await store.erase_events(*scenario.erase)
        if scenario.purge_before is not None:
            while await store.purge_before("analytics_events", scenario.purge_before, 7):
                pass
        return [
            report_json(request, await store.analytics_report(request))
            for request in requests(scenario)
        ]
    finally:
        for worker in workers:
            await worker.close()


def requests(scenario: Scenario) -> list[ReportRequest]:
    return [ReportRequest(site, start, end, min_visitors=scenario.min_visitors, top=scenario.top)
            for site in SITES for start, end in report_ranges()]


def oracle_reports(scenario: Scenario) -> list[dict[str, Any]]:
    remaining = [e for e in scenario.events if not erased(e, scenario) and not purged(e, scenario)]
    return [
        compute_stats(remaining, site=r.site, start=r.start, end=r.end, session_gap=GAP,
                      min_visitors=r.min_visitors, top=r.top)
        for r in requests(scenario)
    ]


def erased(event: AnalyticsEvent, scenario: Scenario) -> bool:
    if scenario.erase is None:
        return False
    visitor, site = scenario.erase
    return event.visitor == visitor and site in (None, event.site)


def purged(event: AnalyticsEvent, scenario: Scenario) -> bool:
    return scenario.purge_before is not None and event.ts < scenario.purge_before


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios)
def test_every_figure_of_the_stored_report_equals_the_oracle(scenario: Scenario) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gateway.sqlite3"
        got = asyncio.run(stored_reports(lambda: SQLiteStore(path, session_gap=GAP), scenario))
    assert_equal_to_the_oracle(got, scenario)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios)
def test_on_postgresql_too(postgres_server: str, scenario: Scenario) -> None:
    """The same on PostgreSQL (fewer examples: each is a new database)."""
    name = f"oracle_{next(DATABASES)}"
    asyncio.run(admin(postgres_server, f'CREATE DATABASE "{name}" TEMPLATE template0'))
    url = with_database(postgres_server, name)
    try:
        got = asyncio.run(stored_reports(
            lambda: PostgresStore(url, pool_size=2, session_gap=GAP), scenario))
    finally:
        asyncio.run(admin(postgres_server, f'DROP DATABASE "{name}" WITH (FORCE)'))
    assert_equal_to_the_oracle(got, scenario)


def assert_equal_to_the_oracle(got: list[dict[str, Any]], scenario: Scenario) -> None:
    for stored, expected in zip(got, oracle_reports(scenario), strict=True):
        # A handful of visitors: every row's visitors are counted exactly.
        assert stored.pop("visitor_estimates")["estimated"] == []
        assert stored == expected
