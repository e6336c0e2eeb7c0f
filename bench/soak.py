"""Soak test: a real gateway in front of a site under steady mixed traffic; does memory stay flat?

Run from the repository root (it is not a test; five minutes by default):

    .venv/bin/python -m bench.soak [--duration S] [--rate R] [--sample S] [--markdown PATH]

It starts the `bench.proxy` upstream (uvicorn + Starlette, one worker) and `consent-gateway
serve --upstream` in front of it (example config, abuse limits off — all the load comes from
127.0.0.1 — and an admin bearer token), makes `--visitors` visitors who accepted everything
(consent cookie, page token from the proxied page), and then sends, at a fixed rate (open
loop, `--rate` requests/s, default 200, at most 64 under way), a fixed mix in a shuffled
order: proxied HTML pages (banner injected) and pass-through scripts, analytics beacons,
consent decisions of new visitors, `state`, `preferences` and `consent.js` GETs, and now and
then an admin request (statistics, dashboard, blocklist, log verification).

Every `--sample` seconds it reads the gateway's RSS and open file descriptors from /proc. At
the end it prints RSS after the warm-up (the first `--warmup` seconds, default 10 % of the
run), in the middle and at the end, the slope (least squares, MB per minute, after warm-up)
and whether memory stayed flat (end ≤ warm-up + 10 %); the answers of every kind by status
(no 5xx expected) with their latencies; and, after stopping the gateway with SIGTERM (it writes
what it buffers), whether the events in its database equal the beacons it accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import secrets
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiohttp

from bench import common
from bench.common import Child, Line, Report, Result, client_session, result_of, start_gateway
from bench.ingest import (
    BEACON_PATH,
    CHROME_WINDOWS,
    DROPPED_HEADER,
    Beacon,
    accept_all,
    check_beacon,
    make_beacons,
)
from bench.proxy import ASSET_PATH, PAGE_PATH, start_upstream

DURATION_S: Final = 300
RATE: Final = 200.0
SAMPLE_S: Final = 5.0
VISITORS: Final = 50
MAX_IN_FLIGHT: Final = 64
FLAT_GROWTH: Final = 0.10  # end RSS at most this much above the RSS after warm-up

# One round of the mix: kind and how many of each in a shuffled round of 40; and every
# `ADMIN_EVERY`-th request (every 4 s at the default rate) an admin one instead.
MIX: Final = {
    "HTML page (proxied, banner)": 10,
    "script (pass-through)": 10,
    "beacon": 12,
    "consent decision": 2,
    "state": 2,
    "preferences page": 1,
    "consent.js": 3,
}
ADMIN_EVERY: Final = 800
ADMIN_PATHS: Final = {  # kind: path, in turn
    "admin stats": "/_consent/admin/stats",
    "admin dashboard": "/_consent/admin/",
    "admin blocklist": "/_consent/admin/blocklist",
    "admin verify (log chain)": "/_consent/admin/verify",
}
KINDS: Final = (*MIX, *ADMIN_PATHS)
DECISIONS: Final = (
    {"action": "accept_all"},
    {"action": "reject_all"},
    {"action": "custom", "categories": {"analytics": True, "preferences": True,
                                        "marketing": False}},
)


@dataclass(slots=True)
class Sample:
    at: float  # seconds since the start of the load
    rss_mb: float
    fds: int


@dataclass(slots=True)
class Traffic:
    """What came back, by kind."""

    latencies: defaultdict[str, list[float]]
    statuses: defaultdict[str, Counter[int]]
    failed: Counter[str]
    beacons_accepted: int = 0
    beacons_dropped: int = 0
    late: int = 0  # requests started later than their slot (all slots busy)


class Mix:
    """The requests of the soak, one after the other in a shuffled but fixed order."""

    def __init__(self, gateway: str, beacons: Sequence[Beacon], cookies: Sequence[str],
                 admin_token: str, admin_every: int = ADMIN_EVERY) -> None:
        self.gateway = gateway
        self.beacons = beacons
        self.cookies = cookies
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        order = [kind for kind, n in MIX.items() for _ in range(n)]
        random.Random(7).shuffle(order)
        self.order = order
        self.count = 0
        self.admin_every = admin_every

    def next(self) -> tuple[str, str, str, dict[str, str], bytes | None]:
        """(kind, method, url, headers, body) of the next request."""
        n = self.count
        self.count += 1
        every = self.admin_every
        if every and n % every == every - 1:
            kind, path = list(ADMIN_PATHS.items())[(n // every) % len(ADMIN_PATHS)]
            headers = {**self.admin, "User-Agent": CHROME_WINDOWS}
            return kind, "GET", self.gateway + path, headers, None
        kind = self.order[n % len(self.order)]
        cookie = {"Cookie": f"consent={self.cookies[n % len(self.cookies)]}"}
        browser = {"User-Agent": CHROME_WINDOWS, "Accept-Language": "en-GB,en;q=0.8"}
        url = self.gateway
        if kind == "HTML page (proxied, banner)":
            # Every third page from a visitor who has not decided yet.
            return kind, "GET", url + PAGE_PATH, {**browser, **({} if n % 3 else cookie)}, None
        if kind == "script (pass-through)":
            return kind, "GET", url + ASSET_PATH, browser, None
        if kind == "beacon":
            beacon = self.beacons[n % len(self.beacons)]
            return kind, "POST", url + BEACON_PATH, dict(beacon.headers), beacon.body
        if kind == "consent decision":
            body = json.dumps(DECISIONS[n % len(DECISIONS)]).encode()
            headers = {**browser, "Content-Type": "application/json", "Origin": url}
            return kind, "POST", url + "/_consent/consent", headers, body
        if kind == "state":
            return kind, "GET", url + "/_consent/state", {**browser, **cookie}, None
        if kind == "preferences page":
            return kind, "GET", url + "/_consent/preferences", {**browser, **cookie}, None
        return kind, "GET", url + "/_consent/consent.js", browser, None


async def _one(session: aiohttp.ClientSession, request: tuple[str, str, str, dict[str, str],
               bytes | None], traffic: Traffic) -> None:
    kind, method, url, headers, body = request
    started = time.perf_counter()
    try:
        async with session.request(method, url, headers=headers, data=body) as response:
            await response.read()
    except (aiohttp.ClientError, TimeoutError):
        traffic.failed[kind] += 1
        return
    traffic.latencies[kind].append(time.perf_counter() - started)
    traffic.statuses[kind][response.status] += 1
    if kind == "beacon" and response.status == 202:
        if response.headers.get(DROPPED_HEADER) is None:
            traffic.beacons_accepted += 1
        else:
            traffic.beacons_dropped += 1


async def soak(mix: Mix, pid: int, *, rate: float, duration: float,
               sample_every: float) -> tuple[Traffic, list[Sample], float]:
    traffic = Traffic(defaultdict(list), defaultdict(Counter), Counter())
    samples: list[Sample] = []
    loop = asyncio.get_running_loop()
    started = loop.time()

    def sample() -> None:
        sizes = common.proc_status(pid)
        samples.append(Sample(loop.time() - started, sizes["VmRSS"], common.open_fds(pid)))

    async def sampler() -> None:
        next_report = 0.0
        while True:
            sample()
            last = samples[-1]
            if last.at >= next_report:
                print(f"  {last.at:5.0f} s  RSS {last.rss_mb:6.1f} MB  fds {last.fds:4d}  "
                      f"requests {mix.count:,}", flush=True)
                next_report += 30
            await asyncio.sleep(sample_every)

    async with client_session(MAX_IN_FLIGHT) as session:
        slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        pending: set[asyncio.Task[None]] = set()

        async def run(request: tuple[str, str, str, dict[str, str], bytes | None]) -> None:
            try:
                await _one(session, request, traffic)
            finally:
                slots.release()

        watcher = asyncio.create_task(sampler())
        for index in range(int(rate * duration)):
            delay = started + index / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.1:
                traffic.late += 1
            await slots.acquire()
            task = asyncio.create_task(run(mix.next()))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
        elapsed = loop.time() - started
        watcher.cancel()
        sample()
    return traffic, samples, elapsed


# --------------------------------------------------------------------------- the verdict


def slope_mb_per_min(samples: Sequence[Sample]) -> float:
    """Least-squares slope of RSS over time."""
    if len(samples) < 2:
        return 0.0
    mean_t = sum(s.at for s in samples) / len(samples)
    mean_r = sum(s.rss_mb for s in samples) / len(samples)
    spread = sum((s.at - mean_t) ** 2 for s in samples)
    if spread == 0:
        return 0.0
    return sum((s.at - mean_t) * (s.rss_mb - mean_r) for s in samples) / spread * 60


def memory_lines(samples: Sequence[Sample], warmup: float) -> tuple[list[Line], str]:
    after = [s for s in samples if s.at >= warmup] or list(samples)
    warm, end = after[0], after[-1]
    middle_at = (warm.at + end.at) / 2
    middle = min(after, key=lambda s: abs(s.at - middle_at))
    slope = slope_mb_per_min(after)
    peak = max(samples, key=lambda s: s.rss_mb)
    growth = end.rss_mb / warm.rss_mb - 1
    lines = [
        Line("gateway RSS, end vs after warm-up", f"{warm.rss_mb:.1f} MB at {warm.at:.0f} s",
             f"{end.rss_mb:.1f} MB at {end.at:.0f} s", f"{growth:+.1%}",
             f"≤ +{FLAT_GROWTH:.0%}", growth <= FLAT_GROWTH),
        Line("gateway RSS slope after warm-up", "", f"{slope:+.2f} MB/min", ""),
        Line("gateway open fds, end vs after warm-up", str(warm.fds), str(end.fds),
             f"{end.fds - warm.fds:+d}"),
    ]
    note = (f"Memory: RSS {warm.rss_mb:.1f} MB after warm-up ({warm.at:.0f} s), "
            f"{middle.rss_mb:.1f} MB in the middle ({middle.at:.0f} s), {end.rss_mb:.1f} MB "
            f"at the end ({end.at:.0f} s); highest sample {peak.rss_mb:.1f} MB at "
            f"{peak.at:.0f} s; slope {slope:+.2f} MB/min over {len(after)} samples; open fds "
            f"{warm.fds} → {middle.fds} → {end.fds}. "
            + ("Memory stayed flat." if growth <= FLAT_GROWTH else "Memory grew."))
    return lines, note


def traffic_rows(traffic: Traffic, elapsed: float) -> list[tuple[Result, float | None]]:
    rows: list[tuple[Result, float | None]] = []
    for kind in KINDS:
        latencies = traffic.latencies.get(kind, [])
        bad = sum(n for status, n in traffic.statuses[kind].items() if status >= 400)
        rows.append((result_of(kind, latencies, bad + traffic.failed[kind], elapsed), None))
    return rows


def status_note(traffic: Traffic) -> str:
    parts = []
    for kind in KINDS:
        statuses = sorted(traffic.statuses[kind].items())
        counts = ", ".join(f"{status} ×{n:,}" for status, n in statuses)
        failed = f", no answer ×{traffic.failed[kind]:,}" if traffic.failed[kind] else ""
        parts.append(f"{kind}: {counts or 'none'}{failed}")
    late = (f" {traffic.late:,} requests left more than 100 ms after their slot (the client or "
            "the gateway fell behind)." if traffic.late else "")
    return "Answers by status: " + "; ".join(parts) + "." + late


def stored_events(database: Path) -> int:
    with closing(sqlite3.connect(database)) as connection:
        (count,) = connection.execute("SELECT count(*) FROM analytics_events").fetchone()
    return int(count)


# --------------------------------------------------------------------------- the run


def run(workdir: Path, *, duration: int, rate: float, sample_every: float, warmup: float,
        visitors: int, admin_every: int = ADMIN_EVERY) -> Report:
    token = secrets.token_urlsafe(32)
    token_hash = "sha256:" + hashlib.sha256(token.encode()).hexdigest()
    upstream: Child | None = None
    gateway: Child | None = None
    try:
        upstream, direct_url = start_upstream(workdir)
        gateway, url = start_gateway(workdir, "--upstream", direct_url, cwd=workdir,
                                     env={"GATEWAY_ADMIN_TOKEN_HASHES": token_hash})
        print(f"upstream pid {upstream.pid}, gateway pid {gateway.pid} at {url}", flush=True)
        beacons = make_beacons(url, visitors, token_page=PAGE_PATH)
        check_beacon(url, beacons[0], what="the gateway")
        cookies = [accept_all(url) for _ in range(visitors)]
        print(f"  {visitors} visitors ready; {rate:g} requests/s for {duration} s …", flush=True)
        traffic, samples, elapsed = asyncio.run(
            soak(Mix(url, beacons, cookies, token, admin_every), gateway.pid, rate=rate,
                 duration=duration, sample_every=sample_every))
    finally:
        for child in (gateway, upstream):
            if child is not None:
                child.stop()
    stored = stored_events(workdir / "gateway.sqlite3")
    accepted = traffic.beacons_accepted + 1  # the checked one
    server_errors = sum(n for counts in traffic.statuses.values()
                        for status, n in counts.items() if status >= 500)
    unanswered = sum(traffic.failed.values())
    lines, memory_note = memory_lines(samples, warmup)
    total = sum(len(v) for v in traffic.latencies.values())
    lines += [
        Line("5xx answers and unanswered requests", f"{total:,} answered",
             f"{server_errors:,} 5xx, {unanswered:,} unanswered", "", "0",
             server_errors == 0 and unanswered == 0),
        Line("events stored = beacons accepted (soak)", f"{accepted:,} accepted",
             f"{stored:,} stored", "", "equal", stored == accepted),
    ]
    return Report(
        machine=[
            *common.machine("load generator, upstream and gateway"),
            ("load", f"{rate:g} requests/s (open loop, at most {MAX_IN_FLIGHT} under way) for "
                     f"{duration} s, {visitors} visitors, "
                     + (f"every {admin_every}th request an admin one" if admin_every
                        else "no admin requests")
                     + f"; RSS and fds sampled every {sample_every:g} s, warm-up {warmup:.0f} s"),
        ],
        rows=traffic_rows(traffic, elapsed),
        summary=lines,
        ratio_header="",
        notes=[memory_note, status_note(traffic)],
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description="Mixed traffic through a real gateway at a fixed rate; memory over time.")
    parser.add_argument("--duration", type=common.positive_int, default=DURATION_S,
                        metavar="S", help=f"seconds of load (default {DURATION_S})")
    parser.add_argument("--rate", type=float, default=RATE, metavar="R",
                        help=f"requests per second (default {RATE:g})")
    parser.add_argument("--sample", type=float, default=SAMPLE_S, metavar="S",
                        help=f"seconds between RSS samples (default {SAMPLE_S:g})")
    parser.add_argument("--warmup", type=float, metavar="S",
                        help="seconds before the reference RSS (default 10%% of --duration)")
    parser.add_argument("--visitors", type=common.positive_int, default=VISITORS, metavar="N",
                        help=f"visitors with a consent cookie (default {VISITORS})")
    parser.add_argument("--admin-every", type=int, default=ADMIN_EVERY, metavar="N",
                        help=f"every Nth request an admin one (default {ADMIN_EVERY}; 0: none)")
    parser.add_argument("--markdown", type=Path, metavar="PATH",
                        help="also write the results into PATH (its `soak` section, e.g. "
                        "docs/benchmarks.md)")
    args = parser.parse_args(argv)
    started = common.revision()
    warmup = args.warmup if args.warmup is not None else args.duration / 10

    def write(report: common.Report) -> None:
        if args.markdown:
            content = f"## Soak\n\n_Started {started}._\n\n"
            common.write_markdown_section(args.markdown, "soak",
                                          content + common.render_markdown(report),
                                          title="Benchmarks")
            print(f"\nwrote {args.markdown}")

    return common.run_and_print(
        "soak", lambda workdir: run(workdir, duration=args.duration, rate=args.rate,
                                    sample_every=args.sample, warmup=warmup,
                                    visitors=args.visitors, admin_every=args.admin_every),
        write)


if __name__ == "__main__":
    sys.exit(main())
