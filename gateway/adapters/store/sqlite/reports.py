"""Analytics reports in SQLite (adapter): every figure of `core/analytics/reports.py`
computed by the database from the visits and the daily roll-ups, never from the events.

A report is one read transaction on the reports connection (its own thread, so the event
loop and the other connections never wait for it), about seventeen queries whose results
are days × figures or top + 1 rows per breakdown. Python handles only those results and
the visits cut by the range's edges: a visit that started before the first day or runs
past the last is rebuilt from its events inside the range (`core/analytics/visits.py`), as
the oracle would see it, and joins the query as a JSON parameter. Only visits crossing one
of the range's two midnights can be cut, so that is bounded by how many visits run at
midnight, not by the size of the range.
"""

# Every statement here is put together from the constants of this module, never from data.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Final

import aiosqlite

from gateway.adapters.store.sqlite.connection import SQLiteConnection
from gateway.adapters.store.sqlite.visits import hits_by_window, to_json
from gateway.core.analytics.reports import (
    BREAKDOWNS,
    DIRECT,
    OTHER,
    Breakdown,
    ReportFigures,
    ReportRequest,
    Row,
    Summary,
)
from gateway.core.analytics.visits import ONE_MICROSECOND, Visit, sessionise
from gateway.core.consent.record import format_timestamp

# The report's visits: those wholly inside the range, and the edge visits as clipped.
_EDGE_FIELDS: Final = (
    "visitor", "day", "pageviews", "events", "bounce", "duration_us", "entry_page",
    "referrer", "utm_source", "utm_medium", "utm_campaign",
)
_VISITS: Final = f"""
    r AS (
        SELECT visitor, day, pageviews, events, bounce, duration_us, entry_page,
               CASE WHEN referrer_host = '' THEN :direct ELSE referrer_host END AS referrer,
               utm_source, utm_medium, utm_campaign
        FROM visits WHERE site = :site AND day BETWEEN :first AND :last AND last_day <= :last
        UNION ALL
        SELECT {', '.join(f'value ->> {n}' for n in range(len(_EDGE_FIELDS)))}
        FROM json_each(:edges)
    )"""
_SUMMARY: Final = """count(DISTINCT visitor), count(*), coalesce(sum(pageviews), 0),
    coalesce(sum(events), 0), coalesce(sum(bounce), 0), coalesce(sum(duration_us), 0)"""
_TOTALS: Final = f"WITH {_VISITS} SELECT {_SUMMARY} FROM r"
_DAYS: Final = f"WITH {_VISITS} SELECT day, {_SUMMARY} FROM r GROUP BY day"

# Visits running over the range's first or last midnight (the partial index has them).
_EDGES: Final = """
    SELECT site, visitor, max(started_at, :since), min(ended_at, :last_instant) FROM visits
    WHERE site = :site AND last_day > day AND last_day >= :first AND day <= :last
      AND (day < :first OR last_day > :last)
"""

_DAYS_OF_SITE: Final = "site = :site AND day BETWEEN :first AND :last"
_REGION: Final = ("CASE WHEN region = '' OR country = '' OR substr(region, 1, length(country) + 1)"
                  " = country || '-' THEN region ELSE country || '-' || region END")
_CITY: Final = "CASE WHEN city <> '' AND country <> '' THEN city || ', ' || country ELSE city END"
_VISITOR_VALUES: Final = {"region": (_REGION, "region"), "city": (_CITY, "city")}


def _source(breakdown: Breakdown) -> str:
    """`t (value, visitor, n)`: one row per thing a breakdown counts, empty values left out."""
    field = breakdown.field
    if breakdown.unit == "visit":
        return f"{_VISITS}, t AS MATERIALIZED (SELECT {field} AS value, visitor, " \
               f"pageviews AS n FROM r WHERE {field} <> '')"
    if breakdown.unit == "hit":
        return f"t AS MATERIALIZED (SELECT value, visitor, hits AS n FROM hit_days " \
               f"WHERE {_DAYS_OF_SITE} AND type = '{field}' AND value <> '')"
    value, column = _VISITOR_VALUES.get(field, (field, field))
    return f"t AS MATERIALIZED (SELECT {value} AS value, visitor, pageviews AS n " \
           f"FROM visitor_days WHERE {_DAYS_OF_SITE} AND {column} <> '')"


def _folded(breakdown: Breakdown) -> str:
    """The rows shown, ranked, then `other`: the distinct visitors of everything not shown."""
    return f"""
        WITH {_source(breakdown)},
        g AS (SELECT value, count(DISTINCT visitor) AS visitors, sum(n) AS n
              FROM t GROUP BY value),
        shown AS (SELECT value, visitors, n FROM g
                  WHERE value <> :other AND visitors >= :min_visitors
                  ORDER BY visitors DESC, n DESC, value LIMIT :top)
        SELECT 0 AS part, value, visitors, n FROM shown
        UNION ALL
        SELECT 1, :other, count(DISTINCT visitor), coalesce(sum(n), 0) FROM t
        WHERE value NOT IN (SELECT value FROM shown) HAVING count(*) > 0
        ORDER BY part, visitors DESC, n DESC, value"""


_BREAKDOWN_SQL: Final = {b.name: _folded(b) for b in BREAKDOWNS}


class SQLiteReports(SQLiteConnection):
    async def analytics_report(self, request: ReportRequest) -> ReportFigures:
        params: dict[str, Any] = {
            "site": request.site, "first": request.start.isoformat(),
            "last": request.end.isoformat(), "since": format_timestamp(request.since),
            "last_instant": format_timestamp(request.until - ONE_MICROSECOND),
            "direct": DIRECT, "other": OTHER, "min_visitors": request.min_visitors,
            "top": request.top,
        }
        async with self._report_snapshot("cannot compute the analytics report") as conn:
            params["edges"] = to_json(_edge_row(v) for v in await self._edges(conn, params))
            totals = _summary((await _fetch(conn, _TOTALS, params))[0])
            days = {date.fromisoformat(row[0]): _summary(row[1:])
                    for row in await _fetch(conn, _DAYS, params)}
            breakdowns = {
                name: [Row(row[1], int(row[2]), int(row[3]))
                       for row in await _fetch(conn, sql, params)]
                for name, sql in _BREAKDOWN_SQL.items()
            }
        return ReportFigures(totals=totals, days=days, breakdowns=breakdowns)

    async def _edges(self, conn: aiosqlite.Connection, params: Mapping[str, Any]) -> list[Visit]:
        """The visits cut by the range's edges, as their hits inside the range make them."""
        windows = [tuple(row) for row in await _fetch(conn, _EDGES, params)]
        if not windows:
            return []
        hits = await hits_by_window(conn, (to_json(windows),))
        return [visit for n, (site, visitor, _, _) in enumerate(windows)
                for visit in sessionise(site, visitor, hits.get(n, ()), self._visit_gap)]

    async def erasures(self, site: str) -> int:
        rows = await self._read("SELECT erasures FROM analytics_erasures WHERE site = ?",
                                (site,), failed="cannot read the erasure count")
        return int(rows[0][0]) if rows else 0


async def _fetch(conn: aiosqlite.Connection, sql: str, params: Mapping[str, Any]) -> list[Any]:
    async with conn.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


def _summary(row: Sequence[Any]) -> Summary:
    return Summary(*(int(value) for value in row))


def _edge_row(visit: Visit) -> tuple[Any, ...]:
    return (
        visit.visitor, visit.day.isoformat(), visit.pageviews, visit.events, int(visit.bounce),
        visit.duration_us, visit.entry_page, visit.referrer_host or DIRECT, visit.utm_source,
        visit.utm_medium, visit.utm_campaign,
    )
