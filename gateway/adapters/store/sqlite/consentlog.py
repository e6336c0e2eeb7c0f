"""The consent log in SQLite: appends ordered by the database, pages on `seq`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final

import aiosqlite

from gateway.adapters.store.sqlite.connection import SQLiteConnection, failures_named
from gateway.core.consent.export import ConsentFilter
from gateway.core.consent.record import (
    FIELDS,
    GENESIS_HASH,
    ConsentDraft,
    ConsentRecord,
    LogEntry,
    Tombstone,
    format_timestamp,
    parse_timestamp,
    seal,
)

_COLUMNS: Final = ", ".join(FIELDS)
_INSERT: Final = (
    f"INSERT INTO consent_log ({_COLUMNS}) VALUES ({', '.join('?' for _ in FIELDS)})"  # noqa: S608
)
_SELECT: Final = f"SELECT {_COLUMNS} FROM consent_log"  # noqa: S608
_SELECT_ENTRIES: Final = f"SELECT {_COLUMNS}, tombstone FROM consent_log"  # noqa: S608

# Decisions per UTC day for the dashboard. `recorded_at` is fixed-width ISO text, so its
# first ten characters are the day and text comparison is time order (the partial index on
# live records serves the range).
_CONSENT_DECISIONS: Final = """
    SELECT substr(recorded_at, 1, 10) AS day, action,
           EXISTS (SELECT 1 FROM json_each(granted) WHERE value = 'analytics') AS analytics,
           count(*)
    FROM consent_log
    WHERE tombstone = 0 AND site = ? AND recorded_at >= ? AND recorded_at < ?
    GROUP BY day, action, analytics
"""

_DECISIONS_BY_MODE: Final = """
    SELECT substr(recorded_at, 1, 10) AS day, action,
           EXISTS (SELECT 1 FROM json_each(granted) WHERE value = 'analytics') AS analytics,
           mode, count(*)
    FROM consent_log
    WHERE tombstone = 0 AND site = ? AND recorded_at >= ? AND recorded_at < ?
    GROUP BY day, action, analytics, mode
"""

_READ_FAILED: Final = "cannot read the consent log"


class SQLiteConsentLog(SQLiteConnection):
    async def append_consent(self, draft: ConsentDraft) -> ConsentRecord:
        async with self._write_transaction("could not record consent") as conn:
            seq, prev_hash = await _read_head(conn)
            record = seal(draft, seq=seq + 1, prev_hash=prev_hash)
            await conn.execute(_INSERT, _to_row(record))
            await conn.execute(
                "INSERT OR REPLACE INTO consent_chain_head (id, seq, hash) VALUES (1, ?, ?)",
                (record.seq, record.hash),
            )
        return record

    async def chain_head(self) -> tuple[int, str]:
        conn = self._require(self._reader)
        with failures_named("cannot read the chain head"):
            return await _read_head(conn)

    async def iter_consents(self, *, after_seq: int = 0) -> AsyncIterator[LogEntry]:
        pages = self._keyset_pages(f"{_SELECT_ENTRIES} WHERE seq > ? ORDER BY seq LIMIT ?", (),
                                   after=after_seq, failed=_READ_FAILED)
        async for rows in pages:
            for row in rows:
                yield _entry_from_row(row)

    async def iter_consent_pages(
        self, filters: ConsentFilter, *, up_to_seq: int, after_seq: int = 0
    ) -> AsyncIterator[Sequence[LogEntry]]:
        where, params = _export_conditions(filters)
        sql = f"{_SELECT_ENTRIES} WHERE seq > ? AND seq <= ?{where} ORDER BY seq LIMIT ?"
        async for rows in self._keyset_pages(sql, (up_to_seq, *params), after=after_seq,
                                              failed=_READ_FAILED):
            yield [_entry_from_row(row) for row in rows]

    async def consent_history(self, consent_id: str) -> list[ConsentRecord]:
        rows = await self._read(f"{_SELECT} WHERE consent_id = ? ORDER BY seq", (consent_id,),
                                failed="cannot read the history of a consent id")
        return [_from_row(row) for row in rows]

    async def chain_checkpoint(self) -> tuple[int, str] | None:
        rows = await self._read("SELECT seq, hash FROM chain_checkpoint WHERE id = 1", (),
                                failed="cannot read the chain checkpoint")
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    async def save_chain_checkpoint(self, seq: int, chain_hash: str) -> None:
        await self._write_counted(
            "INSERT OR REPLACE INTO chain_checkpoint (id, seq, hash, verified_at) "
            "VALUES (1, ?, ?, ?)", (seq, chain_hash, format_timestamp(datetime.now(UTC))),
            failed="could not save the chain checkpoint",
        )

    async def erasures_after(self, seq: int) -> list[tuple[int, str, datetime]]:
        rows = await self._read(
            "SELECT seq, consent_id, recorded_at FROM consent_log "
            "WHERE action = 'erase' AND seq > ? ORDER BY seq", (seq,),
            failed="cannot read the erasures in the consent log",
        )
        return [(int(r[0]), str(r[1]), parse_timestamp(r[2])) for r in rows]

    async def consent_decisions(
        self, site: str, since: datetime, until: datetime
    ) -> dict[tuple[date, str, bool], int]:
        rows = await self._read(_CONSENT_DECISIONS,
                                (site, format_timestamp(since), format_timestamp(until)),
                                failed="cannot count the consent decisions")
        return {(date.fromisoformat(r[0]), str(r[1]), bool(r[2])): int(r[3]) for r in rows}

    async def consent_decisions_by_mode(
        self, site: str, since: datetime, until: datetime
    ) -> dict[tuple[date, str, bool, str], int]:
        rows = await self._read(_DECISIONS_BY_MODE,
                                (site, format_timestamp(since), format_timestamp(until)),
                                failed="cannot count the consent decisions")
        return {(date.fromisoformat(r[0]), str(r[1]), bool(r[2]), str(r[3])): int(r[4])
                for r in rows}


async def _read_head(conn: aiosqlite.Connection) -> tuple[int, str]:
    async with conn.execute("SELECT seq, hash FROM consent_chain_head WHERE id = 1") as cursor:
        row = await cursor.fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


def _to_row(record: ConsentRecord) -> tuple[Any, ...]:
    data = record.to_json()
    data["granted"], data["denied"] = json.dumps(data["granted"]), json.dumps(data["denied"])
    data["gpc"] = int(record.gpc)
    return tuple(data[name] for name in FIELDS)


def _export_conditions(filters: ConsentFilter) -> tuple[str, list[Any]]:
    """SQL conditions for an export's filters. `+recorded_at` keeps the planner on the
    `seq` order (a time index would sort every page again)."""
    if not filters.selects_content:
        return "", []
    clauses, params = ["tombstone = 0"], []
    for column, value in (("site = ?", filters.site), ("consent_id = ?", filters.consent_id),
                          ("action = ?", filters.action), ("+recorded_at >= ?", filters.since),
                          ("+recorded_at < ?", filters.until)):
        if value is not None:
            clauses.append(column)
            params.append(format_timestamp(value) if isinstance(value, datetime) else value)
    return " AND " + " AND ".join(clauses), params


def _entry_from_row(row: Sequence[Any]) -> LogEntry:
    """A row of `_SELECT_ENTRIES`: the record, or what retention left of it."""
    if row[-1]:
        data = dict(zip(FIELDS, row[:-1], strict=True))
        return Tombstone(int(data["seq"]), str(data["prev_hash"]), str(data["hash"]))
    return _from_row(row[:-1])


def _from_row(row: Sequence[Any]) -> ConsentRecord:
    data = dict(zip(FIELDS, row, strict=True))
    # A row edited behind our back must still load, so verification can name it.
    try:
        data["recorded_at"] = parse_timestamp(data["recorded_at"])
    except (TypeError, ValueError):
        data["recorded_at"] = datetime.min.replace(tzinfo=UTC)
    data["granted"] = _category_list(data["granted"])
    data["denied"] = _category_list(data["denied"])
    data["gpc"] = bool(data["gpc"])
    return ConsentRecord(**data)


def _category_list(text: Any) -> tuple[Any, ...]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return (text,)
    return tuple(value) if isinstance(value, list) else (value,)
