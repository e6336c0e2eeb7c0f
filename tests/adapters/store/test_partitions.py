"""Monthly partitions on PostgreSQL (`adapters/store/postgres/partitions.py` and the
migration that makes them): a store holding data is partitioned without a figure changing;
retention drops whole old months and deletes only at the edge, the visits and reports then
being what the remaining events make (`compute_stats`, the oracle, and a SQLite store fed
the same events); the coming months are made ahead by the instance that claims the run.

The suite's server has the real date: the migration makes months around it, the claims
here make the months the tests need (rows of months without one wait in DEFAULT)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.adapters.store.chain import walk_chain
from gateway.adapters.store.migrate import migrate_store
from gateway.adapters.store.postgres import MIGRATIONS, PostgresStore, schema
from gateway.adapters.store.sqlite import SQLiteStore
from gateway.core.analytics.events import AccessLogEntry, AnalyticsEvent
from gateway.core.analytics.reports import ReportRequest, report_json
from gateway.core.analytics.stats import compute_stats
from gateway.core.consent.record import ChainVerifier
from tests.adapters.store.test_postgres import DRAFT, visits_of

GAP = timedelta(minutes=30)
CUTOFF = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
PARTITIONED = ("analytics_events", "visits", "access_log")


def at(month: int, day: int, hour: int, minute: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def hit(ts: datetime, visitor: str, path: str = "/", site: str = "shop") -> AnalyticsEvent:
    return AnalyticsEvent(site=site, ts=ts, visitor=visitor, type="pageview", path=path,
                          country="NL", browser="Firefox")


def every(start: datetime, end: datetime, step: timedelta, visitor: str) -> list[AnalyticsEvent]:
    found: list[AnalyticsEvent] = []
    ts = start
    while ts <= end:
        found.append(hit(ts, visitor, f"/{len(found) % 3}"))
        ts += step
    return found


# Visits inside a month, over month ends (starting in one month, ending in the next), over
# the cutoff, one running for ten days from October into November past the cutoff, one in
# July (a month left without a partition: DEFAULT), and another site.
EVENTS = [
    hit(at(7, 20, 9, 0), "h"), hit(at(7, 20, 9, 10), "h", "/b"),
    hit(at(8, 10, 10, 0), "a"), hit(at(8, 10, 10, 10), "a", "/b"),
    hit(at(8, 31, 23, 50), "b"), hit(at(9, 1, 0, 5), "b", "/b"), hit(at(9, 1, 0, 20), "b"),
    hit(at(9, 30, 23, 40), "c"), hit(at(10, 1, 0, 0), "c", "/c"),
    hit(at(10, 31, 23, 45), "e"), hit(at(11, 1, 0, 5), "e", "/e"), hit(at(11, 1, 0, 25), "e"),
    *every(at(10, 31, 23, 50), at(11, 10, 12, 20), timedelta(minutes=20), "g"),
    hit(at(11, 10, 11, 40), "d"), hit(at(11, 10, 11, 55), "d", "/d"),
    hit(at(11, 10, 12, 10), "d", "/x"), hit(at(11, 10, 12, 30), "d"),
    hit(at(11, 20, 8, 0), "f"), hit(at(12, 1, 8, 0), "f", "/f"),
    hit(at(9, 15, 12, 0), "a", site="blog"), hit(at(11, 15, 12, 0), "a", site="blog"),
]
REQUESTS = [ReportRequest(site, start, end, min_visitors=1, top=5)
            for site in ("shop", "blog")
            for start, end in ((date(2026, 7, 1), date(2026, 12, 31)),
                               (date(2026, 10, 1), date(2026, 11, 10)),
                               (date(2026, 11, 10), date(2026, 11, 30)))]


async def query(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn: Any = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


async def months_of(url: str, table: str) -> list[str]:
    rows = await query(url, "SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c "
                            "ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass", table)
    return sorted(row[0] for row in rows)


async def reports(store: PostgresStore) -> list[dict[str, Any]]:
    found = []
    for request in REQUESTS:
        body = report_json(request, await store.analytics_report(request))
        assert body.pop("visitor_estimates")["estimated"] == []
        found.append(body)
    return found


def oracle(events: list[AnalyticsEvent]) -> list[dict[str, Any]]:
    return [compute_stats(events, site=r.site, start=r.start, end=r.end, session_gap=GAP,
                          min_visitors=r.min_visitors, top=r.top) for r in REQUESTS]


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(postgres_url, pool_size=4, session_gap=GAP)
    await store.open()
    yield store
    await store.close()


async def test_the_migration_partitions_a_store_holding_data_and_changes_no_figure(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    partitioning = next(n for n, statements in enumerate(MIGRATIONS)
                        if any("PARTITION BY RANGE" in s for s in statements))
    monkeypatch.setattr(schema, "MIGRATIONS", MIGRATIONS[:partitioning])
    old = PostgresStore(postgres_url, pool_size=2, session_gap=GAP)
    await old.open()
    try:
        assert await query(postgres_url, "SELECT relkind::text FROM pg_class WHERE relname = "
                                         "'visits'") == [("r",)]
        await old.add_events([*EVENTS, hit(at(1, 5, 12, 0, year=2020), "z")])
        await old.add_access_log([AccessLogEntry(at(9, n, 12, 0), "shop", "GET", "/", 200, 1.5,
                                                 "81.2.69.0", "Firefox") for n in (1, 2)])
        for n in range(3):
            await old.append_consent(replace(DRAFT, page=f"/{n}"))
        rows = {table: await query(postgres_url, f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4")
                for table in PARTITIONED}
        head = await old.chain_head()
    finally:
        await old.close()
    monkeypatch.setattr(schema, "MIGRATIONS", MIGRATIONS)
    store = PostgresStore(postgres_url, pool_size=2, session_gap=GAP)
    await store.open()
    try:
        for table in PARTITIONED:
            assert await query(postgres_url, "SELECT relkind::text FROM pg_class "
                                             "WHERE relname = $1", table) == [("p",)]
            names = await months_of(postgres_url, table)
            assert f"{table}_default" in names and f"{table}_2026_08" in names
        assert await query(postgres_url, "SELECT count(*) FROM analytics_events_2026_11") == [
            (sum(e.ts.month == 11 for e in EVENTS),)]
        # Older than 24 months before now: no month made, the row waits in DEFAULT.
        assert await query(postgres_url, "SELECT count(*) FROM analytics_events_default") == [
            (1,)]
        for table, kept in rows.items():
            assert await query(postgres_url,
                               f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4") == kept
        # (The report archives of that time are dropped by a later migration and made
        # again: the reports are the oracle's.)
        assert await reports(store) == oracle(EVENTS)
        assert await store.chain_head() == head
        walk = await walk_chain(store, full=True)
        assert isinstance(walk.verdict, ChainVerifier) and walk.verdict.checked == 3
        await store.add_events([hit(at(12, 2, 9, 0), "new")])
        [(newest,)] = await query(postgres_url, "SELECT id FROM analytics_events "
                                                "WHERE visitor = 'new'")
        assert newest == max(row[0] for row in rows["analytics_events"]) + 1
    finally:
        await store.close()


async def test_retention_drops_whole_months_deletes_at_the_edge_and_reports_stay_exact(
    pg: PostgresStore, tmp_path: Path
) -> None:
    await pg.add_events(EVENTS)
    # Two runs' claims make August to December (their rows move out of DEFAULT).
    assert await pg.claim_retention_run(at(8, 15, 0, 0), timedelta(hours=1))
    assert await pg.claim_retention_run(at(10, 15, 0, 0), timedelta(hours=1))
    assert await months_of(pg.url, "analytics_events") >= [
        f"analytics_events_2026_{m:02}" for m in range(8, 13)]
    assert await query(pg.url, "SELECT count(*) FROM analytics_events_default") == [(2,)]
    await reports(pg)  # archives kept of every day, to be dropped or made again
    old = sum(e.ts < CUTOFF for e in EVENTS)
    assert await pg.count_before("analytics_events", CUTOFF) == old

    removed = 0
    while gone := await pg.purge_before("analytics_events", CUTOFF, 7):
        removed += gone
    assert removed == old
    for table in ("analytics_events", "visits"):
        months = await months_of(pg.url, table)
        assert not any(f"{table}_2026_{m:02}" in months for m in (8, 9, 10))
        assert f"{table}_2026_11" in months
    assert await query(pg.url, "SELECT count(*) FROM report_archive WHERE day < $1",
                       CUTOFF.date()) == [(0,)]
    assert await query(pg.url, "SELECT count(*) FROM visit_hour_changes WHERE day >= $1 "
                               "AND day < $2", date(2026, 8, 1), date(2026, 11, 1)) == [(0,)]
    remaining = [e for e in EVENTS if e.ts >= CUTOFF]
    assert sorted([(e.visitor, e.ts) async for e in pg.iter_events()]) == sorted(
        (e.visitor, e.ts) for e in remaining)
    sqlite = SQLiteStore(tmp_path / "gateway.sqlite3", session_gap=GAP)
    await sqlite.open()
    try:
        await sqlite.add_events(remaining)
        assert await visits_of(pg) == await visits_of(sqlite)
    finally:
        await sqlite.close()
    assert await reports(pg) == oracle(remaining)


async def test_two_instances_purging_at_once_drop_each_month_once(pg: PostgresStore) -> None:
    entries = [AccessLogEntry(at(month, 9 + n, 12, 0), "shop", "GET", "/", 200, 1.0,
                              "81.2.69.0", "Firefox")
               for month in (7, 8, 9, 10, 11) for n in range(3)]
    await pg.add_access_log(entries)
    assert await pg.claim_retention_run(at(8, 15, 0, 0), timedelta(hours=1))
    assert await pg.claim_retention_run(at(10, 15, 0, 0), timedelta(hours=1))
    other = PostgresStore(pg.url, pool_size=2, session_gap=GAP)
    await other.open()

    async def purge(store: PostgresStore) -> int:
        total = 0
        while gone := await store.purge_before("access_log", CUTOFF, 2):
            total += gone
        return total

    try:
        removed = await asyncio.gather(purge(pg), purge(other))
    finally:
        await other.close()
    assert sum(removed) == sum(e.ts < CUTOFF for e in entries)
    assert await query(pg.url, "SELECT ts FROM access_log ORDER BY ts") == [
        (e.ts,) for e in entries if e.ts >= CUTOFF]
    assert not {"access_log_2026_08", "access_log_2026_09", "access_log_2026_10"} & set(
        await months_of(pg.url, "access_log"))


async def test_the_claiming_instance_makes_the_coming_months_ahead(pg: PostgresStore) -> None:
    later = datetime(2027, 6, 20, 8, 0, tzinfo=UTC)
    await pg.add_events([hit(datetime(2027, 7, 2, 9, 0, tzinfo=UTC), "early")])
    await pg.add_access_log([AccessLogEntry(datetime(2027, 8, 31, 23, 59, tzinfo=UTC), "shop",
                                            "GET", "/", 200, 1.0, "81.2.69.0", "Firefox")])
    other = PostgresStore(pg.url, pool_size=2, session_gap=GAP)
    await other.open()
    try:
        claims = await asyncio.gather(pg.claim_retention_run(later, timedelta(hours=1)),
                                      other.claim_retention_run(later, timedelta(hours=1)))
    finally:
        await other.close()
    assert sorted(claims) == [False, True]
    for table in PARTITIONED:
        months = await months_of(pg.url, table)
        assert {f"{table}_2027_06", f"{table}_2027_07", f"{table}_2027_08"} <= set(months)
        assert f"{table}_2027_09" not in months
    # Rows that arrived before their month existed moved into it; the visit went along.
    assert await query(pg.url, "SELECT tableoid::regclass::text FROM analytics_events") == [
        ("analytics_events_2027_07",)]
    assert await query(pg.url, "SELECT tableoid::regclass::text FROM visits") == [
        ("visits_2027_07",)]
    assert await query(pg.url, "SELECT tableoid::regclass::text FROM access_log") == [
        ("access_log_2027_08",)]


async def test_a_moved_sqlite_store_has_its_old_months_in_their_own_partitions(
    postgres_url: str, tmp_path: Path
) -> None:
    source = SQLiteStore(tmp_path / "gateway.sqlite3", session_gap=GAP)
    await source.open()
    try:
        await source.add_events(EVENTS)
    finally:
        await source.close()
    await migrate_store(str(source.path), postgres_url)
    assert await query(postgres_url, "SELECT count(*) FROM analytics_events_default") == [(0,)]
    assert await query(postgres_url, "SELECT count(*) FROM visits_default") == [(0,)]
    assert await query(postgres_url, "SELECT count(*) FROM analytics_events_2026_07") == [(2,)]
    assert await query(postgres_url, "SELECT count(*) FROM analytics_events") == [
        (len(EVENTS),)]
