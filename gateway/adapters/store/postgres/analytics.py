"""Analytics events, bot tallies and the access log in PostgreSQL: batches written with
`COPY` (binary) inside their transaction; the visits (`visits.py`) kept in the events'
transaction, the visitors of the batch locked first."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date, datetime
from operator import attrgetter
from typing import Any, Final

from gateway.adapters.store.postgres import visits
from gateway.adapters.store.postgres.connection import PostgresConnection, rows_of
from gateway.adapters.store.sqlite.visits import EVENT_COLUMNS
from gateway.core.analytics.events import AccessLogEntry, AnalyticsEvent
from gateway.core.analytics.visits import ONE_MICROSECOND

_event_values: Final = attrgetter(*EVENT_COLUMNS)
_SELECT_EVENTS: Final = f"SELECT id, {', '.join(EVENT_COLUMNS)} FROM analytics_events"  # noqa: S608
_ACCESS_COLUMNS: Final = ("ts", "site", "method", "path", "status", "duration_ms", "ip", "browser")
_ADD_BOTS: Final = """
    INSERT INTO bot_counts AS b (site, day, count) VALUES ($1, $2, $3)
    ON CONFLICT (site, day) DO UPDATE SET count = b.count + excluded.count
"""
# An erasure: the visits go with their events, and each site losing events counts one more
# erasure (cached reports of it are not served again).
_ERASE: Final = (
    """INSERT INTO analytics_erasures AS a (site, erasures)
       SELECT DISTINCT site, 1 FROM analytics_events WHERE visitor = $1 {site}
       ON CONFLICT (site) DO UPDATE SET erasures = a.erasures + 1""",
    "DELETE FROM visits WHERE visitor = $1 {site}",
)


class PostgresAnalytics(PostgresConnection):
    async def open(self) -> None:
        await super().open()
        try:
            await self._prepare_visits()
        except BaseException:
            await self.close()
            raise

    async def _prepare_visits(self) -> None:
        """Take the configured visit gap (a change rebuilds every visit), then finish any
        rebuild, a chunk of visitors per transaction, so other instances keep writing."""
        failed = "could not build the visits"
        async with self._transaction(failed) as conn:
            stored = int(await conn.fetchval(
                "SELECT gap_us FROM visit_settings WHERE id = 1 FOR UPDATE") or 0)
            wanted = self._configured_gap
            if wanted is not None and wanted // ONE_MICROSECOND != stored:
                stored = wanted // ONE_MICROSECOND
                await conn.execute("UPDATE visit_settings SET gap_us = $1, rebuild_after = ''",
                                   stored)
        self._visit_gap = stored * ONE_MICROSECOND
        while True:
            async with self._transaction(failed) as conn:
                after = await conn.fetchval(
                    "SELECT rebuild_after FROM visit_settings WHERE id = 1 FOR UPDATE")
                if after is None:
                    return
                last = await visits.rebuild_chunk(conn, after, self._visit_gap)
                await conn.execute("UPDATE visit_settings SET rebuild_after = $1", last)

    async def add_events(self, events: Sequence[AnalyticsEvent]) -> None:
        """The events and their visits, in one transaction."""
        if not events:
            return
        rows = [_event_row(e) for e in events]
        async with self._transaction("could not write analytics events") as conn:
            await visits.lock_visitors(conn, {(e.site, e.visitor) for e in events})
            await conn.copy_records_to_table("analytics_events", records=rows,
                                             columns=EVENT_COLUMNS)
            await visits.add_batch(conn, events, self._visit_gap)

    async def iter_events(
        self, *, site: str | None = None, since: datetime | None = None,
        until: datetime | None = None, visitor: str | None = None,
    ) -> AsyncIterator[AnalyticsEvent]:
        """Events in insertion order (which is time order), filtered, streamed in pages."""
        where, params = ["id > $1"], []
        for column, op, value in (("site", "=", site), ("ts", ">=", since),
                                  ("ts", "<", until), ("visitor", "=", visitor)):
            if value is not None:
                params.append(value)
                where.append(f"{column} {op} ${len(params) + 1}")
        sql = (f"{_SELECT_EVENTS} WHERE {' AND '.join(where)} "
               f"ORDER BY id LIMIT ${len(params) + 2}")
        async for rows in self._keyset_pages(sql, params, after=0,
                                              failed="cannot read analytics events"):
            for row in rows:
                yield _event_from_row(row[1:])

    async def erase_events(self, visitor: str, site: str | None = None) -> int:
        """Delete every analytics event of one visitor pseudonym (on one site, if given),
        with the visits made of them."""
        only = "" if site is None else "AND site = $2"
        params = (visitor,) if site is None else (visitor, site)
        async with self._transaction("could not erase analytics events") as conn:
            sites = [row[0] for row in await conn.fetch(
                f"SELECT DISTINCT site FROM analytics_events WHERE visitor = $1 {only}",  # noqa: S608
                *params)]
            await visits.lock_visitors(conn, [(s, visitor) for s in sites])
            for statement in _ERASE:
                await conn.execute(statement.format(site=only), *params)
            status = await conn.execute(
                f"DELETE FROM analytics_events WHERE visitor = $1 {only}",  # noqa: S608
                *params)
        return rows_of(status)

    async def add_bot_counts(self, counts: Mapping[tuple[str, date], int]) -> None:
        rows = sorted((site, day, n) for (site, day), n in counts.items())
        await self._write_many(_ADD_BOTS, rows, failed="could not write the bot counts")

    async def bot_counts(self, site: str, start: date, end: date) -> dict[date, int]:
        rows = await self._read(
            "SELECT day, count FROM bot_counts WHERE site = $1 AND day BETWEEN $2 AND $3",
            site, start, end, failed="cannot read the bot counts",
        )
        return {row[0]: int(row[1]) for row in rows}


class PostgresAccessLog(PostgresConnection):
    async def add_access_log(self, entries: Sequence[AccessLogEntry]) -> None:
        rows = [(e.ts, e.site, e.method, e.path, e.status, round(e.duration_ms, 3), e.ip,
                 e.browser) for e in entries]
        if rows:
            async with self._transaction("could not write the access log") as conn:
                await conn.copy_records_to_table("access_log", records=rows,
                                                 columns=_ACCESS_COLUMNS)


def _event_row(event: AnalyticsEvent) -> tuple[Any, ...]:
    *values, props = _event_values(event)
    text = json.dumps(props, separators=(",", ":"), ensure_ascii=False) if props else "{}"
    return (*values, text)


def _event_from_row(row: Sequence[Any]) -> AnalyticsEvent:
    data = dict(zip(EVENT_COLUMNS, row, strict=True))
    try:
        props = json.loads(data["props"])
    except (TypeError, ValueError):
        props = {}
    data["props"] = props if isinstance(props, dict) else {}
    return AnalyticsEvent(**data)
