"""The consent log: on every engine (the `store` and `make_store` fixtures of conftest.py)
what the protocol promises; on SQLite, real files and real processes."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest

from gateway.adapters.store import Store
from gateway.adapters.store.sqlite import MIGRATIONS, SQLiteStore
from gateway.core.consent.record import GENESIS_HASH, ChainVerifier, ConsentDraft
from tests.adapters.store.conftest import MakeStore
from tests.conftest import REPO


def draft(n: int = 0, consent_id: str = "AAAAAAAAAAAAAAAAAAAAAA") -> ConsentDraft:
    return ConsentDraft(
        recorded_at=datetime(2026, 11, 21, 12, 0, n % 60, tzinfo=UTC),
        consent_id=consent_id, site="demo", action="accept_all", source="banner",
        granted=("necessary", "preferences", "analytics", "marketing"), denied=(),
        revision=1, banner_hash="b" * 64, language="nl", ip="81.2.69.0",
        user_agent="Firefox / Ubuntu", page=f"/page/{n}", gpc=False,
    )


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "sub" / "log.sqlite3")
    await s.open()
    yield s
    await s.close()


async def test_an_empty_log_has_the_genesis_head(store: Store) -> None:
    assert await store.chain_head() == (0, GENESIS_HASH)


async def test_appends_are_chained_and_survive_reopening(make_store: MakeStore) -> None:
    first = make_store()
    await first.open()
    records = [await first.append_consent(draft(i)) for i in range(5)]
    await first.close()
    second = make_store()
    await second.open()
    loaded = [r async for r in second.iter_consents()]
    await second.close()
    assert loaded == records
    assert [r.seq for r in loaded] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in pairwise(loaded))


async def test_the_database_uses_wal_and_the_latest_schema(sqlite_store: SQLiteStore) -> None:
    conn = sqlite3.connect(sqlite_store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    conn.close()


async def test_migrations_run_once(make_store: MakeStore) -> None:
    for _ in range(3):
        s = make_store()
        await s.open()
        await s.append_consent(draft())
        await s.close()
    s = make_store()
    await s.open()
    assert len([r async for r in s.iter_consents()]) == 3
    await s.close()


async def test_the_log_refuses_updates_and_deletes(sqlite_store: SQLiteStore) -> None:
    await sqlite_store.append_consent(draft())
    conn = sqlite3.connect(sqlite_store.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE consent_log SET action = 'reject_all'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM consent_log")
    conn.close()


async def test_concurrent_appends_in_one_process_keep_the_chain(store: Store) -> None:
    await asyncio.gather(*(store.append_consent(draft(i)) for i in range(50)))
    verifier = ChainVerifier()
    async for record in store.iter_consents():
        assert verifier.check(record) is None
    assert verifier.checked == 50


async def test_history_lists_one_visitors_records(store: Store) -> None:
    await store.append_consent(draft(1, "AAAAAAAAAAAAAAAAAAAAAA"))
    await store.append_consent(draft(2, "BBBBBBBBBBBBBBBBBBBBBB"))
    await store.append_consent(draft(3, "AAAAAAAAAAAAAAAAAAAAAA"))
    history = await store.consent_history("AAAAAAAAAAAAAAAAAAAAAA")
    assert [r.page for r in history] == ["/page/1", "/page/3"]


APPENDER = """
import asyncio, sys
sys.path.insert(0, {repo!r})
from tests.adapters.store.test_sqlite import draft
from gateway.adapters.store.sqlite import SQLiteStore

async def main() -> None:
    store = SQLiteStore({path!r})
    await store.open()
    for i in range({count}):
        await store.append_consent(draft(i))
    await store.close()

asyncio.run(main())
"""


def test_several_processes_appending_to_one_file_keep_the_chain(tmp_path: Path) -> None:
    """Appends are ordered by the database (BEGIN IMMEDIATE), not by a lock in one process:
    four processes racing from a cold start (migrations included) lose nothing."""
    path = str(tmp_path / "shared.sqlite3")
    script = APPENDER.format(repo=str(REPO), path=path, count=40)
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]

    async def verify() -> int:
        store = SQLiteStore(path)
        await store.open()
        verifier = ChainVerifier()
        async for record in store.iter_consents():
            assert verifier.check(record) is None
        assert verifier.check_head((await store.chain_head())[0]) is None
        await store.close()
        return verifier.checked

    assert asyncio.run(verify()) == 160
