"""The chain walk (`adapters/store/chain.py`) on a real SQLite file: a routine walk resumes
at the checkpoint the last walk left, a full one re-hashes everything, and the hashing runs
in a worker thread."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.adapters.store.chain import walk_chain
from gateway.adapters.store.sqlite import SQLiteStore
from gateway.core.consent.record import ChainBreak, ChainVerifier, ConsentDraft

DRAFT = ConsentDraft(
    recorded_at=datetime(2026, 11, 21, 12, 0, tzinfo=UTC), consent_id="A" * 22, site="demo",
    action="accept_all", source="banner", granted=("necessary", "analytics"), denied=(),
    revision=1, banner_hash="b" * 64, language="nl", ip="81.2.69.0", user_agent="Firefox",
    page="/", gpc=False,
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "gateway.sqlite3")
    await s.open()
    yield s
    await s.close()


async def append(store: SQLiteStore, count: int) -> None:
    for n in range(count):
        await store.append_consent(replace(DRAFT, page=f"/{n}"))


def tamper(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER IF EXISTS consent_log_only_tombstones")
    conn.execute("DROP TRIGGER IF EXISTS consent_log_no_delete")
    conn.execute(sql)
    conn.commit()
    conn.close()


async def test_a_routine_walk_hashes_only_what_came_after_the_last_one(
    store: SQLiteStore,
) -> None:
    await append(store, 5)
    first = await walk_chain(store)
    await append(store, 3)
    second = await walk_chain(store)
    assert isinstance(first.verdict, ChainVerifier) and isinstance(second.verdict, ChainVerifier)
    assert (first.resumed_from, first.verdict.checked) == (0, 5)
    assert (second.resumed_from, second.verdict.checked) == (5, 3)
    assert await store.chain_checkpoint() == await store.chain_head()


async def test_an_old_record_edited_behind_its_hash_shows_in_a_full_walk(
    store: SQLiteStore,
) -> None:
    await append(store, 4)
    await walk_chain(store)
    tamper(store.path, "UPDATE consent_log SET page = '/forged' WHERE seq = 2")
    routine = await walk_chain(store)
    full = await walk_chain(store, full=True)
    assert isinstance(routine.verdict, ChainVerifier) and routine.verdict.checked == 0
    assert isinstance(full.verdict, ChainBreak) and full.verdict.seq == 2


async def test_the_checkpoint_record_itself_must_still_be_what_was_verified(
    store: SQLiteStore,
) -> None:
    await append(store, 3)
    await walk_chain(store)
    tamper(store.path, "UPDATE consent_log SET hash = 'f' || substr(hash, 2) WHERE seq = 3")
    walk = await walk_chain(store)
    assert isinstance(walk.verdict, ChainBreak) and walk.verdict.seq == 3


async def test_a_log_cut_below_the_checkpoint_fails(store: SQLiteStore) -> None:
    await append(store, 4)
    await walk_chain(store)
    tamper(store.path, "DELETE FROM consent_log WHERE seq >= 3")
    tamper(store.path, "UPDATE consent_chain_head SET seq = 2, "
                       "hash = (SELECT hash FROM consent_log WHERE seq = 2)")
    walk = await walk_chain(store)
    assert isinstance(walk.verdict, ChainBreak) and walk.verdict.seq == 3


async def test_records_are_hashed_off_the_event_loop_thread(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await append(store, 3)
    threads: set[int] = set()
    check = ChainVerifier.check

    def spy(self: ChainVerifier, record: object) -> ChainBreak | None:
        threads.add(threading.get_ident())
        return check(self, record)  # type: ignore[arg-type]

    monkeypatch.setattr(ChainVerifier, "check", spy)
    await walk_chain(store, full=True)
    assert threads and threading.get_ident() not in threads
