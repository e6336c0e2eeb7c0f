"""The store contract tests run against every engine: `engine` is "sqlite" (a file in the
test's folder) or "postgresql" (a fresh database on the suite's throwaway server, see
tests/support/postgres.py). `make_store()` gives a new, unopened store on the test's one
database (call it again to reopen it); `store` is one, opened."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.adapters.store import Store
from gateway.adapters.store.postgres import PostgresStore
from gateway.adapters.store.sqlite import SQLiteStore

ENGINES = ["sqlite", "postgresql"]
MakeStore = Callable[..., Store]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> MakeStore:
    if engine == "sqlite":
        path = tmp_path / "sub" / "gateway.sqlite3"

        def sqlite(session_gap: timedelta | None = None) -> Store:
            return SQLiteStore(path, session_gap=session_gap)

        return sqlite
    url = request.getfixturevalue("postgres_url")

    def postgresql(session_gap: timedelta | None = None) -> Store:
        return PostgresStore(url, pool_size=4, session_gap=session_gap)

    return postgresql


@pytest.fixture
async def store(make_store: MakeStore) -> AsyncIterator[Store]:
    s = make_store()
    await s.open()
    yield s
    await s.close()


async def raw_sql(store: Store, sql: str) -> None:
    """Run `sql` on the store's database behind its back, as an attacker with database
    access would: with the consent log's guards off."""
    if isinstance(store, SQLiteStore):
        import sqlite3

        conn = sqlite3.connect(store.path)
        conn.execute("DROP TRIGGER IF EXISTS consent_log_only_tombstones")
        conn.execute("DROP TRIGGER IF EXISTS consent_log_no_delete")
        conn.execute(sql)
        conn.commit()
        conn.close()
        return
    assert isinstance(store, PostgresStore)
    pg: Any = await asyncpg.connect(store.url)
    try:
        await pg.execute("ALTER TABLE consent_log DISABLE TRIGGER USER")
        await pg.execute(sql)
    finally:
        await pg.close()


def missing_table_message(store: Store, table: str) -> str:
    """The database's own words for a table that is not there (a regex)."""
    if isinstance(store, SQLiteStore):
        return rf"no such table: (main\.)?{table}"
    return rf'relation "{table}" does not exist'


def driver_error(store: Store) -> type[Exception]:
    import sqlite3

    return sqlite3.Error if isinstance(store, SQLiteStore) else asyncpg.PostgresError
