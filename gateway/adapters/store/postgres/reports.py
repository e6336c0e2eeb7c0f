"""Analytics reports in PostgreSQL (adapter): the report archives of `sqlite/reports.py`
(`core/analytics/archive.py`, `archiveplan.py`), read in one repeatable-read, read-only
transaction.

An archive is kept only if the change count of its hour (or the sum of its day's, for a
whole-day archive) is still the one its visits were read at: the counts are kept per
(site, day, hour, shard) by statement triggers on `visits`, which also delete the archives
of the hours they change. The keeping transaction first takes a SHARE lock on the counts,
so a writer (another instance's ingest, an erasure) that changed the hour and has not
committed yet is waited for and then wins: an archive never holds a visitor that an
erasure removed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Final

from gateway.adapters.store.postgres.connection import PostgresConnection
from gateway.adapters.store.reportsql import POSTGRES
from gateway.core.analytics.archive import DayArchive, report_figures
from gateway.core.analytics.archiveplan import (
    WHOLE_DAY,
    DayPlan,
    HourArchives,
    assemble_day,
    plan_days,
)
from gateway.core.analytics.reports import DIRECT, ReportFigures, ReportRequest
from gateway.core.errors import StoreError

if TYPE_CHECKING:
    from gateway.adapters.store.postgres.connection import Connection

log = logging.getLogger(__name__)

CHUNK: Final = 5_000  # rows handed to the archive builder at a time
_COUNTS: Final = ("SELECT day, hour, sum(changes) FROM visit_hour_changes "
                  "WHERE site = $1 AND day BETWEEN $2 AND $3 GROUP BY day, hour")
_ARCHIVES: Final = ("SELECT day, hour, changes, body FROM report_archive "
                    "WHERE site = $1 AND day BETWEEN $2 AND $3")
_SUMMARIES: Final = POSTGRES.hour_summaries()
_VISITORS: Final = POSTGRES.hour_visitors()
_COUNTED: Final = POSTGRES.hour_counted()
# Writers hold ROW EXCLUSIVE on the counts until they commit: SHARE waits for them and keeps
# new ones out for the few milliseconds the archives take to write.
_SETTLE: Final = "LOCK TABLE visit_hour_changes IN SHARE MODE"
_NOW_COUNTED: Final = ("SELECT coalesce(sum(changes), 0) FROM visit_hour_changes "
                       "WHERE site = $1 AND day = $2 AND $3 IN (hour, 24)")
_KEEP: Final = """
    INSERT INTO report_archive (site, day, hour, changes, body) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (site, day, hour) DO UPDATE SET changes = excluded.changes, body = excluded.body"""
_FORGET_HOURS: Final = "DELETE FROM report_archive WHERE site = $1 AND hour < 24 AND day < $2"


class PostgresReports(PostgresConnection):
    async def analytics_report(self, request: ReportRequest) -> ReportFigures:
        site = request.site
        days: list[DayArchive] = []
        new: list[tuple[DayArchive, int]] = []
        async with self._connection("cannot compute the analytics report") as conn, \
                conn.transaction(isolation="repeatable_read", readonly=True):
            counts = [(r[0], int(r[1]), int(r[2]))
                      for r in await conn.fetch(_COUNTS, site, request.start, request.end)]
            kept = [(r[0], int(r[1]), int(r[2]), bytes(r[3]))
                    for r in await conn.fetch(_ARCHIVES, site, request.start, request.end)]
            plans = plan_days(counts, kept)
            for plan in plans:  # a day at a time: memory holds one day's rows at most
                made = (await _archive_hours(conn, site, plan)
                        if plan.whole is None and plan.make else {})
                day, keep = await asyncio.to_thread(assemble_day, plan, made)
                days.append(day)
                new += keep
        live = [plan.day for plan in plans if plan.live]
        await self._keep_archives(site, new, min(live) if live else None)
        return await asyncio.to_thread(report_figures, request, days)

    async def _keep_archives(
        self, site: str, made: Sequence[tuple[DayArchive, int]], live_from: date | None,
    ) -> None:
        """Keep the new archives for the next report; a report does not fail for it."""
        if not made:
            return
        bodies = await asyncio.to_thread(lambda: [archive.to_bytes() for archive, _ in made])
        try:
            async with self._transaction("could not keep the report archives") as conn:
                await conn.execute(_SETTLE)
                for (archive, changes), body in zip(made, bodies, strict=True):
                    hour = WHOLE_DAY if archive.hour is None else archive.hour
                    if await conn.fetchval(_NOW_COUNTED, site, archive.day, hour) == changes:
                        await conn.execute(_KEEP, site, archive.day, hour, changes, body)
                if live_from is not None:
                    await conn.execute(_FORGET_HOURS, site, live_from)
        except StoreError as exc:
            log.warning("%s", exc)

    async def erasures(self, site: str) -> int:
        rows = await self._read("SELECT erasures FROM analytics_erasures WHERE site = $1", site,
                                failed="cannot read the erasure count")
        return int(rows[0][0]) if rows else 0


async def _archive_hours(conn: Connection, site: str, plan: DayPlan) -> dict[int, DayArchive]:
    """The archives of the hours `plan.make` of one day, from their visits, the rows read
    in chunks (a cursor inside the report's transaction)."""
    hours = sorted(plan.make)
    builder = HourArchives(plan.day)
    builder.add_summaries([tuple(r) for r in await conn.fetch(_SUMMARIES, site, plan.day, hours)])
    for add, sql, args in ((builder.add_visitors, _VISITORS, (site, plan.day, hours)),
                           (builder.add_counted, _COUNTED, (site, plan.day, DIRECT, hours))):
        cursor = await conn.cursor(sql, *args)
        while rows := await cursor.fetch(CHUNK):
            await asyncio.to_thread(add, [tuple(r) for r in rows])
    return await asyncio.to_thread(builder.archives, plan.make)
