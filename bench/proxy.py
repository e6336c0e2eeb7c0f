"""Proxy benchmark: the gateway in front of a plain Starlette site, against the site direct.

Run from the repository root (it is not a test, and takes about a minute):

    .venv/bin/python -m bench.proxy [--duration S] [--connections N] [--tool auto|wrk|python]
                                    [--markdown PATH]

It starts child processes on 127.0.0.1 — an upstream (uvicorn + Starlette, one worker)
serving `/asset.js` (~20 KB JavaScript: the pass-through path) and `/page.html` (~30 KB HTML:
the rewrite + banner-injection path), and in front of it `consent-gateway serve --upstream`
with one and with two workers, the bare Python proxy of `bench/baselines.py` (aiohttp, relays
and nothing else: what any Python proxy costs) and, when `nginx` is installed, nginx
`proxy_pass` with one worker (the C limit; without nginx its column is left out) — then
measures each path direct and through each proxy, side by side in the same run:

1. throughput (closed loop, N connections): requests/s, p50, p99, with `wrk` when it is on the
   PATH, else a bounded asyncio + aiohttp loop;
2. latency at half the one-worker gateway's measured HTML throughput (open loop, fixed rate,
   always the Python loop: plain wrk cannot hold a rate): the p50 the gateway adds to a page.

The targets are held by the one-worker gateway (the other columns are context).
`--markdown PATH` writes the results between `<!-- bench:proxy begin/end -->` in PATH.

Every measurement is preceded by one second of warm-up. Load generator, upstream and gateway
share the machine, so absolute figures understate a real deployment; the ratios are the point.
Child processes are always stopped, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Final

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench import baselines, common
from bench.common import (
    WARMUP_S,
    Child,
    Line,
    Report,
    Result,
    Tool,
    client_session,
    parse_wrk,
    python_throughput,
    ratio_line,
    result_of,
    run_wrk,
    start_gateway,
    start_uvicorn,
)

ASSET_PATH: Final = "/asset.js"
PAGE_PATH: Final = "/page.html"
ASSET_BYTES: Final = 20 * 1024
PAGE_BYTES: Final = 30 * 1024
INJECTED_MARKER: Final = b'id="consent-gateway"'
GATEWAY: Final = "gateway"  # the column the targets are held to: one worker

# Targets: gateway/direct throughput, and the p50 the gateway may add at half load.
TARGET_PASS_THROUGH: Final = 0.35
TARGET_HTML: Final = 0.2
TARGET_ADDED_P50_MS: Final = 1.0


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


def start_upstream(workdir: Path) -> tuple[Child, str]:
    return start_uvicorn("upstream", "bench.proxy:upstream_app", workdir, ASSET_PATH)


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


async def fetch(session: aiohttp.ClientSession, url: str) -> float | None:
    """One GET, body read whole; its latency in seconds, or None if it failed."""
    started = time.perf_counter()
    try:
        async with session.get(url) as response:
            await response.read()
            ok = response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return None
    return time.perf_counter() - started if ok else None


async def _open_loop(url: str, rate: float, duration: float,
                     max_in_flight: int = 256) -> tuple[list[float], int, float]:
    """Requests started at a fixed rate (not when the previous one ends), so a slow
    response does not slow the offered load; at most `max_in_flight` outstanding."""
    latencies: list[float] = []
    errors = 0
    async with client_session(max_in_flight) as session:
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(max_in_flight)
        pending: set[asyncio.Task[None]] = set()

        async def one() -> None:
            nonlocal errors
            try:
                latency = await fetch(session, url)
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


def python_paced(scenario: str, url: str, rate: float, duration: int) -> Result:
    asyncio.run(_open_loop(url, rate, WARMUP_S))
    latencies, errors, elapsed = asyncio.run(_open_loop(url, rate, duration))
    return result_of(scenario, latencies, errors, elapsed)


def wrk_throughput(wrk: str, scenario: str, url: str, connections: int, duration: int) -> Result:
    run_wrk(wrk, url, connections, WARMUP_S)
    return parse_wrk(scenario, run_wrk(wrk, url, connections, duration))


# --------------------------------------------------------------------------- reporting


def machine(tool: Tool, connections: int, duration: int) -> list[tuple[str, str]]:
    load = (f"wrk, {connections} connections" if tool == "wrk"
            else f"Python asyncio + aiohttp loop, {connections} concurrent requests (the "
            "client saturates near the direct upstream's rate: direct rows may be "
            "client-bound, ratios optimistic; install wrk)")
    return [
        *common.machine("load generator, upstream and gateway"),
        ("throughput", f"{load}, {duration} s per scenario after {WARMUP_S} s warm-up"),
        ("half load", "Python loop at a fixed rate (open loop)"),
    ]


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True, slots=True)
class Column:
    """One server both paths are measured through."""

    name: str
    url: str
    pid: int


def start_columns(log: Path, direct_url: str) -> tuple[list[Child], list[Column]]:
    """Everything measured beside the upstream: the gateway with one and two workers, the bare
    Python proxy and nginx (when installed), each checked before it is measured."""
    children: list[Child] = []
    columns: list[Column] = []
    starts: list[tuple[str, Callable[[], tuple[Child, str] | None]]] = [
        (GATEWAY, lambda: start_gateway(log, "--upstream", direct_url, "--workers", "1")),
        ("gateway, 2 workers", lambda: start_gateway(
            log, "--upstream", direct_url, "--workers", "2")),
        ("bare Python proxy", lambda: baselines.start_bare_proxy(log, direct_url,
                                                                 ready_path=ASSET_PATH)),
        ("nginx", lambda: baselines.start_nginx(log, direct_url)),
    ]
    for name, start in starts:
        started = start()
        if started is None:
            print(f"  {name}: not installed, column left out", flush=True)
            continue
        children.append(started[0])
        columns.append(Column(name, started[1], started[0].pid))
    for column in columns:
        if column.name.startswith(GATEWAY):
            check_paths(direct_url, column.url)
    return children, columns


def side_by_side(direct: dict[str, Result], through: dict[tuple[str, str], Result],
                 columns: list[Column]) -> str:
    """Requests/s per path and server, each with its ratio to direct (markdown table)."""
    header = ["path", "direct", *(column.name for column in columns)]
    rows = []
    for path, base in direct.items():
        cells = [path, f"{base.rps:,.0f}"]
        for column in columns:
            result = through[path, column.name]
            cells.append(f"{result.rps:,.0f} ({result.rps / base.rps:.2f}×)")
        rows.append(cells)
    lines = [header, ["---", *["---:"] * (len(header) - 1)], *rows]
    return ("Requests/s side by side (ratio to direct):\n\n"
            + "\n".join("| " + " | ".join(cells) + " |" for cells in lines))


def run(tool: Tool, connections: int, duration: int, log: Path) -> Report:
    wrk = shutil.which("wrk")
    children: list[Child] = []
    try:
        upstream, direct_url = start_upstream(log)
        children.append(upstream)
        started, columns = start_columns(log, direct_url)
        children += started
        sizes = check_paths(direct_url, columns[0].url)
        print(f"upstream at {direct_url}; "
              f"{', '.join(f'{c.name} pid {c.pid}' for c in columns)}; "
              f"/asset.js {sizes[0]:,} B, /page.html {sizes[1]:,} B "
              f"({sizes[2]:,} B with the banner)", flush=True)

        def throughput(scenario: str, url: str) -> Result:
            print(f"  {scenario} …", flush=True)
            if tool == "wrk" and wrk is not None:
                return wrk_throughput(wrk, scenario, url, connections, duration)
            return python_throughput(scenario, partial(fetch, url=url), connections,
                                     duration)

        paths = {f"pass-through {ASSET_PATH}": ASSET_PATH, f"HTML {PAGE_PATH}": PAGE_PATH}
        direct: dict[str, Result] = {}
        through: dict[tuple[str, str], Result] = {}
        rows: list[tuple[Result, float | None]] = []
        for label, path in paths.items():
            direct[label] = throughput(f"{label}, direct", direct_url + path)
            rows.append((direct[label], None))
            for column in columns:
                result = throughput(f"{label}, {column.name}", column.url + path)
                through[label, column.name] = result
                rows.append((result, result.rps / direct[label].rps))

        page_gw = through[f"HTML {PAGE_PATH}", GATEWAY]
        rate = max(1.0, round(page_gw.rps / 2))
        print(f"  HTML at {rate:,.0f} req/s (half the gateway's), direct and gateway …",
              flush=True)
        half_direct = python_paced(f"HTML at {rate:,.0f} req/s, direct",
                                   direct_url + PAGE_PATH, rate, duration)
        half_gw = python_paced(f"HTML at {rate:,.0f} req/s, {GATEWAY}",
                               columns[0].url + PAGE_PATH, rate, duration)
        rows += [(half_direct, None), (half_gw, None)]
    finally:
        for child in reversed(children):
            child.stop()

    return Report(
        machine=machine(tool, connections, duration),
        rows=rows,
        summary=summary(direct, through, columns, half_direct, half_gw, rate),
        notes=[side_by_side(direct, through, columns)],
    )


def summary(direct: dict[str, Result], through: dict[tuple[str, str], Result],
            columns: list[Column], half_direct: Result, half_gw: Result,
            rate: float) -> list[Line]:
    asset, page = f"pass-through {ASSET_PATH}", f"HTML {PAGE_PATH}"
    added_p50 = half_gw.p50_ms - half_direct.p50_ms
    lines = [
        ratio_line(f"{asset} (~20 KB JS)", direct[asset].rps, through[asset, GATEWAY].rps,
                   "req/s", baseline_label="direct", goal=TARGET_PASS_THROUGH),
        ratio_line(f"{page} (~30 KB, banner injected)", direct[page].rps,
                   through[page, GATEWAY].rps, "req/s", baseline_label="direct",
                   goal=TARGET_HTML),
        Line(f"HTML p50 at half load ({rate:,.0f} req/s)",
             f"{half_direct.p50_ms:.2f} ms direct", f"{half_gw.p50_ms:.2f} ms",
             f"{added_p50:+.2f} ms", f"≤ +{TARGET_ADDED_P50_MS:g} ms",
             added_p50 <= TARGET_ADDED_P50_MS),
    ]
    for column in columns[1:]:  # context: the same paths through the other servers
        for label in (asset, page):
            lines.append(ratio_line(f"{label} through {column.name}", direct[label].rps,
                                    through[label, column.name].rps, "req/s",
                                    baseline_label="direct"))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    return common.command(argv, run, name="proxy", description="The gateway in front of a "
                          "Starlette site, against the site direct.")


if __name__ == "__main__":
    sys.exit(main())
