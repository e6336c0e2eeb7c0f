"""`consent-gateway migrate-store`: copy a SQLite store into an empty PostgreSQL database.

Every table goes over as it is — the consent log with its exact hashes (so `verify-log`
passes on the target and names the same head), events and visits with their ids, the
inventory, blocklist, hash keys, bot counts, access log, erasure counts and the chain
checkpoint — in chunks ordered by each table's primary key (keyset pages). The monthly
partitions of events, visits and access log (`postgres/partitions.py`) are made first, from
the source's oldest month (at most `MONTHS_BACK` ago), so old rows do not pile up in the
DEFAULT partition where retention can only delete row by row. Each chunk is one
PostgreSQL transaction that also records how far that table has got in
`migrate_store_progress`, so an interrupted copy picks up exactly where it stopped when run
again. A target with data and no such progress (another store, or a finished copy) is
refused. The table goes when the copy is complete.

Values are converted by the target column's type (SQLite keeps text, integers and blobs):
moments from the log's one spelling, days, booleans, JSON arrays into `text[]`, JSON text
into `jsonb`; a tombstone's blank moment becomes NULL, as PostgreSQL tombstones keep it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

import asyncpg

from gateway.adapters.store.postgres import PostgresStore, partitions
from gateway.adapters.store.postgres.schema import PARTITIONED
from gateway.core.consent.record import parse_timestamp
from gateway.core.errors import StoreError

CHUNK: Final = 2000
# Copied in this order; the chain head after the log, singletons last.
TABLES: Final = (
    "consent_log", "consent_chain_head", "chain_checkpoint", "analytics_events", "visits",
    "access_log", "bot_counts", "cookie_inventory", "ip_hash_keys", "blocklist",
    "analytics_erasures", "visit_settings",
)
# Tables whose one row the new database already holds: the source's replaces it.
_SINGLETONS: Final = frozenset({"consent_chain_head", "visit_settings"})
_DATA_TABLES: Final = ("consent_log", "analytics_events", "visits", "access_log",
                       "cookie_inventory", "blocklist", "bot_counts", "ip_hash_keys")
_PROGRESS: Final = "migrate_store_progress"
# The oldest month given a partition (as the migration that made the partitions does).
MONTHS_BACK: Final = 24

Progress = Callable[[str, int, int], None]  # table, rows copied, rows in the source


@dataclass(frozen=True)
class MigrationResult:
    copied: dict[str, int]
    resumed: bool


class TargetNotEmpty(StoreError):
    """The target holds data that no interrupted copy of this source left there."""


async def migrate_store(
    source: str, target_url: str, *, password: str | None = None,
    progress: Progress = lambda table, done, total: None,
) -> MigrationResult:
    """Copy the SQLite store at `source` (an absolute path to an existing file: the
    caller checks) into the PostgreSQL database at `target_url`."""
    target = PostgresStore(target_url, password=password, pool_size=2)
    await target.open()  # creates (migrates) the schema, once
    await target.close()
    db = sqlite3.connect(f"file:{quote(source)}?mode=ro", uri=True)
    try:
        conn: Any = await asyncpg.connect(target_url, password=password or None)
    except (OSError, asyncpg.PostgresError) as exc:
        db.close()
        raise StoreError(f"cannot connect to the target: {exc}") from exc
    try:
        resumed = await _claim_target(conn, source)
        await _make_months(db, conn)
        copied = {}
        for table in TABLES:
            copied[table] = await _copy_table(db, conn, table, source, progress)
        await _finish(conn)
        return MigrationResult(copied=copied, resumed=resumed)
    finally:
        db.close()
        await conn.close()


async def _claim_target(conn: Any, source: str) -> bool:
    """True when resuming a copy of `source`; raises when the target is not ours to fill."""
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", _PROGRESS)
    if exists:
        other = await conn.fetchval(f"SELECT source FROM {_PROGRESS} WHERE source <> $1 "  # noqa: S608
                                    "LIMIT 1", source)
        if other is not None:
            raise TargetNotEmpty(f"the target holds an interrupted copy of another store "
                                 f"({other})")
        return True
    for table in _DATA_TABLES:
        if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):  # noqa: S608
            raise TargetNotEmpty(f"the target is not empty ({table} has rows): migrate-store "
                                 "copies into a new, empty database only")
    await conn.execute(f"CREATE TABLE {_PROGRESS} (tbl text PRIMARY KEY, source text NOT NULL, "
                       "last_key jsonb, done boolean NOT NULL DEFAULT false)")
    return False


async def _make_months(db: sqlite3.Connection, conn: Any) -> None:
    """The partitions of every month from the source's oldest row to two months ahead."""
    now = datetime.now(UTC)
    oldest = now.date()
    for table, column in PARTITIONED.items():
        if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                      (table,)).fetchone():
            found = db.execute(f"SELECT min({column}) FROM {table}").fetchone()[0]  # noqa: S608
            if found:
                oldest = min(oldest, _moment(found).date() if column == "ts"
                             else date.fromisoformat(found))
    first = partitions.month_of(now.date())
    for _ in range(MONTHS_BACK):
        first = partitions.month_of(first - timedelta(days=1))
    async with conn.transaction():
        await partitions.create_months(conn, max(partitions.month_of(oldest), first),
                                       now.date())
        await partitions.create_ahead(conn, now)


async def _copy_table(
    db: sqlite3.Connection, conn: Any, table: str, source: str, progress: Progress
) -> int:
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                      (table,)).fetchone():
        return 0  # an older store: nothing of this kind yet
    state = await conn.fetchrow(f"SELECT last_key, done FROM {_PROGRESS} WHERE tbl = $1",  # noqa: S608
                                table)
    total = int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
    if state is not None and state["done"]:
        progress(table, total, total)
        return total
    plan = _Plan.of(db, table, await _target_types(conn, table))
    last = json.loads(state["last_key"]) if state is not None and state["last_key"] else None
    done = 0 if last is None else int(db.execute(
        f"SELECT count(*) FROM {table} WHERE {plan.after}", last).fetchone()[0])  # noqa: S608
    while True:
        where = f"WHERE {plan.after}" if last is not None else ""
        rows = db.execute(f"SELECT {plan.select} FROM {table} {where} "  # noqa: S608
                          f"ORDER BY {plan.order} LIMIT {CHUNK}", last or ()).fetchall()
        if rows:
            last = list(rows[-1][len(plan.columns):])
            async with conn.transaction():
                await conn.executemany(plan.insert, [plan.convert(r) for r in rows])
                await _note(conn, table, source, last, done=False)
            done += len(rows)
            progress(table, done, total)
        if len(rows) < CHUNK:
            break
    await _note(conn, table, source, last, done=True)
    progress(table, done, total)
    return done


async def _note(conn: Any, table: str, source: str, last: Sequence[Any] | None, *,
                done: bool) -> None:
    await conn.execute(
        f"INSERT INTO {_PROGRESS} (tbl, source, last_key, done) VALUES ($1, $2, $3, $4) "  # noqa: S608
        "ON CONFLICT (tbl) DO UPDATE SET last_key = excluded.last_key, done = excluded.done",
        table, source, json.dumps(last) if last is not None else None, done)


async def _target_types(conn: Any, table: str) -> dict[str, str]:
    rows = await conn.fetch("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_name = $1 AND table_schema = current_schema()", table)
    return {str(r[0]): str(r[1]) for r in rows}


async def _finish(conn: Any) -> None:
    """Identity columns continue after the copied ids; the progress table goes."""
    for table in ("analytics_events", "access_log"):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
            f"GREATEST((SELECT max(id) FROM {table}), 1), "
            f"(SELECT max(id) FROM {table}) IS NOT NULL)")
    await conn.execute(f"DROP TABLE {_PROGRESS}")


@dataclass(frozen=True)
class _Plan:
    """How one table is read (columns both sides have, then the key) and written."""

    columns: tuple[str, ...]
    key: tuple[str, ...]
    types: tuple[str, ...]
    insert: str

    @classmethod
    def of(cls, db: sqlite3.Connection, table: str, target: dict[str, str]) -> _Plan:
        info = db.execute(f"PRAGMA table_info({table})").fetchall()
        columns = tuple(row[1] for row in info if row[1] in target)
        key = tuple(row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]) or ("rowid",)
        names = ", ".join(columns)
        values = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
        identity = " OVERRIDING SYSTEM VALUE" if "id" in columns and table in (
            "analytics_events", "access_log") else ""
        conflict = (" ON CONFLICT DO NOTHING" if table not in _SINGLETONS else
                    " ON CONFLICT (id) DO UPDATE SET " + ", ".join(
                        f"{c} = excluded.{c}" for c in columns if c != "id"))
        insert = f"INSERT INTO {table} ({names}){identity} VALUES ({values}){conflict}"  # noqa: S608
        return cls(columns, key, tuple(target[c] for c in columns), insert)

    @property
    def select(self) -> str:
        return ", ".join((*self.columns, *self.key))

    @property
    def order(self) -> str:
        return ", ".join(self.key)

    @property
    def after(self) -> str:
        marks = ", ".join("?" for _ in self.key)
        return f"({self.order}) > ({marks})"

    def convert(self, row: Sequence[Any]) -> list[Any]:
        return [_value(kind, value) for kind, value in zip(self.types, row, strict=False)]


def _value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "timestamp with time zone":
        return _moment(value) if value != "" else None
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "boolean":
        return bool(value)
    if kind == "ARRAY":
        return list(json.loads(value))
    if kind in ("jsonb", "json"):
        return value if isinstance(value, str) else json.dumps(value)
    if kind == "bytea":
        return bytes(value)
    if kind in ("bigint", "integer", "smallint"):
        return int(value)
    if kind == "double precision":
        return float(value)
    return str(value)


def _moment(text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except ValueError:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
