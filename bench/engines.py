"""Engine comparison (issue 19 item 1): which ASGI server and which upstream client.

Run from the repository root (about three minutes; it is not a test):

    .venv/bin/python -m bench.engines [--duration S] [--connections N] [--tool auto|wrk|python]
                                      [--markdown PATH]

In one run, in front of `bench.proxy`'s upstream (uvicorn + Starlette, one worker), each
variant is started on 127.0.0.1 and loaded with the same generator as `bench.proxy` (wrk, else
the Python loop), one after the other:

1. **the server**: the same gateway app (`gateway.app:app_from_environment`, the example
   config, one worker) under uvicorn with httptools and uvloop (`consent-gateway serve`, as
   shipped) and under granian (`--interface asgi --loop uvloop`), on the pass-through and
   the HTML path;
2. **the upstream client**: the bare proxy of `bench/baselines.py` (relays and nothing
   else, under uvicorn) on aiohttp (the gateway's), pyreqwest, aiosonic and httpx, on the
   pass-through path: the client is most of what a bare proxy costs.

Each row's ratio is to the upstream served directly in the same run. `--markdown PATH` writes
the results between `<!-- bench:engines begin/end -->` in PATH (docs/benchmarks.md).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Final

from bench import baselines, common, proxy
from bench.common import CONFIG, REPO, SECRET_KEY, Child, Report, Result, Tool, free_port
from bench.proxy import ASSET_PATH, PAGE_PATH

GRANIAN: Final = "granian"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def start_granian_gateway(workdir: Path, upstream: str) -> tuple[Child, str]:
    """The gateway app under granian, configured exactly as `start_gateway` configures
    `serve` (same config file, database folder, secret and upstream)."""
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_CONFIG": str(REPO / CONFIG),
        "GATEWAY_SERVER_SECRET_KEYS": SECRET_KEY,
        "GATEWAY_STORAGE_PATH": str(workdir / "granian.sqlite3"),
        "GATEWAY_ABUSE_ENABLED": "false",
        "GATEWAY_SITES_DEMO_UPSTREAM": upstream  # the example config's site,
    }
    child = Child(
        "granian",
        [sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--loop", "uvloop",
         "--no-access-log", "--log-level", "warning", "gateway.app:app_from_environment"],
        env, workdir / "granian.log",
    )
    url = f"http://127.0.0.1:{port}"
    child.start(url + "/_consent/health")
    return child, url


def run(tool: Tool, connections: int, duration: int, workdir: Path) -> Report:
    wrk = shutil.which("wrk")

    def throughput(scenario: str, url: str) -> Result:
        print(f"  {scenario} …", flush=True)
        if tool == "wrk" and wrk is not None:
            return proxy.wrk_throughput(wrk, scenario, url, connections, duration)
        return common.python_throughput(scenario, partial(proxy.fetch, url=url), connections,
                                        duration)

    children: list[Child] = []

    def started(pair: tuple[Child, str]) -> str:
        children.append(pair[0])
        return pair[1]

    rows: list[tuple[Result, float | None]] = []
    try:
        direct = started(proxy.start_upstream(workdir))
        asset_direct = throughput(f"{ASSET_PATH}, direct", direct + ASSET_PATH)
        page_direct = throughput(f"{PAGE_PATH}, direct", direct + PAGE_PATH)
        rows += [(asset_direct, None), (page_direct, None)]
        servers: list[tuple[str, Callable[[], tuple[Child, str]]]] = [
            ("uvicorn", lambda: common.start_gateway(workdir, "--upstream", direct)),
            (GRANIAN, lambda: start_granian_gateway(workdir, direct)),
        ]
        for name, start in servers:
            if name == GRANIAN and _version(GRANIAN) == "not installed":
                continue
            child, url = start()
            children.append(child)
            proxy.check_paths(direct, url)
            asset = throughput(f"{ASSET_PATH}, gateway on {name}", url + ASSET_PATH)
            page = throughput(f"{PAGE_PATH}, gateway on {name}", url + PAGE_PATH)
            child.stop()
            rows += [(asset, asset.rps / asset_direct.rps), (page, page.rps / page_direct.rps)]
        for client in baselines.CLIENTS:
            if _version(client) == "not installed":
                continue
            child, url = baselines.start_bare_proxy(workdir, direct, client=client,
                                                    ready_path=ASSET_PATH)
            children.append(child)
            asset = throughput(f"{ASSET_PATH}, bare proxy on {client}", url + ASSET_PATH)
            child.stop()
            rows.append((asset, asset.rps / asset_direct.rps))
    finally:
        for child in reversed(children):
            child.stop()
    return Report(machine=machine(tool, connections, duration), rows=rows, summary=[])


def machine(tool: Tool, connections: int, duration: int) -> list[tuple[str, str]]:
    load = (f"wrk, {connections} connections" if tool == "wrk"
            else f"Python asyncio + aiohttp loop, {connections} concurrent requests")
    versions = ", ".join(f"{name} {_version(name)}" for name in
                         ("uvicorn", GRANIAN, *baselines.CLIENTS))
    return [
        *common.machine("load generator, upstream and the variant measured"),
        ("load", f"{load}, {duration} s per row after {common.WARMUP_S} s warm-up; "
                 f"started {common.revision()}; load average before it "
                 f"{', '.join(f'{n:.2f}' for n in os.getloadavg())}"),
        ("versions", versions),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    return common.command(argv, run, name="engines", description="The gateway on uvicorn and "
                          "granian; a bare proxy on each client.")


if __name__ == "__main__":
    sys.exit(main())
