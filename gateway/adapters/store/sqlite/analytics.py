"""Analytics events, bot tallies and the access log in SQLite: batches written as one
statement each (`insert_rows`); the visits (`visits.py`) kept in the events' transaction."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date, datetime
from operator import attrgetter
from typing import Any, Final

from gateway.adapters.store.sqlite import visits
from gateway.adapters.store.sqlite.connection import SQLiteConnection, insert_rows
from gateway.adapters.store.sqlite.visits import EVENT_COLUMNS as _EVENT_COLUMNS
from gateway.core.analytics.events import AccessLogEntry, AnalyticsEvent
from gateway.core.analytics.visits import ONE_MICROSECOND
from gateway.core.consent.record import format_timestamp, parse_timestamp

_event_values: Final = attrgetter(*_EVENT_COLUMNS)
_SELECT_EVENTS: Final = f"SELECT id, {', '.join(_EVENT_COLUMNS)} FROM analytics_events"  # noqa: S608
_ACCESS_COLUMNS: Final = ("ts", "site", "method", "path", "status", "duration_ms", "ip", "browser")
_ADD_BOTS: Final = """
    INSERT INTO bot_counts (site, day, count) VALUES (?, ?, ?)
    ON CONFLICT (site, day) DO UPDATE SET count = count + excluded.count
"""


# An erasure: the visits go with their events, and each site losing events counts one more
# erasure (cached reports of it are not served again).
_ERASE: Final = (
    """INSERT INTO analytics_erasures (site, erasures)
       SELECT DISTINCT site, 1 FROM analytics_events WHERE visitor = :visitor {site}
       ON CONFLICT (site) DO UPDATE SET erasures = erasures + 1""",
    "DELETE FROM visits WHERE visitor = :visitor {site}",
)


class SQLiteAnalytics(SQLiteConnection):
    async def open(self) -> None:
        await super().open()
        try:
            await self._prepare_visits()
        except BaseException:
            await self.close()
            raise

    async def _prepare_visits(self) -> None:
        """Take the configured visit gap (a change rebuilds every visit), then finish any
        rebuild, a chunk of visitors per transaction, so other workers keep writing."""
        failed = "could not build the visits"
        async with self._write_transaction(failed) as conn:
            async with conn.execute("SELECT gap_us FROM visit_settings") as cursor:
                row = await cursor.fetchone()
            stored = int(row[0]) if row else 0
            wanted = self._configured_gap
            if wanted is not None and wanted // ONE_MICROSECOND != stored:
                stored = wanted // ONE_MICROSECOND
                await conn.execute("UPDATE visit_settings SET gap_us = ?, rebuild_after = ''",
                                   (stored,))
        self._visit_gap = stored * ONE_MICROSECOND
        while True:
            async with self._write_transaction(failed) as conn:
                async with conn.execute("SELECT rebuild_after FROM visit_settings") as cursor:
                    row = await cursor.fetchone()
                if row is None or row[0] is None:
                    return
                last = await visits.rebuild_chunk(conn, row[0], self._visit_gap)
                await conn.execute("UPDATE visit_settings SET rebuild_after = ?", (last,))

    async def add_events(self, events: Sequence[AnalyticsEvent]) -> None:
        """The events and their visits, in one transaction."""
        if not events:
            return
        rows = [_event_row(e) for e in events]
        async with self._write_transaction("could not write analytics events") as conn:
            await insert_rows(conn, "analytics_events", _EVENT_COLUMNS, rows)
            await visits.add_batch(conn, events, self._visit_gap)

    async def iter_events(
        self, *, site: str | None = None, since: datetime | None = None,
        until: datetime | None = None, visitor: str | None = None,
    ) -> AsyncIterator[AnalyticsEvent]:
        """Events in insertion order (which is time order), filtered, streamed in pages."""
        where, params = ["id > ?"], []
        for column, op, value in (("site", "=", site), ("ts", ">=", since),
                                  ("ts", "<", until), ("visitor", "=", visitor)):
            if value is not None:
                where.append(f"{column} {op} ?")
                params.append(format_timestamp(value) if isinstance(value, datetime) else value)
        sql = f"{_SELECT_EVENTS} WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
        async for rows in self._keyset_pages(sql, params, after=0,
                                              failed="cannot read analytics events"):
            for row in rows:
                yield _event_from_row(row[1:])

    async def erase_events(self, visitor: str, site: str | None = None) -> int:
        """Delete every analytics event of one visitor pseudonym (on one site, if given),
        with the visits made of them."""
        only = "" if site is None else "AND site = :site"
        params = {"visitor": visitor, "site": site}
        async with self._write_transaction("could not erase analytics events") as conn:
            for statement in _ERASE:
                await conn.execute(statement.format(site=only), params)
            cursor = await conn.execute(
                f"DELETE FROM analytics_events WHERE visitor = :visitor {only}",  # noqa: S608
                params)
        return max(cursor.rowcount, 0)

    async def add_bot_counts(self, counts: Mapping[tuple[str, date], int]) -> None:
        rows = [(site, day.isoformat(), n) for (site, day), n in counts.items()]
        await self._write_many(_ADD_BOTS, rows, failed="could not write the bot counts")

    async def bot_counts(self, site: str, start: date, end: date) -> dict[date, int]:
        rows = await self._read(
            "SELECT day, count FROM bot_counts WHERE site = ? AND day BETWEEN ? AND ?",
            (site, start.isoformat(), end.isoformat()), failed="cannot read the bot counts",
        )
        return {date.fromisoformat(row[0]): int(row[1]) for row in rows}


class SQLiteAccessLog(SQLiteConnection):
    async def add_access_log(self, entries: Sequence[AccessLogEntry]) -> None:
        rows = [
            (format_timestamp(e.ts), e.site, e.method, e.path, e.status,
             round(e.duration_ms, 3), e.ip, e.browser)
            for e in entries
        ]
        await self._write_rows("access_log", _ACCESS_COLUMNS, rows,
                               failed="could not write the access log")


def _event_row(event: AnalyticsEvent) -> tuple[Any, ...]:
    # Per event on the event loop, so lean: the columns in one C call (`ts` second, `props`
    # last, as `EVENT_COLUMNS` has them).
    site, ts, *middle, props = _event_values(event)
    text = json.dumps(props, separators=(",", ":"), ensure_ascii=False) if props else "{}"
    return (site, format_timestamp(ts), *middle, text)


def _event_from_row(row: Sequence[Any]) -> AnalyticsEvent:
    data = dict(zip(_EVENT_COLUMNS, row, strict=True))
    data["ts"] = parse_timestamp(data["ts"])
    try:
        props = json.loads(data["props"])
    except (TypeError, ValueError):
        props = {}
    data["props"] = props if isinstance(props, dict) else {}
    return AnalyticsEvent(**data)
