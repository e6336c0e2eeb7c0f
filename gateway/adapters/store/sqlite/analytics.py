"""Analytics events, bot tallies and the access log in SQLite: batches written as one
statement each."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final

from gateway.adapters.store.sqlite.connection import SQLiteConnection, insert_from_json
from gateway.core.analytics.events import AccessLogEntry, AnalyticsEvent
from gateway.core.consent.record import format_timestamp, parse_timestamp

_EVENT_COLUMNS: Final = (
    "site", "ts", "visitor", "type", "name", "path", "hostname", "referrer_host",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "country",
    "region", "city", "browser", "os", "device", "screen_width", "props",
)
_INSERT_EVENT: Final = insert_from_json("analytics_events", _EVENT_COLUMNS)
_SELECT_EVENTS: Final = f"SELECT id, {', '.join(_EVENT_COLUMNS)} FROM analytics_events"  # noqa: S608
_ACCESS_COLUMNS: Final = ("ts", "site", "method", "path", "status", "duration_ms", "ip", "browser")
_INSERT_ACCESS: Final = insert_from_json("access_log", _ACCESS_COLUMNS)
_ADD_BOTS: Final = """
    INSERT INTO bot_counts (site, day, count) VALUES (?, ?, ?)
    ON CONFLICT (site, day) DO UPDATE SET count = count + excluded.count
"""


class SQLiteAnalytics(SQLiteConnection):
    async def add_events(self, events: Sequence[AnalyticsEvent]) -> None:
        rows = [_event_row(e) for e in events]
        await self._write_json_batch(_INSERT_EVENT, rows, failed="could not write analytics events")

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
        """Delete every analytics event of one visitor pseudonym (on one site, if given)."""
        sql, params = "DELETE FROM analytics_events WHERE visitor = :visitor", {"visitor": visitor}
        if site is not None:
            sql, params = sql + " AND site = :site", {**params, "site": site}
        return await self._write_counted(sql, params, failed="could not erase analytics events")

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
        await self._write_json_batch(_INSERT_ACCESS, rows, failed="could not write the access log")


def _event_row(event: AnalyticsEvent) -> tuple[Any, ...]:
    values = {name: getattr(event, name) for name in _EVENT_COLUMNS}
    values["ts"] = format_timestamp(event.ts)
    values["props"] = json.dumps(event.props, separators=(",", ":"), ensure_ascii=False)
    return tuple(values[name] for name in _EVENT_COLUMNS)


def _event_from_row(row: Sequence[Any]) -> AnalyticsEvent:
    data = dict(zip(_EVENT_COLUMNS, row, strict=True))
    data["ts"] = parse_timestamp(data["ts"])
    try:
        props = json.loads(data["props"])
    except (TypeError, ValueError):
        props = {}
    data["props"] = props if isinstance(props, dict) else {}
    return AnalyticsEvent(**data)
