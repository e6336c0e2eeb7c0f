"""SQLite store on aiosqlite: WAL, versioned migrations, appends serialised by the database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, Literal

import aiosqlite

from gateway.core.analytics.events import AccessLogEntry, AnalyticsEvent
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
from gateway.core.enforcement.cookies import SeenCookie
from gateway.core.errors import StoreError
from gateway.core.retention import ConsentCutoffs
from gateway.core.retention import Table as RetentionTable

BUSY_TIMEOUT_MS: Final = 10_000
_READ_BATCH: Final = 500

# What a tombstone holds in place of the decision and the visitor.
_BLANK: Final = {
    "recorded_at": "''", "consent_id": "''", "site": "''", "action": "''", "source": "''",
    "granted": "'[]'", "denied": "'[]'", "revision": "0", "banner_hash": "''",
    "language": "''", "ip": "''", "user_agent": "''", "page": "''", "gpc": "0",
}

# Each migration is a list of statements, applied in one transaction; PRAGMA user_version
# records how many have run.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE consent_log (
            seq INTEGER PRIMARY KEY,
            recorded_at TEXT NOT NULL,
            consent_id TEXT NOT NULL,
            site TEXT NOT NULL,
            action TEXT NOT NULL,
            source TEXT NOT NULL,
            granted TEXT NOT NULL,
            denied TEXT NOT NULL,
            revision INTEGER NOT NULL,
            banner_hash TEXT NOT NULL,
            language TEXT NOT NULL,
            ip TEXT NOT NULL,
            user_agent TEXT NOT NULL,
            page TEXT NOT NULL,
            gpc INTEGER NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE
        )""",
        "CREATE INDEX consent_log_by_consent_id ON consent_log (consent_id)",
        """CREATE TABLE consent_chain_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            seq INTEGER NOT NULL,
            hash TEXT NOT NULL
        )""",
        # Append-only: the application never updates or deletes a record. (Retention will
        # replace old records by tombstones through a migration of its own.)
        """CREATE TRIGGER consent_log_no_update BEFORE UPDATE ON consent_log
           BEGIN SELECT RAISE(ABORT, 'consent_log is append-only'); END""",
        """CREATE TRIGGER consent_log_no_delete BEFORE DELETE ON consent_log
           BEGIN SELECT RAISE(ABORT, 'consent_log is append-only'); END""",
    ),
    (
        """CREATE TABLE cookie_inventory (
            site TEXT NOT NULL,
            name TEXT NOT NULL,
            category TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            count INTEGER NOT NULL,
            path TEXT NOT NULL,
            domain TEXT NOT NULL,
            http_only INTEGER NOT NULL,
            PRIMARY KEY (site, name)
        )""",
    ),
    (
        # No IP address, user-agent string, query string or consent id in any column.
        """CREATE TABLE analytics_events (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,
            ts TEXT NOT NULL,
            visitor TEXT NOT NULL,
            type TEXT NOT NULL,
            name TEXT NOT NULL,
            path TEXT NOT NULL,
            hostname TEXT NOT NULL,
            referrer_host TEXT NOT NULL,
            utm_source TEXT NOT NULL,
            utm_medium TEXT NOT NULL,
            utm_campaign TEXT NOT NULL,
            utm_term TEXT NOT NULL,
            utm_content TEXT NOT NULL,
            country TEXT NOT NULL,
            region TEXT NOT NULL,
            city TEXT NOT NULL,
            browser TEXT NOT NULL,
            os TEXT NOT NULL,
            device TEXT NOT NULL,
            screen_width INTEGER,
            props TEXT NOT NULL
        )""",
        "CREATE INDEX analytics_events_by_site_ts ON analytics_events (site, ts)",
        "CREATE INDEX analytics_events_by_visitor ON analytics_events (visitor)",
        """CREATE TABLE access_log (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            site TEXT NOT NULL,
            method TEXT NOT NULL,
            path TEXT NOT NULL,
            status INTEGER NOT NULL,
            duration_ms REAL NOT NULL,
            ip TEXT NOT NULL,
            browser TEXT NOT NULL
        )""",
        "CREATE INDEX access_log_by_ts ON access_log (ts)",
        # Bots are counted per day, never stored as visits.
        """CREATE TABLE bot_counts (
            site TEXT NOT NULL,
            day TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (site, day)
        )""",
    ),
    ("CREATE INDEX analytics_events_by_ts ON analytics_events (ts)",),
    (
        # Retention turns records into tombstones in place: `seq`, `prev_hash` and `hash`
        # stay, every other field is blanked. That is the only change the log allows.
        "ALTER TABLE consent_log ADD COLUMN tombstone INTEGER NOT NULL DEFAULT 0",
        "DROP TRIGGER consent_log_no_update",
        f"""CREATE TRIGGER consent_log_only_tombstones BEFORE UPDATE ON consent_log
           WHEN NOT (OLD.tombstone = 0 AND NEW.tombstone = 1 AND NEW.seq = OLD.seq
                     AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash
                     AND {" AND ".join(f"NEW.{c} = {v}" for c, v in _BLANK.items())})
           BEGIN SELECT RAISE(ABORT, 'consent_log is append-only'); END""",
        "CREATE INDEX consent_log_live_by_time ON consent_log (recorded_at) WHERE tombstone = 0",
        # Keys for the keyed hashes of client addresses (rate limits, blocklist): one per
        # UTC day, shared by every worker, deleted after 48 hours.
        "CREATE TABLE ip_hash_keys (day TEXT PRIMARY KEY, key BLOB NOT NULL)",
        # `client` is a keyed hash, never an address.
        """CREATE TABLE blocklist (
            client TEXT PRIMARY KEY,
            until TEXT NOT NULL,
            reason TEXT NOT NULL
        )""",
    ),
    # Erased consent ids stop counting as consent in every worker, read incrementally.
    ("CREATE INDEX consent_log_erasures ON consent_log (seq) WHERE action = 'erase'",),
)

# Retention deletes in batches; the subquery keeps each transaction short.
_PURGE: Final = {
    "analytics_events": "DELETE FROM analytics_events WHERE id IN "
                        "(SELECT id FROM analytics_events WHERE ts < ? LIMIT ?)",
    "access_log": "DELETE FROM access_log WHERE id IN "
                  "(SELECT id FROM access_log WHERE ts < ? LIMIT ?)",
    "bot_counts": "DELETE FROM bot_counts WHERE rowid IN "
                  "(SELECT rowid FROM bot_counts WHERE day < ? LIMIT ?)",
}
_COUNT_BEFORE: Final = {
    "analytics_events": "SELECT count(*) FROM analytics_events WHERE ts < ?",
    "access_log": "SELECT count(*) FROM access_log WHERE ts < ?",
    "bot_counts": "SELECT count(*) FROM bot_counts WHERE day < ?",
}

_EVENT_COLUMNS: Final = (
    "site", "ts", "visitor", "type", "name", "path", "hostname", "referrer_host",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "country",
    "region", "city", "browser", "os", "device", "screen_width", "props",
)


def _insert_from_json(table: str, columns: tuple[str, ...]) -> str:
    """One statement for a whole batch, rows passed as one JSON array of arrays: under load
    the aiosqlite thread waits for the GIL on every row of an `executemany` (measured: a
    500-row batch took 115-290 ms with a busy event loop; this, 7-11 ms)."""
    picks = ", ".join(f"value ->> {i}" for i in range(len(columns)))
    return (f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {picks} FROM json_each(?)")


_INSERT_EVENT: Final = _insert_from_json("analytics_events", _EVENT_COLUMNS)
_SELECT_EVENTS: Final = f"SELECT id, {', '.join(_EVENT_COLUMNS)} FROM analytics_events"  # noqa: S608
_ACCESS_COLUMNS: Final = ("ts", "site", "method", "path", "status", "duration_ms", "ip", "browser")
_INSERT_ACCESS: Final = _insert_from_json("access_log", _ACCESS_COLUMNS)
_ADD_BOTS: Final = """
    INSERT INTO bot_counts (site, day, count) VALUES (?, ?, ?)
    ON CONFLICT (site, day) DO UPDATE SET count = count + excluded.count
"""

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

_UPSERT_COOKIE: Final = """
    INSERT INTO cookie_inventory
        (site, name, category, first_seen, last_seen, count, path, domain, http_only)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (site, name) DO UPDATE SET
        category = excluded.category,
        first_seen = min(first_seen, excluded.first_seen),
        last_seen = max(last_seen, excluded.last_seen),
        count = count + excluded.count,
        path = excluded.path, domain = excluded.domain, http_only = excluded.http_only
"""

_COLUMNS: Final = ", ".join(FIELDS)
_INSERT: Final = (
    f"INSERT INTO consent_log ({_COLUMNS}) VALUES ({', '.join('?' for _ in FIELDS)})"  # noqa: S608
)
_SELECT: Final = f"SELECT {_COLUMNS} FROM consent_log"  # noqa: S608
_SELECT_ENTRIES: Final = f"SELECT {_COLUMNS}, tombstone FROM consent_log"  # noqa: S608

# Records whose consent ended before `ended_before` (see retention.ConsentCutoffs): expired
# (given before `given_before`) or followed by a later record of the same consent id.
_DUE_CONSENTS: Final = """
    SELECT seq FROM consent_log AS c
    WHERE c.tombstone = 0 AND c.recorded_at < :ended_before
      AND (c.recorded_at < :given_before OR EXISTS (
            SELECT 1 FROM consent_log AS n
            WHERE n.consent_id = c.consent_id AND n.seq > c.seq
              AND n.recorded_at < :ended_before))
"""
_TOMBSTONE: Final = (
    "UPDATE consent_log SET tombstone = 1, "  # noqa: S608 - constants only
    + ", ".join(f"{column} = {value}" for column, value in _BLANK.items())
    + f" WHERE seq IN ({_DUE_CONSENTS} ORDER BY seq LIMIT :limit)"
)


class SQLiteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        # One connection cannot hold two transactions at once; this lock only keeps this
        # process's coroutines from interleaving on it. Ordering between processes is the
        # database's BEGIN IMMEDIATE.
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer = await self._connect()
            # Only takes effect on a new, empty file: retention can then give space back.
            await self._writer.execute("PRAGMA auto_vacuum=INCREMENTAL")
            await self._writer.execute("PRAGMA journal_mode=WAL")
            await self._migrate(self._writer)
            self._reader = await self._connect()
        except sqlite3.Error as exc:
            await self.close()
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc

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

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            async with conn.execute("PRAGMA user_version") as cursor:
                row = await cursor.fetchone()
            version = int(row[0]) if row else 0
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version={len(MIGRATIONS)}")
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    def _require(self, conn: aiosqlite.Connection | None) -> aiosqlite.Connection:
        if conn is None:
            raise StoreError("store is not open")
        return conn

    async def ping(self) -> None:
        try:
            async with self._require(self._reader).execute("SELECT 1") as cursor:
                await cursor.fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"database does not answer: {exc}") from exc

    async def append_consent(self, draft: ConsentDraft) -> ConsentRecord:
        conn = self._require(self._writer)
        async with self._write_lock:
            try:
                return await self._append_in_transaction(conn, draft)
            except sqlite3.Error as exc:
                raise StoreError(f"could not record consent: {exc}") from exc

    async def _append_in_transaction(
        self, conn: aiosqlite.Connection, draft: ConsentDraft
    ) -> ConsentRecord:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            seq, prev_hash = await _read_head(conn)
            record = seal(draft, seq=seq + 1, prev_hash=prev_hash)
            await conn.execute(_INSERT, _to_row(record))
            await conn.execute(
                "INSERT OR REPLACE INTO consent_chain_head (id, seq, hash) VALUES (1, ?, ?)",
                (record.seq, record.hash),
            )
            await conn.execute("COMMIT")
        except BaseException:
            await _rollback(conn)
            raise
        return record

    async def chain_head(self) -> tuple[int, str]:
        try:
            return await _read_head(self._require(self._reader))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the chain head: {exc}") from exc

    async def iter_consents(self, *, after_seq: int = 0) -> AsyncIterator[LogEntry]:
        conn = self._require(self._reader)
        last = after_seq
        while True:
            # Keyset pages: no long-lived read transaction pins the WAL during a big export.
            rows = await self._fetch(
                conn, f"{_SELECT_ENTRIES} WHERE seq > ? ORDER BY seq LIMIT ?", (last, _READ_BATCH)
            )
            for row in rows:
                yield _entry_from_row(row)
            if len(rows) < _READ_BATCH:
                return
            last = int(rows[-1][0])

    async def iter_consent_pages(
        self, filters: ConsentFilter, *, up_to_seq: int
    ) -> AsyncIterator[Sequence[LogEntry]]:
        where, params = _export_conditions(filters)
        sql = f"{_SELECT_ENTRIES} WHERE seq > ? AND seq <= ?{where} ORDER BY seq LIMIT ?"
        conn, last = self._require(self._reader), 0
        while last < up_to_seq:
            rows = await self._fetch(conn, sql, (last, up_to_seq, *params, _READ_BATCH))
            if rows:
                yield [_entry_from_row(row) for row in rows]
            if len(rows) < _READ_BATCH:
                return
            last = int(rows[-1][0])

    async def record_cookies(self, rows: Sequence[SeenCookie]) -> None:
        params = [
            (r.site, r.name, r.category, format_timestamp(r.first_seen),
             format_timestamp(r.last_seen), r.count, r.path, r.domain, int(r.http_only))
            for r in rows
        ]
        await self._write_many(_UPSERT_COOKIE, params, "cookie inventory")

    async def add_events(self, events: Sequence[AnalyticsEvent]) -> None:
        rows = [_event_row(e) for e in events]
        await self._write_json_batch(_INSERT_EVENT, rows, "events")

    async def add_access_log(self, entries: Sequence[AccessLogEntry]) -> None:
        rows = [
            (format_timestamp(e.ts), e.site, e.method, e.path, e.status,
             round(e.duration_ms, 3), e.ip, e.browser)
            for e in entries
        ]
        await self._write_json_batch(_INSERT_ACCESS, rows, "access log")

    async def _write_json_batch(
        self, sql: str, rows: Sequence[Sequence[Any]], what: str
    ) -> None:
        if rows:
            batch = json.dumps(rows, separators=(",", ":"), ensure_ascii=False)
            await self._write_many(sql, [(batch,)], what)

    async def add_bot_counts(self, counts: Mapping[tuple[str, date], int]) -> None:
        rows = [(site, day.isoformat(), n) for (site, day), n in counts.items()]
        await self._write_many(_ADD_BOTS, rows, "bot counts")

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
        conn, last = self._require(self._reader), 0
        while True:
            rows = await self._fetch(conn, sql, (last, *params, _READ_BATCH))
            for row in rows:
                yield _event_from_row(row[1:])
            if len(rows) < _READ_BATCH:
                return
            last = int(rows[-1][0])

    async def bot_counts(self, site: str, start: date, end: date) -> dict[date, int]:
        rows = await self._fetch(
            self._require(self._reader),
            "SELECT day, count FROM bot_counts WHERE site = ? AND day BETWEEN ? AND ?",
            (site, start.isoformat(), end.isoformat()),
        )
        return {date.fromisoformat(row[0]): int(row[1]) for row in rows}

    async def consent_decisions(
        self, site: str, since: datetime, until: datetime
    ) -> dict[tuple[date, str, bool], int]:
        rows = await self._fetch(self._require(self._reader), _CONSENT_DECISIONS,
                                 (site, format_timestamp(since), format_timestamp(until)))
        return {(date.fromisoformat(r[0]), str(r[1]), bool(r[2])): int(r[3]) for r in rows}

    async def count_rows(self, table: Literal["analytics_events", "access_log"]) -> int:
        rows = await self._fetch(self._require(self._reader),
                                 f"SELECT count(*) FROM {table}", ())  # noqa: S608
        return int(rows[0][0])

    async def purge_before(self, table: RetentionTable, cutoff: datetime, limit: int) -> int:
        """Delete up to `limit` rows recorded before `cutoff`; returns how many went.
        One short transaction per call."""
        return await self._write_counted(
            _PURGE[table], (_stored_cutoff(table, cutoff), limit), f"purge of {table}"
        )

    async def tombstone_consents(self, due: ConsentCutoffs, limit: int) -> int:
        """Reduce up to `limit` due consent records to tombstones, oldest first."""
        params = {**_consent_cutoff_params(due), "limit": limit}
        return await self._write_counted(_TOMBSTONE, params, "consent log tombstones")

    async def count_due_consents(self, due: ConsentCutoffs) -> int:
        rows = await self._fetch(self._require(self._reader),
                                 f"SELECT count(*) FROM ({_DUE_CONSENTS})",  # noqa: S608
                                 _consent_cutoff_params(due))
        return int(rows[0][0])

    async def ip_hash_key(self, day: date, *, create: bool = True) -> bytes | None:
        """The day's key for hashing client addresses: made by the first worker that asks,
        read by the others."""
        if create:
            await self._write_counted(
                "INSERT OR IGNORE INTO ip_hash_keys (day, key) VALUES (:day, :key)",
                {"day": day.isoformat(), "key": secrets.token_bytes(32)}, "hash key",
            )
        rows = await self._fetch(self._require(self._reader),
                                 "SELECT key FROM ip_hash_keys WHERE day = ?", (day.isoformat(),))
        return bytes(rows[0][0]) if rows else None

    async def delete_ip_hash_keys_before(self, day: date) -> int:
        return await self._write_counted("DELETE FROM ip_hash_keys WHERE day < :day",
                                         {"day": day.isoformat()}, "hash keys")

    async def block_client(self, client: str, until: datetime, reason: str) -> None:
        """Put a keyed client hash on the blocklist; a longer block wins over a shorter one."""
        await self._write_counted(
            "INSERT INTO blocklist (client, until, reason) VALUES (:client, :until, :reason) "
            "ON CONFLICT (client) DO UPDATE SET until = max(until, excluded.until), "
            "reason = excluded.reason",
            {"client": client, "until": format_timestamp(until), "reason": reason}, "blocklist",
        )

    async def unblock_client(self, clients: Sequence[str]) -> int:
        marks = ", ".join("?" for _ in clients)
        return await self._write_counted(
            f"DELETE FROM blocklist WHERE client IN ({marks})",  # noqa: S608
            tuple(clients), "blocklist",
        )

    async def active_blocks(self, now: datetime) -> dict[str, tuple[datetime, str]]:
        rows = await self._fetch(self._require(self._reader),
                                 "SELECT client, until, reason FROM blocklist WHERE until > ?",
                                 (format_timestamp(now),))
        return {str(r[0]): (parse_timestamp(r[1]), str(r[2])) for r in rows}

    async def purge_blocklist(self, now: datetime) -> int:
        return await self._write_counted("DELETE FROM blocklist WHERE until <= :now",
                                         {"now": format_timestamp(now)}, "blocklist")

    async def erase_events(self, visitor: str, site: str | None = None) -> int:
        """Delete every analytics event of one visitor pseudonym (on one site, if given)."""
        sql, params = "DELETE FROM analytics_events WHERE visitor = :visitor", {"visitor": visitor}
        if site is not None:
            sql, params = sql + " AND site = :site", {**params, "site": site}
        return await self._write_counted(sql, params, "erasure")

    async def erasures_after(self, seq: int) -> list[tuple[int, str, datetime]]:
        rows = await self._fetch(
            self._require(self._reader),
            "SELECT seq, consent_id, recorded_at FROM consent_log "
            "WHERE action = 'erase' AND seq > ? ORDER BY seq", (seq,),
        )
        return [(int(r[0]), str(r[1]), parse_timestamp(r[2])) for r in rows]

    async def _write_counted(
        self, sql: str, params: Mapping[str, Any] | Sequence[Any], what: str
    ) -> int:
        """One statement in its own short transaction; returns the rows it changed."""
        async with self._write_transaction(what) as conn:
            cursor = await conn.execute(sql, params)
        return max(cursor.rowcount, 0)

    @contextlib.asynccontextmanager
    async def _write_transaction(self, what: str) -> AsyncIterator[aiosqlite.Connection]:
        """`BEGIN IMMEDIATE` ... `COMMIT` on the writer, rolled back and reported as a
        `StoreError` naming `what` if SQLite fails."""
        conn = self._require(self._writer)
        async with self._write_lock:
            try:
                await conn.execute("BEGIN IMMEDIATE")
                yield conn
                await conn.execute("COMMIT")
            except sqlite3.Error as exc:
                await _rollback(conn)
                raise StoreError(f"could not write the {what}: {exc}") from exc

    async def count_before(self, table: RetentionTable, cutoff: datetime) -> int:
        rows = await self._fetch(self._require(self._reader), _COUNT_BEFORE[table],
                                 (_stored_cutoff(table, cutoff),))
        return int(rows[0][0])

    async def reclaim_space(self) -> None:
        """Give freed pages back to the file system (incremental vacuum, then a WAL
        checkpoint so the main file really shrinks)."""
        conn = self._require(self._writer)
        async with self._write_lock:
            try:
                # executescript steps each statement to the end; execute() would step
                # incremental_vacuum once, freeing a single page.
                await conn.executescript(
                    "PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);"
                )
            except sqlite3.Error as exc:
                raise StoreError(f"could not reclaim space: {exc}") from exc

    async def _write_many(self, sql: str, rows: Sequence[Sequence[Any]], what: str) -> None:
        """One transaction for the whole batch."""
        if not rows:
            return
        async with self._write_transaction(what) as conn:
            await conn.executemany(sql, rows)

    async def cookie_inventory(self, site: str | None = None) -> list[SeenCookie]:
        sql = "SELECT * FROM cookie_inventory"
        params: tuple[str, ...] = ()
        if site is not None:
            sql, params = sql + " WHERE site = ?", (site,)
        rows = await self._fetch(self._require(self._reader), sql + " ORDER BY site, name", params)
        return [
            SeenCookie(row[0], row[1], row[2], parse_timestamp(row[3]), parse_timestamp(row[4]),
                       int(row[5]), row[6], row[7], bool(row[8]))
            for row in rows
        ]

    async def consent_history(self, consent_id: str) -> list[ConsentRecord]:
        conn = self._require(self._reader)
        rows = await self._fetch(conn, f"{_SELECT} WHERE consent_id = ? ORDER BY seq",
                                 (consent_id,))
        return [_from_row(row) for row in rows]

    async def _fetch(
        self, conn: aiosqlite.Connection, sql: str,
        params: Sequence[Any] | Mapping[str, Any],
    ) -> list[sqlite3.Row]:
        try:
            async with conn.execute(sql, params) as cursor:
                return list(await cursor.fetchall())
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the consent log: {exc}") from exc


async def _rollback(conn: aiosqlite.Connection) -> None:
    """Roll back after a failed write, quietly: the connection may be the thing that failed
    (closed under us), and the error being handled is the one worth reporting."""
    with contextlib.suppress(sqlite3.Error, ValueError):
        if conn.in_transaction:
            await conn.execute("ROLLBACK")


async def _read_head(conn: aiosqlite.Connection) -> tuple[int, str]:
    async with conn.execute("SELECT seq, hash FROM consent_chain_head WHERE id = 1") as cursor:
        row = await cursor.fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


def _stored_cutoff(table: RetentionTable, cutoff: datetime) -> str:
    """The cutoff spelt as the table stores time (bot counts are per day)."""
    return cutoff.date().isoformat() if table == "bot_counts" else format_timestamp(cutoff)


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


def _to_row(record: ConsentRecord) -> tuple[Any, ...]:
    data = record.to_json()
    data["granted"], data["denied"] = json.dumps(data["granted"]), json.dumps(data["denied"])
    data["gpc"] = int(record.gpc)
    return tuple(data[name] for name in FIELDS)


def _consent_cutoff_params(due: ConsentCutoffs) -> dict[str, str]:
    return {"ended_before": format_timestamp(due.ended_before),
            "given_before": format_timestamp(due.given_before)}


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

