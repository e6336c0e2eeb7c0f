"""Visits in PostgreSQL, kept inside the transaction that changes the events (adapter): the
bookkeeping of `sqlite/visits.py` (read it for the rule of windows and stretches; its
column lists are the tables' here too) over PostgreSQL's types, the rule itself being
`core/analytics/visits.py`.

What SQLite gets from its single writer, PostgreSQL gets from locks: every transaction that
changes a visitor's events or visits first takes a transaction-scoped advisory lock per
(site, visitor), in one global order (so two never wait on each other crosswise). Two
instances writing the same visitor's beacons therefore take turns, and each sees the
other's committed events and visits when it reads them.
"""

# Every statement here is put together from the constants of this module, never from data.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import asyncpg

from gateway.adapters.store.sqlite.visits import (
    HIT_COLUMNS,
    VISIT_COLUMNS,
    extra_columns,
    to_json,
    to_json_object,
)
from gateway.core.analytics.events import AnalyticsEvent
from gateway.core.analytics.visits import (
    Hit,
    Place,
    Visit,
    continue_visits,
    continues,
    sessionise,
)

if TYPE_CHECKING:
    from gateway.adapters.store.postgres.connection import Connection

_KEY: Final = ("site", "day", "visitor", "started_at")
REBUILD_CHUNK: Final = 500  # visitors per rebuild transaction

_UPSERT: Final = (
    f"INSERT INTO visits ({', '.join(VISIT_COLUMNS)}) "
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(VISIT_COLUMNS) + 1))}) "
    f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in VISIT_COLUMNS if c not in _KEY)
)
_KEYS: Final = "unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(site, visitor, n)"
_WINDOWS: Final = ("unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) "
                   "WITH ORDINALITY AS k(site, visitor, first, last, n)")
_LATEST: Final = f"""
    SELECT {', '.join(f'v.{c}' for c in VISIT_COLUMNS)}
    FROM {_KEYS} CROSS JOIN LATERAL (
        SELECT * FROM visits AS w WHERE w.visitor = k.visitor AND w.site = k.site
        ORDER BY w.started_at DESC LIMIT 1) AS v
"""
# Per window: the span of the visits it touches.
_SPANS: Final = f"""
    SELECT k.n, min(v.started_at), max(v.ended_at)
    FROM {_WINDOWS} LEFT JOIN visits AS v
      ON v.visitor = k.visitor AND v.site = k.site
     AND v.started_at <= k.last AND v.ended_at >= k.first
    GROUP BY k.n
"""
_DELETE_VISITS_IN: Final = f"""
    DELETE FROM visits AS v USING {_WINDOWS}
    WHERE v.visitor = k.visitor AND v.site = k.site AND v.started_at BETWEEN k.first AND k.last
"""
_HITS_IN: Final = f"""
    SELECT k.n, {', '.join(f'e.{c}' for c in HIT_COLUMNS)}
    FROM {_WINDOWS} JOIN analytics_events AS e
      ON e.visitor = k.visitor AND e.site = k.site AND e.ts BETWEEN k.first AND k.last
"""

Window = tuple[str, str, datetime, datetime]  # site, visitor, first, last


def lock_key(site: str, visitor: str) -> int:
    """A signed 64-bit advisory-lock key for one visitor of one site, the same in every
    instance."""
    digest = hashlib.blake2b(f"{site}\x1f{visitor}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_visitors(conn: Connection, keys: Iterable[tuple[str, str]]) -> None:
    """Take the transaction's advisory locks of these (site, visitor) pairs, in key order."""
    ordered = sorted({lock_key(site, visitor) for site, visitor in keys})
    if ordered:
        await conn.execute("SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::bigint[]) "
                           "AS k", ordered)


def _columns(rows: Sequence[Sequence[Any]], count: int) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(count)]


async def add_batch(
    conn: Connection, events: Sequence[AnalyticsEvent], gap: timedelta
) -> None:
    """After `events` were inserted (their visitors locked): their visits."""
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
            windows.append((site, visitor, hits[0].ts - gap, hits[-1].ts + gap))
    await upsert_visits(conn, changed)
    await rebuild_windows(conn, windows, gap)


async def _latest_visits(
    conn: Connection, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], Visit]:
    rows = await conn.fetch(_LATEST, *_columns(keys, 2))
    return {(row[0], row[2]): visit_from_row(row) for row in rows}


async def upsert_visits(conn: Connection, visits: Sequence[Visit]) -> None:
    if visits:
        await conn.executemany(_UPSERT, [visit_row(v) for v in visits])


async def rebuild_windows(
    conn: Connection, windows: Sequence[Window], gap: timedelta
) -> None:
    """Make the visits touching each window again from the events there now."""
    if not windows:
        return
    spans = {int(row[0]) - 1: (row[1], row[2])
             for row in await conn.fetch(_SPANS, *_columns(windows, 4))}
    stretched = [
        (site, visitor, min(first, spans[n][0] or first), max(last, spans[n][1] or last))
        for n, (site, visitor, first, last) in enumerate(windows)
    ]
    hits = await hits_by_window(conn, stretched)
    await conn.execute(_DELETE_VISITS_IN, *_columns(stretched, 4))
    visits = [visit for n, (site, visitor, _, _) in enumerate(stretched)
              for visit in sessionise(site, visitor, hits.get(n, ()), gap)]
    await upsert_visits(conn, visits)


async def hits_by_window(
    conn: Connection, windows: Sequence[Window]
) -> dict[int, list[Hit]]:
    """The stored hits inside each window, by the window's position."""
    found: defaultdict[int, list[Hit]] = defaultdict(list)
    for row in await conn.fetch(_HITS_IN, *_columns(windows, 4)):
        found[int(row[0]) - 1].append(hit_from_row(row[1:]))
    return found


async def rebuild_chunk(conn: Connection, after: str, gap: timedelta) -> str | None:
    """Make the visits of the next `REBUILD_CHUNK` visitors after `after` again; return the
    last of them, or None when no visitor is left."""
    visitors = [row[0] for row in await conn.fetch(
        "SELECT DISTINCT visitor COLLATE \"C\" FROM analytics_events "
        "WHERE visitor COLLATE \"C\" > $1 ORDER BY 1 LIMIT $2", after, REBUILD_CHUNK)]
    last = visitors[-1] if visitors else None
    span = "visitor COLLATE \"C\" > $1" + ("" if last is None else
                                           " AND visitor COLLATE \"C\" <= $2")
    params = (after,) if last is None else (after, last)
    if last is not None:
        pairs = await conn.fetch(
            f"SELECT DISTINCT site, visitor FROM analytics_events WHERE {span}", *params)
        await lock_visitors(conn, [(row[0], row[1]) for row in pairs])
    rows = [] if last is None else await conn.fetch(
        f"SELECT site, visitor, {', '.join(HIT_COLUMNS)} FROM analytics_events WHERE {span}",
        *params)
    await conn.execute(f"DELETE FROM visits WHERE {span}", *params)
    hits: defaultdict[tuple[str, str], list[Hit]] = defaultdict(list)
    for row in rows:
        hits[(row[0], row[1])].append(hit_from_row(row[2:]))
    await upsert_visits(conn, [visit for (site, visitor), found in hits.items()
                               for visit in sessionise(site, visitor, found, gap)])
    return last


def hit_from_row(row: Sequence[Any]) -> Hit:
    """A hit from the columns of `HIT_COLUMNS`, in that order."""
    return Hit._make((row[0], row[1] == "pageview", *row[2:], row[1] == "pagehide"))


def visit_row(visit: Visit) -> tuple[Any, ...]:
    """The row of `VISIT_COLUMNS`; the per-hit counts only where the columns do not say it
    (see `visit_from_row`)."""
    first_place = (visit.country, visit.region, visit.city, visit.browser, visit.os,
                   visit.device)
    one_page = len(visit.pages) <= 1  # then it is {entry page: pageviews}, or none
    one_place = visit.places.keys() == {first_place}
    return (
        visit.site, visit.day, visit.visitor, visit.started_at, visit.ended_at,
        visit.last_day, visit.duration_us, visit.pageviews, visit.events, visit.bounce,
        visit.entry_page, visit.exit_page, visit.referrer_host, visit.utm_source,
        visit.utm_medium, visit.utm_campaign, visit.utm_term, visit.utm_content, *first_place,
        None if one_page else to_json_object(visit.pages),
        to_json_object(visit.names) if visit.names else None,
        None if one_place else to_json([[*place, n] for place, n in visit.places.items()]),
        *extra_columns(visit), visit.open_at,
    )


def visit_from_row(row: Sequence[Any] | asyncpg.Record) -> Visit:
    """A visit from the columns of `VISIT_COLUMNS`, in that order (`day`, `last_day`,
    `duration_us` and `bounce` follow from the rest)."""
    (site, _, visitor, started_at, ended_at, _, _, pageviews, events, _, entry_page,
     exit_page, referrer_host, utm_source, utm_medium, utm_campaign, utm_term, utm_content,
     country, region, city, browser, os, device, pages, names, places, searches, page_times,
     open_at) = row
    first_place = (country, region, city, browser, os, device)
    return Visit(
        site, visitor, started_at, ended_at, pageviews, events, entry_page, exit_page,
        referrer_host, utm_source, utm_medium, utm_campaign, utm_term, utm_content, country,
        region, city, browser, os, device,
        pages=json.loads(pages) if pages else ({entry_page: pageviews} if pageviews else {}),
        names=json.loads(names) if names else {},
        places=({_place(entry[:6]): int(entry[6]) for entry in json.loads(places)}
                if places else {first_place: pageviews}),
        searches=json.loads(searches) if searches else {},
        page_times=json.loads(page_times) if page_times else {},
        open_at=open_at,
    )


def _place(values: Sequence[str]) -> Place:
    country, region, city, browser, os, device = values
    return (country, region, city, browser, os, device)
