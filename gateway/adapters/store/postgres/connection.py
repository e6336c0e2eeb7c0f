"""What every part of the PostgreSQL store stands on: one bounded asyncpg pool (measured
against psycopg 3 in `bench/pg_drivers.py`), opening and closing, transactions, paged reads,
and the one place where a database failure becomes a `StoreError`.

Every write is one transaction on a connection of the pool, committed before the method
returns; ordering between gateway instances is the database's (row locks, `ON CONFLICT`,
advisory locks), never a lock in this process.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from gateway.adapters.store.postgres.schema import migrate
from gateway.core.errors import StoreError

if TYPE_CHECKING:
    # A connection of the pool (a proxy to it) or one of its own: the same calls.
    Connection: TypeAlias = (asyncpg.Connection[asyncpg.Record]
                             | asyncpg.pool.PoolConnectionProxy[asyncpg.Record])

READ_BATCH: Final = 500
# How long a caller waits for a free connection of the pool before the store says it is
# overloaded (a `StoreError`: callers answer 503 and retry).
ACQUIRE_TIMEOUT_S: Final = 10.0
# SQLSTATE classes of errors about the value, not the database (22: data exception, e.g. a
# NUL character in text): the value can never be stored, so the caller gets the driver's own
# error and the batch writer writes the rest of such a batch row by row.
_VALUE_ERROR_CLASSES: Final = ("22",)


def safe_url(url: str) -> str:
    """`url` without its password, to name the database in messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:
        return "the PostgreSQL database"
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user.partition(':')[0]}@{host}"))


@contextlib.contextmanager
def failures_named(failed: str) -> Iterator[None]:
    """Turn the database's failures into a `StoreError`: `failed` says what failed ("could
    not write analytics events"), the database's message why. A value the database can never
    take keeps its own error (see the store protocols)."""
    try:
        yield
    except asyncpg.PostgresError as exc:
        if str(exc.sqlstate or "")[:2] in _VALUE_ERROR_CLASSES:
            raise
        raise StoreError(f"{failed}: {exc}") from exc
    except (asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        raise StoreError(f"{failed}: {exc or type(exc).__name__}") from exc


class PostgresConnection:
    def __init__(
        self, url: str, *, password: str | None = None, passfile: str | None = None,
        pool_size: int = 10, session_gap: timedelta | None = None,
    ) -> None:
        """`session_gap`: the configured `analytics.session_minutes` (see `SQLiteStore`);
        None: keep what the database says."""
        self.url = url
        self._password = password or None
        self._passfile = passfile or None
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._configured_gap = session_gap
        self._visit_gap = session_gap or timedelta(minutes=30)

    @property
    def name(self) -> str:
        return safe_url(self.url)

    async def open(self) -> None:
        if self._pool is not None:
            return
        with failures_named(f"cannot open database {self.name}"):
            pool = await asyncpg.create_pool(
                self.url, password=self._password, passfile=self._passfile,
                min_size=min(2, self._pool_size), max_size=self._pool_size,
                server_settings={"application_name": "consent-gateway", "TimeZone": "UTC"},
            )
            try:
                async with pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn:
                    await migrate(conn)
            except BaseException:
                await pool.close()
                raise
            self._pool = pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def ping(self) -> None:
        await self._read("SELECT 1", failed="database does not answer")

    def pool_in_use(self) -> int:
        """Connections of this process's pool lent out right now (the metrics)."""
        pool = self._pool
        return 0 if pool is None else pool.get_size() - pool.get_idle_size()

    @property
    def migrated(self) -> bool:
        """Open, hence migrated: `open` returns only once the migrations are done."""
        return self._pool is not None

    def _require(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("store is not open")
        return self._pool

    @contextlib.asynccontextmanager
    async def _connection(self, failed: str) -> AsyncIterator[Connection]:
        """A connection of the pool for this coroutine alone; failures name `failed`."""
        pool = self._require()
        with failures_named(failed):
            async with pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn:
                yield conn

    @contextlib.asynccontextmanager
    async def _transaction(self, failed: str) -> AsyncIterator[Connection]:
        """A connection inside one transaction, committed on leaving, rolled back on any
        error (also one that is not the database's, or a cancellation)."""
        async with self._connection(failed) as conn, conn.transaction():
            yield conn

    async def _read(self, sql: str, *args: Any, failed: str) -> list[asyncpg.Record]:
        """One query on a connection of the pool."""
        async with self._connection(failed) as conn:
            return list(await conn.fetch(sql, *args))

    async def _keyset_pages(
        self, sql: str, params: Sequence[Any], *, after: int, failed: str
    ) -> AsyncIterator[list[asyncpg.Record]]:
        """Non-empty pages of at most `READ_BATCH` rows. `sql` selects the ordering key
        first, and takes the key to start after as $1, then `params`, then the page size.
        Each page is its own short read: no transaction stays open between pages."""
        last = after
        while True:
            rows = await self._read(sql, last, *params, READ_BATCH, failed=failed)
            if rows:
                yield rows
            if len(rows) < READ_BATCH:
                return
            last = int(rows[-1][0])

    async def _write_counted(self, sql: str, *args: Any, failed: str) -> int:
        """One statement in its own transaction; returns the rows it changed."""
        async with self._transaction(failed) as conn:
            status = await conn.execute(sql, *args)
        return rows_of(status)

    async def _write_many(self, sql: str, rows: Sequence[Sequence[Any]], *, failed: str) -> None:
        """One transaction for the whole batch; none for an empty one."""
        if rows:
            async with self._transaction(failed) as conn:
                await conn.executemany(sql, rows)


def rows_of(status: str) -> int:
    """The row count of a command status (`DELETE 3`, `INSERT 0 5`, `UPDATE 2`)."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0

