"""Analytics reports in SQLite (adapter): every figure of `core/analytics/reports.py` from
report archives (`core/analytics/archive.py`, `archiveplan.py`), never from the events.

A report reads, in one read transaction on the reports connection (its own thread: the
event loop and the other connections never wait for it), the change count of each hour of
the range (`visit_hour_changes`, kept by triggers on `visits`) and the archives still made
at those counts. For a day without a valid whole-day archive, the hours without a valid
archive are archived from their visits (three queries over those hours' visits: summaries,
visitors, and per breakdown one row per value and visitor, read in chunks) and merged with
the day's other hours. The new archives are then kept by the writer, each only if its
hour or day has not changed meanwhile. A routine report of a busy site reads the finished
days whole and makes again only the current hour: its cost grows with days × values and
one hour's visits, not with the events.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Final

import aiosqlite

from gateway.adapters.store.reportsql import SQLITE
from gateway.adapters.store.sqlite.connection import SQLiteConnection
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

log = logging.getLogger(__name__)

CHUNK: Final = 5_000  # rows handed to the archive builder at a time
_SUMMARIES: Final = SQLITE.hour_summaries()
_VISITORS: Final = SQLITE.hour_visitors()
_COUNTED: Final = SQLITE.hour_counted()
_COUNTS: Final = """
    SELECT day, hour, changes FROM visit_hour_changes
    WHERE site = :site AND day BETWEEN :first AND :last"""
_ARCHIVES: Final = """
    SELECT day, hour, changes, body FROM report_archive
    WHERE site = :site AND day BETWEEN :first AND :last"""
# Kept only if the hour's (or the day's) visits are still those it was made of.
_KEEP: Final = """
    INSERT INTO report_archive (site, day, hour, changes, body)
    SELECT :site, :day, :hour, :changes, :body
    WHERE (SELECT sum(changes) FROM visit_hour_changes
           WHERE site = :site AND day = :day AND :hour IN (hour, 24)) = :changes
    ON CONFLICT (site, day, hour) DO UPDATE SET changes = excluded.changes, body = excluded.body"""
# Hour archives of days no longer live (see `archiveplan.LIVE_DAYS`) are not read again.
_FORGET_HOURS: Final = "DELETE FROM report_archive WHERE site = ? AND hour < 24 AND day < ?"


class SQLiteReports(SQLiteConnection):
    async def analytics_report(self, request: ReportRequest) -> ReportFigures:
        params: dict[str, Any] = {"site": request.site, "first": request.start.isoformat(),
                                  "last": request.end.isoformat(), "direct": DIRECT}
        days: list[DayArchive] = []
        new: list[tuple[DayArchive, int]] = []
        async with self._report_snapshot("cannot compute the analytics report") as conn:
            counts = [(date.fromisoformat(d), int(h), int(n))
                      for d, h, n in await _fetch(conn, _COUNTS, params)]
            kept = [(date.fromisoformat(d), int(h), int(n), bytes(b))
                    for d, h, n, b in await _fetch(conn, _ARCHIVES, params)]
            plans = plan_days(counts, kept)
            for plan in plans:  # a day at a time: memory holds one day's rows at most
                made = (await _archive_hours(conn, params, plan)
                        if plan.whole is None and plan.make else {})
                # Unpacking and merging cost milliseconds per day: not on the event loop.
                day, keep = await asyncio.to_thread(assemble_day, plan, made)
                days.append(day)
                new += keep
        await self._keep_archives(request.site, new, _live_from(plans))
        return await asyncio.to_thread(report_figures, request, days)

    async def _keep_archives(
        self, site: str, made: Sequence[tuple[DayArchive, int]], live_from: date | None,
    ) -> None:
        """Keep the new archives for the next report; a report does not fail for it."""
        if not made:
            return
        bodies = await asyncio.to_thread(lambda: [archive.to_bytes() for archive, _ in made])
        rows = [{"site": site, "day": archive.day.isoformat(),
                 "hour": WHOLE_DAY if archive.hour is None else archive.hour,
                 "changes": changes, "body": body}
                for (archive, changes), body in zip(made, bodies, strict=True)]
        try:
            async with self._write_transaction("could not keep the report archives") as conn:
                await conn.executemany(_KEEP, rows)
                if live_from is not None:
                    await conn.execute(_FORGET_HOURS, (site, live_from.isoformat()))
        except StoreError as exc:
            log.warning("%s", exc)

    async def erasures(self, site: str) -> int:
        rows = await self._read("SELECT erasures FROM analytics_erasures WHERE site = ?",
                                (site,), failed="cannot read the erasure count")
        return int(rows[0][0]) if rows else 0


def _live_from(plans: Sequence[DayPlan]) -> date | None:
    live = [plan.day for plan in plans if plan.live]
    return min(live) if live else None


async def _fetch(conn: aiosqlite.Connection, sql: str, params: Mapping[str, Any]) -> list[Any]:
    async with conn.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


async def _archive_hours(
    conn: aiosqlite.Connection, params: Mapping[str, Any], plan: DayPlan,
) -> dict[int, DayArchive]:
    """The archives of the hours `plan.make` of one day, from their visits; the rows are
    handed over in chunks, so memory holds the archives, not the rows."""
    asked = {**params, "day": plan.day.isoformat(), "hours": json.dumps(sorted(plan.make))}
    builder = HourArchives(plan.day)
    builder.add_summaries(await _fetch(conn, _SUMMARIES, asked))
    for sql, add in ((_VISITORS, builder.add_visitors), (_COUNTED, builder.add_counted)):
        async with conn.execute(sql, asked) as cursor:
            while rows := await cursor.fetchmany(CHUNK):
                await asyncio.to_thread(add, rows)
    return await asyncio.to_thread(builder.archives, plan.make)
