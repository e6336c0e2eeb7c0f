"""Component benchmarks: the gateway's adapters in process, each against the library it wraps,
the banner files' sizes, and the peak memory of ingesting a million events.

Run from the repository root (it is not a test; a few minutes, most of it the million events):

    .venv/bin/python -m bench.components [--events N] [--quick] [--markdown PATH]

1. GeoIP: lookups/s through `gateway.adapters.geo.GeoIPDatabase.locate` on MaxMind's City test
   database (`tests/data/geoip`), addresses it knows, against `geoip2`'s reader
   called directly on the same file, in the same run.
2. User agents: `gateway.useragent.describe_agent` against `ua_parser.parse` alone, cold
   (every string new to both caches: real browser strings from `bench/user_agents.txt` with
   a varied build number, as real traffic has) and cached (the same strings over and over).
3. `consent.js` and `consent.css`: bytes on disk, `gzip -9`, against the budgets the tests
   hold, and what a running gateway sends a browser that accepts gzip and br.
4. Peak RSS after `--events` beacons (default 1,000,000): a child process builds the real
   gateway app (`create_app`, example config, the City test database, SQLite in a temporary
   folder) and drives `POST /_consent/collect` through ASGI itself, without HTTP, so that no
   load generator shares the cores and the run stays within a few minutes (the sustained
   rate is bounded by the SQLite writer, a few thousand events/s here). Every event goes
   through the middleware, the collect endpoint, the pipeline, the write buffer and the
   batched SQLite writes, the access log included; the child reports its peak RSS (VmHWM),
   and the events in the database must equal the beacons accepted.

Each rate is the best of three rounds, the baseline's and the gateway's rounds alternating.
Child processes are always stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Final

import geoip2.database
import ua_parser

from bench import common
from bench.common import (
    CONFIG,
    REPO,
    SECRET_KEY,
    Child,
    Line,
    Report,
    proc_status,
    ratio_line,
    start_gateway,
)
from gateway.adapters.geo import GeoIPDatabase
from gateway.adapters.useragent import _describe, describe_agent

GEOIP_DIR: Final = REPO / "tests" / "data" / "geoip"
CITY_DB: Final = GEOIP_DIR / "GeoLite2-City-Test.mmdb"
# Addresses the City test database knows (its README's table).
GEO_ADDRESSES: Final = (
    "81.2.69.142", "81.2.69.160", "2.125.160.216", "89.160.20.112", "89.160.20.128",
    "175.16.199.1", "216.160.83.56", "214.78.0.1", "202.196.224.1", "2a02:cfc0::1",
    "2a02:cf40::1", "2001:218::1",
)
USER_AGENTS_FILE: Final = Path(__file__).with_name("user_agents.txt")
ASSETS: Final = {"consent.js": 6 * 1024, "consent.css": 2 * 1024}  # gzip -9 budgets
RSS_TARGET_MB: Final = 200
EVENTS: Final = 1_000_000
ROUNDS: Final = 3

HOST: Final = "127.0.0.1:8000"
ORIGIN: Final = f"http://{HOST}"
_LAST_NUMBER: Final = re.compile(r"(\d+)(?!.*\d)")


# --------------------------------------------------------------------------- timing


def best_rates(baseline: Callable[[], int], gateway: Callable[[], int],
               rounds: int = ROUNDS) -> tuple[float, float]:
    """Operations per second of each: an operation does some and says how many. Rounds
    alternate between the two (so a slower spell of the machine hits both); best of `rounds`."""
    best = [0.0, 0.0]
    for _ in range(rounds):
        for index, operation in enumerate((baseline, gateway)):
            gc.collect()
            started = time.perf_counter()
            done = operation()
            best[index] = max(best[index], done / (time.perf_counter() - started))
    return best[0], best[1]


# --------------------------------------------------------------------------- GeoIP


def geoip_lines(repeat: int) -> tuple[list[Line], str]:
    if not CITY_DB.is_file():
        raise RuntimeError(f"{CITY_DB} is missing (MaxMind's test databases)")
    detail = _config()["privacy"].get("geo_detail", "region")
    addresses = GEO_ADDRESSES * repeat
    adapter = GeoIPDatabase(CITY_DB, detail=detail)
    reader = geoip2.database.Reader(str(CITY_DB))
    try:
        if not all(adapter.locate(address).country for address in GEO_ADDRESSES):
            raise RuntimeError("the gateway's GeoIP adapter did not place every test address")

        def raw() -> int:
            city = reader.city
            for address in addresses:
                city(address)
            return len(addresses)

        def gateway() -> int:
            locate = adapter.locate
            for address in addresses:
                locate(address)
            return len(addresses)

        raw_rate, gateway_rate = best_rates(raw, gateway)
        mode = type(reader._db_reader).__module__  # C extension or pure Python
    finally:
        adapter.close()
        reader.close()
    line = ratio_line(f"GeoIP lookups ({CITY_DB.name}, detail {detail})", raw_rate,
                      gateway_rate, "/s", baseline_label="geoip2 reader")
    note = (f"GeoIP: {len(GEO_ADDRESSES)} addresses the test database knows, IPv4 and IPv6, "
            f"{repeat:,} times a round; the baseline is `geoip2.database.Reader.city` on the "
            f"same file (reader `{mode}`), the gateway row `GeoIPDatabase.locate` (address "
            "check, lookup, codes and names out).")
    return [line], note


# --------------------------------------------------------------------------- user agents


def user_agents() -> list[str]:
    lines = USER_AGENTS_FILE.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def variants(agents: Sequence[str], count: int, start: int) -> list[str]:
    """`count` strings nobody parsed yet: the real ones with their last number extended,
    as build numbers vary in real traffic."""
    return [_LAST_NUMBER.sub(rf"\g<1>{n}", agents[n % len(agents)], count=1)
            for n in range(start, start + count)]


def useragent_lines(cold: int, cached: int) -> tuple[list[Line], str]:
    agents = user_agents()
    fresh = iter(range(0, 10**9, cold))  # each round's strings are new to every cache

    def raw_cold() -> int:
        for text in variants(agents, cold, next(fresh)):
            ua_parser.parse(text)
        return cold

    def gateway_cold() -> int:
        texts = variants(agents, cold, next(fresh))
        _describe.cache_clear()
        for text in texts:
            describe_agent(text)
        return cold

    repeated = agents * (cached // len(agents))

    def raw_cached() -> int:
        for text in repeated:
            ua_parser.parse(text)
        return len(repeated)

    def gateway_cached() -> int:
        for text in repeated:
            describe_agent(text)
        return len(repeated)

    rates = list(best_rates(raw_cold, gateway_cold))
    for text in agents:  # both caches hold every string before the cached rounds
        ua_parser.parse(text)
        describe_agent(text)
    rates += best_rates(raw_cached, gateway_cached)
    lines = [
        ratio_line("user-agent parses, cold (new strings)", rates[0], rates[1], "/s",
                   baseline_label="ua-parser"),
        ratio_line("user-agent parses, cached (repeated strings)", rates[2], rates[3], "/s",
                   baseline_label="ua-parser"),
    ]
    resolver = type(getattr(ua_parser.parser.resolver, "parser", ua_parser.parser.resolver))
    note = (f"User agents: {len(agents)} real browser strings (`bench/user_agents.txt`). Cold: "
            f"{cold:,} strings a round that neither cache has seen (the gateway's LRU cache "
            "cleared, ua-parser's own cache missed), so both rows parse every one; cached: "
            f"the {len(agents)} strings {cached // len(agents):,} times over. Baseline "
            f"`ua_parser.parse` (ua-parser {_version('ua-parser')}, resolver "
            f"`{resolver.__module__}`, with its own cache); gateway `describe_agent` "
            "(ua-parser plus its bot and device rules, behind its LRU cache).")
    return lines, note


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


# --------------------------------------------------------------------------- banner files


def asset_lines(workdir: Path) -> tuple[list[Line], str]:
    """Sizes on disk and gzip -9 against the budgets, and what the gateway sends."""
    gateway: Child | None = None
    served: dict[str, tuple[int, str]] = {}
    try:
        gateway, url = start_gateway(workdir, cwd=workdir)
        for name in ASSETS:
            request = urllib.request.Request(
                f"{url}/_consent/{name}", headers={"Accept-Encoding": "gzip, deflate, br"})
            with urllib.request.urlopen(request, timeout=5) as response:
                body = response.read()
                served[name] = (len(body), response.headers.get("Content-Encoding", "identity"))
    finally:
        if gateway is not None:
            gateway.stop()
    lines = []
    for name, budget in ASSETS.items():
        raw = (REPO / "static" / name).read_bytes()
        packed = len(gzip.compress(raw, compresslevel=9))
        size, encoding = served[name]
        lines.append(Line(f"{name} size, gzip -9", f"{len(raw):,} B raw", f"{packed:,} B",
                          f"{packed / len(raw):.2f}×", f"≤ {budget:,} B", packed <= budget))
        lines.append(Line(f"{name} as served (Accept-Encoding: gzip, br)",
                          f"{packed:,} B gzip -9", f"{size:,} B {encoding}",
                          f"{size / packed:.2f}×"))
    note = ("Banner files: the budgets are those `tests/web/test_assets.py` holds (≤ 6 KB and "
            "≤ 2 KB gzip -9, docs/architecture.md). The served size is the body a running gateway "
            "sends for `GET /_consent/<file>` with `Accept-Encoding: gzip, deflate, br`"
            + ("; it sends the files uncompressed, so unless a server in front compresses "
               "them a browser downloads the raw size."
               if any(encoding == "identity" for _, encoding in served.values()) else "."))
    return lines, note


# --------------------------------------------------------------------------- peak RSS (parent)


def rss_lines(workdir: Path, events: int, visitors: int) -> tuple[list[Line], str]:
    """Run the child (below) and read what it reports."""
    database = workdir / "rss.sqlite3"
    env = {
        **os.environ,
        "GATEWAY_SERVER_SECRET_KEYS": SECRET_KEY,
        "GATEWAY_STORAGE_PATH": str(database),
        "GATEWAY_ABUSE_ENABLED": "false",
        "GATEWAY_ANALYTICS_GEOIP_DATABASE": str(CITY_DB),
        "PYTHONPATH": str(REPO),
    }
    command = [sys.executable, "-m", "bench.components", "--child-events", str(events),
               "--child-visitors", str(visitors)]
    print(f"  ingesting {events:,} events in a child process …", flush=True)
    final: dict[str, Any] = {}
    log = workdir / "rss-child.log"
    with log.open("w") as errors, subprocess.Popen(
        command, env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=errors, text=True,
        start_new_session=True,
    ) as child:
        try:
            assert child.stdout is not None
            for raw in child.stdout:
                report = json.loads(raw)
                if "final" in report:
                    final = report
                else:
                    print(f"    {report['events']:>9,} events, {report['elapsed']:6.1f} s, "
                          f"RSS {report['rss_mb']:.1f} MB (peak {report['hwm_mb']:.1f} MB)",
                          flush=True)
            child.wait(timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    logged = log.read_text(errors="replace").splitlines()
    if child.returncode != 0 or not final:
        tail = "\n".join(logged[-30:])
        raise RuntimeError(f"the ingesting child failed ({child.returncode}):\n{tail}")
    with closing(sqlite3.connect(database)) as connection:
        (stored,) = connection.execute("SELECT count(*) FROM analytics_events").fetchone()
    accepted, peak = int(final["accepted"]), float(final["hwm_mb"])
    lines = [
        Line(f"peak RSS after {events:,} events (in-process ASGI, SQLite)",
             f"{final['start_mb']:.1f} MB after start", f"{peak:.1f} MB peak",
             f"{peak / final['start_mb']:.2f}×", f"≤ {RSS_TARGET_MB} MB", peak <= RSS_TARGET_MB),
        Line("events stored = beacons accepted (RSS run)", f"{accepted:,} accepted",
             f"{stored:,} stored", "", "equal", stored == accepted),
    ]
    others = ", ".join(f"{n:,} {what}" for what, n in final["other"].items())
    note = (f"Peak RSS: one child process, the gateway app from `create_app` (example config, "
            f"`{CITY_DB.name}`, one SQLite file), `POST /_consent/collect` driven through ASGI "
            f"without HTTP (no load generator or HTTP parsing on the same cores; the sustained "
            f"rate is the SQLite writer's either way); "
            f"{visitors:,} visitors who accepted all, 12 paths, "
            f"{len(user_agents())} browsers, {len(GEO_ADDRESSES)} client addresses. "
            f"{events:,} beacons in {final['elapsed']:.0f} s ({events / final['elapsed']:,.0f}/s"
            f" in process, writes included), {accepted:,} accepted"
            + (f", {others}" if others else "") +
            f"; {_retries(final['retries'])}; {_log_lines(logged)}. RSS at the end "
            f"{final['rss_mb']:.1f} MB, peak (VmHWM) {peak:.1f} MB; SQLite file "
            f"{database.stat().st_size / 1024**2:,.0f} MB.")
    return lines, note


# --------------------------------------------------------------------------- peak RSS (child)


@dataclass(slots=True)
class Exchange:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


async def asgi_request(app: Any, method: str, path: str, headers: Iterable[tuple[str, str]],
                       body: bytes = b"", client: str = "127.0.0.1") -> Exchange:
    """One HTTP request straight into an ASGI app, as uvicorn would hand it over."""
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", HOST.encode()),
                    *((k.lower().encode(), v.encode()) for k, v in headers)],
        "client": (client, 50_000), "server": ("127.0.0.1", 8000),
    }
    exchange = Exchange(0, [], b"")
    parts: list[bytes] = []
    done = asyncio.Event()
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            exchange.status = message["status"]
            exchange.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    await app(scope, receive, send)
    done.set()
    exchange.body = b"".join(parts)
    return exchange


class Lifespan:
    """The ASGI lifespan protocol as a server runs it: one task, startup then shutdown."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _event(self, event: str) -> None:
        await self.messages.put({"type": f"lifespan.{event}"})
        message = await self.answers.get()
        if message["type"] != f"lifespan.{event}.complete":
            raise RuntimeError(f"lifespan {event}: {message}")

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self.task = asyncio.create_task(self.app(scope, self.messages.get, self.answers.put))
        await self._event("startup")

    async def shutdown(self) -> None:
        await self._event("shutdown")
        if self.task is not None:
            await self.task


def _error_of(body: bytes) -> str:
    try:
        return str(json.loads(body).get("error", "?"))
    except (ValueError, AttributeError):
        return body[:60].decode("utf-8", "replace")


_TOKEN: Final = re.compile(r'<script\b[^>]*\bid="consent-gateway"[^>]*\bdata-page-token="([^"]+)"')


async def child_ingest(events: int, visitors: int) -> dict[str, Any]:
    from gateway.adapters.configfile import load_config
    from gateway.app import create_app

    app = create_app(load_config(REPO / CONFIG))
    lifespan = Lifespan(app)
    await lifespan.startup()
    start_mb = proc_status()["VmRSS"]
    agents = user_agents()
    people = []
    for number in range(visitors):
        agent = agents[number % len(agents)]
        answer = await asgi_request(app, "POST", "/_consent/consent", [
            ("User-Agent", agent), ("Content-Type", "application/json"), ("Origin", ORIGIN),
        ], json.dumps({"action": "accept_all"}).encode())
        cookies: SimpleCookie = SimpleCookie()
        for name, value in answer.headers:
            if name == b"set-cookie":
                cookies.load(value.decode())
        if answer.status != 200 or "consent" not in cookies:
            raise RuntimeError(f"consent: HTTP {answer.status} {answer.body[:200]!r}")
        cookie = cookies["consent"].value
        page = await asgi_request(app, "GET", "/", [("User-Agent", agent),
                                                    ("Cookie", f"consent={cookie}")])
        found = _TOKEN.search(page.body.decode("utf-8", "replace"))
        if found is None:
            raise RuntimeError(f"GET /: HTTP {page.status} without a page token")
        token = found.group(1).replace("&amp;", "&")
        headers = [("User-Agent", agent), ("Content-Type", "text/plain;charset=UTF-8"),
                   ("Origin", ORIGIN), ("Cookie", f"consent={cookie}")]
        people.append((headers, token, GEO_ADDRESSES[number % len(GEO_ADDRESSES)]))
    from bench.ingest import PAGES, REFERRERS, SCREEN_WIDTHS

    bodies = [[json.dumps({"type": "pageview", "url": ORIGIN + page,
                           "referrer": REFERRERS[(n + p) % len(REFERRERS)],
                           "w": SCREEN_WIDTHS[(n + p) % len(SCREEN_WIDTHS)],
                           "token": token}, separators=(",", ":")).encode()
               for p, page in enumerate(PAGES)] for n, (_, token, _) in enumerate(people)]

    accepted, retries, other = 0, Counter[str](), Counter[str]()
    started = time.monotonic()
    for number in range(events):
        visitor = number % visitors
        headers, _, address = people[visitor]
        body = bodies[visitor][(number // visitors) % len(PAGES)]
        while True:
            answer = await asgi_request(app, "POST", "/_consent/collect", headers, body,
                                        client=address)
            if answer.status != 503:
                break
            retries[_error_of(answer.body)] += 1
            await asyncio.sleep(0.05)  # the write buffer is full: let the writer catch up
        dropped = next((v for k, v in answer.headers if k == b"x-consent-dropped"), None)
        if answer.status == 202 and dropped is None:
            accepted += 1
        else:
            reason = f" dropped {dropped.decode()}" if dropped else ""
            other[f"HTTP {answer.status}{reason}"] += 1
        if number % 64 == 63:
            await asyncio.sleep(0)  # the writer's task runs on this loop too
        if (number + 1) % 100_000 == 0 or number + 1 == events:
            sizes = proc_status()
            print(json.dumps({"events": number + 1, "elapsed": time.monotonic() - started,
                              "rss_mb": sizes["VmRSS"], "hwm_mb": sizes["VmHWM"]}), flush=True)
    elapsed = time.monotonic() - started
    await lifespan.shutdown()  # writes what the buffers still hold
    sizes = proc_status()
    return {"final": True, "accepted": accepted, "retries": dict(retries), "other": dict(other),
            "elapsed": elapsed, "start_mb": start_mb, "rss_mb": sizes["VmRSS"],
            "hwm_mb": sizes["VmHWM"]}


def _retries(retries: dict[str, int]) -> str:
    if not retries:
        return "no 503 (the write buffer never filled)"
    listed = ", ".join(f"{n:,} × {reason!r}" for reason, n in retries.items())
    return f"beacons resent after a 503: {listed}"


def _log_lines(lines: Sequence[str]) -> str:
    """What the gateway logged, by message (the first 80 characters), most frequent first."""
    kinds = Counter(line[:80] for line in lines if line.strip())
    if not kinds:
        return "the gateway logged nothing"
    listed = "; ".join(f"{n:,} × `{text}`" for text, n in kinds.most_common(3))
    return f"the gateway logged {len(lines):,} lines ({listed})"


def _run_child(events: int, visitors: int) -> int:
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        final = runner.run(child_ingest(events, visitors))
    print(json.dumps(final), flush=True)
    return 0


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much each part does: `quick` for a smoke run."""

    geo_repeat: int
    ua_cold: int
    ua_cached: int
    events: int
    visitors: int

    @classmethod
    def of(cls, *, quick: bool, events: int | None) -> Sizes:
        if quick:
            return cls(500, 2_000, 20_000, events or 20_000, 100)
        return cls(5_000, 20_000, 200_000, events or EVENTS, 1_000)


def _config() -> dict[str, Any]:
    return tomllib.loads((REPO / CONFIG).read_text(encoding="utf-8"))


def run(workdir: Path, sizes: Sizes) -> Report:
    summary: list[Line] = []
    notes: list[str] = []
    parts: list[tuple[str, Callable[[], tuple[list[Line], str]]]] = [
        ("GeoIP lookups", lambda: geoip_lines(sizes.geo_repeat)),
        ("user-agent parses", lambda: useragent_lines(sizes.ua_cold, sizes.ua_cached)),
        ("banner file sizes", lambda: asset_lines(workdir)),
        ("peak RSS", lambda: rss_lines(workdir, sizes.events, sizes.visitors)),
    ]
    for what, measure in parts:
        print(f"  {what} …", flush=True)
        lines, note = measure()
        summary += lines
        notes.append(note)
    return Report(
        machine=[*common.machine("this process and its children"),
                 ("rounds", f"best of {ROUNDS} for the rates, baseline and gateway alternating")],
        rows=[],
        summary=summary,
        notes=notes,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=common.positive_int, metavar="N",
                        help=f"beacons for the peak-RSS run (default {EVENTS:,}; "
                        "--quick: 20,000)")
    parser.add_argument("--quick", action="store_true",
                        help="a short smoke run: smaller rounds and 20,000 events")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.components",
        description="The gateway's adapters against their libraries, banner file sizes, "
                    "and peak RSS after a million events.")
    add_arguments(parser)
    parser.add_argument("--markdown", type=Path, metavar="PATH",
                        help="also write the results as markdown to PATH")
    parser.add_argument("--child-events", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-visitors", type=int, default=1_000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_events:
        return _run_child(args.child_events, args.child_visitors)
    sizes = Sizes.of(quick=args.quick, events=args.events)
    return common.run_and_print(
        "components", lambda workdir: run(workdir, sizes),
        lambda report: common.write_report(args.markdown, common.render_markdown(report)))


if __name__ == "__main__":
    sys.exit(main())
