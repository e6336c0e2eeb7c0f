"""What every part of the SQLite store stands on: the three connections (one writer, one
reader, one for reports: WAL lets reads run beside a write, and a report of seconds never
delays a health check or an export), opening and closing, transactions, paged reads, and the
one place where a `sqlite3.Error` becomes a `StoreError`."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import aiosqlite

from gateway.adapters.store.sqlite.schema import migrate
from gateway.core.errors import StoreError

BUSY_TIMEOUT_MS: Final = 10_000
READ_BATCH: Final = 500
# A report sorts hundreds of thousands of rows, several sorts at once; what does not fit
# spills to a temporary file rather than growing the process. The page cache is also each
# sort's memory: 4 MiB (measured at 200,000 events: the report's RSS +17 MB, no slower
# than with 16 MiB, which took +40 MB).
REPORT_CACHE_KIB: Final = 4096

Params = Sequence[Any] | Mapping[str, Any]


@contextlib.contextmanager
def failures_named(failed: str) -> Iterator[None]:
    """Turn SQLite's errors into a `StoreError`: `failed` says what failed ("could not write
    analytics events"), SQLite's message why ("database or disk is full")."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"{failed}: {exc}") from exc


# Rows per INSERT: its parameters stay far below the smallest usual variable limit (32,766).
ROWS_PER_INSERT: Final = 1000


@functools.lru_cache(maxsize=64)
def insert_values(table: str, columns: tuple[str, ...], rows: int, tail: str = "") -> str:
    """`INSERT INTO table (columns) VALUES (?, …), … tail` for `rows` rows."""
    one = f"({', '.join('?' * len(columns))})"
    return (f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
            f"VALUES {', '.join([one] * rows)}{tail}")


async def insert_rows(
    conn: aiosqlite.Connection, table: str, columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]], *, tail: str = "",
) -> int:
    """Insert `rows` with one statement per `ROWS_PER_INSERT`, inside the caller's
    transaction; return the last rowid (rowids of one call are consecutive). The driver
    binds a statement's parameters in one call: under load an `executemany` waits for the
    GIL on every row (measured: a 500-row batch took 115-290 ms with a busy event loop),
    and rows passed as JSON cost SQLite a parse per column (500 rows of 21 columns: 8-9 ms,
    against 1.1 ms here)."""
    last = 0
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start:start + ROWS_PER_INSERT]
        cursor = await conn.execute(insert_values(table, columns, len(chunk), tail),
                                    list(itertools.chain.from_iterable(chunk)))
        last = cursor.lastrowid or 0
    return last


class SQLiteConnection:
    def __init__(self, path: str | Path, *, session_gap: timedelta | None = None) -> None:
        """`session_gap`: the configured `analytics.session_minutes`; a store opened with
        a different one than its visits were built with rebuilds them. None (tools that
        only read or purge): keep what the database says."""
        self.path = Path(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._reports: aiosqlite.Connection | None = None
        self._configured_gap = session_gap
        self._visit_gap = session_gap or timedelta(minutes=30)
        # One report at a time on the reports connection (each is a read transaction).
        self._report_lock = asyncio.Lock()
        # One connection cannot hold two transactions at once; this lock only keeps this
        # process's coroutines from interleaving on it. Ordering between processes is the
        # database's BEGIN IMMEDIATE.
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with failures_named(f"cannot open database {self.path}"):
            try:
                self._writer = await self._connect()
                # Only takes effect on a new, empty file: retention can then give space back.
                await self._writer.execute("PRAGMA auto_vacuum=INCREMENTAL")
                await _switch_to_wal(self._writer)
                await migrate(self._writer)
                self._reader = await self._connect()
                self._reports = await self._connect()
                await self._reports.execute(f"PRAGMA cache_size=-{REPORT_CACHE_KIB}")
                await self._reports.execute("PRAGMA query_only=1")
            except sqlite3.Error:
                await self.close()
                raise

    async def _connect(self) -> aiosqlite.Connection:
        conn = aiosqlite.connect(self.path, isolation_level=None)
        # aiosqlite's worker thread is not a daemon: an app that never runs its lifespan
        # shutdown (a middleware in a test client, a script) would hang at exit. Everything
        # confirmed is committed, and SQLite rolls back a transaction cut short.
        worker: Any = getattr(conn, "_thread", conn)
        worker.daemon = True
        await conn
        await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # FULL: a consent confirmed to the visitor survives a power cut, not only a crash.
        await conn.execute("PRAGMA synchronous=FULL")
        return conn

    async def close(self) -> None:
        for conn in (self._reports, self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reports = self._reader = self._writer = None

    async def ping(self) -> None:
        await self._read("SELECT 1", (), failed="database does not answer")

    def _require(self, conn: aiosqlite.Connection | None) -> aiosqlite.Connection:
        if conn is None:
            raise StoreError("store is not open")
        return conn

    async def _read(self, sql: str, params: Params, *, failed: str) -> list[sqlite3.Row]:
        """One query on the reader connection."""
        return await _fetch(self._require(self._reader), sql, params, failed)

    async def _keyset_pages(
        self, sql: str, params: Sequence[Any], *, after: int, failed: str
    ) -> AsyncIterator[list[sqlite3.Row]]:
        """Non-empty pages of at most `READ_BATCH` rows. `sql` selects the ordering key
        first, and takes the key to start after, then `params`, then the page size.

        Each page is its own short read: no long-lived read transaction pins the WAL
        during a big export."""
        conn, last = self._require(self._reader), after
        while True:
            rows = await _fetch(conn, sql, (last, *params, READ_BATCH), failed)
            if rows:
                yield rows
            if len(rows) < READ_BATCH:
                return
            last = int(rows[-1][0])

    @contextlib.asynccontextmanager
    async def _report_snapshot(self, failed: str) -> AsyncIterator[aiosqlite.Connection]:
        """The reports connection inside one read transaction, so every query of a report
        sees the same data; one report at a time in this process."""
        conn = self._require(self._reports)
        async with self._report_lock:
            with failures_named(failed):
                async with _transaction(conn, "BEGIN"):
                    yield conn

    @contextlib.asynccontextmanager
    async def _writing(self, failed: str) -> AsyncIterator[aiosqlite.Connection]:
        """The writer connection, for this coroutine alone; SQLite's errors name `failed`."""
        conn = self._require(self._writer)
        async with self._write_lock:
            with failures_named(failed):
                yield conn

    @contextlib.asynccontextmanager
    async def _write_transaction(self, failed: str) -> AsyncIterator[aiosqlite.Connection]:
        """`BEGIN IMMEDIATE` ... `COMMIT` on the writer, rolled back on any error: also on
        one that is not SQLite's (a value it cannot encode, a cancellation), which would
        leave the connection inside the transaction and fail the next write."""
        async with self._writing(failed) as conn, _transaction(conn, "BEGIN IMMEDIATE"):
            yield conn

    async def _write_counted(self, sql: str, params: Params, *, failed: str) -> int:
        """One statement in its own short transaction; returns the rows it changed."""
        async with self._write_transaction(failed) as conn:
            cursor = await conn.execute(sql, params)
        return max(cursor.rowcount, 0)

    async def _write_many(
        self, sql: str, rows: Sequence[Sequence[Any]], *, failed: str
    ) -> None:
        """One transaction for the whole batch; none for an empty one."""
        if not rows:
            return
        async with self._write_transaction(failed) as conn:
            await conn.executemany(sql, rows)

    async def _write_rows(
        self, table: str, columns: tuple[str, ...], rows: Sequence[Sequence[Any]], *,
        failed: str,
    ) -> None:
        """One transaction for the whole batch (see `insert_rows`); none for an empty one."""
        if rows:
            async with self._write_transaction(failed) as conn:
                await insert_rows(conn, table, columns, rows)


async def _switch_to_wal(conn: aiosqlite.Connection) -> None:
    """WAL mode, which needs the database to itself for a moment: SQLite answers "locked"
    at once, without its busy handler, while another process opening the same new file
    holds it, so try again for up to the busy timeout."""
    for attempt in itertools.count():
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt * 50 >= BUSY_TIMEOUT_MS:
                raise
            await asyncio.sleep(0.05)


async def _fetch(
    conn: aiosqlite.Connection, sql: str, params: Params, failed: str
) -> list[sqlite3.Row]:
    with failures_named(failed):
        async with conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())


@contextlib.asynccontextmanager
async def _transaction(conn: aiosqlite.Connection, begin: str) -> AsyncIterator[None]:
    """`begin` ... `COMMIT`, rolled back on any error: also on one that is not SQLite's (a
    value it cannot encode, a cancellation), which would leave the connection inside the
    transaction and fail the next one."""
    try:
        await conn.execute(begin)
        yield
        await conn.execute("COMMIT")
    except BaseException:
        await _rollback(conn)
        raise


async def _rollback(conn: aiosqlite.Connection) -> None:
    """Roll back after a failed write, quietly: the connection may be the thing that failed
    (closed under us), and the error being handled is the one worth reporting."""
    with contextlib.suppress(sqlite3.Error, ValueError):
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
