"""`consent-gateway migrate-store` moves a SQLite store seeded through the real ingest path
(`seed-demo`) into PostgreSQL: the chain verifies there with the same head, every table's
rows arrive, a non-empty target is refused, an interrupted copy finishes when run again;
`verify-log`, `purge` and `cookies` then read the PostgreSQL store the config names."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.adapters.store import migrate
from tests.conftest import EXAMPLE_CONFIG, gateway_env

COUNTED = ("consent_log", "analytics_events", "visits", "access_log", "bot_counts",
           "cookie_inventory", "ip_hash_keys", "blocklist")


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args, "--config", str(EXAMPLE_CONFIG)],
        env={**os.environ, **gateway_env(tmp_path), **env}, capture_output=True, text=True,
        timeout=120, cwd=tmp_path,
    )


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    done = cli(tmp_path, "seed-demo", "--events", "1500", "--days", "5")
    assert done.returncode == 0, done.stderr
    path = tmp_path / "gateway.sqlite3"
    with sqlite3.connect(path) as db:  # what seeding does not make: a block, an inventory row
        db.execute("INSERT INTO blocklist VALUES ('hash-of-a-client', "
                   "'2099-01-01T00:00:00.000000Z', 'test')")
        db.execute("INSERT INTO cookie_inventory VALUES ('demo', '_ga', 'analytics', "
                   "'2026-11-01T00:00:00.000000Z', '2026-11-02T00:00:00.000000Z', 3, '/', '', "
                   "0, 'catalogue', 'script')")
        db.execute("INSERT INTO access_log (ts, site, method, path, status, duration_ms, ip, "
                   "browser) VALUES ('2026-11-01T00:00:00.000000Z', 'demo', 'GET', '/', 200, "
                   "1.5, '203.0.113.0', 'Firefox')")
    return path


def counts_sqlite(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {t: int(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                for t in COUNTED}


async def counts_pg(url: str) -> dict[str, int]:
    conn: Any = await asyncpg.connect(url)
    try:
        return {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in COUNTED}
    finally:
        await conn.close()


def test_a_seeded_store_moves_with_its_chain_and_every_table(
    tmp_path: Path, seeded: Path, postgres_url: str
) -> None:
    head = cli(tmp_path, "verify-log")
    assert head.returncode == 0, head.stderr
    source_hash = head.stdout.rsplit("head hash ", 1)[1].strip()

    moved = cli(tmp_path, "migrate-store", "--to", postgres_url)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert f"hash {source_hash} (the source's)" in moved.stdout
    expected = counts_sqlite(seeded)
    assert expected["consent_log"] > 10 and expected["visits"] > 10
    assert asyncio.run(counts_pg(postgres_url)) == expected

    on_pg = {"GATEWAY_STORAGE_URL": postgres_url}
    verified = cli(tmp_path, "verify-log", "--full", **on_pg)
    assert verified.returncode == 0, verified.stderr
    assert f"head hash {source_hash}" in verified.stdout
    cookies = cli(tmp_path, "cookies", **on_pg)
    assert cookies.returncode == 0 and "_ga" in cookies.stdout, cookies.stderr
    purged = cli(tmp_path, "purge", "--dry-run", **on_pg)
    assert purged.returncode == 0 and "analytics_events: would delete 0" in purged.stdout

    again = cli(tmp_path, "migrate-store", "--to", postgres_url)
    assert again.returncode == 1
    assert "not empty" in again.stderr


def test_an_interrupted_copy_finishes_when_run_again(
    tmp_path: Path, seeded: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrate, "CHUNK", 200)
    calls = 0
    real_note = migrate._note

    async def failing_note(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 9:  # mid-way through the events
            raise OSError("connection lost")
        await real_note(*args, **kwargs)

    monkeypatch.setattr(migrate, "_note", failing_note)
    with pytest.raises(OSError, match="connection lost"):
        asyncio.run(migrate.migrate_store(str(seeded), postgres_url))
    partial = asyncio.run(counts_pg(postgres_url))
    assert 0 < partial["analytics_events"] < counts_sqlite(seeded)["analytics_events"]

    result = asyncio.run(migrate.migrate_store(str(seeded), postgres_url))
    assert result.resumed
    assert asyncio.run(counts_pg(postgres_url)) == counts_sqlite(seeded)
    verified = cli(tmp_path, "verify-log", "--full", GATEWAY_STORAGE_URL=postgres_url)
    assert verified.returncode == 0, verified.stderr
