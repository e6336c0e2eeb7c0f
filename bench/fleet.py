"""Two gateway instances on one store, SQLite and PostgreSQL side by side (issue 18's targets).

    .venv/bin/python -m bench.fleet                 # a throwaway PostgreSQL (tests/support)
    .venv/bin/python -m bench.fleet --url postgresql://user@host/db --seconds 5

Each "instance" is a separate process with its own store object on the one database (the
SQLite file, or the PostgreSQL database), as two `serve` processes would be:

- **consent appends/s**: `--tasks` coroutines per instance appending decisions for
  `--seconds`, each append its own committed transaction; afterwards the chain is walked
  from the first record (it must verify, with exactly the appended count);
- **beacons stored/s**: each instance writes analytics events in batches of 200 (the
  writer's default batch), visits kept in the same transaction, for `--seconds`.

Short by design (a few seconds per figure on a shared machine): the figures are for the
side-by-side, not a soak.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.adapters.store import Store
from gateway.adapters.store.chain import walk_chain
from gateway.adapters.store.postgres import PostgresStore
from gateway.adapters.store.sqlite import SQLiteStore
from gateway.core.analytics.events import AnalyticsEvent
from gateway.core.consent.record import ChainVerifier, ConsentDraft

INSTANCES = 2
BATCH = 200


def make_store(target: str) -> Store:
    if target.startswith("postgresql://"):
        return PostgresStore(target, pool_size=8)
    return SQLiteStore(target)


def draft(n: int, instance: int) -> ConsentDraft:
    return ConsentDraft(
        recorded_at=datetime.now(UTC), consent_id=f"bench-{instance}-{n}", site="demo",
        action="accept_all", source="banner", granted=("necessary", "analytics"),
        denied=(), revision=1, banner_hash="0" * 64, language="en", ip="203.0.113.0",
        user_agent="Firefox / Linux", page="/", gpc=False, mode="opt-in", host="localhost")


async def append_for(target: str, instance: int, tasks: int, seconds: float) -> int:
    store = make_store(target)
    await store.open()
    done = 0
    deadline = time.monotonic() + seconds

    async def appender(task: int) -> None:
        nonlocal done
        n = 0
        while time.monotonic() < deadline:
            await store.append_consent(draft(task * 10_000_000 + n, instance))
            n += 1
            done += 1

    try:
        await asyncio.gather(*(appender(t) for t in range(tasks)))
    finally:
        await store.close()
    return done


async def store_events_for(target: str, instance: int, seconds: float) -> int:
    store = make_store(target)
    await store.open()
    start = datetime.now(UTC) - timedelta(days=1)
    done = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            await store.add_events([
                AnalyticsEvent(site="demo", ts=start + timedelta(milliseconds=done + n),
                               visitor=f"{instance}-{(done + n) % 5000:028x}", type="pageview",
                               path=("/", "/pricing", "/blog", "/faq")[n % 4],
                               hostname="localhost", referrer_host="", country="GB",
                               region="ENG", city="London", browser="Firefox", os="Linux",
                               device="desktop")
                for n in range(BATCH)])
            done += BATCH
    finally:
        await store.close()
    return done


def _child(kind: str, target: str, instance: int, tasks: int, seconds: float,
           out: Any) -> None:
    work = (append_for(target, instance, tasks, seconds) if kind == "append"
            else store_events_for(target, instance, seconds))
    out.put(asyncio.run(work))


def in_instances(kind: str, target: str, tasks: int, seconds: float) -> float:
    """Rows per second over `INSTANCES` processes working at once."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    children = [context.Process(target=_child, args=(kind, target, i, tasks, seconds, out))
                for i in range(INSTANCES)]
    for child in children:
        child.start()
    total = sum(int(out.get(timeout=seconds + 120)) for _ in children)
    for child in children:
        child.join()
    return total / seconds


async def chain_ok(target: str) -> tuple[bool, int]:
    store = make_store(target)
    await store.open()
    try:
        walk = await walk_chain(store, full=True)
    finally:
        await store.close()
    return isinstance(walk.verdict, ChainVerifier), walk.head.seq


def measure(name: str, target: str, args: argparse.Namespace) -> dict[str, Any]:
    asyncio.run(chain_ok(target))  # create (migrate) once, before the instances race
    appends = in_instances("append", target, args.tasks, args.seconds)
    intact, head = asyncio.run(chain_ok(target))
    beacons = in_instances("events", target, args.tasks, args.seconds)
    return {"engine": name, "appends": appends, "intact": intact, "head": head,
            "beacons": beacons}


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.fleet")
    parser.add_argument("--url", help="a PostgreSQL database to use (emptied tables are "
                        "not needed: a new one is best); default: a throwaway server")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--tasks", type=int, default=8, help="appending tasks per instance")
    args = parser.parse_args()
    server = None
    url = args.url
    if url is None:
        from tests.support.postgres import PostgresServer, find_pg_bin

        bin_dir = find_pg_bin()
        if bin_dir is None:
            raise SystemExit("PostgreSQL's initdb is missing (apt-get install postgresql)")
        server = PostgresServer(bin_dir).start()
        url = server.url
    try:
        with tempfile.TemporaryDirectory() as folder:
            rows = [measure("SQLite (one file)", str(Path(folder) / "fleet.sqlite3"), args),
                    measure("PostgreSQL", url, args)]
    finally:
        if server is not None:
            server.stop()
    print(f"{INSTANCES} instances (processes), {args.tasks} appending tasks each, "
          f"{args.seconds:g} s per figure")
    print(f"{'engine':<20} {'consent appends/s':>18} {'chain':>14} {'beacons stored/s':>17}")
    for row in rows:
        chain = f"{'intact' if row['intact'] else 'BROKEN'} ({row['head']:,})"
        print(f"{row['engine']:<20} {row['appends']:>18,.0f} {chain:>14} "
              f"{row['beacons']:>17,.0f}")


if __name__ == "__main__":
    main()
