"""Analytics reports in SQLite (adapter): every figure of `core/analytics/reports.py`
computed by the database from the visits kept at ingest, never from the events.

A report is one read transaction on the reports connection (its own thread, so the event
loop and the other connections never wait for it): the visits cut by the range's edges,
totals, days, and the thirteen breakdowns in three statements (one per kind, each reading
the visits of the range once; `visits.py` keeps what breakdowns count per hit in them).
Results are days × figures or top + 1 rows per breakdown. Python handles only those and the
cut visits: a visit that started before the first day or runs past the last is rebuilt
from its events inside the range (`core/analytics/visits.py`), as the oracle would see it,
and joins the queries as a JSON parameter. Only visits crossing one of the range's two
midnights can be cut, so that is bounded by how many visits run at midnight, not by the
size of the range.
"""

# Every statement here is put together from the constants of this module, never from data.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Final, get_args

import aiosqlite

from gateway.adapters.store.sqlite.connection import SQLiteConnection
from gateway.adapters.store.sqlite.visits import (
    VISIT_COLUMNS,
    hits_by_window,
    to_json,
    visit_row,
)
from gateway.core.analytics.reports import (
    BREAKDOWNS,
    DIRECT,
    OTHER,
    Breakdown,
    ReportFigures,
    ReportRequest,
    Row,
    Summary,
    Unit,
)
from gateway.core.analytics.visits import ONE_MICROSECOND, Visit, sessionise
from gateway.core.consent.record import format_timestamp

# The report's visits: those wholly inside the range, and the edge visits as clipped (rows
# of `VISIT_COLUMNS` in a JSON parameter).
_R_COLUMNS: Final = (
    "visitor", "day", "pageviews", "events", "bounce", "duration_us", "entry_page",
    "referrer_host", "utm_source", "utm_medium", "utm_campaign", "country", "region", "city",
    "browser", "os", "device", "pages", "names", "places",
)
_VISITS: Final = f"""
    r AS (
        SELECT {', '.join(_R_COLUMNS)} FROM visits
        WHERE site = :site AND day BETWEEN :first AND :last AND last_day <= :last
        UNION ALL
        SELECT {', '.join(f'value ->> {VISIT_COLUMNS.index(c)}' for c in _R_COLUMNS)}
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

# What each breakdown counts: `t (value, visitor, n)`, after the visits `r`.
_REFERRER: Final = "CASE WHEN referrer_host = '' THEN :direct ELSE referrer_host END"
_REGION: Final = ("CASE WHEN region = '' OR country = '' OR substr(region, 1, length(country) + 1)"
                  " = country || '-' THEN region ELSE country || '-' || region END")
_CITY: Final = "CASE WHEN city <> '' AND country <> '' THEN city || ', ' || country ELSE city END"
_VALUES: Final = {"referrer": _REFERRER, "region": _REGION, "city": _CITY}
_PAGES: Final = """
    SELECT entry_page AS value, visitor, pageviews AS n FROM r
    WHERE pages IS NULL AND pageviews > 0
    UNION ALL
    SELECT p.key, r.visitor, p.value FROM r, json_each(r.pages) AS p"""
_NAMES: Final = "SELECT e.key AS value, r.visitor, e.value AS n FROM r, json_each(r.names) AS e"
# Where and on what each hit was made: the visit's own columns, or its `places`.
_PLACE: Final = ("country", "region", "city", "browser", "os", "device")
_PLACES: Final = f"""
    pl AS (
        SELECT visitor, {', '.join(_PLACE)}, pageviews AS n FROM r WHERE places IS NULL
        UNION ALL
        SELECT r.visitor, {', '.join(f'p.value ->> {i}' for i in range(len(_PLACE) + 1))}
        FROM r, json_each(r.places) AS p
    )"""


def _counted(breakdown: Breakdown) -> str:
    """`(value, visitor, n)`: one row per thing a breakdown counts, from `r` or `pl`."""
    field = breakdown.field
    if breakdown.unit == "visit":
        return f"SELECT {_VALUES.get(field, field)} AS value, visitor, pageviews AS n FROM r"
    if breakdown.unit == "hit":
        return _PAGES if field == "pageview" else _NAMES
    return f"SELECT {_VALUES.get(field, field)} AS value, visitor, n FROM pl"


def _folding(name: str, counted: str) -> tuple[str, str]:
    """(CTEs, rows) of one breakdown: the values shown, ranked, then `other`, the distinct
    visitors of everything not shown. The rows are ordered in Python (`_rows`)."""
    ctes = f"""
        t_{name} AS MATERIALIZED (SELECT * FROM ({counted}) WHERE value <> ''),
        s_{name} AS (SELECT value, count(DISTINCT visitor) AS visitors, sum(n) AS n
                     FROM t_{name} GROUP BY value
                     HAVING value <> :other AND count(DISTINCT visitor) >= :min_visitors
                     ORDER BY visitors DESC, n DESC, value LIMIT :top)"""
    rows = f"""
        SELECT '{name}', 0, value, visitors, n FROM s_{name}
        UNION ALL
        SELECT '{name}', 1, :other, count(DISTINCT visitor), coalesce(sum(n), 0) FROM t_{name}
        WHERE value NOT IN (SELECT value FROM s_{name}) HAVING count(*) > 0"""
    return ctes, rows


def _breakdowns_of(unit: Unit) -> str:
    """One statement for the breakdowns of one kind, so the visits of the range are read
    (and their places unpacked) once for them all. Not one for all thirteen: each folding
    sorts, and a statement holds all its sorts' memory at once."""
    parts = [_folding(b.name, _counted(b)) for b in BREAKDOWNS if b.unit == unit]
    ctes = ",".join(c for c, _ in parts)
    rows = " UNION ALL ".join(r for _, r in parts)
    places = f"{_PLACES}," if unit == "visitor" else ""
    visits = _VISITS.replace("r AS (", "r AS MATERIALIZED (", 1)
    return f"WITH {visits}, {places} {ctes} {rows}"


_BREAKDOWNS: Final = tuple(_breakdowns_of(unit) for unit in get_args(Unit))


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
            params["edges"] = to_json(visit_row(v) for v in await self._edges(conn, params))
            totals = _summary((await _fetch(conn, _TOTALS, params))[0])
            days = {date.fromisoformat(row[0]): _summary(row[1:])
                    for row in await _fetch(conn, _DAYS, params)}
            found = [row for sql in _BREAKDOWNS for row in await _fetch(conn, sql, params)]
        return ReportFigures(totals=totals, days=days, breakdowns=_rows(found))

    async def _edges(self, conn: aiosqlite.Connection, params: Mapping[str, Any]) -> list[Visit]:
        """The visits cut by the range's edges, as their hits inside the range make them."""
        windows = [(row[0], row[1], row[2], row[3]) for row in await _fetch(conn, _EDGES, params)]
        if not windows:
            return []
        hits = await hits_by_window(conn, windows)
        return [visit for n, (site, visitor, _, _) in enumerate(windows)
                for visit in sessionise(site, visitor, hits.get(n, ()), self._visit_gap)]

    async def erasures(self, site: str) -> int:
        rows = await self._read("SELECT erasures FROM analytics_erasures WHERE site = ?",
                                (site,), failed="cannot read the erasure count")
        return int(rows[0][0]) if rows else 0


async def _fetch(conn: aiosqlite.Connection, sql: str, params: Mapping[str, Any]) -> list[Any]:
    async with conn.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


def _rows(found: Sequence[Sequence[Any]]) -> dict[str, list[Row]]:
    """(breakdown, part, value, visitors, count) rows in report order: the shown ranked by
    visitors, count, then value (code point order, as SQLite compares text), then `other`."""
    rows: dict[str, list[Row]] = {}
    for name, _, value, visitors, count in sorted(
        found, key=lambda row: (row[0], row[1], -row[3], -row[4], row[2])
    ):
        rows.setdefault(name, []).append(Row(value, int(visitors), int(count)))
    return rows


def _summary(row: Sequence[Any]) -> Summary:
    return Summary(*(int(value) for value in row))
