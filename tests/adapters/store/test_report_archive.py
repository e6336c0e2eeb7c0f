"""Daily report archives in SQLite (`sqlite/reports.py`): kept after a report, read by the
next, and gone with the visits they were made of — an erased visitor's hash goes at once."""

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


def archived_days(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT day FROM report_archive ORDER BY day")]
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
    assert archived_days(store.path) == ["2026-03-01", "2026-03-02"]
    assert await store.analytics_report(DAYS) == first
    assert first.totals.visitors == 2 and first.totals.visits == 3


async def test_new_visits_replace_only_their_days_archive(store: SQLiteStore) -> None:
    await store.add_events([pageview(0, "a"), pageview(1, "a")])
    await store.analytics_report(DAYS)
    await store.add_events([pageview(1, "c", "/new")])  # a late arrival on day two
    assert archived_days(store.path) == ["2026-03-01"]
    figures = await store.analytics_report(DAYS)
    assert figures.totals.visitors == 2
    assert [row.value for row in figures.breakdowns["pages"]] == ["/", "/new"]


async def test_an_erasure_takes_the_archives_holding_the_visitor(store: SQLiteStore) -> None:
    await store.add_events([pageview(0, "a"), pageview(0, "b"), pageview(1, "b")])
    await store.analytics_report(DAYS)
    await store.erase_events("a", "shop")
    assert archived_days(store.path) == ["2026-03-02"]  # day one held a's hash
    figures = await store.analytics_report(DAYS)
    assert figures.totals.visitors == 1 and figures.totals.visits == 2
