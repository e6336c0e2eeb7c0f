"""What only PostgreSQL shows (`adapters/store/postgres/`), on the suite's throwaway server:
the database itself keeps the consent log append-only, appends from several pools (as from
several instances) keep one chain, instances opening a new database at once migrate it
once, and visits come out as SQLite keeps them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.adapters.store.chain import walk_chain
from gateway.adapters.store.postgres import MIGRATIONS, PostgresStore
from gateway.adapters.store.sqlite import SQLiteStore
from gateway.core.analytics.events import AnalyticsEvent
from gateway.core.consent.record import ChainVerifier, ConsentDraft
from gateway.core.retention import ConsentCutoffs

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
DRAFT = ConsentDraft(
    recorded_at=NOW, consent_id="A" * 22, site="demo", action="accept_all", source="banner",
    granted=("necessary", "analytics"), denied=(), revision=1, banner_hash="b" * 64,
    language="nl", ip="81.2.69.0", user_agent="Firefox / Ubuntu", page="/", gpc=False,
)


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(postgres_url, pool_size=4)
    await store.open()
    yield store
    await store.close()


async def execute(url: str, sql: str) -> Any:
    conn: Any = await asyncpg.connect(url)
    try:
        return await conn.execute(sql)
    finally:
        await conn.close()


@pytest.mark.parametrize("sql", [
    "UPDATE consent_log SET action = 'reject_all' WHERE seq = 1",
    "UPDATE consent_log SET tombstone = true WHERE seq = 1",  # a tombstone that keeps data
    "DELETE FROM consent_log WHERE seq = 1",
    "TRUNCATE consent_log",
])
async def test_the_database_refuses_any_change_to_the_log_but_a_tombstone(
    pg: PostgresStore, sql: str
) -> None:
    await pg.append_consent(DRAFT)
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
        await execute(pg.url, sql)
    assert [entry async for entry in pg.iter_consents()] == [
        await anext(aiter(pg.iter_consents()))]


async def test_retention_may_reduce_a_record_to_a_tombstone_and_the_chain_verifies(
    pg: PostgresStore,
) -> None:
    await pg.append_consent(DRAFT)
    await pg.append_consent(replace(DRAFT, recorded_at=NOW + timedelta(days=1)))
    due = ConsentCutoffs(ended_before=NOW + timedelta(days=400), given_before=NOW)
    assert await pg.count_due_consents(due) == 1
    assert await pg.tombstone_consents(due, 10) == 1
    assert await pg.tombstone_consents(due, 10) == 0
    entries = [entry async for entry in pg.iter_consents()]
    assert [type(e).__name__ for e in entries] == ["Tombstone", "ConsentRecord"]
    walk = await walk_chain(pg, full=True)
    assert isinstance(walk.verdict, ChainVerifier) and walk.verdict.checked == 2
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
        await execute(pg.url, "UPDATE consent_log SET tombstone = false WHERE seq = 1")


async def test_appends_from_two_pools_at_once_keep_one_chain(postgres_url: str) -> None:
    """Two stores are two instances: only the row lock on the chain head orders them."""
    first, second = PostgresStore(postgres_url, pool_size=4), PostgresStore(postgres_url,
                                                                            pool_size=4)
    await asyncio.gather(first.open(), second.open())
    try:
        records = await asyncio.gather(*(
            (first, second)[n % 2].append_consent(replace(DRAFT, page=f"/{n}"))
            for n in range(200)))
        assert sorted(r.seq for r in records) == list(range(1, 201))
        verifier = ChainVerifier()
        async for entry in first.iter_consents():
            assert verifier.check(entry) is None
        assert verifier.checked == 200
        assert await second.chain_head() == (200, verifier.prev_hash)
    finally:
        await asyncio.gather(first.close(), second.close())


async def test_instances_opening_a_new_database_at_once_migrate_it_once(
    postgres_url: str,
) -> None:
    stores = [PostgresStore(postgres_url, pool_size=2) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        await asyncio.gather(*(s.append_consent(DRAFT) for s in stores))
        conn: Any = await asyncpg.connect(postgres_url)
        try:
            assert await conn.fetchval("SELECT version FROM gateway_schema") == len(MIGRATIONS)
            assert await conn.fetchval("SELECT count(*) FROM consent_chain_head") == 1
        finally:
            await conn.close()
        assert (await stores[0].chain_head())[0] == 4
    finally:
        await asyncio.gather(*(s.close() for s in stores))


def pageview(minutes: float, visitor: str, path: str) -> AnalyticsEvent:
    return AnalyticsEvent(site="shop", ts=datetime(2026, 3, 1, 23, 40, tzinfo=UTC)
                          + timedelta(minutes=minutes), visitor=visitor, type="pageview",
                          path=path, country="NL", browser="Firefox")


async def visits_of(store: SQLiteStore | PostgresStore) -> list[tuple[Any, ...]]:
    """(visitor, started_at, ended_at, pageviews, entry, exit) of every visit, in order."""
    if isinstance(store, SQLiteStore):
        import sqlite3

        conn = sqlite3.connect(store.path)
        rows = conn.execute("SELECT visitor, started_at, ended_at, pageviews, entry_page, "
                            "exit_page FROM visits").fetchall()
        conn.close()
        return sorted((v, datetime.fromisoformat(s), datetime.fromisoformat(e), *rest)
                      for v, s, e, *rest in rows)
    pg: Any = await asyncpg.connect(store.url)
    try:
        rows = await pg.fetch("SELECT visitor, started_at, ended_at, pageviews, entry_page, "
                              "exit_page FROM visits")
    finally:
        await pg.close()
    return sorted(tuple(row) for row in rows)


async def test_visits_come_out_as_sqlite_keeps_them_whatever_the_batches(
    pg: PostgresStore, tmp_path: Path
) -> None:
    minutes = (0, 7, 25, 41, 80, 95, 101, 140, 180, 200, 229, 231, 300, 333, 350, 402, 440)
    events = [pageview(m, f"v{m % 2}", f"/{m % 4}") for m in minutes]
    for event in reversed(events):  # newest first: every one is late
        await pg.add_events([event])
    await pg.add_events(events[:5])  # a worker sending a batch again: doubled hits
    sqlite = SQLiteStore(tmp_path / "gateway.sqlite3")
    await sqlite.open()
    try:
        await sqlite.add_events([*events, *events[:5]])
        expected = await visits_of(sqlite)
    finally:
        await sqlite.close()
    assert len(expected) > 3
    assert await visits_of(pg) == expected


async def test_erasing_and_retention_keep_the_visits_of_what_remains(pg: PostgresStore) -> None:
    await pg.add_events([pageview(m, "v1", f"/{m}") for m in (0, 10, 20)]
                        + [pageview(5, "v2", "/")])
    assert await pg.erase_events("v2", "shop") == 1
    assert await pg.erasures("shop") == 1
    cutoff = datetime(2026, 3, 1, 23, 55, tzinfo=UTC)
    assert await pg.count_before("analytics_events", cutoff) == 2
    assert await pg.purge_before("analytics_events", cutoff, 10) == 2
    [(visitor, started, _, pageviews, entry, _)] = await visits_of(pg)
    assert (visitor, started, pageviews, entry) == ("v1", datetime(2026, 3, 2, 0, 0, tzinfo=UTC),
                                                    1, "/20")
