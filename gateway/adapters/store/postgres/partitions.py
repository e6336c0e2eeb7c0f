"""Monthly partitions of the big tables in PostgreSQL (adapter): `analytics_events` and
`access_log` by `ts`, `visits` by `day` (the UTC day a visit starts), each month
`<table>_YYYY_MM`, plus a DEFAULT partition for rows of a month that has none (the
migration in `schema.py`; `gateway_month_partition()` there makes a month, moving its rows
out of DEFAULT).

Retention uses them: the coming months are made ahead, once per run (the instance whose
`claim_retention_run` succeeds), and a month that ended before the cutoff goes whole
(`DROP TABLE` of its partition) instead of row by row; only the month holding the cutoff
(the edge) and DEFAULT are deleted from row by row (`retention.py`).

Visits stay exactly what the remaining events make. A month of events goes together with
the month of visits that start in it, under ACCESS EXCLUSIVE locks on both tables (so no
ingest, erasure or report sees half of it), and the visits that run over the month's edges
— those starting in it and ending after it, and those starting before it and ending in it —
are made again from the events that remain in their span, as an edge delete rebuilds them.
A `DROP` fires no trigger: the dropped days' report archives and change counts are deleted
here.
"""

# Every statement here is put together from constants and checked table names, never data.
# ruff: noqa: S608

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Final

from gateway.adapters.store.postgres import visits
from gateway.adapters.store.postgres.schema import PARTITION_LOCK, PARTITIONED

if TYPE_CHECKING:
    from datetime import timedelta

    from gateway.adapters.store.postgres.connection import Connection

# Months made ahead of the current one (so this month and the next two always exist).
AHEAD_MONTHS: Final = 2
# A partition change waits at most this long for its locks, then fails (retried by the next
# run) rather than queueing every write behind it.
_LOCK_TIMEOUT: Final = "SET LOCAL lock_timeout = '5s'"
_MONTHS_OF: Final = """
    SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
    WHERE i.inhparent = $1::regclass"""
# Visits of other months holding events of the month [$1, $2): they run over its edges.
_STRADDLING: Final = """
    SELECT site, visitor, started_at, ended_at FROM visits
    WHERE day < $3 AND started_at < $2 AND ended_at >= $1
      AND NOT (started_at >= $1 AND ended_at < $2)"""
_DAYS_GONE: Final = ("DELETE FROM report_archive WHERE day >= $1 AND day < $2",
                     "DELETE FROM visit_hour_changes WHERE day >= $1 AND day < $2")


def month_of(moment: date) -> date:
    """The first day of `moment`'s month."""
    return moment.replace(day=1)


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_{month:%Y_%m}"


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def create_ahead(conn: Connection, now: datetime) -> list[str]:
    """Make this month's partitions and the next `AHEAD_MONTHS`' of every partitioned
    table where missing; return the names made."""
    first = month_of(now.astimezone(UTC).date())
    last = first
    for _ in range(AHEAD_MONTHS):
        last = next_month(last)
    return await create_months(conn, first, last)


async def create_months(conn: Connection, first: date, last: date) -> list[str]:
    """Make the partitions of the months `first`..`last` (inclusive) of every partitioned
    table where missing, their rows moved out of DEFAULT; return the names made."""
    await conn.execute(_LOCK_TIMEOUT)
    month, made = month_of(first), []
    while month <= last:
        for table in PARTITIONED:
            if await conn.fetchval("SELECT gateway_month_partition($1, $2)", table, month):
                made.append(partition_name(table, month))
        month = next_month(month)
    return made


async def months(conn: Connection, table: str) -> list[date]:
    """The months `table` has a partition of, oldest first."""
    pattern = re.compile(rf"{re.escape(table)}_(\d{{4}})_(\d{{2}})")
    found = []
    for row in await conn.fetch(_MONTHS_OF, table):
        if match := pattern.fullmatch(row[0]):
            found.append(date(int(match[1]), int(match[2]), 1))
    return sorted(found)


async def months_before(conn: Connection, table: str, cutoff: datetime) -> list[date]:
    """The months of `table` that ended by `cutoff`: every row in them is due."""
    return [m for m in await months(conn, table) if _start(next_month(m)) <= cutoff]


async def drop_month(conn: Connection, table: str, month: date, gap: timedelta) -> int:
    """Drop `table`'s partition of `month` (events: with the month's visits, see the module
    docstring) inside the caller's transaction; return the rows it held (0: gone already,
    another instance dropped it)."""
    if table not in PARTITIONED or table == "visits":
        raise ValueError(f"{table} is not dropped by month")
    await conn.execute(_LOCK_TIMEOUT)
    await conn.execute("SELECT pg_advisory_xact_lock($1)", PARTITION_LOCK)
    # The tables' locks before looking: taking them brings the catalog up to date, so a
    # month another instance dropped meanwhile is seen gone.
    tables = "analytics_events, visits" if table == "analytics_events" else table
    await conn.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
    name = partition_name(table, month)
    if await conn.fetchval("SELECT to_regclass($1)", name) is None:
        return 0
    rows = int(await conn.fetchval(f"SELECT count(*) FROM {name}"))
    if table == "analytics_events":
        await _drop_events_month(conn, month, gap)
    else:
        await conn.execute(f"DROP TABLE {name}")
    return rows


async def _drop_events_month(conn: Connection, month: date, gap: timedelta) -> None:
    end = next_month(month)
    windows = [(row[0], row[1], row[2], row[3]) for row in await conn.fetch(
        _STRADDLING, _start(month), _start(end), end)]
    await conn.execute(f"DROP TABLE IF EXISTS {partition_name('visits', month)}")
    # Visits of the month kept in DEFAULT (no visits partition of it): a delete, whose
    # trigger counts their days as changed before their counts go below.
    await conn.execute("DELETE FROM visits WHERE day >= $1 AND day < $2", month, end)
    await conn.execute(f"DROP TABLE {partition_name('analytics_events', month)}")
    for statement in _DAYS_GONE:
        await conn.execute(statement, month, end)
    await visits.rebuild_windows(conn, windows, gap)
