"""The chain walk (`adapters/store/chain.py`) on every engine (a real SQLite file, a real
PostgreSQL database): a routine walk resumes at the checkpoint the last walk left, a full
one re-hashes everything, and the hashing runs in a worker thread."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from gateway.adapters.store import Store
from gateway.adapters.store.chain import walk_chain
from gateway.core.consent.record import ChainBreak, ChainVerifier, ConsentDraft
from tests.adapters.store.conftest import raw_sql

DRAFT = ConsentDraft(
    recorded_at=datetime(2026, 11, 21, 12, 0, tzinfo=UTC), consent_id="A" * 22, site="demo",
    action="accept_all", source="banner", granted=("necessary", "analytics"), denied=(),
    revision=1, banner_hash="b" * 64, language="nl", ip="81.2.69.0", user_agent="Firefox",
    page="/", gpc=False,
)


async def append(store: Store, count: int) -> None:
    for n in range(count):
        await store.append_consent(replace(DRAFT, page=f"/{n}"))


async def test_a_routine_walk_hashes_only_what_came_after_the_last_one(
    store: Store,
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
    store: Store,
) -> None:
    await append(store, 4)
    await walk_chain(store)
    await raw_sql(store, "UPDATE consent_log SET page = '/forged' WHERE seq = 2")
    routine = await walk_chain(store)
    full = await walk_chain(store, full=True)
    assert isinstance(routine.verdict, ChainVerifier) and routine.verdict.checked == 0
    assert isinstance(full.verdict, ChainBreak) and full.verdict.seq == 2


async def test_the_checkpoint_record_itself_must_still_be_what_was_verified(
    store: Store,
) -> None:
    await append(store, 3)
    await walk_chain(store)
    await raw_sql(store, "UPDATE consent_log SET hash = 'f' || substr(hash, 2) WHERE seq = 3")
    walk = await walk_chain(store)
    assert isinstance(walk.verdict, ChainBreak) and walk.verdict.seq == 3


async def test_a_log_cut_below_the_checkpoint_fails(store: Store) -> None:
    await append(store, 4)
    await walk_chain(store)
    await raw_sql(store, "DELETE FROM consent_log WHERE seq >= 3")
    await raw_sql(store, "UPDATE consent_chain_head SET seq = 2, "
                         "hash = (SELECT hash FROM consent_log WHERE seq = 2)")
    walk = await walk_chain(store)
    assert isinstance(walk.verdict, ChainBreak) and walk.verdict.seq == 3


async def test_records_are_hashed_off_the_event_loop_thread(
    store: Store, monkeypatch: pytest.MonkeyPatch
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
