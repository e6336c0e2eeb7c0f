"""Background jobs (gateway/adapters/jobs.py): the retention purge of analytics events, bot
counts, the access log and the consent log, on a real SQLite file with an injected clock,
and the `purge` command as a site owner runs it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.adapters.jobs import purge
from gateway.adapters.store.sqlite import SQLiteStore
from gateway.core.analytics.events import AccessLogEntry, AnalyticsEvent
from gateway.core.config import RetentionConfig
from gateway.core.consent.record import ChainVerifier, ConsentDraft, ConsentRecord, Tombstone
from gateway.core.types import Action, Category
from tests.conftest import EXAMPLE_CONFIG, FrozenClock, gateway_env

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
POLICY = RetentionConfig()
LIFETIME = timedelta(days=365)


def event(age: timedelta, n: int = 0) -> AnalyticsEvent:
    return AnalyticsEvent(site="demo", ts=NOW - age, visitor=f"v{n}", type="pageview",
                          path=f"/page/{n}")


def access(age: timedelta) -> AccessLogEntry:
    return AccessLogEntry(ts=NOW - age, site="demo", method="GET", path="/", status=200,
                          duration_ms=1.0, ip="81.2.69.0", browser="Firefox")


@pytest.fixture
async def store(tmp_path: Path) -> SQLiteStore:
    opened = SQLiteStore(tmp_path / "gateway.sqlite3")
    await opened.open()
    yield opened  # type: ignore[misc]
    await opened.close()


async def test_a_366_day_old_event_goes_and_a_364_day_old_one_stays(store: SQLiteStore) -> None:
    await store.add_events([event(timedelta(days=366), 1), event(timedelta(days=364), 2)])
    done = await purge(store, POLICY, FrozenClock(NOW), consent_lifetime=LIFETIME)
    kept = [e.visitor async for e in store.iter_events()]
    assert done["analytics_events"] == 1 and kept == ["v2"]


async def test_a_366_day_old_access_log_row_goes_and_a_364_day_old_one_stays(
    store: SQLiteStore,
) -> None:
    await store.add_access_log([access(timedelta(days=366)), access(timedelta(days=364))])
    done = await purge(store, POLICY, FrozenClock(NOW), consent_lifetime=LIFETIME)
    assert done["access_log"] == 1
    assert await store.count_rows("access_log") == 1


async def test_old_bot_counts_go_with_the_analytics(store: SQLiteStore) -> None:
    old, recent = (NOW - timedelta(days=400)).date(), (NOW - timedelta(days=10)).date()
    await store.add_bot_counts({("demo", old): 3, ("demo", recent): 4})
    await purge(store, POLICY, FrozenClock(NOW), consent_lifetime=LIFETIME)
    assert await store.bot_counts("demo", old, recent) == {recent: 4}


async def test_a_dry_run_counts_without_deleting(store: SQLiteStore) -> None:
    await store.add_events([event(timedelta(days=400), n) for n in range(3)])
    counted = await purge(store, POLICY, FrozenClock(NOW), consent_lifetime=LIFETIME, dry_run=True)
    assert counted["analytics_events"] == 3
    assert await store.count_rows("analytics_events") == 3


async def test_a_large_purge_goes_in_batches_and_shrinks_the_file(
    store: SQLiteStore, tmp_path: Path
) -> None:
    for start in range(0, 30_000, 5_000):
        await store.add_events([event(timedelta(days=500), n) for n in range(start, start + 5000)])
    await store.reclaim_space()
    before = (tmp_path / "gateway.sqlite3").stat().st_size
    small = RetentionConfig(batch_size=1000)
    done = await purge(store, small, FrozenClock(NOW), consent_lifetime=LIFETIME)
    after = (tmp_path / "gateway.sqlite3").stat().st_size
    assert done["analytics_events"] == 30_000
    assert after < before / 2, (before, after)


def test_the_purge_command_prints_what_it_deleted_per_table(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environ.update(gateway_env(tmp_path))
    command = [sys.executable, "-m", "gateway", "purge", "--config", str(EXAMPLE_CONFIG)]

    async def seed() -> None:
        store = SQLiteStore(tmp_path / "gateway.sqlite3")
        await store.open()
        # Relative to the real clock, since the command runs with it.
        await store.add_events([AnalyticsEvent(
            site="demo", ts=datetime.now(UTC) - timedelta(days=400), visitor="v",
            type="pageview", path="/")])
        await store.close()

    import asyncio

    asyncio.run(seed())
    dry = subprocess.run([*command, "--dry-run"], env=environ, capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    real = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    again = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=60,
                           cwd=tmp_path)
    assert "analytics_events: would delete 1 rows" in dry.stdout, dry.stderr
    assert "analytics_events: deleted 1 rows" in real.stdout, real.stderr
    assert "analytics_events: deleted 0 rows" in again.stdout


# --------------------------------------------------------------------------- consent log

IN_FORCE_LIFETIME = timedelta(days=395)  # the longest lifetime the config allows


def decision(
    age: timedelta, consent_id: str, action: Action = "accept_all"
) -> ConsentDraft:
    granted: tuple[Category, ...] = (
        ("necessary",) if action in ("withdraw", "erase", "reject_all")
        else ("necessary", "preferences", "analytics", "marketing")
    )
    return ConsentDraft(
        recorded_at=NOW - age, consent_id=consent_id, site="demo", action=action,
        source="banner", granted=granted,
        denied=tuple(c for c in ("preferences", "analytics", "marketing") if c not in granted),
        revision=1, banner_hash="b" * 64, language="nl", ip="81.2.69.0",
        user_agent="Firefox / Ubuntu", page="/", gpc=False,
    )


async def live_ids(store: SQLiteStore) -> list[tuple[str, str]]:
    return [(entry.consent_id, entry.action) async for entry in store.iter_consents()
            if isinstance(entry, ConsentRecord)]


async def test_a_consent_still_in_force_a_year_after_it_was_given_stays(
    store: SQLiteStore,
) -> None:
    await store.append_consent(decision(timedelta(days=366), "A" * 22))
    done = await purge(store, POLICY, FrozenClock(NOW), consent_lifetime=IN_FORCE_LIFETIME)
    assert done["consent_log"] == 0
    assert await live_ids(store) == [("A" * 22, "accept_all")]


async def test_a_consent_withdrawn_over_a_year_ago_is_gone(store: SQLiteStore) -> None:
    await store.append_consent(decision(timedelta(days=700), "A" * 22))
    await store.append_consent(decision(timedelta(days=366), "A" * 22, "withdraw"))
    done = await purge(store, POLICY, FrozenClock(NOW), consent_lifetime=IN_FORCE_LIFETIME)
    # The accept ended with the withdrawal; the withdrawal itself is still the visitor's
    # standing choice (its cookie lives on), so its record stays as proof.
    assert done["consent_log"] == 1
    assert await live_ids(store) == [("A" * 22, "withdraw")]


async def test_a_consent_withdrawn_less_than_a_year_ago_stays(store: SQLiteStore) -> None:
    await store.append_consent(decision(timedelta(days=700), "A" * 22))
    await store.append_consent(decision(timedelta(days=364), "A" * 22, "withdraw"))
    await purge(store, POLICY, FrozenClock(NOW), consent_lifetime=IN_FORCE_LIFETIME)
    assert await live_ids(store) == [("A" * 22, "accept_all"), ("A" * 22, "withdraw")]


async def test_a_consent_that_expired_over_a_year_ago_is_gone_and_a_recent_expiry_stays(
    store: SQLiteStore,
) -> None:
    await store.append_consent(decision(LIFETIME + timedelta(days=366), "A" * 22))
    await store.append_consent(decision(LIFETIME + timedelta(days=364), "B" * 22))
    await purge(store, POLICY, FrozenClock(NOW), consent_lifetime=LIFETIME)
    assert await live_ids(store) == [("B" * 22, "accept_all")]


async def test_a_replaced_choice_goes_a_year_after_the_new_one_was_made(
    store: SQLiteStore,
) -> None:
    await store.append_consent(decision(timedelta(days=380), "A" * 22))
    await store.append_consent(decision(timedelta(days=370), "A" * 22, "reject_all"))
    await store.append_consent(decision(timedelta(days=10), "A" * 22, "accept_all"))
    await purge(store, POLICY, FrozenClock(NOW), consent_lifetime=IN_FORCE_LIFETIME)
    assert await live_ids(store) == [("A" * 22, "reject_all"), ("A" * 22, "accept_all")]


async def test_the_chain_verifies_after_retention_and_tombstones_hold_only_seq_and_hashes(
    store: SQLiteStore, tmp_path: Path
) -> None:
    for n in range(6):
        consent_id = chr(ord("A") + n) * 22
        await store.append_consent(decision(timedelta(days=1600 - n), consent_id))
        await store.append_consent(decision(timedelta(days=800 - n * 10), consent_id, "withdraw"))
    before = [entry async for entry in store.iter_consents()]
    done = await purge(store, POLICY, FrozenClock(NOW), consent_lifetime=LIFETIME)
    assert done["consent_log"] == 12  # accepts replaced and withdrawals expired, > 1 year ago
    verifier = ChainVerifier()
    after = [entry async for entry in store.iter_consents()]
    assert [verifier.check(entry) for entry in after] == [None] * 12
    assert verifier.check_head((await store.chain_head())[0]) is None
    assert all(isinstance(entry, Tombstone) for entry in after)
    assert [(e.seq, e.prev_hash, e.hash) for e in after] == [
        (e.seq, e.prev_hash, e.hash) for e in before]
    raw = sqlite3.connect(tmp_path / "gateway.sqlite3").execute(
        "SELECT consent_id, ip, user_agent, recorded_at, page FROM consent_log").fetchall()
    assert set(raw) == {("", "", "", "", "")}


async def test_the_log_refuses_any_change_but_a_whole_tombstone(
    store: SQLiteStore, tmp_path: Path
) -> None:
    await store.append_consent(decision(timedelta(days=1), "A" * 22))
    await store.close()
    conn = sqlite3.connect(tmp_path / "gateway.sqlite3")
    for statement in ("UPDATE consent_log SET ip = '1.2.3.4'",
                      "UPDATE consent_log SET tombstone = 1, ip = ''",
                      "UPDATE consent_log SET tombstone = 1, hash = 'x'",
                      "DELETE FROM consent_log"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    conn.close()
    await store.open()


def test_verify_log_passes_after_a_purge_and_still_names_an_edited_record(
    tmp_path: Path,
) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environ.update(gateway_env(tmp_path))

    async def seed() -> None:
        store = SQLiteStore(tmp_path / "gateway.sqlite3")
        await store.open()
        # Relative to the real clock, since the commands run with it.
        old = datetime.now(UTC) - timedelta(days=900)
        for n, age in enumerate((0, 500, 0)):
            first = decision(timedelta(0), chr(ord("A") + n) * 22)
            await store.append_consent(replace(first, recorded_at=old + timedelta(days=age)))
        await store.append_consent(replace(decision(timedelta(0), "A" * 22, "withdraw"),
                                           recorded_at=old + timedelta(days=1)))
        await store.close()

    import asyncio

    asyncio.run(seed())

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", *args, "--config",
                               str(EXAMPLE_CONFIG)], env=environ, capture_output=True,
                              text=True, timeout=60, cwd=tmp_path)

    purged = cli("purge")
    assert "consent_log: reduced 3 records to tombstones" in purged.stdout, purged.stderr
    verified = cli("verify-log")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "4 consent records (3 reduced to tombstones" in verified.stdout
    conn = sqlite3.connect(tmp_path / "gateway.sqlite3")
    conn.execute("DROP TRIGGER consent_log_only_tombstones")
    conn.execute("UPDATE consent_log SET page = '/forged' WHERE tombstone = 0")
    conn.commit()
    conn.close()
    broken = cli("verify-log", "--full")  # the first check's checkpoint trusts 1-4
    assert broken.returncode == 1 and "seq 2" in broken.stdout, broken.stdout
