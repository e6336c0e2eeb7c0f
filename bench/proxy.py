"""Proxy benchmark: the gateway in front of a plain Starlette site, against the site direct.

Run from the repository root (it is not a test, and takes about a minute):

    .venv/bin/python -m bench.proxy [--duration S] [--connections N] [--tool auto|wrk|python]
                                    [--markdown PATH]

It starts two child processes on 127.0.0.1 — an upstream (uvicorn + Starlette, one worker)
serving `/asset.js` (~20 KB JavaScript: the pass-through path) and `/page.html` (~30 KB HTML:
the rewrite + banner-injection path), and `consent-gateway serve --upstream` in front of it —
then measures each path direct and through the gateway, side by side in the same run:

1. throughput (closed loop, N connections): requests/s, p50, p99, with `wrk` when it is on the
   PATH, else a bounded asyncio + aiohttp loop;
2. latency at half the gateway's measured HTML throughput (open loop, fixed rate, always the
   Python loop: plain wrk cannot hold a rate): the p50 the gateway adds to an HTML page.

Every measurement is preceded by one second of warm-up. Load generator, upstream and gateway
share the machine, so absolute figures understate a real deployment; the ratios are the point.
Child processes are always stopped, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Final, Literal

import aiohttp
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

REPO: Final = Path(__file__).resolve().parent.parent
CONFIG: Final = Path("config") / "gateway.toml"
SECRET_KEY: Final = "bench-secret-key-0123456789abcdefghijklm"  # 40 characters
ASSET_PATH: Final = "/asset.js"
PAGE_PATH: Final = "/page.html"
ASSET_BYTES: Final = 20 * 1024
PAGE_BYTES: Final = 30 * 1024
WARMUP_S: Final = 1
INJECTED_MARKER: Final = b'id="consent-gateway"'

# Targets: gateway/direct throughput, and the p50 the gateway may add at half load.
TARGET_PASS_THROUGH: Final = 0.5
TARGET_HTML: Final = 0.4
TARGET_ADDED_P50_MS: Final = 2.0

Tool = Literal["wrk", "python"]


# --------------------------------------------------------------------------- the upstream site


def asset_js(size: int = ASSET_BYTES) -> bytes:
    """A plausible minified-ish script bundle of about `size` bytes."""
    parts = ['"use strict";\n(function (global) {\n  const registry = new Map();\n']
    index = 0
    while sum(map(len, parts)) < size:
        parts.append(
            f"  function widget{index}(root, options) {{\n"
            f"    const el = root.querySelector('[data-widget=\"w{index}\"]');\n"
            f"    if (!el) return null;\n"
            f"    const state = Object.assign({{ open: false, count: {index} }}, options);\n"
            f"    el.addEventListener('click', function (event) {{\n"
            f"      event.preventDefault();\n"
            f"      state.open = !state.open;\n"
            f"      el.classList.toggle('is-open', state.open);\n"
            f"      el.setAttribute('aria-expanded', String(state.open));\n"
            f"    }});\n"
            f"    registry.set('w{index}', state);\n"
            f"    return state;\n"
            f"  }}\n"
        )
        index += 1
    parts.append(
        "  global.widgets = { registry: registry };\n"
        "  document.addEventListener('DOMContentLoaded', function () {\n"
        f"    for (let i = 0; i < {index}; i += 1) {{ /* lazy init */ }}\n"
        "  });\n"
        "})(window);\n"
    )
    return "".join(parts).encode("utf-8")


_SENTENCES: Final = (
    "Our opening hours change during the holidays, so check this page before you visit.",
    "Orders placed before 17:00 on a working day leave our warehouse the same day.",
    "Every product comes with a two-year guarantee and free returns within thirty days.",
    "We use recycled packaging wherever we can and ship by bicycle courier in the city.",
    "Questions about your order? Our customer service answers within one working day.",
    "Sign up for the newsletter to hear about new collections before anyone else does.",
    "The café on the ground floor serves coffee, fresh pastries and a daily lunch menu.",
    "Parking is free for the first hour in the garage behind the shop on Market Street.",
)


def page_html(size: int = PAGE_BYTES) -> bytes:
    """A realistic shop page of about `size` bytes: a `<head>` with meta, styles and
    scripts, and a `<body>` with navigation, articles and a footer."""
    head = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>Corner Shop — fresh goods, fair prices</title>\n"
        '<meta name="description" content="The corner shop in the old town: groceries, '
        'a café and a small bookshop, open seven days a week.">\n'
        '<link rel="canonical" href="https://shop.example.org/page.html">\n'
        '<link rel="icon" href="/favicon.ico">\n'
        '<link rel="stylesheet" href="/css/site.css?v=3f2a9c">\n'
        "<style>\n"
        + "".join(
            f".card-{i}{{display:grid;gap:{i % 5 + 4}px;padding:{i % 3 + 8}px;"
            f"border-radius:{i % 4 + 2}px;background:#f{i % 10}f{i % 7}f{i % 9};}}\n"
            for i in range(24)
        )
        + "</style>\n"
        '<script src="/asset.js" defer></script>\n'
        '<script type="application/ld+json">{"@context":"https://schema.org",'
        '"@type":"Store","name":"Corner Shop","telephone":"+31 20 123 4567"}</script>\n'
        "</head>\n"
    )
    nav = (
        '<body class="page page-home">\n<header class="site-header">\n'
        '<a class="logo" href="/">Corner Shop</a>\n<nav aria-label="Main">\n<ul>\n'
        + "".join(
            f'<li><a href="/{slug}">{slug.title()}</a></li>\n'
            for slug in ("groceries", "cafe", "books", "gifts", "about", "contact")
        )
        + "</ul>\n</nav>\n</header>\n<main>\n"
    )
    footer = (
        "</main>\n<footer class=\"site-footer\">\n<p>Corner Shop · Market Street 1 · "
        "1011 AB Amsterdam</p>\n<p><a href=\"/privacy\">Privacy statement</a> · "
        "<a href=\"/terms\">Terms</a></p>\n</footer>\n"
        '<script>window.dataLayer = window.dataLayer || [];</script>\n</body>\n</html>\n'
    )
    articles: list[str] = []
    index = 0
    budget = size - len(head) - len(nav) - len(footer)
    while sum(map(len, articles)) < budget:
        text = " ".join(_SENTENCES[(index + k) % len(_SENTENCES)] for k in range(4))
        articles.append(
            f'<article class="card-{index % 24}" id="item-{index}" data-widget="w{index}">\n'
            f'<h2><a href="/items/{index}">Item {index}: seasonal selection</a></h2>\n'
            f'<img src="/img/item-{index}.webp" alt="Item {index}" width="320" height="200" '
            f'loading="lazy">\n<p>{text}</p>\n'
            f'<p class="price">€ {index % 40 + 2},{index * 7 % 100:02d}</p>\n</article>\n'
        )
        index += 1
    return (head + nav + "".join(articles) + footer).encode("utf-8")


def upstream_app() -> Starlette:
    """The upstream website (a uvicorn `--factory`): fixed bodies, nothing else."""
    js, page = asset_js(), page_html()

    async def asset(_: Request) -> Response:
        return Response(js, media_type="text/javascript")

    async def html_page(_: Request) -> Response:
        return Response(page, media_type="text/html")  # Starlette adds "; charset=utf-8"

    return Starlette(routes=[Route(ASSET_PATH, asset), Route(PAGE_PATH, html_page)])


# --------------------------------------------------------------------------- child processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Child:
    """A server in a child process (own session: Ctrl-C reaches only us, we stop it)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, ready_url: str, timeout: float = 30.0) -> None:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.command, env=self.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(ready_url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_upstream(workdir: Path) -> tuple[Child, str]:
    port = free_port()
    child = Child(
        "upstream",
        [sys.executable, "-m", "uvicorn", "bench.proxy:upstream_app", "--factory",
         "--app-dir", str(REPO), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--no-access-log", "--log-level", "warning"],
        dict(os.environ),
        workdir / "upstream.log",
    )
    url = f"http://127.0.0.1:{port}"
    child.start(url + ASSET_PATH)
    return child, url


def start_gateway(workdir: Path, upstream: str) -> tuple[Child, str]:
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_SERVER_SECRET_KEYS": SECRET_KEY,
        "GATEWAY_STORAGE_PATH": str(workdir / "gateway.sqlite3"),
    }
    child = Child(
        "gateway",
        [sys.executable, "-m", "gateway", "serve", "--config", str(CONFIG),
         "--port", str(port), "--upstream", upstream],
        env,
        workdir / "gateway.log",
    )
    url = f"http://127.0.0.1:{port}"
    child.start(url + "/_consent/health")
    return child, url


def check_paths(direct: str, gateway: str) -> tuple[int, int, int]:
    """Make sure each path does what it is meant to measure: the asset passes through
    unchanged, the page gets the banner. Returns (asset, page, injected page) sizes."""

    def get(url: str) -> bytes:
        with urllib.request.urlopen(url, timeout=5) as response:
            if response.status != 200:
                raise RuntimeError(f"{url}: HTTP {response.status}")
            return bytes(response.read())

    asset, asset_via = get(direct + ASSET_PATH), get(gateway + ASSET_PATH)
    if asset != asset_via:
        raise RuntimeError("the gateway changed /asset.js: not a pass-through")
    page, page_via = get(direct + PAGE_PATH), get(gateway + PAGE_PATH)
    if INJECTED_MARKER in page or INJECTED_MARKER not in page_via:
        raise RuntimeError("the gateway did not inject the banner into /page.html")
    return len(asset), len(page), len(page_via)


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True, slots=True)
class Result:
    scenario: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _result(scenario: str, latencies: list[float], errors: int, elapsed: float) -> Result:
    latencies.sort()
    return Result(
        scenario=scenario,
        rps=len(latencies) / elapsed if elapsed > 0 else 0.0,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        requests=len(latencies),
        errors=errors,
    )


def _session(connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),  # every request is a first visit: banner shown
        timeout=aiohttp.ClientTimeout(total=10),
    )


async def _fetch(session: aiohttp.ClientSession, url: str) -> float | None:
    """One GET, body read whole; its latency in seconds, or None if it failed."""
    started = time.perf_counter()
    try:
        async with session.get(url) as response:
            await response.read()
            ok = response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return None
    return time.perf_counter() - started if ok else None


async def _closed_loop(url: str, connections: int, duration: float) -> tuple[list[float], int,
                                                                              float]:
    latencies: list[float] = []
    errors = 0
    async with _session(connections) as session:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + duration

        async def worker() -> None:
            nonlocal errors
            while loop.time() < deadline:
                latency = await _fetch(session, url)
                if latency is None:
                    errors += 1
                else:
                    latencies.append(latency)

        await asyncio.gather(*(worker() for _ in range(connections)))
        return latencies, errors, loop.time() - started


async def _open_loop(url: str, rate: float, duration: float,
                     max_in_flight: int = 256) -> tuple[list[float], int, float]:
    """Requests started at a fixed rate (not when the previous one ends), so a slow
    response does not slow the offered load; at most `max_in_flight` outstanding."""
    latencies: list[float] = []
    errors = 0
    async with _session(max_in_flight) as session:
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(max_in_flight)
        pending: set[asyncio.Task[None]] = set()

        async def one() -> None:
            nonlocal errors
            try:
                latency = await _fetch(session, url)
            finally:
                slots.release()
            if latency is None:
                errors += 1
            else:
                latencies.append(latency)

        started = loop.time()
        for index in range(int(rate * duration)):
            delay = started + index / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots.acquire()
            task = asyncio.create_task(one())
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
        return latencies, errors, loop.time() - started


def python_throughput(scenario: str, url: str, connections: int, duration: int) -> Result:
    asyncio.run(_closed_loop(url, connections, WARMUP_S))
    latencies, errors, elapsed = asyncio.run(_closed_loop(url, connections, duration))
    return _result(scenario, latencies, errors, elapsed)


def python_paced(scenario: str, url: str, rate: float, duration: int) -> Result:
    asyncio.run(_open_loop(url, rate, WARMUP_S))
    latencies, errors, elapsed = asyncio.run(_open_loop(url, rate, duration))
    return _result(scenario, latencies, errors, elapsed)


_WRK_UNITS: Final = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_WRK_PERCENTILE: Final = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_WRK_RPS: Final = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_WRK_TOTAL: Final = re.compile(r"^\s*(\d+) requests in", re.M)
_WRK_SOCKET: Final = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_WRK_NON_2XX: Final = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def _wrk(wrk: str, url: str, connections: int, duration: int) -> str:
    threads = max(1, min(connections, os.cpu_count() or 1, 4))
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          timeout=duration + 30)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def parse_wrk(scenario: str, output: str) -> Result:
    percentiles = {
        int(point): float(value) * _WRK_UNITS[unit]
        for point, value, unit in _WRK_PERCENTILE.findall(output)
    }
    rps, total = _WRK_RPS.search(output), _WRK_TOTAL.search(output)
    if rps is None or total is None or set(percentiles) != {50, 99}:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    errors = sum(int(n) for match in _WRK_SOCKET.finditer(output) for n in match.groups())
    errors += sum(int(n) for n in _WRK_NON_2XX.findall(output))
    return Result(scenario, float(rps.group(1)), percentiles[50], percentiles[99],
                  int(total.group(1)), errors)


def wrk_throughput(wrk: str, scenario: str, url: str, connections: int, duration: int) -> Result:
    _wrk(wrk, url, connections, WARMUP_S)
    return parse_wrk(scenario, _wrk(wrk, url, connections, duration))


# --------------------------------------------------------------------------- reporting


@dataclass(frozen=True, slots=True)
class Report:
    machine: list[tuple[str, str]]
    rows: list[tuple[Result, float | None]]  # result, gateway/direct throughput ratio
    targets: list[tuple[str, str, str, bool]]  # what, measured, goal, met


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(tool: Tool, connections: int, duration: int) -> list[tuple[str, str]]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    load = (f"wrk, {connections} connections" if tool == "wrk"
            else f"Python asyncio + aiohttp loop, {connections} concurrent requests (the "
            "client saturates near the direct upstream's rate: direct rows may be "
            "client-bound, ratios optimistic; install wrk)")
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return [
        ("CPU", cpu_model()),
        ("cores", f"{os.cpu_count()} ({usable} usable), shared by load generator, "
                  "upstream and gateway"),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()}), "
                   f"uvicorn {uvicorn.__version__} ({loop}, {parser}), "
                   f"aiohttp {aiohttp.__version__}"),
        ("OS", platform.platform()),
        ("throughput", f"{load}, {duration} s per scenario after {WARMUP_S} s warm-up"),
        ("half load", "Python loop at a fixed rate (open loop)"),
    ]


def _fmt(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def table_rows(report: Report) -> list[list[str]]:
    rows = []
    for result, ratio in report.rows:
        note = f" ({result.errors} errors)" if result.errors else ""
        rows.append([
            result.scenario + note,
            _fmt(result.rps, 0),
            _fmt(result.p50_ms, 2),
            _fmt(result.p99_ms, 2),
            f"{ratio:.2f}×" if ratio is not None else "",
        ])
    return rows


HEADER: Final = ["scenario", "requests/s", "p50 ms", "p99 ms", "gateway/direct"]
TARGET_HEADER: Final = ["target", "measured", "goal", "result"]


def _text_table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def _target_rows(report: Report) -> list[list[str]]:
    return [[what, measured, goal, "met" if met else "MISSED"]
            for what, measured, goal, met in report.targets]


def render_text(report: Report) -> str:
    width = max(len(key) for key, _ in report.machine)
    lines = [f"{key.ljust(width)}  {value}" for key, value in report.machine]
    return "\n\n".join([
        "\n".join(lines),
        _text_table(HEADER, table_rows(report), right={1, 2, 3, 4}),
        _text_table(TARGET_HEADER, _target_rows(report), right=set()),
    ])


def _markdown_table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    align = ["---:" if i in right else "---" for i in range(len(header))]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in [header, align, *rows])


def render_markdown(report: Report) -> str:
    machine_lines = "\n".join(f"- **{key}**: {value}" for key, value in report.machine)
    return (
        f"{machine_lines}\n\n"
        f"{_markdown_table(HEADER, table_rows(report), right={1, 2, 3, 4})}\n\n"
        f"{_markdown_table(TARGET_HEADER, _target_rows(report), right=set())}\n"
    )


# --------------------------------------------------------------------------- the run


def run(tool: Tool, connections: int, duration: int, log: Path) -> Report:
    wrk = shutil.which("wrk")
    upstream: Child | None = None
    gateway: Child | None = None
    try:
        upstream, direct_url = start_upstream(log)
        gateway, gateway_url = start_gateway(log, direct_url)
        sizes = check_paths(direct_url, gateway_url)
        print(f"upstream pid {upstream.pid} at {direct_url}, gateway pid {gateway.pid} at "
              f"{gateway_url}; /asset.js {sizes[0]:,} B, /page.html {sizes[1]:,} B "
              f"({sizes[2]:,} B with the banner)", flush=True)

        def throughput(scenario: str, url: str) -> Result:
            print(f"  {scenario} …", flush=True)
            if tool == "wrk" and wrk is not None:
                return wrk_throughput(wrk, scenario, url, connections, duration)
            return python_throughput(scenario, url, connections, duration)

        asset_direct = throughput(f"pass-through {ASSET_PATH}, direct", direct_url + ASSET_PATH)
        asset_gw = throughput(f"pass-through {ASSET_PATH}, gateway", gateway_url + ASSET_PATH)
        page_direct = throughput(f"HTML {PAGE_PATH}, direct", direct_url + PAGE_PATH)
        page_gw = throughput(f"HTML {PAGE_PATH}, gateway", gateway_url + PAGE_PATH)

        rate = max(1.0, round(page_gw.rps / 2))
        print(f"  HTML at {rate:,.0f} req/s (half the gateway's), direct and gateway …",
              flush=True)
        half_direct = python_paced(f"HTML at {rate:,.0f} req/s, direct",
                                   direct_url + PAGE_PATH, rate, duration)
        half_gw = python_paced(f"HTML at {rate:,.0f} req/s, gateway",
                               gateway_url + PAGE_PATH, rate, duration)
    finally:
        for child in (gateway, upstream):
            if child is not None:
                child.stop()

    pass_ratio = asset_gw.rps / asset_direct.rps
    html_ratio = page_gw.rps / page_direct.rps
    added_p50 = half_gw.p50_ms - half_direct.p50_ms
    return Report(
        machine=machine(tool, connections, duration),
        rows=[
            (asset_direct, None), (asset_gw, pass_ratio),
            (page_direct, None), (page_gw, html_ratio),
            (half_direct, None), (half_gw, None),
        ],
        targets=[
            ("pass-through throughput, gateway/direct", f"{pass_ratio:.2f}×",
             f"≥ {TARGET_PASS_THROUGH}×", pass_ratio >= TARGET_PASS_THROUGH),
            ("HTML throughput, gateway/direct", f"{html_ratio:.2f}×",
             f"≥ {TARGET_HTML}×", html_ratio >= TARGET_HTML),
            (f"added p50 at half load ({rate:,.0f} req/s)", f"{added_p50:+.2f} ms",
             f"≤ {TARGET_ADDED_P50_MS:g} ms", added_p50 <= TARGET_ADDED_P50_MS),
        ],
    )


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.proxy",
        description="The gateway in front of a Starlette site, against the site direct.",
    )
    parser.add_argument("--duration", type=_positive_int, default=8, metavar="S",
                        help="seconds per measurement, after 1 s warm-up (default 8)")
    parser.add_argument("--connections", type=_positive_int, default=32, metavar="N",
                        help="concurrent connections for the throughput runs (default 32)")
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator for the throughput runs (default: wrk if it is "
                        "on the PATH, else the Python loop)")
    parser.add_argument("--markdown", type=Path, metavar="PATH",
                        help="also write the results as markdown to PATH")
    return parser


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through `finally`: children are stopped


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.tool == "wrk" and shutil.which("wrk") is None:
        print("wrk is not on the PATH (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    tool: Tool = "python" if args.tool == "python" or shutil.which("wrk") is None else "wrk"
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as workdir:
        try:
            report = run(tool, args.connections, args.duration, Path(workdir))
        except KeyboardInterrupt:
            print("interrupted; child processes stopped", file=sys.stderr)
            return 130
        except RuntimeError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
    print()
    print(render_text(report))
    if args.markdown:
        args.markdown.write_text(render_markdown(report), encoding="utf-8")
        print(f"\nwrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
