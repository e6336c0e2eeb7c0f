"""The cookie inventory in SQLite (gateway/adapters/store/sqlite/inventory.py): real files,
the migration that added where a category came from and who set the cookie, and merging
what several workers saw."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.adapters.store.sqlite import MIGRATIONS, SQLiteStore
from gateway.core.consent.record import format_timestamp
from gateway.core.enforcement.cookies import SeenCookie

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def row(name: str, **extra: object) -> SeenCookie:
    values: dict[str, object] = {"site": "demo", "name": name, "category": "analytics",
                                 "first_seen": NOW, "last_seen": NOW, "count": 1, "path": "/",
                                 "domain": "", "http_only": False, **extra}
    return SeenCookie(**values)  # type: ignore[arg-type]


async def stored(path: Path, *batches: list[SeenCookie]) -> list[SeenCookie]:
    store = SQLiteStore(path)
    await store.open()
    try:
        for batch in batches:
            await store.record_cookies(batch)
        return await store.cookie_inventory("demo")
    finally:
        await store.close()


async def test_source_and_set_by_are_stored_and_read_back(tmp_path: Path) -> None:
    [cookie] = await stored(tmp_path / "g.sqlite3",
                            [row("_ga_X", source="catalogue", set_by="script")])
    assert (cookie.source, cookie.set_by) == ("catalogue", "script")


async def test_a_cookie_once_set_by_the_server_stays_the_servers(tmp_path: Path) -> None:
    later = NOW + timedelta(minutes=5)
    server = row("cart", category="necessary", source="database", path="/shop",
                 domain=".shop.example", http_only=True)
    script = row("cart", category="necessary", source="database", set_by="script",
                 first_seen=later, last_seen=later, count=4)
    for n, batches in enumerate(([[server], [script]], [[script], [server]])):
        [cookie] = await stored(tmp_path / f"{n}.sqlite3", *batches)
        assert (cookie.set_by, cookie.path, cookie.domain, cookie.http_only) == (
            "server", "/shop", ".shop.example", True)
        assert (cookie.count, cookie.first_seen, cookie.last_seen) == (5, NOW, later)


async def test_the_category_and_its_source_come_from_the_latest_observation(
    tmp_path: Path,
) -> None:
    [cookie] = await stored(tmp_path / "g.sqlite3",
                            [row("x", category="unknown", source="unknown")],
                            [row("x", category="marketing", source="rule")])
    assert (cookie.category, cookie.source) == ("marketing", "rule")


async def test_an_inventory_from_before_the_shipped_data_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    before = next(n for n, statements in enumerate(MIGRATIONS)
                  if any("cookie_inventory ADD COLUMN source" in s for s in statements))
    for statements in MIGRATIONS[:before]:
        for statement in statements:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version={before}")
    stamp = format_timestamp(NOW)
    conn.executemany(
        "INSERT INTO cookie_inventory VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [("demo", "_ga", "analytics", stamp, stamp, 3, "/", "", 0),
         ("demo", "ab", "unknown", stamp, stamp, 1, "/", "", 0)])
    conn.close()
    cookies = await stored(path)
    assert [(c.name, c.source, c.set_by) for c in cookies] == [
        ("_ga", "rule", "server"), ("ab", "unknown", "server")]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
