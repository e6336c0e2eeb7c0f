"""Report archives in SQLite (`sqlite/reports.py`): kept per hour and per day after a report,
read by the next, made again only for the hour whose visits changed, and gone with the
visits they were made of — an erased visitor's hash goes at once."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from gateway.adapters.store.sqlite import SQLiteStore
from gateway.core.analytics.events import AnalyticsEvent
from gateway.core.analytics.reports import ReportRequest

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
DAYS = ReportRequest("shop", date(2026, 3, 1), date(2026, 3, 2), min_visitors=1)


def pageview(day: int, visitor: str, path: str = "/") -> AnalyticsEvent:
    return AnalyticsEvent(site="shop", ts=T0 + timedelta(days=day), visitor=visitor,
                          type="pageview", path=path)


def archived(path: Path) -> dict[tuple[str, int], bytes]:
    """(day, hour) -> archive; hour 24 is the whole day."""
    conn = sqlite3.connect(path)
    try:
        return {(day, hour): body for day, hour, body in
                conn.execute("SELECT day, hour, body FROM report_archive ORDER BY day, hour")}
    finally:
        conn.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "gateway.sqlite3", session_gap=timedelta(minutes=30))
    await store.open()
    yield store
    await store.close()


async def test_a_report_keeps_its_days_and_the_next_reads_them(store: SQLiteStore) -> None:
    await store.add_events([pageview(0, "a"), pageview(0, "b"), pageview(1, "a")])
    first = await store.analytics_report(DAYS)
    assert list(archived(store.path)) == [("2026-03-01", 10), ("2026-03-01", 24),
                                          ("2026-03-02", 10), ("2026-03-02", 24)]
    assert await store.analytics_report(DAYS) == first
    assert first.totals.visitors == 2 and first.totals.visits == 3


async def test_new_visits_replace_only_their_days_archive(store: SQLiteStore) -> None:
    await store.add_events([pageview(0, "a"), pageview(1, "a")])
    await store.analytics_report(DAYS)
    await store.add_events([pageview(1, "c", "/new")])  # a late arrival on day two
    assert list(archived(store.path)) == [("2026-03-01", 10), ("2026-03-01", 24)]
    figures = await store.analytics_report(DAYS)
    assert figures.totals.visitors == 2
    assert [row.value for row in figures.breakdowns["pages"]] == ["/", "/new"]


async def test_an_erasure_takes_the_archives_holding_the_visitor(store: SQLiteStore) -> None:
    await store.add_events([pageview(0, "a"), pageview(0, "b"), pageview(1, "b")])
    await store.analytics_report(DAYS)
    await store.erase_events("a", "shop")
    # Day one held a's hash, in its hour and in the whole day.
    assert list(archived(store.path)) == [("2026-03-02", 10), ("2026-03-02", 24)]
    figures = await store.analytics_report(DAYS)
    assert figures.totals.visitors == 1 and figures.totals.visits == 2


async def test_a_new_visit_makes_again_only_its_hour(store: SQLiteStore) -> None:
    await store.add_events([pageview(0, "a"), pageview(0, "b", "/b")])
    await store.add_events([pageview(1 / 24, "c")])  # 11:00
    await store.analytics_report(DAYS)
    before = archived(store.path)
    await store.add_events([pageview(1 / 24 + 1 / 96, "d", "/d")])  # 11:15, a new visitor
    assert ("2026-03-01", 11) not in archived(store.path)
    figures = await store.analytics_report(DAYS)
    after = archived(store.path)
    assert after[("2026-03-01", 10)] == before[("2026-03-01", 10)]  # read, not made again
    assert after[("2026-03-01", 11)] != before[("2026-03-01", 11)]
    assert figures.totals.visitors == 4 and figures.totals.visits == 4
