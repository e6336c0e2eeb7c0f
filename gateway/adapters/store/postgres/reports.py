"""Analytics reports in PostgreSQL (adapter): the daily archives of `sqlite/reports.py`
(`core/analytics/archive.py`), read in one repeatable-read, read-only transaction.

A day's archive is kept only if the day's change count (the sum of its shards in
`visit_day_changes`, bumped by statement triggers on `visits` that also delete the day's
archive) is still the one its visits were read at. The keeping transaction first takes a
SHARE lock on the counts, so a writer (another instance's ingest, an erasure) that changed
the day and has not committed yet is waited for and then wins: an archive never holds a
visitor that an erasure removed.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import TYPE_CHECKING, Final

from gateway.adapters.store.postgres.connection import PostgresConnection
from gateway.adapters.store.reportsql import POSTGRES
from gateway.core.analytics.archive import DayArchive, build_day_archive, figures_from_kept
from gateway.core.analytics.reports import DIRECT, ReportFigures, ReportRequest, Summary
from gateway.core.errors import StoreError

if TYPE_CHECKING:
    from gateway.adapters.store.postgres.connection import Connection

log = logging.getLogger(__name__)

_CHANGES: Final = ("SELECT day, sum(changes) FROM visit_day_changes "
                   "WHERE site = $1 AND day BETWEEN $2 AND $3 GROUP BY day")
_ARCHIVES: Final = ("SELECT day, changes, body FROM report_archive "
                    "WHERE site = $1 AND day BETWEEN $2 AND $3")
_SUMMARY: Final = """
    SELECT count(DISTINCT visitor), count(*), coalesce(sum(pageviews), 0),
           coalesce(sum(events), 0), coalesce(sum(bounce::int), 0),
           coalesce(sum(duration_us), 0)
    FROM visits WHERE site = $1 AND day = $2 AND pageviews + events > 0"""
_VISITORS: Final = ("SELECT DISTINCT visitor FROM visits "
                    "WHERE site = $1 AND day = $2 AND pageviews + events > 0")
_COUNTED: Final = POSTGRES.day_counted()
# Writers hold ROW EXCLUSIVE on the counts until they commit: SHARE waits for them and keeps
# new ones out for the few milliseconds the archives take to write.
_SETTLE: Final = "LOCK TABLE visit_day_changes IN SHARE MODE"
_DAY_CHANGES: Final = ("SELECT coalesce(sum(changes), 0) FROM visit_day_changes "
                       "WHERE site = $1 AND day = $2")
_KEEP: Final = """
    INSERT INTO report_archive (site, day, changes, body) VALUES ($1, $2, $3, $4)
    ON CONFLICT (site, day) DO UPDATE SET changes = excluded.changes, body = excluded.body"""


class PostgresReports(PostgresConnection):
    async def analytics_report(self, request: ReportRequest) -> ReportFigures:
        site = request.site
        async with self._connection("cannot compute the analytics report") as conn, \
                conn.transaction(isolation="repeatable_read", readonly=True):
            changes = {row[0]: int(row[1])
                       for row in await conn.fetch(_CHANGES, site, request.start, request.end)}
            kept: list[bytes] = []
            for day, kept_at, body in await conn.fetch(_ARCHIVES, site, request.start,
                                                       request.end):
                if changes.pop(day, None) == kept_at:
                    kept.append(bytes(body))
            made = [(await _archive_day(conn, site, day), count)
                    for day, count in sorted(changes.items())]
        await self._keep_archives(site, made)
        return await asyncio.to_thread(figures_from_kept, request, kept, [a for a, _ in made])

    async def _keep_archives(self, site: str, made: list[tuple[DayArchive, int]]) -> None:
        """Keep the new archives for the next report; a report does not fail for it."""
        if not made:
            return
        bodies = await asyncio.to_thread(lambda: [archive.to_bytes() for archive, _ in made])
        try:
            async with self._transaction("could not keep the report archives") as conn:
                await conn.execute(_SETTLE)
                for (archive, changes), body in zip(made, bodies, strict=True):
                    if await conn.fetchval(_DAY_CHANGES, site, archive.day) == changes:
                        await conn.execute(_KEEP, site, archive.day, changes, body)
        except StoreError as exc:
            log.warning("%s", exc)

    async def erasures(self, site: str) -> int:
        rows = await self._read("SELECT erasures FROM analytics_erasures WHERE site = $1", site,
                                failed="cannot read the erasure count")
        return int(rows[0][0]) if rows else 0


async def _archive_day(conn: Connection, site: str, day: date) -> DayArchive:
    """The archive of one day, from its visits."""
    summary = Summary(*(int(v) for v in await conn.fetchrow(_SUMMARY, site, day) or ()))
    visitors = [row[0] for row in await conn.fetch(_VISITORS, site, day)]
    counted = [(row[0], row[1], row[2], int(row[3]), int(row[4]), int(row[5]))
               for row in await conn.fetch(_COUNTED, site, day, DIRECT)]
    return await asyncio.to_thread(build_day_archive, day, summary, visitors, counted)
