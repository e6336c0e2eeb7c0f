"""asyncpg against psycopg 3 (async, binary) on what the PostgreSQL store does, side by side.

    .venv/bin/python -m bench.pg_drivers            # a throwaway server (tests/support/postgres.py)
    .venv/bin/python -m bench.pg_drivers --url postgresql://user@host/db

Three workloads, each on a pool of `--pool` connections, each the best of `--rounds`
rounds with the two drivers alternating:

- **consent append**: `--appenders` tasks appending at once, each append one transaction
  that locks the chain head row (`SELECT … FOR UPDATE`), inserts the record and moves the
  head — the store's `append_consent`;
- **event batch**: 1,000 analytics events of 21 columns in one transaction, by each
  driver's fastest path (COPY, binary), and by `executemany` for context;
- **simple select**: one-row reads by primary key, `--appenders` tasks at once.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

try:  # the other contender, not a dependency of the gateway
    import psycopg
    import psycopg_pool
except ImportError as missing:
    raise SystemExit("pip install 'psycopg[binary]' psycopg-pool (only for this comparison)"
                     ) from missing

SCHEMA = """
DROP TABLE IF EXISTS bench_log, bench_head, bench_events;
CREATE TABLE bench_head (id int PRIMARY KEY, seq bigint NOT NULL, hash text NOT NULL);
INSERT INTO bench_head VALUES (1, 0, 'genesis');
CREATE TABLE bench_log (
    seq bigint PRIMARY KEY, recorded_at timestamptz NOT NULL, consent_id text NOT NULL,
    site text NOT NULL, action text NOT NULL, source text NOT NULL, granted jsonb NOT NULL,
    denied jsonb NOT NULL, revision int NOT NULL, banner_hash text NOT NULL,
    language text NOT NULL, ip text NOT NULL, user_agent text NOT NULL, page text NOT NULL,
    gpc boolean NOT NULL, prev_hash text NOT NULL, hash text NOT NULL UNIQUE);
CREATE TABLE bench_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, site text NOT NULL,
    ts timestamptz NOT NULL, visitor text NOT NULL, type text NOT NULL, name text NOT NULL,
    path text NOT NULL, hostname text NOT NULL, referrer_host text NOT NULL,
    utm_source text NOT NULL, utm_medium text NOT NULL, utm_campaign text NOT NULL,
    utm_term text NOT NULL, utm_content text NOT NULL, country text NOT NULL,
    region text NOT NULL, city text NOT NULL, browser text NOT NULL, os text NOT NULL,
    device text NOT NULL, screen_width int, props jsonb NOT NULL);
"""
EVENT_COLUMNS = (
    "site", "ts", "visitor", "type", "name", "path", "hostname", "referrer_host",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "country",
    "region", "city", "browser", "os", "device", "screen_width", "props",
)
LOCK_HEAD = "SELECT seq, hash FROM bench_head WHERE id = 1 FOR UPDATE"
MOVE_HEAD = "UPDATE bench_head SET seq = $1, hash = $2 WHERE id = 1"
INSERT_LOG = ("INSERT INTO bench_log VALUES "
              "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)")
SELECT_ONE = "SELECT seq, hash FROM bench_head WHERE id = $1"
BATCH = 1000
T0 = datetime(2026, 11, 21, 12, tzinfo=UTC)


def _percent_s(sql: str) -> str:
    """psycopg's placeholders for an asyncpg statement."""
    for n in range(17, 0, -1):
        sql = sql.replace(f"${n}", "%s")
    return sql


def log_row(seq: int, prev: str) -> tuple[Any, ...]:
    digest = hashlib.sha256(f"{prev}{seq}".encode()).hexdigest()
    return (seq, T0, "A" * 22, "demo", "accept_all", "banner", '["necessary","analytics"]',
            "[]", 1, "b" * 64, "nl", "81.2.69.0", "Firefox / Ubuntu", f"/p/{seq}", False, prev,
            digest)


def event_rows(n: int, round_: int) -> list[tuple[Any, ...]]:
    return [("demo", T0 + timedelta(seconds=i), f"visitor{(i * 7 + round_) % 300:09d}",
             "pageview", "", f"/page/{i % 40}", "shop.example", "search.example", "news", "",
             "spring", "", "", "NL", "NH", "Amsterdam", "Firefox", "Ubuntu", "desktop", 1280,
             json.dumps({"k": str(i)})) for i in range(n)]


class AsyncpgDriver:
    name = "asyncpg"

    async def open(self, url: str, size: int) -> None:
        self.pool: asyncpg.Pool = await asyncpg.create_pool(url, min_size=size, max_size=size)

    async def close(self) -> None:
        await self.pool.close()

    async def schema(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(SCHEMA)

    async def append(self) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            seq, prev = await conn.fetchrow(LOCK_HEAD)
            row = log_row(seq + 1, prev)
            await conn.execute(INSERT_LOG, *row)
            await conn.execute(MOVE_HEAD, row[0], row[-1])

    async def copy_events(self, rows: list[tuple[Any, ...]]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.copy_records_to_table("bench_events", records=rows,
                                             columns=EVENT_COLUMNS)

    async def many_events(self, rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join(f"${n + 1}" for n in range(len(EVENT_COLUMNS)))
        sql = f"INSERT INTO bench_events ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})"
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(sql, rows)

    async def select(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.fetchrow(SELECT_ONE, 1)


class PsycopgDriver:
    name = "psycopg 3"

    async def open(self, url: str, size: int) -> None:
        self.pool = psycopg_pool.AsyncConnectionPool(url, min_size=size, max_size=size,
                                                     open=False)
        await self.pool.open(wait=True)

    async def close(self) -> None:
        await self.pool.close()

    async def schema(self) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(SCHEMA)

    async def append(self) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            cur = conn.cursor(binary=True)
            await cur.execute(_percent_s(LOCK_HEAD))
            found = await cur.fetchone()
            assert found is not None
            seq, prev = found
            row = log_row(seq + 1, prev)
            await cur.execute(_percent_s(INSERT_LOG), row)
            await cur.execute(_percent_s(MOVE_HEAD), (row[0], row[-1]))

    async def copy_events(self, rows: list[tuple[Any, ...]]) -> None:
        sql = f"COPY bench_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        async with self.pool.connection() as conn, conn.transaction():
            cur = conn.cursor(binary=True)
            async with cur.copy(sql) as copy:  # type: ignore[arg-type]
                copy.set_types(["text", "timestamptz", *["text"] * 17, "int4", "jsonb"])
                for row in rows:
                    await copy.write_row(row)

    async def many_events(self, rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join(["%s"] * len(EVENT_COLUMNS))
        sql = f"INSERT INTO bench_events ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})"
        async with self.pool.connection() as conn, conn.transaction():
            await conn.cursor(binary=True).executemany(sql, rows)  # type: ignore[arg-type]

    async def select(self) -> None:
        async with self.pool.connection() as conn:
            cur = conn.cursor(binary=True)
            await cur.execute(_percent_s(SELECT_ONE), (1,))
            await cur.fetchone()


Driver = AsyncpgDriver | PsycopgDriver


async def rate(work: Callable[[], Awaitable[None]], count: int, tasks: int) -> float:
    """Calls per second of `work`, `count` calls spread over `tasks` concurrent tasks."""
    each = count // tasks

    async def loop() -> None:
        for _ in range(each):
            await work()

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(tasks)))
    return each * tasks / (time.perf_counter() - started)


async def measure(driver: Driver, args: argparse.Namespace, round_: int) -> dict[str, float]:
    await driver.schema()
    figures = {"consent appends/s": await rate(driver.append, args.appends, args.appenders)}
    batches = [event_rows(BATCH, round_ + n) for n in range(args.batches)]
    for label, write in (("event batch COPY (ms)", driver.copy_events),
                         ("event batch executemany (ms)", driver.many_events)):
        started = time.perf_counter()
        for rows in batches:
            await write(rows)
        figures[label] = (time.perf_counter() - started) * 1000 / len(batches)
    figures["selects/s"] = await rate(driver.select, args.selects, args.appenders)
    return figures


async def run(url: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    drivers: list[Driver] = [AsyncpgDriver(), PsycopgDriver()]
    best: dict[str, dict[str, float]] = {d.name: {} for d in drivers}
    for driver in drivers:
        await driver.open(url, args.pool)
    try:
        for round_ in range(args.rounds):
            for driver in drivers if round_ % 2 == 0 else reversed(drivers):
                for label, value in (await measure(driver, args, round_)).items():
                    old = best[driver.name].get(label)
                    better = min if "(ms)" in label else max
                    best[driver.name][label] = value if old is None else better(old, value)
    finally:
        for driver in drivers:
            await driver.close()
    return best


def table(best: dict[str, dict[str, float]]) -> str:
    names = list(best)
    labels = list(best[names[0]])
    lines = [f"| workload | {' | '.join(names)} | asyncpg / psycopg |",
             f"|---|{'---:|' * len(names)}---:|"]
    for label in labels:
        a, p = (best[n][label] for n in names)
        lines.append(f"| {label} | {a:,.1f} | {p:,.1f} | {a / p:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a database to use (its bench_* tables are replaced)")
    parser.add_argument("--pool", type=int, default=8)
    parser.add_argument("--appenders", type=int, default=8)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--selects", type=int, default=8000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = None
    url = args.url
    if url is None:
        from tests.support.postgres import PostgresServer, find_pg_bin

        bin_dir = find_pg_bin()
        if bin_dir is None:
            raise SystemExit("initdb not found: apt-get install postgresql, or pass --url")
        server = PostgresServer(bin_dir).start()
        url = server.url
    try:
        print(f"PostgreSQL {psycopg.connect(url).info.server_version}, asyncpg "
              f"{asyncpg.__version__}, psycopg {psycopg.__version__}")
        print(table(asyncio.run(run(url, args))))
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
