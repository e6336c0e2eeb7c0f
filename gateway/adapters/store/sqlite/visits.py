"""Visits and the daily roll-ups in SQLite, kept inside the transaction that changes the
events (adapter). The rule is `core/analytics/visits.py`; this is the bookkeeping around it:

- **New events**: per visitor, the newest visit is read; hits that come after it are added
  to it (or start new visits) in Python and the changed visits upserted — the usual case,
  no event read back. A hit at or before the end of the visitor's newest visit (a beacon a
  few seconds late, another worker's batch) rebuilds that visitor's visits around it, within
  one gap each side, from the stored events: it lands in the right visit, and a hit that
  bridges two visits merges them. The roll-ups add the batch's counts.
- **Deleted events** (retention, erasure): the visits around them are rebuilt from the
  events that remain, and the roll-ups of the touched (visitor, day)s recounted.
- **Rebuild** (old events and no visits yet, or a changed gap): visitors in chunks, each
  chunk its own transaction, resumable; see `SQLiteAnalytics.open`.

A window is (site, visitor, first, last), stored times: the visits of that visitor touching
it, stretched to cover them whole, are deleted and made again from the events inside. The
events just outside such a stretch belong to other visits, more than a gap away, so
rebuilding inside it is exact.
"""

# Every statement here is put together from the constants of this module, never from data.
# ruff: noqa: S608

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

import aiosqlite

from gateway.adapters.store.sqlite.connection import insert_rows
from gateway.core.analytics.events import AnalyticsEvent
from gateway.core.analytics.visits import Hit, Visit, continue_visits, continues, sessionise
from gateway.core.consent.record import format_timestamp

EVENT_COLUMNS: Final = (
    "site", "ts", "visitor", "type", "name", "path", "hostname", "referrer_host",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "country",
    "region", "city", "browser", "os", "device", "screen_width", "props",
)
VISIT_COLUMNS: Final = (
    "site", "day", "visitor", "started_at", "ended_at", "last_day", "duration_us",
    "pageviews", "events", "bounce", "entry_page", "exit_page", "referrer_host",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "country",
    "region", "city", "browser", "os", "device",
)
# What a hit is made of, after the key (site, visitor) — `Hit`'s fields but `pageview`.
_HIT_COLUMNS: Final = (
    "ts", "type", "path", "referrer_host", "hostname", "utm_source", "utm_medium",
    "utm_campaign", "utm_term", "utm_content", "country", "region", "city", "browser", "os",
    "device",
)
_KEY: Final = ("site", "day", "visitor", "started_at")
REBUILD_CHUNK: Final = 500  # visitors per rebuild transaction


_UPSERT: Final = (
    f" ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in VISIT_COLUMNS if c not in _KEY)
)
_LATEST: Final = f"""
    SELECT {', '.join(f'v.{c}' for c in VISIT_COLUMNS)}
    FROM json_each(?) AS k JOIN visits AS v
      ON v.visitor = k.value ->> 1 AND v.site = k.value ->> 0
     AND v.started_at = (SELECT max(w.started_at) FROM visits AS w
                         WHERE w.visitor = k.value ->> 1 AND w.site = k.value ->> 0)
"""
# Per window (site, visitor, first, last): the span of the visits it touches.
_SPANS: Final = """
    SELECT k.key, min(v.started_at), max(v.ended_at)
    FROM json_each(?) AS k LEFT JOIN visits AS v
      ON v.visitor = k.value ->> 1 AND v.site = k.value ->> 0
     AND v.started_at <= k.value ->> 3 AND v.ended_at >= k.value ->> 2
    GROUP BY k.key
"""
_DELETE_VISITS_IN: Final = """
    DELETE FROM visits WHERE (site, day, visitor, started_at) IN (
        SELECT v.site, v.day, v.visitor, v.started_at
        FROM json_each(?) AS k JOIN visits AS v
          ON v.visitor = k.value ->> 1 AND v.site = k.value ->> 0
         AND v.started_at BETWEEN k.value ->> 2 AND k.value ->> 3)
"""
HITS_IN: Final = f"""
    SELECT k.key, {', '.join(f'e.{c}' for c in _HIT_COLUMNS)}
    FROM json_each(?) AS k JOIN analytics_events AS e
      ON e.visitor = k.value ->> 1 AND e.site = k.value ->> 0
     AND e.ts BETWEEN k.value ->> 2 AND k.value ->> 3
"""

# The roll-ups: what `events` (a FROM clause naming `analytics_events AS e`, with the
# events to count) adds to each (site, day, visitor, ...) row. A batch adds the rows it
# just inserted; a recount replaces the rows of some (site, visitor, day)s.
_VISITOR_DAY: Final = ("country", "region", "city", "browser", "os", "device")
_COUNT_VISITOR_DAYS: Final = f"""
    INSERT INTO visitor_days (site, day, visitor, {', '.join(_VISITOR_DAY)}, pageviews)
    SELECT e.site, substr(e.ts, 1, 10), e.visitor, {', '.join(f'e.{c}' for c in _VISITOR_DAY)},
           sum(e.type = 'pageview')
    FROM {{events}} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    ON CONFLICT (site, day, visitor, {', '.join(_VISITOR_DAY)})
    DO UPDATE SET pageviews = pageviews + excluded.pageviews
"""
_COUNT_HIT_DAYS: Final = """
    INSERT INTO hit_days (site, day, visitor, type, value, hits)
    SELECT e.site, substr(e.ts, 1, 10), e.visitor, e.type,
           CASE WHEN e.type = 'pageview' THEN e.path ELSE e.name END, count(*)
    FROM {events} GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (site, day, visitor, type, value) DO UPDATE SET hits = hits + excluded.hits
"""
_BATCH: Final = "analytics_events AS e WHERE e.id BETWEEN ? AND ?"
_ADD_BATCH: Final = tuple(sql.format(events=_BATCH) for sql in (_COUNT_VISITOR_DAYS,
                                                                 _COUNT_HIT_DAYS))

# Recounting the roll-ups of (site, visitor, day, day's first instant, next day's) keys.
_DAY_KEYS: Final = "SELECT value ->> 0, value ->> 2, value ->> 1 FROM json_each(?)"
_DAY_EVENTS: Final = """
    json_each(?) AS k JOIN analytics_events AS e
      ON e.visitor = k.value ->> 1 AND e.site = k.value ->> 0
     AND e.ts >= k.value ->> 3 AND e.ts < k.value ->> 4
    WHERE true
"""
_RECOUNT: Final = (
    f"DELETE FROM visitor_days WHERE (site, day, visitor) IN ({_DAY_KEYS})",
    f"DELETE FROM hit_days WHERE (site, day, visitor) IN ({_DAY_KEYS})",
    _COUNT_VISITOR_DAYS.format(events=_DAY_EVENTS),
    _COUNT_HIT_DAYS.format(events=_DAY_EVENTS),
)

Window = tuple[str, str, str, str]  # site, visitor, first, last (stored times)


def to_json(rows: Iterable[Sequence[Any]]) -> str:
    return json.dumps(list(rows), separators=(",", ":"), ensure_ascii=False)


async def add_batch(
    conn: aiosqlite.Connection, events: Sequence[AnalyticsEvent], last_id: int,
    gap: timedelta,
) -> None:
    """After `events` were inserted (one statement: ids up to `last_id`, consecutive):
    their roll-ups and visits."""
    ids = (last_id - len(events) + 1, last_id)
    for statement in _ADD_BATCH:
        await conn.execute(statement, ids)
    groups: defaultdict[tuple[str, str], list[Hit]] = defaultdict(list)
    for event in events:
        groups[(event.site, event.visitor)].append(Hit.of(event))
    latest = await _latest_visits(conn, list(groups))
    changed: list[Visit] = []
    windows: list[Window] = []
    for (site, visitor), hits in groups.items():
        hits.sort()
        last = latest.get((site, visitor))
        if continues(last, hits):
            changed.extend(continue_visits(last, site, visitor, hits, gap))
        else:
            windows.append((site, visitor, format_timestamp(hits[0].ts - gap),
                            format_timestamp(hits[-1].ts + gap)))
    await upsert_visits(conn, changed)
    await rebuild_windows(conn, windows, gap)


async def _latest_visits(
    conn: aiosqlite.Connection, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], Visit]:
    async with conn.execute(_LATEST, (to_json(keys),)) as cursor:
        rows = await cursor.fetchall()
    return {(row[0], row[2]): visit_from_row(row) for row in rows}


async def upsert_visits(conn: aiosqlite.Connection, visits: Sequence[Visit]) -> None:
    if visits:
        await insert_rows(conn, "visits", VISIT_COLUMNS, [visit_row(v) for v in visits],
                          tail=_UPSERT)


async def rebuild_windows(
    conn: aiosqlite.Connection, windows: Sequence[Window], gap: timedelta
) -> None:
    """Make the visits touching each window again from the events there now."""
    if not windows:
        return
    async with conn.execute(_SPANS, (to_json(windows),)) as cursor:
        spans = {int(row[0]): (row[1], row[2]) for row in await cursor.fetchall()}
    stretched = [
        (site, visitor, min(first, spans[n][0] or first), max(last, spans[n][1] or last))
        for n, (site, visitor, first, last) in enumerate(windows)
    ]
    param = (to_json(stretched),)
    hits = await hits_by_window(conn, param)
    await conn.execute(_DELETE_VISITS_IN, param)
    visits = [visit for n, (site, visitor, _, _) in enumerate(stretched)
              for visit in sessionise(site, visitor, hits.get(n, ()), gap)]
    await upsert_visits(conn, visits)


async def hits_by_window(
    conn: aiosqlite.Connection, param: tuple[str]
) -> dict[int, list[Hit]]:
    """The stored hits inside each window of `param` (`HITS_IN`), by window number."""
    found: defaultdict[int, list[Hit]] = defaultdict(list)
    async with conn.execute(HITS_IN, param) as cursor:
        for row in await cursor.fetchall():
            found[int(row[0])].append(hit_from_row(row[1:]))
    return found


async def recount_days(
    conn: aiosqlite.Connection, keys: Iterable[tuple[str, str, date]]
) -> None:
    """Recount the roll-ups of these (site, visitor, day)s from the events there now."""
    rows = [(site, visitor, day.isoformat(), _midnight(day), _midnight(day + timedelta(days=1)))
            for site, visitor, day in keys]
    if rows:
        param = (to_json(rows),)
        for statement in _RECOUNT:
            await conn.execute(statement, param)


def _midnight(day: date) -> str:
    return f"{day.isoformat()}T00:00:00.000000Z"


async def rebuild_chunk(conn: aiosqlite.Connection, after: str, gap: timedelta) -> str | None:
    """Make the visits of the next `REBUILD_CHUNK` visitors after `after` again; return the
    last of them, or None when no visitor is left."""
    async with conn.execute(
        "SELECT DISTINCT visitor FROM analytics_events WHERE visitor > ? ORDER BY visitor "
        "LIMIT ?", (after, REBUILD_CHUNK),
    ) as cursor:
        visitors = [row[0] for row in await cursor.fetchall()]
    last = visitors[-1] if visitors else None
    span = "visitor > ?" + ("" if last is None else " AND visitor <= ?")
    params = (after,) if last is None else (after, last)
    await conn.execute(f"DELETE FROM visits WHERE {span}", params)
    hits: defaultdict[tuple[str, str], list[Hit]] = defaultdict(list)
    if last is not None:
        async with conn.execute(
            f"SELECT site, visitor, {', '.join(_HIT_COLUMNS)} "
            f"FROM analytics_events WHERE {span}", params,
        ) as cursor:
            for row in await cursor.fetchall():
                hits[(row[0], row[1])].append(hit_from_row(row[2:]))
    await upsert_visits(conn, [visit for (site, visitor), found in hits.items()
                               for visit in sessionise(site, visitor, found, gap)])
    return last


def hit_from_row(row: Sequence[Any]) -> Hit:
    """A hit from the columns of `_HIT_COLUMNS`, in that order."""
    return Hit(datetime.fromisoformat(row[0]), row[1] == "pageview", *row[2:])


def visit_row(visit: Visit) -> tuple[Any, ...]:
    return (
        visit.site, visit.day.isoformat(), visit.visitor, format_timestamp(visit.started_at),
        format_timestamp(visit.ended_at), visit.last_day.isoformat(), visit.duration_us,
        visit.pageviews, visit.events, int(visit.bounce), visit.entry_page, visit.exit_page,
        visit.referrer_host, visit.utm_source, visit.utm_medium, visit.utm_campaign,
        visit.utm_term, visit.utm_content, visit.country, visit.region, visit.city,
        visit.browser, visit.os, visit.device,
    )


def visit_from_row(row: Sequence[Any]) -> Visit:
    """A visit from the columns of `VISIT_COLUMNS`, in that order."""
    values = dict(zip(VISIT_COLUMNS, row, strict=True))
    for derived in ("day", "last_day", "duration_us", "bounce"):
        del values[derived]
    values["started_at"] = datetime.fromisoformat(values["started_at"])
    values["ended_at"] = datetime.fromisoformat(values["ended_at"])
    return Visit(**values)
