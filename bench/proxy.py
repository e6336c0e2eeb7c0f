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

import asyncio
import shutil
import sys
import time
import urllib.request
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Final

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench import common
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

# Targets: gateway/direct throughput, and the p50 the gateway may add at half load.
TARGET_PASS_THROUGH: Final = 0.5
TARGET_HTML: Final = 0.4
TARGET_ADDED_P50_MS: Final = 2.0


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


def run(tool: Tool, connections: int, duration: int, log: Path) -> Report:
    wrk = shutil.which("wrk")
    upstream: Child | None = None
    gateway: Child | None = None
    try:
        upstream, direct_url = start_upstream(log)
        gateway, gateway_url = start_gateway(log, "--upstream", direct_url)
        sizes = check_paths(direct_url, gateway_url)
        print(f"upstream pid {upstream.pid} at {direct_url}, gateway pid {gateway.pid} at "
              f"{gateway_url}; /asset.js {sizes[0]:,} B, /page.html {sizes[1]:,} B "
              f"({sizes[2]:,} B with the banner)", flush=True)

        def throughput(scenario: str, url: str) -> Result:
            print(f"  {scenario} …", flush=True)
            if tool == "wrk" and wrk is not None:
                return wrk_throughput(wrk, scenario, url, connections, duration)
            return python_throughput(scenario, partial(_fetch, url=url), connections,
                                     duration)

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

    added_p50 = half_gw.p50_ms - half_direct.p50_ms
    return Report(
        machine=machine(tool, connections, duration),
        rows=[
            (asset_direct, None), (asset_gw, asset_gw.rps / asset_direct.rps),
            (page_direct, None), (page_gw, page_gw.rps / page_direct.rps),
            (half_direct, None), (half_gw, None),
        ],
        summary=[
            ratio_line(f"pass-through {ASSET_PATH} (~20 KB JS)", asset_direct.rps, asset_gw.rps,
                       "req/s", baseline_label="direct", goal=TARGET_PASS_THROUGH),
            ratio_line(f"HTML {PAGE_PATH} (~30 KB, banner injected)", page_direct.rps,
                       page_gw.rps, "req/s", baseline_label="direct", goal=TARGET_HTML),
            Line(f"HTML p50 at half load ({rate:,.0f} req/s)",
                 f"{half_direct.p50_ms:.2f} ms direct", f"{half_gw.p50_ms:.2f} ms",
                 f"{added_p50:+.2f} ms", f"≤ +{TARGET_ADDED_P50_MS:g} ms",
                 added_p50 <= TARGET_ADDED_P50_MS),
        ],
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = common.parser(
        "python -m bench.proxy",
        "The gateway in front of a Starlette site, against the site direct.",
    )
    return common.main(parser.parse_args(argv), run, name="proxy")


if __name__ == "__main__":
    sys.exit(main())
