"""The cookie inventory in SQLite: one row per (site, cookie name), merged on write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, cast

from gateway.adapters.store.sqlite.connection import SQLiteConnection
from gateway.core.consent.record import format_timestamp, parse_timestamp
from gateway.core.enforcement.cookies import CategorySource, SeenCookie, SetBy

# Once any worker saw the upstream set a cookie, it stays `server`, with the path and domain
# of that `Set-Cookie`: another worker that has not seen it yet takes it for a script's.
_UPSERT_COOKIE: Final = """
    INSERT INTO cookie_inventory (site, name, category, first_seen, last_seen, count, path,
                                  domain, http_only, source, set_by)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (site, name) DO UPDATE SET
        category = excluded.category,
        source = excluded.source,
        first_seen = min(first_seen, excluded.first_seen),
        last_seen = max(last_seen, excluded.last_seen),
        count = count + excluded.count,
        path = CASE WHEN excluded.set_by = 'server' THEN excluded.path ELSE path END,
        domain = CASE WHEN excluded.set_by = 'server' THEN excluded.domain ELSE domain END,
        http_only = CASE WHEN excluded.set_by = 'server' THEN excluded.http_only
                         ELSE http_only END,
        set_by = CASE WHEN excluded.set_by = 'server' THEN 'server' ELSE set_by END
"""


class SQLiteInventory(SQLiteConnection):
    async def record_cookies(self, rows: Sequence[SeenCookie]) -> None:
        params = [
            (r.site, r.name, r.category, format_timestamp(r.first_seen),
             format_timestamp(r.last_seen), r.count, r.path, r.domain, int(r.http_only),
             r.source, r.set_by)
            for r in rows
        ]
        await self._write_many(_UPSERT_COOKIE, params,
                               failed="could not write the cookie inventory")

    async def cookie_inventory(self, site: str | None = None) -> list[SeenCookie]:
        sql = ("SELECT site, name, category, first_seen, last_seen, count, path, domain, "
               "http_only, source, set_by FROM cookie_inventory")
        params: tuple[str, ...] = ()
        if site is not None:
            sql, params = sql + " WHERE site = ?", (site,)
        rows = await self._read(sql + " ORDER BY site, name", params,
                                failed="cannot read the cookie inventory")
        return [
            SeenCookie(row[0], row[1], row[2], parse_timestamp(row[3]), parse_timestamp(row[4]),
                       int(row[5]), row[6], row[7], bool(row[8]),
                       source=cast(CategorySource, row[9]), set_by=cast(SetBy, row[10]))
            for row in rows
        ]
