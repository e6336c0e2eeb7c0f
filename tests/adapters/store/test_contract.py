"""The store protocols, on every engine alike (`engine`, `store` and `make_store` in
conftest.py): hash keys and the blocklist, bot tallies, events and their filters, the
consent log's exports and counts, retention of the access log and bot tallies."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from gateway.adapters.store import Store
from gateway.core.analytics.events import AccessLogEntry, AnalyticsEvent
from gateway.core.consent.export import ConsentFilter
from gateway.core.consent.record import ConsentDraft, ConsentRecord, Tombstone
from gateway.core.retention import ConsentCutoffs
from tests.adapters.store.conftest import MakeStore

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
DAY = NOW.date()
DRAFT = ConsentDraft(
    recorded_at=NOW, consent_id="A" * 22, site="demo", action="accept_all", source="banner",
    granted=("necessary", "analytics"), denied=("marketing",), revision=1,
    banner_hash="b" * 64, language="nl", ip="81.2.69.0", user_agent="Firefox / Ubuntu",
    page="/", gpc=True,
)


async def test_workers_racing_for_the_days_hash_key_all_get_the_same_one(
    make_store: MakeStore,
) -> None:
    stores = [make_store() for _ in range(3)]
    for s in stores:
        await s.open()
    try:
        assert await stores[0].ip_hash_key(DAY, create=False) is None
        keys = await asyncio.gather(*(s.ip_hash_key(DAY) for s in stores))
        assert len(set(keys)) == 1 and len(keys[0] or b"") == 32
        assert await stores[1].delete_ip_hash_keys_before(DAY + timedelta(days=1)) == 1
    finally:
        for s in stores:
            await s.close()


async def test_a_longer_block_wins_and_ended_blocks_go(store: Store) -> None:
    later = NOW + timedelta(hours=2)
    await store.block_client("c1", later, "rate")
    await store.block_client("c1", NOW + timedelta(hours=1), "admin")
    await store.block_client("c2", NOW, "rate")
    assert await store.active_blocks(NOW) == {"c1": (later, "admin")}
    assert await store.purge_blocklist(NOW) == 1
    assert await store.unblock_client(["c1", "nobody"]) == 1
    assert await store.active_blocks(NOW - timedelta(days=1)) == {}


async def test_bot_counts_add_up_per_site_and_day(store: Store) -> None:
    await store.add_bot_counts({("demo", DAY): 2, ("blog", DAY): 1})
    await store.add_bot_counts({("demo", DAY): 3, ("demo", DAY - timedelta(days=1)): 1})
    assert await store.bot_counts("demo", DAY, DAY) == {DAY: 5}
    assert await store.bot_counts("demo", DAY - timedelta(days=7), DAY) == {
        DAY - timedelta(days=1): 1, DAY: 5}
    assert await store.purge_before("bot_counts", NOW, 10) == 1
    assert await store.count_before("bot_counts", NOW) == 0


async def test_events_come_back_as_stored_filtered(store: Store) -> None:
    events = [AnalyticsEvent(site=("demo", "blog")[n % 2], ts=NOW + timedelta(seconds=n),
                             visitor=f"v{n % 3}", type="pageview", path=f"/{n}",
                             props={"plan": "pro"} if n == 4 else {}, screen_width=1280)
              for n in range(8)]
    await store.add_events(events)
    await store.add_events([])
    assert [e async for e in store.iter_events()] == events
    assert [e.path async for e in store.iter_events(site="demo", visitor="v1")] == ["/4"]
    since, until = NOW + timedelta(seconds=2), NOW + timedelta(seconds=5)
    assert [e.path async for e in store.iter_events(since=since, until=until)] == [
        "/2", "/3", "/4"]
    assert await store.count_rows("analytics_events") == 8


async def test_exports_page_through_filters_and_show_tombstones_only_unfiltered(
    store: Store,
) -> None:
    for n in range(6):
        await store.append_consent(replace(
            DRAFT, recorded_at=NOW + timedelta(days=n), site=("demo", "blog")[n % 2],
            action=("accept_all", "reject_all", "erase")[n % 3]))
    due_before = NOW + timedelta(days=1)
    await store.tombstone_consents(ConsentCutoffs(due_before, due_before), 10)
    pages = [page async for page in store.iter_consent_pages(ConsentFilter(), up_to_seq=5)]
    entries = [entry for page in pages for entry in page]
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert isinstance(entries[0], Tombstone) and isinstance(entries[1], ConsentRecord)
    demo = ConsentFilter(site="demo", since=NOW + timedelta(days=1))
    got = [e async for page in store.iter_consent_pages(demo, up_to_seq=6) for e in page]
    assert [e.seq for e in got] == [3, 5]
    assert [(s, c) for s, c, _ in await store.erasures_after(0)] == [(3, "A" * 22),
                                                                    (6, "A" * 22)]
    decisions = await store.consent_decisions("blog", NOW, NOW + timedelta(days=7))
    assert decisions == {(date(2026, 11, 22), "reject_all", True): 1,
                         (date(2026, 11, 24), "accept_all", True): 1,
                         (date(2026, 11, 26), "erase", True): 1}


async def test_records_round_trip_exactly(store: Store) -> None:
    record = await store.append_consent(replace(DRAFT, recorded_at=NOW.replace(microsecond=7)))
    regional = await store.append_consent(replace(DRAFT, mode="notice", host="shop.example"))
    assert await store.consent_history(DRAFT.consent_id) == [record, regional]
    assert [e async for e in store.iter_consents()] == [record, regional]
    assert await store.consent_decisions_by_mode("demo", NOW, NOW + timedelta(days=1)) == {
        (DAY, "accept_all", True, ""): 1, (DAY, "accept_all", True, "notice"): 1}


async def test_old_access_log_rows_go_in_batches(store: Store) -> None:
    await store.add_access_log([
        AccessLogEntry(ts=NOW - timedelta(days=n), site="demo", method="GET", path="/",
                       status=200, duration_ms=1.25, ip="81.2.69.0", browser="Firefox")
        for n in range(5)])
    assert await store.count_before("access_log", NOW - timedelta(days=1)) == 3
    assert await store.purge_before("access_log", NOW - timedelta(days=1), 2) == 2
    assert await store.purge_before("access_log", NOW - timedelta(days=1), 2) == 1
    assert await store.count_rows("access_log") == 2
    await store.reclaim_space()
    await store.ping()
