"""Visits kept at ingest in SQLite (`sqlite/visits.py`), on real files: late beacons, several
workers, erasure, a changed gap, a database from before visits were kept."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from gateway.adapters.store.sqlite import MIGRATIONS, SQLiteStore, visits
from gateway.core.analytics.events import AnalyticsEvent
from gateway.core.analytics.reports import ReportRequest, report_json
from gateway.core.analytics.sketch import STANDARD_ERROR
from gateway.core.analytics.stats import compute_stats

GAP = timedelta(minutes=30)
T0 = datetime(2026, 3, 1, 23, 40, tzinfo=UTC)


def pageview(minutes: float, visitor: str = "v1", path: str = "/", site: str = "shop",
             **fields: str) -> AnalyticsEvent:
    return AnalyticsEvent(site=site, ts=T0 + timedelta(minutes=minutes), visitor=visitor,
                          type="pageview", path=path, **fields)


def stored_visits(path: Path) -> list[tuple[str, str, str, int, int, str, str]]:
    """(site, visitor, started_at, pageviews, events, entry page, exit page) in order."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT site, visitor, started_at, pageviews, events, entry_page, exit_page "
            "FROM visits ORDER BY site, visitor, started_at").fetchall()
    finally:
        conn.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "gateway.sqlite3", session_gap=GAP)
    await s.open()
    yield s
    await s.close()


async def test_a_late_beacon_lands_in_its_visit_and_can_join_two(store: SQLiteStore) -> None:
    await store.add_events([pageview(0, path="/a"), pageview(45, path="/c")])
    assert [v[3] for v in stored_visits(store.path)] == [1, 1]
    await store.add_events([pageview(20, path="/b")])  # late: between the two
    assert stored_visits(store.path) == [
        ("shop", "v1", "2026-03-01T23:40:00.000000Z", 3, 0, "/a", "/c")]


async def test_a_visit_is_extended_across_batches_and_midnight(store: SQLiteStore) -> None:
    for minutes in (0, 15, 30):
        await store.add_events([pageview(minutes, path=f"/{minutes}")])
    conn = sqlite3.connect(store.path)
    row = conn.execute("SELECT day, last_day, pageviews, bounce, exit_page FROM visits").fetchall()
    conn.close()
    assert row == [("2026-03-01", "2026-03-02", 3, 0, "/30")]


async def test_the_gap_is_exact_to_the_microsecond(store: SQLiteStore) -> None:
    just = GAP + timedelta(microseconds=1)
    await store.add_events([pageview(0), pageview(0, visitor="v2")])
    await store.add_events([
        AnalyticsEvent(site="shop", ts=T0 + GAP, visitor="v1", type="pageview", path="/"),
        AnalyticsEvent(site="shop", ts=T0 + just, visitor="v2", type="pageview", path="/"),
    ])
    assert [(v[1], v[3]) for v in stored_visits(store.path)] == [("v1", 2), ("v2", 1), ("v2", 1)]


async def test_two_workers_agree_on_the_visits(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sqlite3"
    first, second = SQLiteStore(path, session_gap=GAP), SQLiteStore(path, session_gap=GAP)
    await first.open()
    await second.open()
    try:
        events = [pageview(m, visitor=f"v{m % 3}", path=f"/{m}") for m in range(0, 120, 7)]
        for n, event in enumerate(reversed(events)):  # newest first: every one is late
            await (first, second)[n % 2].add_events([event])
    finally:
        await first.close()
        await second.close()
    one = SQLiteStore(tmp_path / "one.sqlite3", session_gap=GAP)
    await one.open()
    await one.add_events(events)
    await one.close()
    assert stored_visits(path) == stored_visits(one.path)


async def test_erasing_a_visitor_takes_their_visits_and_counts_for_the_site(
    store: SQLiteStore,
) -> None:
    await store.add_events([pageview(0), pageview(1, visitor="v2"), pageview(2, site="blog")])
    assert await store.erase_events("v1", "shop") == 1
    assert [(v[0], v[1]) for v in stored_visits(store.path)] == [("blog", "v1"), ("shop", "v2")]
    assert (await store.erasures("shop"), await store.erasures("blog")) == (1, 0)
    assert await store.erase_events("nobody") == 0
    request = ReportRequest("shop", T0.date(), T0.date() + timedelta(days=1))
    figures = await store.analytics_report(request)
    assert figures.totals.visitors == 1
    assert [r.value for r in figures.breakdowns["pages"]] == ["other"]  # one visitor < 5


async def test_opening_with_another_gap_rebuilds_the_visits(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sqlite3"
    store = SQLiteStore(path, session_gap=GAP)
    await store.open()
    await store.add_events([pageview(0), pageview(40)])
    await store.close()
    assert len(stored_visits(path)) == 2
    wider = SQLiteStore(path, session_gap=timedelta(minutes=60))
    await wider.open()
    await wider.close()
    assert len(stored_visits(path)) == 1
    unchanged = SQLiteStore(path)  # a tool without the config keeps what is stored
    await unchanged.open()
    await unchanged.close()
    assert len(stored_visits(path)) == 1


async def test_events_from_before_visits_were_kept_get_them_on_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upgrading: the migration adds the table, the first open the visits, a chunk of
    visitors per transaction."""
    path = tmp_path / "gateway.sqlite3"
    conn = sqlite3.connect(path)
    before = next(n for n, m in enumerate(MIGRATIONS) if any("TABLE visits" in s for s in m))
    for migration in MIGRATIONS[:before]:
        for statement in migration:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version={before}")
    events = [pageview(m, visitor=f"v{m % 7}", path=f"/{m % 3}") for m in range(0, 600, 11)]
    for e in events:
        conn.execute(
            "INSERT INTO analytics_events (site, ts, visitor, type, name, path, hostname, "
            "referrer_host, utm_source, utm_medium, utm_campaign, utm_term, utm_content, "
            "country, region, city, browser, os, device, props) "
            "VALUES (?, ?, ?, 'pageview', '', ?, '', '', '', '', '', '', '', '', '', '', "
            "'Other', 'Other', 'other', '{}')",
            (e.site, e.ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), e.visitor, e.path))
    conn.commit()
    conn.close()
    monkeypatch.setattr(visits, "REBUILD_CHUNK", 2)
    store = SQLiteStore(path, session_gap=GAP)
    await store.open()
    try:
        request = ReportRequest("shop", date(2026, 3, 1), date(2026, 3, 2), min_visitors=1)
        got = report_json(request, await store.analytics_report(request))
        assert got.pop("visitor_estimates")["estimated"] == []
    finally:
        await store.close()
    assert got == compute_stats(events, site="shop", start=request.start, end=request.end,
                                session_gap=GAP, min_visitors=1)


async def test_a_report_answers_while_another_process_holds_the_write_lock(
    store: SQLiteStore,
) -> None:
    await store.add_events([pageview(0), pageview(5, visitor="v2")])
    writer = sqlite3.connect(store.path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        figures = await store.analytics_report(ReportRequest("shop", T0.date(), T0.date()))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert figures.totals.visits == 2


async def test_a_breakdown_has_at_most_top_rows_and_other(store: SQLiteStore) -> None:
    await store.add_events([pageview(n / 10, visitor=f"v{n}", path=f"/{n % 20}")
                            for n in range(200)])
    request = ReportRequest("shop", T0.date(), T0.date(), min_visitors=1, top=3)
    rows = (await store.analytics_report(request)).breakdowns["pages"]
    assert [r.value for r in rows][-1] == "other" and len(rows) == 4
    folded = 200 - sum(r.visitors for r in rows[:-1])  # 170 visitors: estimated
    assert sum(r.count for r in rows) == 200 and rows[-1].estimated
    assert abs(rows[-1].visitors - folded) <= 3 * STANDARD_ERROR * folded
