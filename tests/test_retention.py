"""Retention of analytics events, bot counts and the access log: a real SQLite file, an
injected clock, and the `purge` command as a site owner runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.config import RetentionConfig
from gateway.events import AccessLogEntry, AnalyticsEvent
from gateway.jobs import purge
from gateway.retention import cutoffs
from gateway.store.sqlite import SQLiteStore
from tests.conftest import EXAMPLE_CONFIG, FrozenClock, gateway_env

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
POLICY = RetentionConfig()


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


def test_the_cutoffs_are_one_year_by_default() -> None:
    due = cutoffs(NOW, POLICY)
    assert due.analytics_events == due.access_log == NOW - timedelta(days=365)


async def test_a_366_day_old_event_goes_and_a_364_day_old_one_stays(store: SQLiteStore) -> None:
    await store.add_events([event(timedelta(days=366), 1), event(timedelta(days=364), 2)])
    done = await purge(store, POLICY, FrozenClock(NOW))
    kept = [e.visitor async for e in store.iter_events()]
    assert done["analytics_events"] == 1 and kept == ["v2"]


async def test_a_366_day_old_access_log_row_goes_and_a_364_day_old_one_stays(
    store: SQLiteStore,
) -> None:
    await store.add_access_log([access(timedelta(days=366)), access(timedelta(days=364))])
    done = await purge(store, POLICY, FrozenClock(NOW))
    assert done["access_log"] == 1
    assert await store.count_rows("access_log") == 1


async def test_old_bot_counts_go_with_the_analytics(store: SQLiteStore) -> None:
    old, recent = (NOW - timedelta(days=400)).date(), (NOW - timedelta(days=10)).date()
    await store.add_bot_counts({("demo", old): 3, ("demo", recent): 4})
    await purge(store, POLICY, FrozenClock(NOW))
    assert await store.bot_counts("demo", old, recent) == {recent: 4}


async def test_a_dry_run_counts_without_deleting(store: SQLiteStore) -> None:
    await store.add_events([event(timedelta(days=400), n) for n in range(3)])
    counted = await purge(store, POLICY, FrozenClock(NOW), dry_run=True)
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
    done = await purge(store, small, FrozenClock(NOW))
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
