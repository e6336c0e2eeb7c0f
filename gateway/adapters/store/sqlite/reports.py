"""Analytics reports in SQLite (adapter): every figure of `core/analytics/reports.py`
from daily archives (`core/analytics/archive.py`), never from the events.

A report reads, in one read transaction on the reports connection (its own thread: the
event loop and the other connections never wait for it), the change count of each day of
the range (`visit_day_changes`, kept by triggers on `visits`) and the archives still made
at that count. A day without one — new, or changed since — is archived from its visits:
three queries over that day's visits only (its summary, its visitors, and per breakdown
one row per value and visitor). New archives are then kept by the writer, each only if its
day has not changed meanwhile. A routine report of a busy site therefore reads the
archives of the finished days and computes today; its cost grows with days × values, not
with events.
"""

# Every statement here is put together from the constants of this module, never from data.

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import date
from typing import Any, Final

import aiosqlite

from gateway.adapters.store.reportsql import SQLITE
from gateway.adapters.store.sqlite.connection import SQLiteConnection
from gateway.core.analytics.archive import DayArchive, build_day_archive, figures_from_kept
from gateway.core.analytics.reports import DIRECT, ReportFigures, ReportRequest, Summary
from gateway.core.errors import StoreError

log = logging.getLogger(__name__)

_SUMMARY: Final = """
    SELECT count(DISTINCT visitor), count(*), coalesce(sum(pageviews), 0),
           coalesce(sum(events), 0), coalesce(sum(bounce), 0), coalesce(sum(duration_us), 0)
    FROM visits WHERE site = :site AND day = :day AND pageviews + events > 0"""
_VISITORS: Final = """SELECT DISTINCT visitor FROM visits
                      WHERE site = :site AND day = :day AND pageviews + events > 0"""
_COUNTED: Final = SQLITE.day_counted()

_CHANGES: Final = """
    SELECT day, changes FROM visit_day_changes
    WHERE site = :site AND day BETWEEN :first AND :last"""
_ARCHIVES: Final = """
    SELECT day, changes, body FROM report_archive
    WHERE site = :site AND day BETWEEN :first AND :last"""
# Kept only if the day's visits are still those it was made of.
_KEEP: Final = """
    INSERT INTO report_archive (site, day, changes, body)
    SELECT :site, :day, :changes, :body
    WHERE (SELECT changes FROM visit_day_changes WHERE site = :site AND day = :day) = :changes
    ON CONFLICT (site, day) DO UPDATE SET changes = excluded.changes, body = excluded.body"""


class SQLiteReports(SQLiteConnection):
    async def analytics_report(self, request: ReportRequest) -> ReportFigures:
        params: dict[str, Any] = {"site": request.site, "first": request.start.isoformat(),
                                  "last": request.end.isoformat(), "direct": DIRECT}
        async with self._report_snapshot("cannot compute the analytics report") as conn:
            changes = {row[0]: int(row[1]) for row in await _fetch(conn, _CHANGES, params)}
            bodies: list[bytes] = []
            for day, kept_at, body in await _fetch(conn, _ARCHIVES, params):
                if changes.pop(day, None) == kept_at:
                    bodies.append(body)
            made = [(await _archive_day(conn, {**params, "day": day}), count)
                    for day, count in sorted(changes.items())]
        await self._keep_archives(request.site, made)
        # Unpacking and merging cost milliseconds per day: not on the event loop.
        return await asyncio.to_thread(figures_from_kept, request, bodies, [a for a, _ in made])

    async def _keep_archives(self, site: str, made: list[tuple[DayArchive, int]]) -> None:
        """Keep the new archives for the next report; a report does not fail for it."""
        if not made:
            return
        bodies = await asyncio.to_thread(lambda: [archive.to_bytes() for archive, _ in made])
        rows = [{"site": site, "day": archive.day.isoformat(), "changes": changes,
                 "body": body} for (archive, changes), body in zip(made, bodies, strict=True)]
        try:
            async with self._write_transaction("could not keep the report archives") as conn:
                await conn.executemany(_KEEP, rows)
        except StoreError as exc:
            log.warning("%s", exc)

    async def erasures(self, site: str) -> int:
        rows = await self._read("SELECT erasures FROM analytics_erasures WHERE site = ?",
                                (site,), failed="cannot read the erasure count")
        return int(rows[0][0]) if rows else 0


async def _fetch(conn: aiosqlite.Connection, sql: str, params: Mapping[str, Any]) -> list[Any]:
    async with conn.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


async def _archive_day(conn: aiosqlite.Connection, params: Mapping[str, Any]) -> DayArchive:
    """The archive of one day, from its visits."""
    summary = Summary(*(int(v) for v in (await _fetch(conn, _SUMMARY, params))[0]))
    visitors = [row[0] for row in await _fetch(conn, _VISITORS, params)]
    counted = [(row[0], row[1], row[2], int(row[3]), int(row[4]), int(row[5]))
               for row in await _fetch(conn, _COUNTED, params)]
    return await asyncio.to_thread(
        build_day_archive, date.fromisoformat(params["day"]), summary, visitors, counted)

