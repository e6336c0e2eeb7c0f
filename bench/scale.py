"""`python -m bench.scale`: the admin reports and the chain check at 100,000 and 1,000,000 events.

For each size (`--quick`: 20,000; `--full` adds 10,000,000) over 30 days, in a fresh SQLite
file with the example config and the City GeoIP test database:

- **seed**: the synthetic traffic of `seed-demo` (`gateway/services/seeding.py`, the real
  browsers of `bench/user_agents.txt`) through the real pipeline, written by the *bulk path*
  (`seed(bulk=True)`: the store's batch API, 10,000 events a transaction, no consent-log
  records; `seed-demo` itself goes through the batch writer and records every decision, which
  is slower); events/s and bytes on disk per event (database + WAL after closing);
- **reports**: a child process builds the gateway (services + middleware + demo site), then
  asks the stats JSON once with no daily archive kept yet (every day archived: the first
  report, or the first after retention changed every day), then the stats JSON and the
  dashboard ~10 times each over the 30 days, then the stats ~10 times each right after a
  new pageview today (today archived again, as on a live site) — through
  `httpx.ASGITransport` with an admin token, the report cache switched off. p50/p99
  against a plain `count(*)` of the range by `sqlite3` (the cheapest full answer a
  database gives); the longest event-loop stall during the reports (a ticker every
  5 ms measuring its lateness) against the same ticker idle; peak RSS during the reports
  (`VmHWM` reset before them through /proc/self/clear_refs) against idle RSS.
- **estimates**: the store's report against the oracle `compute_stats` over every stored
  event: totals and days equal, and the relative error of each breakdown row's visitors
  (exact up to 64 per row, a HyperLogLog estimate beyond);
- **`--engine postgresql`**: the same on PostgreSQL (a database per size on a throwaway
  server, or on `--postgres-url`), written to its own section; no verify run there (the
  chain walk on PostgreSQL is in the store tests and `bench.fleet`);
- **verify**: `--consents` records (100,000; `--full`: 1,000,000) sealed and inserted in bulk,
  then the full walk (`verify-log --full`), 1,000 decisions appended the ordinary way, and the
  routine walk from the checkpoint the full walk left.

Writes the `scale` section of docs/benchmarks.md (or `--markdown PATH`; `--quick` writes
only with `--markdown`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from bench import common
from bench.common import CONFIG, REPO, SECRET_KEY, Line, Report, percentile
from bench.components import CITY_DB, user_agents

SIZES: Final = (100_000, 1_000_000)
FULL_SIZE: Final = 10_000_000
QUICK_SIZE: Final = 20_000
ORACLE_LIMIT: Final = 1_000_000  # events compared with compute_stats (all in memory)
DAYS: Final = 30
REQUESTS: Final = 10
CONSENTS: Final = 100_000
FULL_CONSENTS: Final = 1_000_000
APPENDED: Final = 1_000
TICK_S: Final = 0.005
TOKEN: Final = "bench-scale-admin-token-0123456789abcdef"
NOW: Final = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
DEFAULT_MARKDOWN: Final = REPO / "docs" / "benchmarks.md"


Target = Path | str  # a SQLite file, or a PostgreSQL database's URL


def on_postgres(target: Target) -> bool:
    return str(target).startswith("postgresql://")


def env_for(db: Target) -> dict[str, str]:
    from gateway.web.admin import token_hash

    storage = "GATEWAY_STORAGE_URL" if on_postgres(db) else "GATEWAY_STORAGE_PATH"
    return {"GATEWAY_SERVER_SECRET_KEYS": SECRET_KEY, storage: str(db),
            "GATEWAY_ANALYTICS_GEOIP_DATABASE": str(CITY_DB),
            "GATEWAY_ABUSE_ENABLED": "false", "GATEWAY_ADMIN_TOKEN_HASHES": token_hash(TOKEN),
            "GATEWAY_RETENTION_ANALYTICS_DAYS": "3650"}


def load(db: Target) -> Any:
    from gateway.adapters.configfile import load_config

    return load_config(REPO / CONFIG, env_for(db))


# --------------------------------------------------------------------------- seeding


async def seed_events(db: Target, events: int) -> tuple[float, int]:
    """Seconds and events stored, through the bulk path."""
    from gateway.services.seeding import SeedClock, plan_for, seed
    from gateway.services.wiring import build_services

    config = load(db)
    site = config.sites[0]
    clock = SeedClock(NOW)
    services = build_services(config, clock=clock)
    await services.start()
    try:
        plan = plan_for(site, events=events, days=DAYS, now=NOW,
                        user_agents=tuple(user_agents()))
        result = await seed(services, clock, site, plan, bulk=True, progress=_progress)
    finally:
        await services.stop()
    sys.stderr.write("\n")
    return result.seconds, result.events


def _progress(sent: int, total: int) -> None:
    if sent % 50_000 == 0 or sent == total:
        sys.stderr.write(f"\r    seeding {sent:,} of {total:,}")
        sys.stderr.flush()


def disk_bytes(db: Target) -> int:
    if on_postgres(db):
        return int(pg_query(str(db), "SELECT pg_database_size(current_database())")[0][0])
    path = Path(db)
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def pg_query(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """One statement on a PostgreSQL database, its rows."""
    import asyncpg

    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(url)
        try:
            return [tuple(row) for row in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return asyncio.run(run())


def baseline_count(db: Target) -> tuple[float, int]:
    """p50 of a plain count of the range's events (the database's own client, no
    gateway), and the count."""
    first, last = range_days()
    times, count = [], 0
    if on_postgres(db):
        for _ in range(5):
            began = time.perf_counter()
            count = int(pg_query(
                str(db), "SELECT count(*) FROM analytics_events WHERE site = 'demo' "
                "AND ts >= $1::date AND ts < $2::date + 1",
                datetime.fromisoformat(first).date(), datetime.fromisoformat(last).date())[0][0])
            times.append(time.perf_counter() - began)
        return sorted(times)[len(times) // 2], count
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for _ in range(5):
            began = time.perf_counter()
            count = conn.execute("SELECT count(*) FROM analytics_events WHERE site = 'demo' "
                                 "AND ts >= ? AND ts < ?",
                                 (first, (datetime.fromisoformat(last) + timedelta(days=1))
                                  .date().isoformat())).fetchone()[0]
            times.append(time.perf_counter() - began)
    return sorted(times)[len(times) // 2], int(count)


def range_days() -> tuple[str, str]:
    last = NOW.date()
    return (last - timedelta(days=DAYS - 1)).isoformat(), last.isoformat()


# --------------------------------------------------------------------------- the report child


class Ticker:
    """How late a 5 ms sleep wakes up: the longest stall of the event loop while it runs."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + TICK_S
            await asyncio.sleep(TICK_S)
            self.longest = max(self.longest, loop.time() - due)

    def __enter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def child_reports(db: Target, requests: int) -> dict[str, Any]:
    import httpx

    import gateway.services.reports
    from gateway.adapters.memory import limit_malloc_arenas
    from gateway.core.analytics.events import AnalyticsEvent
    from gateway.services.wiring import build_services
    from gateway.web.demo import demo_app
    from gateway.web.middleware import ConsentMiddleware

    # Every request computes its report (the 15 s cache would answer the repeats).
    gateway.services.reports.CACHE_SECONDS = 0.0  # type: ignore[misc]
    limit_malloc_arenas()  # as `serve` does, before the store's threads start
    services = build_services(load(db))
    await services.start()
    first, last = range_days()
    app = ConsentMiddleware(demo_app(), services=services)
    gc.freeze()  # as `app_from_environment` does for `serve`
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost",
                                 headers=headers, timeout=600) as client:
        assert (await client.get("/_consent/health")).status_code == 200
        with Ticker() as idle:
            await asyncio.sleep(1.0)
        idle_rss = common.proc_status()["VmRSS"]
        hwm_reset = _reset_peak_rss()
        pageviews = 0

        async def stats() -> None:
            nonlocal pageviews
            response = await client.get(f"/_consent/admin/stats?from={first}&to={last}")
            response.raise_for_status()
            pageviews = response.json()["totals"]["pageviews"]

        async def dashboard() -> None:
            response = await client.get(f"/_consent/admin/?from={first}&to={last}")
            response.raise_for_status()

        async def new_traffic() -> None:
            """A pageview today, as on a live site: today's archive is made again."""
            await services.store.add_events([AnalyticsEvent(
                site="demo", ts=NOW, visitor=f"bench-{time.perf_counter_ns()}",
                type="pageview", path="/")])

        with Ticker() as busy:
            began = time.perf_counter()
            await stats()  # no archive yet: every day of the range is archived
            cold = time.perf_counter() - began
            stats_times = await timed(stats, requests)
            dashboard_times = await timed(dashboard, requests)
            live_times = await timed(stats, requests, before=new_traffic)
        peak = common.proc_status()["VmHWM"]
    await services.stop()
    return {"idle_rss": idle_rss, "peak_rss": peak, "hwm_reset": hwm_reset,
            "idle_stall": idle.longest, "stall": busy.longest, "stats": stats_times,
            "dashboard": dashboard_times, "live": live_times, "cold": cold,
            "pageviews": pageviews}


async def timed(
    call: Callable[[], Awaitable[None]], count: int,
    before: Callable[[], Awaitable[None]] | None = None,
) -> list[float]:
    """`count` timings of `call` after one warm-up; `before` runs untimed before each."""
    await call()  # warm-up: connections opened, pages of the file cached
    times = []
    for _ in range(count):
        if before is not None:
            await before()
        began = time.perf_counter()
        await call()
        times.append(time.perf_counter() - began)
    return sorted(times)


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def run_child(db: Target, requests: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--child-reports", str(db),
         "--requests", str(requests)],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"the report child failed:\n{done.stdout}{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- verify


async def verify_figures(db: Path, records: int) -> dict[str, float]:
    from gateway.adapters.store.chain import walk_chain
    from gateway.adapters.store.sqlite import SQLiteStore
    from gateway.adapters.store.sqlite.consentlog import _to_row
    from gateway.core.consent.record import FIELDS, GENESIS_HASH, ConsentDraft, seal

    store = SQLiteStore(db)
    await store.open()
    await store.close()
    began = time.perf_counter()
    insert = (f"INSERT INTO consent_log ({', '.join(FIELDS)}) "
              f"VALUES ({', '.join('?' for _ in FIELDS)})")
    prev, rows = GENESIS_HASH, []
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for seq in range(1, records + 1):
            draft = ConsentDraft(
                recorded_at=NOW - timedelta(seconds=records - seq), consent_id=f"c{seq:021d}",
                site="demo", action="accept_all" if seq % 3 else "reject_all", source="banner",
                granted=("necessary", "analytics") if seq % 3 else ("necessary",),
                denied=() if seq % 3 else ("preferences", "analytics", "marketing"),
                revision=1, banner_hash="0" * 64, language="en", ip="81.2.69.0",
                user_agent="Firefox on Linux", page="/", gpc=False)
            record = seal(draft, seq=seq, prev_hash=prev)
            prev = record.hash
            rows.append(_to_row(record))
            if len(rows) == 10_000 or seq == records:
                conn.executemany(insert, rows)
                rows = []
        conn.execute("INSERT OR REPLACE INTO consent_chain_head (id, seq, hash) "
                     "VALUES (1, ?, ?)", (records, prev))
        conn.commit()
    built = time.perf_counter() - began
    await store.open()
    try:
        began = time.perf_counter()
        full = await walk_chain(store, full=True)
        full_s = time.perf_counter() - began
        assert full.verdict.checked == records, full.verdict  # type: ignore[union-attr]
        await append_decisions(store, APPENDED)
        began = time.perf_counter()
        routine = await walk_chain(store)
        routine_s = time.perf_counter() - began
        assert routine.resumed_from == records, routine
    finally:
        await store.close()
    return {"built": built, "full": full_s, "routine": routine_s}


async def append_decisions(store: Any, count: int) -> None:
    from dataclasses import replace

    from gateway.core.consent.record import ConsentDraft

    draft = ConsentDraft(NOW, "appended", "demo", "accept_all", "banner",
                         ("necessary", "analytics"), (), 1, "0" * 64, "en", "81.2.69.0",
                         "Firefox on Linux", "/", False)
    for n in range(count):
        await store.append_consent(replace(draft, consent_id=f"a{n:021d}"))


# --------------------------------------------------------------------------- the run


def size_lines(workdir: Path, events: int, requests: int, keep: Path | None = None,
               server: str | None = None) -> tuple[list[Line], str]:
    """The figures of one size, on SQLite, or on PostgreSQL when `server` (a superuser's
    URL) is given: a database of its own there. With `keep`, the seeded database is kept
    (in that folder, or on that server) and reused by later runs (seeding ten million
    events takes most of an hour)."""
    db: Target = (keep or workdir) / f"scale-{events}.sqlite3"
    if server is not None:
        db = postgres_database(server, f"scale_{events}", fresh=keep is None)
    label = f"{events:,} events"
    if keep is not None and (count_events(db) if server else Path(db).exists()):
        print(f"  {label}: reusing {db}", flush=True)
        seconds, stored = float("nan"), count_events(db)
        forget_archives(db)  # the first report is to make them all, as after seeding
    else:
        print(f"  {label}: seeding …", flush=True)
        seconds, stored = asyncio.run(seed_events(db, events))
    per_event = disk_bytes(db) / stored
    count_s, in_range = baseline_count(db)
    print(f"  {label}: reports …", flush=True)
    child = run_child(db, requests)
    target = 3.0 if events >= FULL_SIZE else 0.5
    seeded = (Line(f"seed, {label} (bulk path)", "—", "reused from an earlier run", "—")
              if math.isnan(seconds) else
              Line(f"seed, {label} (bulk path)", "—", f"{stored / seconds:,.0f} events/s",
                   f"{seconds:,.0f} s"))
    lines = [seeded,
             Line(f"disk per event, {label}", "—", f"{per_event:,.0f} B", "—")]
    lines.append(Line(f"first stats (every day archived), {label}",
                      f"{count_s * 1000:,.1f} ms count(*)", f"{child['cold'] * 1000:,.0f} ms",
                      f"{child['cold'] / count_s:,.1f}×" if count_s else "—", "—"))
    for name, title in (("stats", "stats"), ("dashboard", "dashboard"),
                        ("live", "stats after a new pageview today")):
        times = child[name]
        p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
        lines.append(Line(f"{title} p50 (p99), {label}", f"{count_s * 1000:,.1f} ms count(*)",
                          f"{p50 * 1000:,.0f} ms ({p99 * 1000:,.0f} ms)",
                          f"{p50 / count_s:,.1f}×" if count_s else "—",
                          f"≤ {target:g} s", p50 <= target))
    stall, idle = child["stall"] * 1000, child["idle_stall"] * 1000
    lines.append(Line(f"longest loop stall in reports, {label}", f"{idle:,.1f} ms idle",
                      f"{stall:,.1f} ms", "—", "≤ 50 ms", stall <= 50))
    rise = child["peak_rss"] - child["idle_rss"]
    lines.append(Line(f"RSS during reports, {label}", f"{child['idle_rss']:,.0f} MB idle",
                      f"{child['peak_rss']:,.0f} MB peak", f"+{rise:,.0f} MB", "≤ +50 MB",
                      rise <= 50 if child["hwm_reset"] else None))
    if events <= ORACLE_LIMIT:  # the oracle holds every event in memory
        error = estimate_error(db)
        lines.append(Line(f"breakdown visitors vs the oracle, {label}", "compute_stats",
                          f"{error['rows']:,} rows, {error['exact']:,} exact",
                          f"max {error['max'] * 100:.1f} %, mean {error['mean'] * 100:.2f} %",
                          "totals and days equal", error["totals_equal"]))
    took = "reused" if math.isnan(seconds) else f"stored in {seconds:,.0f} s"
    note = (f"{label}: {stored:,} {took}, {in_range:,} of them in the 30 "
            f"days asked for; the stats said {child['pageviews']:,} pageviews; each request timed "
            f"{requests} times after one warm-up, report cache off."
            + ("" if child["hwm_reset"] else " Peak RSS not reset (no /proc/self/clear_refs): "
               "the peak includes start-up."))
    if keep is None and not on_postgres(db):
        Path(db).unlink()
        for extra in Path(db).parent.glob(Path(db).name + "-*"):
            extra.unlink()
    return lines, note


def forget_archives(db: Target) -> None:
    if on_postgres(db):
        pg_query(str(db), "DELETE FROM report_archive")
        return
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("DELETE FROM report_archive")
        conn.commit()


def postgres_database(server: str, name: str, *, fresh: bool) -> str:
    """The URL of database `name` on `server`, made if missing (emptied first if `fresh`)."""
    from urllib.parse import urlsplit, urlunsplit

    if fresh:
        pg_query(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if not pg_query(server, "SELECT 1 FROM pg_database WHERE datname = $1", name):
        pg_query(server, f'CREATE DATABASE "{name}"')
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def count_events(db: Target) -> int:
    if on_postgres(db):
        if pg_query(str(db), "SELECT to_regclass('analytics_events')")[0][0] is None:
            return 0  # a new database: no tables yet
        return int(pg_query(str(db), "SELECT count(*) FROM analytics_events")[0][0])
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT count(*) FROM analytics_events").fetchone()[0])


def estimate_error(db: Target) -> dict[str, Any]:
    """The store's report of the 30 days against `compute_stats` over every stored event:
    totals and days must be equal; breakdown visitors (the same rows, by value) within
    the sketch's error. Also the other rows (`top` 10, `min_visitors` 5)."""
    return asyncio.run(_estimate_error(db))


async def _estimate_error(db: Target) -> dict[str, Any]:
    from gateway.core.analytics.reports import ReportRequest, report_json
    from gateway.core.analytics.stats import compute_stats
    from gateway.services.wiring import configured_store

    first, last = (datetime.fromisoformat(day).date() for day in range_days())
    store = configured_store(load(db))
    await store.open()
    try:
        request = ReportRequest("demo", first, last, top=1_000)
        stored = report_json(request, await store.analytics_report(request))
        events = [event async for event in store.iter_events()]
    finally:
        await store.close()
    oracle = compute_stats(events, site="demo", start=first, end=last, top=1_000)
    errors, exact = [], 0
    for name, rows in oracle["breakdowns"].items():
        got = {row["value"]: row["visitors"] for row in stored["breakdowns"][name]}
        for row in rows:
            if row["value"] in got and row["visitors"]:
                errors.append(abs(got[row["value"]] - row["visitors"]) / row["visitors"])
                exact += got[row["value"]] == row["visitors"]
    return {"rows": len(errors), "exact": exact, "max": max(errors, default=0.0),
            "mean": sum(errors) / len(errors) if errors else 0.0,
            "totals_equal": stored["totals"] == oracle["totals"]
            and stored["days"] == oracle["days"]}


def verify_lines(workdir: Path, records: int) -> tuple[list[Line], str]:
    print(f"  verify over {records:,} consent records …", flush=True)
    figures = asyncio.run(verify_figures(workdir / "verify.sqlite3", records))
    label = f"{records:,} records"
    line = Line(f"verify from checkpoint (+{APPENDED:,}), {label}",
                f"{figures['full']:,.2f} s full walk", f"{figures['routine'] * 1000:,.0f} ms",
                f"{figures['routine'] / figures['full']:.3f}×", "≤ 1 s",
                figures["routine"] <= 1.0)
    note = (f"Verify: {label} sealed and inserted in bulk in {figures['built']:,.0f} s, the "
            f"full walk ({figures['full']:,.2f} s), then {APPENDED:,} decisions appended one "
            f"by one as the gateway does and the routine walk from the checkpoint.")
    return [line], note


def run(workdir: Path, sizes: Sequence[int], consents: int, requests: int,
        keep: Path | None = None, server: str | None = None) -> Report:
    summary: list[Line] = []
    notes: list[str] = []
    for events in sizes:
        try:
            lines, note = size_lines(workdir, events, requests, keep, server)
        except RuntimeError as exc:  # the sizes done so far still count
            notes.append(f"{events:,} events: FAILED: {str(exc).strip().splitlines()[-1]}")
            print(notes[-1], file=sys.stderr)
            continue
        summary += lines
        notes.append(note)
        print(common.text_summary(lines), flush=True)
    if server is None:  # the chain walk on PostgreSQL: tests/adapters/store, bench.fleet
        lines, note = verify_lines(workdir, consents)
        summary += lines
        notes.append(note)
    return Report(machine=common.machine("this process and its report child, one at a time"),
                  rows=[], summary=summary, notes=notes)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help=f"one size of {QUICK_SIZE:,} events, 10,000 consent records")
    parser.add_argument("--full", action="store_true",
                        help=f"also {FULL_SIZE:,} events, and {FULL_CONSENTS:,} records")
    parser.add_argument("--sizes", help="comma-separated event counts instead (0: none, only "
                        "the verify run)")
    parser.add_argument("--consents", type=common.positive_int, help="consent records")
    parser.add_argument("--requests", type=common.positive_int, default=REQUESTS)


def default_sizes(*, quick: bool, full: bool = False) -> tuple[list[int], int]:
    """Event counts and consent records of a run (`python -m bench` takes these too)."""
    if quick:
        return [QUICK_SIZE], 10_000
    return [*SIZES, *([FULL_SIZE] if full else [])], FULL_CONSENTS if full else CONSENTS


def sizes_of(args: argparse.Namespace) -> tuple[list[int], int]:
    sizes, consents = default_sizes(quick=args.quick, full=args.full)
    if args.sizes:
        sizes = [n for n in (int(s.replace("_", "")) for s in args.sizes.split(",")) if n > 0]
    return sizes, args.consents or consents


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description="Stats and dashboard, loop stalls, RSS and the chain check at scale.")
    add_arguments(parser)
    parser.add_argument("--markdown", type=Path, metavar="PATH")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the seeded databases in DIR and reuse them next time")
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", metavar="URL",
                        help="a PostgreSQL superuser's URL for --engine postgresql (a "
                        "database per size is made there); default: a throwaway server")
    parser.add_argument("--child-reports", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_reports:
        print(json.dumps(asyncio.run(child_reports(args.child_reports, args.requests))))
        return 0
    sizes, consents = sizes_of(args)
    markdown = args.markdown or (None if args.quick else DEFAULT_MARKDOWN)

    postgres = args.engine == "postgresql"
    section, heading = (("scale-postgresql", "## Scale on PostgreSQL (`bench.scale --engine "
                         "postgresql`)") if postgres else ("scale", "## Scale (`bench.scale`)"))

    def write(report: Report) -> None:
        if markdown is not None:
            common.write_markdown_section(markdown, section, f"{heading}\n\n"
                                          + common.render_markdown(report), title="Benchmarks")
            print(f"wrote {markdown}")

    with postgres_server(args.postgres_url if postgres else "") as server:
        return common.run_and_print(
            section, lambda workdir: run(workdir, sizes, consents, args.requests, args.keep,
                                         server), write)


@contextlib.contextmanager
def postgres_server(url: str | None) -> Iterator[str | None]:
    """None for SQLite (""), the URL given, or a throwaway server's (tests/support)."""
    if url is not None:
        yield url or None
        return
    from tests.support.postgres import PostgresServer, find_pg_bin

    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL's initdb is missing (apt-get install postgresql)")
    server = PostgresServer(bin_dir).start()
    try:
        yield server.url
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
