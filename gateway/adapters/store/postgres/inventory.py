"""The cookie inventory in PostgreSQL: one row per (site, cookie name), merged on write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, cast

from gateway.adapters.store.postgres.connection import PostgresConnection
from gateway.core.enforcement.cookies import CategorySource, SeenCookie, SetBy

# Once any instance saw the upstream set a cookie, it stays `server`, with the path and
# domain of that `Set-Cookie`: another instance that has not seen it takes it for a
# script's. Rows are merged in (site, name) order, so two batches never wait on each other
# in opposite orders.
_UPSERT_COOKIES: Final = """
    INSERT INTO cookie_inventory AS c (site, name, category, first_seen, last_seen, count,
                                       path, domain, http_only, source, set_by)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ON CONFLICT (site, name) DO UPDATE SET
        category = excluded.category,
        source = excluded.source,
        first_seen = least(c.first_seen, excluded.first_seen),
        last_seen = greatest(c.last_seen, excluded.last_seen),
        count = c.count + excluded.count,
        path = CASE WHEN excluded.set_by = 'server' THEN excluded.path ELSE c.path END,
        domain = CASE WHEN excluded.set_by = 'server' THEN excluded.domain ELSE c.domain END,
        http_only = CASE WHEN excluded.set_by = 'server' THEN excluded.http_only
                         ELSE c.http_only END,
        set_by = CASE WHEN excluded.set_by = 'server' THEN 'server' ELSE c.set_by END
"""


class PostgresInventory(PostgresConnection):
    async def record_cookies(self, rows: Sequence[SeenCookie]) -> None:
        # A stable sort: of one cookie's observations, the last stays last.
        params = sorted(
            ((r.site, r.name, r.category, r.first_seen, r.last_seen, r.count, r.path,
              r.domain, r.http_only, r.source, r.set_by) for r in rows),
            key=lambda row: (row[0], row[1]),
        )
        await self._write_many(_UPSERT_COOKIES, params,
                               failed="could not write the cookie inventory")

    async def cookie_inventory(self, site: str | None = None) -> list[SeenCookie]:
        sql = ("SELECT site, name, category, first_seen, last_seen, count, path, domain, "
               "http_only, source, set_by FROM cookie_inventory")
        params: tuple[str, ...] = ()
        if site is not None:
            sql, params = sql + " WHERE site = $1", (site,)
        rows = await self._read(sql + " ORDER BY site COLLATE \"C\", name COLLATE \"C\"",
                                *params, failed="cannot read the cookie inventory")
        return [
            SeenCookie(row[0], row[1], row[2], row[3], row[4], int(row[5]), row[6], row[7],
                       bool(row[8]), source=cast(CategorySource, row[9]),
                       set_by=cast(SetBy, row[10]))
            for row in rows
        ]
