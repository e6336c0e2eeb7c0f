"""Visits in SQLite, kept inside the transaction that changes the events (adapter). The rule
is `core/analytics/visits.py`; this is the bookkeeping around it:

- **New events**: per visitor, the newest visit is read; hits that come after it are added
  to it (or start new visits) in Python and the changed visits upserted — the usual case,
  no event read back. A hit at or before the end of the visitor's newest visit (a beacon a
  few seconds late, another worker's batch) rebuilds that visitor's visits around it, within
  one gap each side, from the stored events: it lands in the right visit, and a hit that
  bridges two visits merges them.
- **Deleted events** (retention): the visits around them are rebuilt from the events that
  remain. (An erasure deletes all of a visitor's visits with their events.)
- **Rebuild** (old events and no visits yet, or a changed gap): visitors in chunks, each
  chunk its own transaction, resumable; see `SQLiteAnalytics.open`.

A window is (site, visitor, first, last), stored times: the visits of that visitor touching
it, stretched to cover them whole, are deleted and made again from the events inside. The
events just outside such a stretch belong to other visits, more than a gap away, so
rebuilding inside it is exact.

One row per visit, and per event only that row changes: the per-hit counts breakdowns need
(pages, custom events, places, search terms, time on page) live in the row as JSON, and
only when they say more than its columns (NULL for a visit of one path, no custom event,
one place, no search, no timed page).
"""

# Every statement here is put together from the constants of this module, never from data.
# ruff: noqa: S608

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import aiosqlite

from gateway.adapters.store.sqlite.connection import insert_rows
from gateway.core.analytics.events import AnalyticsEvent
from gateway.core.analytics.visits import (
    Hit,
    Place,
    Visit,
    continue_visits,
    continues,
    sessionise,
)
from gateway.core.consent.record import format_timestamp

EVENT_COLUMNS: Final = (
    "site", "ts", "visitor", "type", "name", "path", "hostname", "referrer_host",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "country",
    "region", "city", "browser", "os", "device", "screen_width", "search", "props",
)
VISIT_COLUMNS: Final = (
    "site", "day", "visitor", "started_at", "ended_at", "last_day", "duration_us",
    "pageviews", "events", "bounce", "entry_page", "exit_page", "referrer_host",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "country",
    "region", "city", "browser", "os", "device", "pages", "names", "places", "searches",
    "page_times", "page_open_at",
)
# What a hit is made of, after the key (site, visitor): `Hit`'s fields, `type` for
# `pageview` (and, last, for `pagehide`).
HIT_COLUMNS: Final = (
    "ts", "type", "path", "referrer_host", "hostname", "utm_source", "utm_medium",
    "utm_campaign", "name", "utm_term", "utm_content", "country", "region", "city", "browser",
    "os", "device", "search",
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
_HITS_IN: Final = f"""
    SELECT k.key, {', '.join(f'e.{c}' for c in HIT_COLUMNS)}
    FROM json_each(?) AS k JOIN analytics_events AS e
      ON e.visitor = k.value ->> 1 AND e.site = k.value ->> 0
     AND e.ts BETWEEN k.value ->> 2 AND k.value ->> 3
"""

Window = tuple[str, str, str, str]  # site, visitor, first, last (stored times)


def to_json(rows: Iterable[Any]) -> str:
    return json.dumps(list(rows), separators=(",", ":"), ensure_ascii=False)


async def add_batch(
    conn: aiosqlite.Connection, events: Sequence[AnalyticsEvent], gap: timedelta
) -> None:
    """After `events` were inserted: their visits."""
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
    hits = await hits_by_window(conn, stretched)
    await conn.execute(_DELETE_VISITS_IN, (to_json(stretched),))
    visits = [visit for n, (site, visitor, _, _) in enumerate(stretched)
              for visit in sessionise(site, visitor, hits.get(n, ()), gap)]
    await upsert_visits(conn, visits)


async def hits_by_window(
    conn: aiosqlite.Connection, windows: Sequence[Window]
) -> dict[int, list[Hit]]:
    """The stored hits inside each window, by the window's position."""
    found: defaultdict[int, list[Hit]] = defaultdict(list)
    async with conn.execute(_HITS_IN, (to_json(windows),)) as cursor:
        for row in await cursor.fetchall():
            found[int(row[0])].append(hit_from_row(row[1:]))
    return found


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
            f"SELECT site, visitor, {', '.join(HIT_COLUMNS)} FROM analytics_events "
            f"WHERE {span}", params,
        ) as cursor:
            for row in await cursor.fetchall():
                hits[(row[0], row[1])].append(hit_from_row(row[2:]))
    await upsert_visits(conn, [visit for (site, visitor), found in hits.items()
                               for visit in sessionise(site, visitor, found, gap)])
    return last


def hit_from_row(row: Sequence[Any]) -> Hit:
    """A hit from the columns of `HIT_COLUMNS`, in that order."""
    return Hit._make((datetime.fromisoformat(row[0]), row[1] == "pageview", *row[2:],
                      row[1] == "pagehide"))


def visit_row(visit: Visit) -> tuple[Any, ...]:
    """The row of `VISIT_COLUMNS`; the per-hit counts only where the columns do not say it
    (see `visit_from_row`)."""
    first_place = (visit.country, visit.region, visit.city, visit.browser, visit.os,
                   visit.device)
    one_page = len(visit.pages) <= 1  # then it is {entry page: pageviews}, or none
    one_place = visit.places.keys() == {first_place}
    return (
        visit.site, visit.day.isoformat(), visit.visitor, format_timestamp(visit.started_at),
        format_timestamp(visit.ended_at), visit.last_day.isoformat(), visit.duration_us,
        visit.pageviews, visit.events, int(visit.bounce), visit.entry_page, visit.exit_page,
        visit.referrer_host, visit.utm_source, visit.utm_medium, visit.utm_campaign,
        visit.utm_term, visit.utm_content, *first_place,
        None if one_page else to_json_object(visit.pages),
        to_json_object(visit.names) if visit.names else None,
        None if one_place else to_json([[*place, n] for place, n in visit.places.items()]),
        *extra_columns(visit),
        None if visit.open_at is None else format_timestamp(visit.open_at),
    )


def extra_columns(visit: Visit) -> tuple[str | None, str | None]:
    """`searches` and `page_times` as JSON, NULL when empty."""
    return (to_json_object(visit.searches) if visit.searches else None,
            to_json_object(visit.page_times) if visit.page_times else None)


def to_json_object(counts: dict[str, Any]) -> str:
    return json.dumps(counts, separators=(",", ":"), ensure_ascii=False)


def visit_from_row(row: Sequence[Any]) -> Visit:
    """A visit from the columns of `VISIT_COLUMNS`, in that order (`day`, `last_day`,
    `duration_us` and `bounce` follow from the rest)."""
    (site, _, visitor, started_at, ended_at, _, _, pageviews, events, _, entry_page,
     exit_page, referrer_host, utm_source, utm_medium, utm_campaign, utm_term, utm_content,
     country, region, city, browser, os, device, pages, names, places, searches, page_times,
     open_at) = row
    first_place = (country, region, city, browser, os, device)
    return Visit(
        site, visitor, datetime.fromisoformat(started_at), datetime.fromisoformat(ended_at),
        pageviews, events, entry_page, exit_page, referrer_host, utm_source, utm_medium,
        utm_campaign, utm_term, utm_content, country, region, city, browser, os, device,
        pages=json.loads(pages) if pages else ({entry_page: pageviews} if pageviews else {}),
        names=json.loads(names) if names else {},
        places=({_place(entry[:6]): int(entry[6]) for entry in json.loads(places)}
                if places else {first_place: pageviews}),
        searches=json.loads(searches) if searches else {},
        page_times=json.loads(page_times) if page_times else {},
        open_at=datetime.fromisoformat(open_at) if open_at else None,
    )


def _place(values: Sequence[str]) -> Place:
    country, region, city, browser, os, device = values
    return (country, region, city, browser, os, device)
