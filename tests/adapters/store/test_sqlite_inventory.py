"""The cookie inventory on every engine (`sqlite/inventory.py`, `postgres/inventory.py`):
where a category came from and who set the cookie, and merging what several workers saw;
on SQLite, the migration that added the first two."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.adapters.store import Store
from gateway.adapters.store.sqlite import MIGRATIONS, SQLiteStore
from gateway.core.consent.record import format_timestamp
from gateway.core.enforcement.cookies import SeenCookie
from tests.adapters.store.conftest import MakeStore

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def row(name: str, **extra: object) -> SeenCookie:
    values: dict[str, object] = {"site": "demo", "name": name, "category": "analytics",
                                 "first_seen": NOW, "last_seen": NOW, "count": 1, "path": "/",
                                 "domain": "", "http_only": False, **extra}
    return SeenCookie(**values)  # type: ignore[arg-type]


async def stored(store: Store, *batches: list[SeenCookie]) -> list[SeenCookie]:
    await store.open()
    try:
        for batch in batches:
            await store.record_cookies(batch)
        return await store.cookie_inventory("demo")
    finally:
        await store.close()


async def test_source_and_set_by_are_stored_and_read_back(make_store: MakeStore) -> None:
    [cookie] = await stored(make_store(),
                            [row("_ga_X", source="catalogue", set_by="script")])
    assert (cookie.source, cookie.set_by) == ("catalogue", "script")


async def test_a_cookie_once_set_by_the_server_stays_the_servers(
    make_store: MakeStore,
) -> None:
    later = NOW + timedelta(minutes=5)

    def server(name: str) -> SeenCookie:
        return row(name, category="necessary", source="database", path="/shop",
                   domain=".shop.example", http_only=True)

    def script(name: str) -> SeenCookie:
        return row(name, category="necessary", source="database", set_by="script",
                   first_seen=later, last_seen=later, count=4)

    cookies = await stored(make_store(), [server("a"), script("b")], [script("a"), server("b")])
    for cookie in cookies:
        assert (cookie.set_by, cookie.path, cookie.domain, cookie.http_only) == (
            "server", "/shop", ".shop.example", True)
        assert (cookie.count, cookie.first_seen, cookie.last_seen) == (5, NOW, later)
    assert [c.name for c in cookies] == ["a", "b"]


async def test_the_category_and_its_source_come_from_the_latest_observation(
    make_store: MakeStore,
) -> None:
    [cookie] = await stored(make_store(),
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
    cookies = await stored(SQLiteStore(path))
    assert [(c.name, c.source, c.set_by) for c in cookies] == [
        ("_ga", "rule", "server"), ("ab", "unknown", "server")]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
