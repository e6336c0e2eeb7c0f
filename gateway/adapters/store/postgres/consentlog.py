"""The consent log in PostgreSQL: appends ordered by a row lock on the chain head, pages on
`seq`.

Group commit: decisions that arrive while an append is under way wait for it and then go
together, in one transaction that takes the head's row lock once, seals them one after the
other and moves the head to the last. Every caller gets its record only after that commit
(a failed transaction fails each of them: nothing was stored). Between instances the row
lock still orders everything; the batching only saves a lock wait and a commit per
decision inside one instance.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final

import asyncpg

from gateway.adapters.store.postgres.connection import PostgresConnection
from gateway.core.consent.export import ConsentFilter
from gateway.core.consent.record import (
    FIELDS,
    GENESIS_HASH,
    ConsentDraft,
    ConsentRecord,
    LogEntry,
    Tombstone,
    seal,
)
from gateway.core.errors import StoreError

_COLUMNS: Final = ", ".join(FIELDS)
_INSERT: Final = (
    f"INSERT INTO consent_log ({_COLUMNS}) "  # noqa: S608
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(FIELDS) + 1))})"
)
_SELECT: Final = f"SELECT {_COLUMNS} FROM consent_log"  # noqa: S608
_SELECT_ENTRIES: Final = f"SELECT {_COLUMNS}, tombstone FROM consent_log"  # noqa: S608
# Every append from every instance waits here for the one before it to commit.
_LOCK_HEAD: Final = "SELECT seq, hash FROM consent_chain_head WHERE id = 1 FOR UPDATE"
_MOVE_HEAD: Final = "UPDATE consent_chain_head SET seq = $1, hash = $2 WHERE id = 1"
_CONSENT_DECISIONS: Final = """
    SELECT (recorded_at AT TIME ZONE 'UTC')::date AS day, action,
           'analytics' = ANY (granted) AS analytics, count(*)
    FROM consent_log
    WHERE NOT tombstone AND site = $1 AND recorded_at >= $2 AND recorded_at < $3
    GROUP BY 1, 2, 3
"""
_DECISIONS_BY_MODE: Final = """
    SELECT (recorded_at AT TIME ZONE 'UTC')::date AS day, action,
           'analytics' = ANY (granted) AS analytics, mode, count(*)
    FROM consent_log
    WHERE NOT tombstone AND site = $1 AND recorded_at >= $2 AND recorded_at < $3
    GROUP BY 1, 2, 3, 4
"""
_READ_FAILED: Final = "cannot read the consent log"
GROUP_LIMIT: Final = 256  # decisions in one transaction at most

_Waiting = tuple[ConsentDraft, "asyncio.Future[ConsentRecord]"]


class GroupCommit:
    """Appends waiting at the same time, committed together by one task (see above)."""

    def __init__(
        self, commit: Callable[[list[ConsentDraft]], Awaitable[list[ConsentRecord]]]
    ) -> None:
        self._commit = commit
        self._waiting: list[_Waiting] = []
        self._task: asyncio.Task[None] | None = None

    async def append(self, draft: ConsentDraft) -> ConsentRecord:
        future: asyncio.Future[ConsentRecord] = asyncio.get_running_loop().create_future()
        self._waiting.append((draft, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="consent group commit")
        # A caller that goes away does not take the others' transaction with it.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while self._waiting:
            batch, self._waiting = (self._waiting[:GROUP_LIMIT],
                                    self._waiting[GROUP_LIMIT:])
            await self._settle(batch)

    async def _settle(self, batch: list[_Waiting]) -> None:
        try:
            records = await self._commit([draft for draft, _ in batch])
        except StoreError as exc:  # the database failed: every waiter answers it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except Exception as exc:  # a value the database refuses: whose, each alone says
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            for waiting in batch:
                await self._settle([waiting])
            return
        for (_, future), record in zip(batch, records, strict=True):
            if not future.done():
                future.set_result(record)


class PostgresConsentLog(PostgresConnection):
    _group: GroupCommit | None = None

    async def append_consent(self, draft: ConsentDraft) -> ConsentRecord:
        if self._group is None:
            self._group = GroupCommit(self._append_all)
        return await self._group.append(draft)

    async def _append_all(self, drafts: list[ConsentDraft]) -> list[ConsentRecord]:
        """`drafts` sealed in order after the chain head, in one transaction."""
        async with self._transaction("could not record consent") as conn:
            head = await conn.fetchrow(_LOCK_HEAD)
            seq, prev_hash = (int(head[0]), str(head[1])) if head else (0, GENESIS_HASH)
            records = []
            for draft in drafts:
                record = seal(draft, seq=seq + 1, prev_hash=prev_hash)
                records.append(record)
                seq, prev_hash = record.seq, record.hash
            await conn.executemany(_INSERT, [_to_row(record) for record in records])
            await conn.execute(_MOVE_HEAD, seq, prev_hash)
        return records

    async def chain_head(self) -> tuple[int, str]:
        rows = await self._read("SELECT seq, hash FROM consent_chain_head WHERE id = 1",
                                failed="cannot read the chain head")
        return (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS_HASH)

    async def iter_consents(self, *, after_seq: int = 0) -> AsyncIterator[LogEntry]:
        pages = self._keyset_pages(f"{_SELECT_ENTRIES} WHERE seq > $1 ORDER BY seq LIMIT $2",
                                   (), after=after_seq, failed=_READ_FAILED)
        async for rows in pages:
            for row in rows:
                yield _entry_from_row(row)

    async def iter_consent_pages(
        self, filters: ConsentFilter, *, up_to_seq: int, after_seq: int = 0
    ) -> AsyncIterator[Sequence[LogEntry]]:
        where, params = _export_conditions(filters, first=3)
        sql = (f"{_SELECT_ENTRIES} WHERE seq > $1 AND seq <= $2{where} "
               f"ORDER BY seq LIMIT ${len(params) + 3}")
        async for rows in self._keyset_pages(sql, (up_to_seq, *params), after=after_seq,
                                              failed=_READ_FAILED):
            yield [_entry_from_row(row) for row in rows]

    async def consent_history(self, consent_id: str) -> list[ConsentRecord]:
        rows = await self._read(f"{_SELECT} WHERE consent_id = $1 ORDER BY seq", consent_id,
                                failed="cannot read the history of a consent id")
        return [_from_row(row) for row in rows]

    async def chain_checkpoint(self) -> tuple[int, str] | None:
        rows = await self._read("SELECT seq, hash FROM chain_checkpoint WHERE id = 1",
                                failed="cannot read the chain checkpoint")
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    async def save_chain_checkpoint(self, seq: int, chain_hash: str) -> None:
        await self._write_counted(
            "INSERT INTO chain_checkpoint (id, seq, hash, verified_at) VALUES (1, $1, $2, now()) "
            "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, "
            "verified_at = excluded.verified_at", seq, chain_hash,
            failed="could not save the chain checkpoint",
        )

    async def erasures_after(self, seq: int) -> list[tuple[int, str, datetime]]:
        rows = await self._read(
            "SELECT seq, consent_id, recorded_at FROM consent_log "
            "WHERE action = 'erase' AND seq > $1 ORDER BY seq", seq,
            failed="cannot read the erasures in the consent log",
        )
        return [(int(r[0]), str(r[1]), r[2]) for r in rows]

    async def consent_decisions(
        self, site: str, since: datetime, until: datetime
    ) -> dict[tuple[date, str, bool], int]:
        rows = await self._read(_CONSENT_DECISIONS, site, since, until,
                                failed="cannot count the consent decisions")
        return {(r[0], str(r[1]), bool(r[2])): int(r[3]) for r in rows}

    async def consent_decisions_by_mode(
        self, site: str, since: datetime, until: datetime
    ) -> dict[tuple[date, str, bool, str], int]:
        rows = await self._read(_DECISIONS_BY_MODE, site, since, until,
                                failed="cannot count the consent decisions")
        return {(r[0], str(r[1]), bool(r[2]), str(r[3])): int(r[4]) for r in rows}


def _to_row(record: ConsentRecord) -> tuple[Any, ...]:
    data = {name: getattr(record, name) for name in FIELDS}
    data["granted"], data["denied"] = list(record.granted), list(record.denied)
    return tuple(data[name] for name in FIELDS)


def _export_conditions(filters: ConsentFilter, *, first: int) -> tuple[str, list[Any]]:
    """SQL conditions for an export's filters, their parameters numbered from `first`."""
    if not filters.selects_content:
        return "", []
    clauses, params = ["NOT tombstone"], []
    for column, value in (("site =", filters.site), ("consent_id =", filters.consent_id),
                          ("action =", filters.action), ("recorded_at >=", filters.since),
                          ("recorded_at <", filters.until)):
        if value is not None:
            params.append(value)
            clauses.append(f"{column} ${first + len(params) - 1}")
    return " AND " + " AND ".join(clauses), params


def _entry_from_row(row: asyncpg.Record) -> LogEntry:
    """A row of `_SELECT_ENTRIES`: the record, or what retention left of it."""
    if row["tombstone"]:
        return Tombstone(int(row["seq"]), str(row["prev_hash"]), str(row["hash"]))
    return _from_row(row)


def _from_row(row: asyncpg.Record) -> ConsentRecord:
    data = {name: row[name] for name in FIELDS}
    # A row edited behind our back must still load, so verification can name it.
    if not isinstance(data["recorded_at"], datetime):
        data["recorded_at"] = datetime.min.replace(tzinfo=UTC)
    data["granted"] = tuple(data["granted"] or ())
    data["denied"] = tuple(data["denied"] or ())
    return ConsentRecord(**data)
