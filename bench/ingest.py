"""Ingest benchmark: analytics beacons through the gateway, against a bare endpoint, and the
events writer beside the rate the endpoint accepts.

Run from the repository root (it is not a test, and takes about half a minute):

    .venv/bin/python -m bench.ingest [--duration S] [--connections N] [--tool auto|wrk|python]
                                     [--visitors N] [--markdown PATH]

It starts two child processes on 127.0.0.1: `consent-gateway serve` with the example config
and its built-in demo site (one uvicorn worker, a fresh SQLite database, its working folder a
temporary one), and a bare uvicorn + Starlette app (one worker) whose `POST
/_consent/collect` reads the body and answers 202. It then makes beacons the gateway stores —
each visitor accepts all categories (`POST /_consent/consent`) and loads the home page for a
page token — checks that one is accepted, and sends the same rotating beacons (visitors ×
paths) to both, side by side in the same run, with the same load generator and connection
count: wrk when it is on the PATH (a generated Lua script), else a bounded asyncio + aiohttp
loop. Both finish every beacon under way when the time is up, so each answer is counted.

While the gateway is measured it also counts the events written meanwhile (its writer may lag
behind the 202s, holding the rest in a bounded buffer). Last it stops the gateway with SIGTERM
(it writes what it buffered) and compares the events in its database with the 202s it
answered without `X-Consent-Dropped`: they must be equal. Child processes are always stopped,
also on Ctrl-C or SIGTERM. Finally the events writer alone (`writer_capacity`: the store's
batch write in the writer's batch size, visits kept included) beside the rate `/collect`
accepted: the writer must sustain at least that (issue 17).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import os
import re
import shutil
import sqlite3
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from email.message import Message
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Final

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench import common
from bench.common import (
    CONFIG,
    REPO,
    SECRET_KEY,
    WARMUP_S,
    Child,
    Line,
    Report,
    Result,
    Send,
    Tool,
    closed_loop,
    parse_wrk,
    ratio_line,
    result_of,
    run_wrk,
    start_gateway,
    start_uvicorn,
)

BEACON_PATH: Final = "/_consent/collect"
CONSENT_PATH: Final = "/_consent/consent"
DROPPED_HEADER: Final = "X-Consent-Dropped"
CHROME_WINDOWS: Final = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                         "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
VISITORS: Final = 50
# Wrk's run lasts this much longer than the beacons: time for the last ones to be answered.
TAIL_S: Final = 1
TARGET_RATIO: Final = 0.35  # issue 19: 0.35× now, 0.5× the goal

PAGES: Final = (
    "/",
    "/?utm_source=newsletter&utm_medium=email&utm_campaign=november",
    "/shop",
    "/shop/coffee/espresso-blend-1kg",
    "/shop/tea/earl-grey?utm_source=instagram&utm_medium=social",
    "/shop/cart",
    "/blog/2026/11/opening-hours-during-the-holidays",
    "/blog/2026/10/recycled-packaging?utm_source=x&utm_medium=cpc&utm_term=packaging",
    "/about",
    "/contact",
    "/privacy",
    "/search?q=decaf",
)
REFERRERS: Final = (
    "https://www.example.org/",
    "https://www.google.com/",
    "",
    "https://duckduckgo.com/",
    "https://news.example.net/2026/11/best-coffee-shops",
)
SCREEN_WIDTHS: Final = (1280, 1920, 390, 1440, 768, 412)
_PAGE_TOKEN: Final = re.compile(r'<script\b[^>]*\bid="consent-gateway"[^>]*'
                                r'\bdata-page-token="([^"]+)"')


# --------------------------------------------------------------------------- the bare endpoint

ACCEPTED_BODY: Final = b'{"accepted":true}'


def bare_app() -> Starlette:
    """The baseline (a uvicorn `--factory`): read the beacon, answer 202, nothing else."""

    async def collect(request: Request) -> Response:
        await request.body()
        return Response(ACCEPTED_BODY, status_code=202, media_type="application/json",
                        headers={"Cache-Control": "no-store"})

    async def health(_: Request) -> Response:
        return Response(b"ok", media_type="text/plain")

    return Starlette(routes=[Route(BEACON_PATH, collect, methods=["POST"]),
                             Route("/health", health)])


# --------------------------------------------------------------------------- the beacons


@dataclass(frozen=True, slots=True)
class Beacon:
    """One beacon request as a browser sends it, but for the Host header."""

    headers: Mapping[str, str]
    body: bytes


@dataclass(slots=True)
class Tally:
    """How the answers came back: 202 and stored, 202 and dropped (by reason), other
    statuses, and no answer at all (the Python client's failures; wrk's are in its errors)."""

    accepted: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    other: Counter[int] = field(default_factory=Counter)
    failed: int = 0

    def __add__(self, more: Tally) -> Tally:
        return Tally(self.accepted + more.accepted, self.dropped + more.dropped,
                     self.other + more.other, self.failed + more.failed)

    def anomalies(self) -> list[str]:
        """What was not a plain accept, e.g. `3 dropped (bot 3)`, `2 HTTP 503`."""
        found = []
        if self.dropped:
            reasons = ", ".join(f"{reason} {n:,}" for reason, n in self.dropped.most_common())
            found.append(f"{self.dropped.total():,} dropped ({reasons})")
        found += [f"{n:,} HTTP {status}" for status, n in sorted(self.other.items())]
        if self.failed:
            found.append(f"{self.failed:,} unanswered")
        return found


def _http(url: str, headers: Mapping[str, str], data: bytes | None = None,
          ) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, data=data, headers=dict(headers),
                                     method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def accept_all(gateway: str) -> str:
    """A new visitor's signed consent cookie granting every category."""
    status, headers, body = _http(
        gateway + CONSENT_PATH,
        {"User-Agent": CHROME_WINDOWS, "Content-Type": "application/json", "Origin": gateway},
        json.dumps({"action": "accept_all"}).encode(),
    )
    cookies: SimpleCookie = SimpleCookie()
    for value in headers.get_all("Set-Cookie") or ():
        cookies.load(value)
    if status != 200 or "consent" not in cookies:
        raise RuntimeError(f"POST {CONSENT_PATH} gave HTTP {status} and no consent cookie: "
                           f"{body[:300]!r}")
    return cookies["consent"].value


def page_token(gateway: str, cookie: str, page: str = "/") -> str:
    """The token the gateway put in the injected script tag of `page` (an HTML page)."""
    status, _, body = _http(gateway + page, {"User-Agent": CHROME_WINDOWS,
                                             "Cookie": f"consent={cookie}"})
    found = _PAGE_TOKEN.search(body.decode("utf-8", "replace"))
    if status != 200 or found is None:
        raise RuntimeError(f"GET {page} gave HTTP {status} without a data-page-token in the "
                           'injected <script id="consent-gateway"> tag')
    return html.unescape(found.group(1))


def make_beacons(gateway: str, visitors: int, token_page: str = "/") -> list[Beacon]:
    """Every visitor views every page once, with rotating referrers and screen widths;
    ordered page by page, so that consecutive beacons come from different visitors. Each
    visitor's page token comes from `token_page`."""
    people = []
    for _ in range(visitors):
        cookie = accept_all(gateway)
        people.append((cookie, page_token(gateway, cookie, token_page)))
    beacons = []
    for number, (page, (cookie, token)) in enumerate(itertools.product(PAGES, people)):
        body = {"type": "pageview", "url": gateway + page,
                "referrer": REFERRERS[number % len(REFERRERS)],
                "w": SCREEN_WIDTHS[number % len(SCREEN_WIDTHS)], "token": token}
        beacons.append(Beacon(
            headers={
                "User-Agent": CHROME_WINDOWS,
                "Content-Type": "text/plain;charset=UTF-8",  # as navigator.sendBeacon sends
                "Origin": gateway,
                "Accept": "*/*",
                "Accept-Language": "nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7",
                "Cookie": f"consent={cookie}",
            },
            body=json.dumps(body, separators=(",", ":")).encode(),
        ))
    return beacons


def check_beacon(url: str, beacon: Beacon, *, what: str) -> None:
    """One beacon must come back 202 without a drop reason, or measuring is pointless."""
    status, headers, body = _http(url + BEACON_PATH, beacon.headers, beacon.body)
    reason = headers.get(DROPPED_HEADER)
    if status != 202 or reason is not None:
        raise RuntimeError(
            f"{what} did not accept a beacon: HTTP {status}"
            + (f", {DROPPED_HEADER}: {reason}" if reason else "")
            + f", {body[:300].decode('utf-8', 'replace')}"
        )


# --------------------------------------------------------------------------- measuring


def beacon_sender(url: str, beacons: Sequence[Beacon], tally: Tally) -> Send:
    """The Python client's request: the next beacon, its answer counted in `tally`."""
    rotation = itertools.cycle(beacons)

    async def send(session: aiohttp.ClientSession) -> float | None:
        beacon = next(rotation)
        started = time.perf_counter()
        try:
            async with session.post(url + BEACON_PATH, data=beacon.body,
                                    headers=beacon.headers) as response:
                await response.read()
        except (aiohttp.ClientError, TimeoutError):
            tally.failed += 1
            return None
        latency = time.perf_counter() - started
        if response.status != 202:
            tally.other[response.status] += 1
            return None
        reason = response.headers.get(DROPPED_HEADER)
        if reason is None:
            tally.accepted += 1
        else:
            tally.dropped[reason] += 1
        return latency

    return send


def python_beacons(scenario: str, url: str, beacons: Sequence[Beacon], connections: int,
                   seconds: int) -> tuple[Result, Tally]:
    """One run of the Python client."""
    tally = Tally()
    send = beacon_sender(url, beacons, tally)
    latencies, errors, elapsed = asyncio.run(closed_loop(send, connections, seconds))
    return result_of(scenario, latencies, errors, elapsed), tally


def _lua_string(text: str) -> str:
    level = next(n for n in itertools.count() if f"]{'=' * n}]" not in text)
    return f"[{'=' * level}[{text}]{'=' * level}]"


def _lua_table(headers: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}"
                           for k, v in headers.items()) + "}"


# wrk runs `TAIL_S` longer than the script sends beacons. Once a thread's time is up, each of
# its connections, after the answer to its last beacon, sends a request whose headers never
# end: it waits there, unanswered and uncounted, so no beacon is cut off when wrk stops (an
# abandoned one would still be stored). The beacons' rate is timed here, not by wrk.
_WRK_SCRIPT: Final = """\
-- Generated by bench/ingest.py: rotating analytics beacons, counted by their answers.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *now);
]]
local clock = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
end

local BEACONS = {
%(beacons)s
}
local threads, count = {}, 0

function setup(thread)
  thread:set("id", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  prepared = {}
  for i, beacon in ipairs(BEACONS) do
    prepared[i] = wrk.format("POST", "%(path)s", beacon[1], beacon[2])
  end
  waiting = "POST %(path)s HTTP/1.1\\r\\nHost: " .. wrk.headers["Host"] .. "\\r\\n"
  position = (id * 97) %% #prepared
  accepted, dropped, other = 0, {}, {}
  first = now()
  last = first
  stop_at = first + tonumber(args[1])
end

function request()
  if now() >= stop_at then
    return waiting
  end
  position = position %% #prepared + 1
  return prepared[position]
end

function response(status, headers, body)
  last = now()
  local reason = headers["x-consent-dropped"] or headers["X-Consent-Dropped"]
  if status ~= 202 then
    other[status] = (other[status] or 0) + 1
  elseif reason then
    dropped[reason] = (dropped[reason] or 0) + 1
  else
    accepted = accepted + 1
  end
end

local function add(into, counts)
  for key, n in pairs(counts) do
    into[key] = (into[key] or 0) + n
  end
end

local function listed(counts)
  local parts = {}
  for key, n in pairs(counts) do
    parts[#parts + 1] = key .. "=" .. n
  end
  return table.concat(parts, " ")
end

function done(summary, latency, requests)
  local a, d, o, first_all, last_all = 0, {}, {}, math.huge, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("accepted")
    add(d, thread:get("dropped"))
    add(o, thread:get("other"))
    first_all = math.min(first_all, thread:get("first"))
    last_all = math.max(last_all, thread:get("last"))
  end
  io.write(string.format("beacons: accepted %%d, seconds %%.6f, dropped {%%s}, other {%%s}\\n",
                         a, last_all - first_all, listed(d), listed(o)))
end
"""
_WRK_TALLY: Final = re.compile(
    r"^beacons: accepted (\d+), seconds ([\d.]+), dropped \{([^}]*)\}, other \{([^}]*)\}$",
    re.M)


def write_wrk_script(path: Path, beacons: Sequence[Beacon]) -> Path:
    rows = ",\n".join(f"  {{{_lua_table(b.headers)}, {_lua_string(b.body.decode())}}}"
                      for b in beacons)
    path.write_text(_WRK_SCRIPT % {"beacons": rows, "path": BEACON_PATH}, encoding="utf-8")
    return path


def _counts(listed: str) -> Counter[str]:
    """`no_consent=3 bot=2` as a Counter."""
    pairs = (item.partition("=") for item in listed.split())
    return Counter({key: int(n) for key, _, n in pairs})


def _wrk_tally(output: str) -> tuple[Tally, float]:
    found = _WRK_TALLY.search(output)
    if found is None:
        raise RuntimeError(f"the wrk script reported no beacons:\n{output}")
    other = Counter({int(status): n for status, n in _counts(found.group(4)).items()})
    return Tally(int(found.group(1)), _counts(found.group(3)), other), float(found.group(2))


def wrk_beacons(wrk: str, scenario: str, url: str, script: Path, connections: int,
                seconds: int) -> tuple[Result, Tally]:
    """One wrk run: `seconds` of beacons, then `TAIL_S` for the last answers."""
    output = run_wrk(wrk, url, connections, seconds + TAIL_S, script=script,
                     script_args=[str(seconds)])
    tally, elapsed = _wrk_tally(output)
    # wrk's own rate divides by its whole run, the idle tail included, and counts every status
    # (a 503 too); its latencies are right. Like the Python client's, this rate counts 202s.
    rps = (tally.accepted + tally.dropped.total()) / elapsed if elapsed else 0.0
    return replace(parse_wrk(scenario, output), rps=rps), tally


def _show_log_tail(log: Path, lines: int = 20) -> None:
    """Not every beacon was a plain accept: the gateway's last words may say why."""
    if log.exists():
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        print("  gateway log, last lines:", *(f"    {line}" for line in tail), sep="\n",
              file=sys.stderr, flush=True)


def stored_events(database: Path) -> int:
    # Read-only, beside the running gateway's writer (WAL: readers do not block it).
    uri = database.as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=5)) as connection:
        (count,) = connection.execute("SELECT count(*) FROM analytics_events").fetchone()
    return int(count)


class WriteProbe:
    """Counts the stored events now and again `after` seconds later, from a thread, while
    the gateway runs: what it wrote while beacons arrived, not what waited in its buffer."""

    def __init__(self, database: Path, *, after: float) -> None:
        self.database = database
        self.before = stored_events(database)
        self.later: int | None = None
        self._timer = threading.Timer(after, self._count)
        self._timer.daemon = True
        self._timer.start()

    def _count(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.later = stored_events(self.database)

    def written(self) -> int | None:
        self._timer.join()
        return None if self.later is None else self.later - self.before


def write_buffer_rows() -> int:
    """The gateway's analytics write buffer (`analytics.queue_size`), as the bench runs it."""
    configured = tomllib.loads((REPO / CONFIG).read_text(encoding="utf-8"))
    return int(os.environ.get("GATEWAY_ANALYTICS_QUEUE_SIZE",
                              configured["analytics"]["queue_size"]))


# --------------------------------------------------------------------------- the run


def machine(tool: Tool, connections: int, duration: int,
            beacons: Sequence[Beacon], visitors: int) -> list[tuple[str, str]]:
    load = (f"wrk (Lua script), {connections} connections" if tool == "wrk"
            else f"Python asyncio + aiohttp loop, {connections} concurrent requests (the client "
            "is slower than the bare endpoint: bare row client-bound, ratio optimistic; "
            "install wrk)")
    size = sum(len(beacon.body) for beacon in beacons) / len(beacons)
    return [
        *common.machine("load generator, bare endpoint and gateway"),
        ("throughput", f"{load}, {duration} s per server after {WARMUP_S} s warm-up; beacons "
                       "under way at the end are answered and counted"),
        ("beacons", f"{len(beacons)} distinct, rotating: {visitors} visitors (consent cookie "
                    f"from accept_all, page token from GET /) × {len(PAGES)} paths, Chrome on "
                    f"Windows, JSON pageviews of {size:.0f} B on average"),
    ]


def _stored_line(stored: int, tally: Tally) -> Line:
    others = tally.anomalies()
    return Line("events stored = 202s without X-Consent-Dropped",
                f"{tally.accepted:,} accepted" + (f" ({', '.join(others)})" if others else ""),
                f"{stored:,} stored", "", "equal", stored == tally.accepted)


def _write_note(written: int | None, accepted: int, duration: int) -> str:
    if written is None:
        return "Writes under load: the database could not be read during the run."
    kept_up = ("the writer kept up" if written >= 0.9 * accepted else
               f"the rest waited in the write buffer ({write_buffer_rows():,} rows; when it is "
               "full the gateway answers 503) and was written at shutdown")
    return (f"Writes under load: during the gateway's {duration} s run {written:,} events were "
            f"written to SQLite ({written / duration:,.0f}/s) while {accepted:,} were accepted "
            f"({accepted / duration:,.0f}/s); {kept_up}.")


WRITER_EVENTS: Final = 60_000
WRITER_VISITORS: Final = 2_000


def writer_capacity(workdir: Path) -> float:
    """Events/s the analytics store takes in the batch writer's batches (the configured
    `analytics.batch_size`), in this process with nothing else running: the rate the
    gateway's writer can sustain, visits kept included. Beacon-shaped events, 1 ms
    apart, over `WRITER_VISITORS` visitors."""
    return asyncio.run(_writer_capacity(workdir / "writer.sqlite3"))


async def _writer_capacity(database: Path) -> float:
    from datetime import UTC, datetime, timedelta

    from gateway.adapters.configfile import load_config
    from gateway.adapters.store.sqlite import SQLiteStore
    from gateway.core.analytics.events import AnalyticsEvent

    config = load_config(REPO / CONFIG, {"GATEWAY_SERVER_SECRET_KEYS": SECRET_KEY})
    batch = config.analytics.batch_size
    start = datetime(2026, 11, 30, 8, tzinfo=UTC)
    events = [
        AnalyticsEvent(site="demo", ts=start + timedelta(milliseconds=n),
                       visitor=f"{n % WRITER_VISITORS:032x}", type="pageview",
                       path=("/", "/pricing", "/blog", "/faq")[n % 4], hostname="127.0.0.1",
                       referrer_host=("", "duckduckgo.com")[n % 2], country="GB",
                       region="ENG", city="London", browser="Firefox", os="Linux",
                       device="desktop")
        for n in range(WRITER_EVENTS)
    ]
    store = SQLiteStore(database, session_gap=timedelta(minutes=30))
    await store.open()
    try:
        began = time.perf_counter()
        for first in range(0, len(events), batch):
            await store.add_events(events[first:first + batch])
        return len(events) / (time.perf_counter() - began)
    finally:
        await store.close()


def run(tool: Tool, connections: int, duration: int, workdir: Path, *,
        visitors: int = VISITORS) -> Report:
    wrk = shutil.which("wrk")
    database = workdir / "gateway.sqlite3"
    bare: Child | None = None
    gateway: Child | None = None
    try:
        bare, bare_url = start_uvicorn("bare", "bench.ingest:bare_app", workdir, "/health")
        gateway, gateway_url = start_gateway(workdir, cwd=workdir)
        print(f"bare endpoint pid {bare.pid} at {bare_url}, gateway pid {gateway.pid} at "
              f"{gateway_url}", flush=True)
        beacons = make_beacons(gateway_url, visitors)
        check_beacon(gateway_url, beacons[0], what="the gateway")
        check_beacon(bare_url, beacons[0], what="the bare endpoint")
        print(f"  {len(beacons)} beacons ready; one was accepted", flush=True)
        script = write_wrk_script(workdir / "beacons.lua", beacons)

        def measure(scenario: str, url: str, seconds: int) -> tuple[Result, Tally]:
            if tool == "wrk" and wrk is not None:
                return wrk_beacons(wrk, scenario, url, script, connections, seconds)
            return python_beacons(scenario, url, beacons, connections, seconds)

        scenario = f"POST {BEACON_PATH}, bare Starlette (202)"
        print(f"  {scenario} …", flush=True)
        measure(scenario, bare_url, WARMUP_S)
        bare_result, _ = measure(scenario, bare_url, duration)

        scenario = f"POST {BEACON_PATH}, gateway (stored)"
        print(f"  {scenario} …", flush=True)
        _, warm_up = measure(scenario, gateway_url, WARMUP_S)
        probe = WriteProbe(database, after=duration)
        gateway_result, measured = measure(scenario, gateway_url, duration)
        written = probe.written()
        tally = Tally(accepted=1) + warm_up + measured  # the checked beacon, too
    finally:
        for child in (gateway, bare):
            if child is not None:
                child.stop()  # SIGTERM: the gateway writes what it still holds
    stored = stored_events(database)
    if stored != tally.accepted or tally.anomalies():
        _show_log_tail(workdir / "gateway.log")

    ratio = gateway_result.rps / bare_result.rps if bare_result.rps else 0.0
    print("  the events writer alone …", flush=True)
    capacity = writer_capacity(workdir)
    return Report(
        machine=machine(tool, connections, duration, beacons, visitors),
        rows=[(bare_result, None), (gateway_result, ratio)],
        summary=[
            ratio_line(f"beacons POST {BEACON_PATH}", bare_result.rps, gateway_result.rps,
                       "/s", baseline_label="bare", goal=TARGET_RATIO),
            _stored_line(stored, tally),
            ratio_line("events writer (store batches, in process) vs /collect accepted",
                       measured.accepted / duration, capacity, "/s",
                       baseline_label="accepted", goal=1.0),
        ],
        ratio_header="gateway/bare",
        notes=[_write_note(written, measured.accepted, duration)],
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = common.parser(
        "python -m bench.ingest",
        "Analytics beacons through the gateway, against a bare Starlette endpoint.",
    )
    parser.add_argument("--visitors", type=common.positive_int, default=VISITORS, metavar="N",
                        help=f"visitors (consent cookies) the beacons rotate over "
                        f"(default {VISITORS})")
    args = parser.parse_args(argv)

    def run_with_visitors(tool: Tool, connections: int, duration: int, workdir: Path) -> Report:
        return run(tool, connections, duration, workdir, visitors=args.visitors)

    return common.main(args, run_with_visitors, name="ingest")


if __name__ == "__main__":
    sys.exit(main())
