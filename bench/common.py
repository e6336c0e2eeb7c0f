"""What the benchmarks share: child servers on free 127.0.0.1 ports, the two load generators
(wrk, or a bounded asyncio + aiohttp loop), the results table with targets, and the command
line around a run. Each benchmark module keeps only its own servers and scenarios."""

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
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Final, Literal

import aiohttp
import uvicorn

REPO: Final = Path(__file__).resolve().parent.parent
CONFIG: Final = Path("config") / "gateway.toml"
SECRET_KEY: Final = "bench-secret-key-0123456789abcdefghijklm"  # 40 characters
WARMUP_S: Final = 1

Tool = Literal["wrk", "python"]


# --------------------------------------------------------------------------- child processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Child:
    """A server in a child process (own session: Ctrl-C reaches only us, we stop it)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path,
                 cwd: Path = REPO) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log = log
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, ready_url: str, timeout: float = 30.0) -> None:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.command, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT,
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
        """SIGTERM (the gateway flushes its write buffers on it), SIGKILL after 10 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_uvicorn(name: str, factory: str, workdir: Path, ready_path: str) -> tuple[Child, str]:
    """A plain uvicorn + Starlette server (one worker) from an app factory in bench/."""
    port = free_port()
    child = Child(
        name,
        [sys.executable, "-m", "uvicorn", factory, "--factory",
         "--app-dir", str(REPO), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--no-access-log", "--log-level", "warning"],
        dict(os.environ),
        workdir / f"{name}.log",
    )
    url = f"http://127.0.0.1:{port}"
    child.start(url + ready_path)
    return child, url


def start_gateway(workdir: Path, *args: str, cwd: Path = REPO,
                  env: Mapping[str, str] | None = None) -> tuple[Child, str]:
    """`consent-gateway serve` with the example config, its database in `workdir`; `env`
    adds or overrides variables (`GATEWAY_*` settings)."""
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_SERVER_SECRET_KEYS": SECRET_KEY,
        "GATEWAY_STORAGE_PATH": str(workdir / "gateway.sqlite3"),
        # All load comes from one client (127.0.0.1): per-client limits would measure 429s.
        "GATEWAY_ABUSE_ENABLED": "false",
        **(env or {}),
    }
    child = Child(
        "gateway",
        [sys.executable, "-m", "gateway", "serve", "--config", str(REPO / CONFIG),
         "--port", str(port), *args],
        env,
        workdir / "gateway.log",
        cwd=cwd,
    )
    url = f"http://127.0.0.1:{port}"
    child.start(url + "/_consent/health")
    return child, url


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


def result_of(scenario: str, latencies: list[float], errors: int, elapsed: float) -> Result:
    latencies.sort()
    return Result(
        scenario=scenario,
        rps=len(latencies) / elapsed if elapsed > 0 else 0.0,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        requests=len(latencies),
        errors=errors,
    )


def client_session(connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),  # no cookie is kept: each request says its own
        timeout=aiohttp.ClientTimeout(total=10),
    )


# One request on the session: its latency in seconds, or None if it failed.
Send = Callable[[aiohttp.ClientSession], Awaitable[float | None]]


async def closed_loop(send: Send, connections: int,
                      duration: float) -> tuple[list[float], int, float]:
    """`connections` workers, each sending its next request when the last one is answered,
    until `duration` has passed; requests under way then are finished, not abandoned."""
    latencies: list[float] = []
    errors = 0
    async with client_session(connections) as session:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + duration

        async def worker() -> None:
            nonlocal errors
            while loop.time() < deadline:
                latency = await send(session)
                if latency is None:
                    errors += 1
                else:
                    latencies.append(latency)

        await asyncio.gather(*(worker() for _ in range(connections)))
        return latencies, errors, loop.time() - started


def python_throughput(scenario: str, send: Send, connections: int, duration: int) -> Result:
    asyncio.run(closed_loop(send, connections, WARMUP_S))
    latencies, errors, elapsed = asyncio.run(closed_loop(send, connections, duration))
    return result_of(scenario, latencies, errors, elapsed)


_WRK_UNITS: Final = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_WRK_PERCENTILE: Final = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_WRK_RPS: Final = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_WRK_TOTAL: Final = re.compile(r"^\s*(\d+) requests in", re.M)
_WRK_SOCKET: Final = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_WRK_NON_2XX: Final = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def run_wrk(wrk: str, url: str, connections: int, duration: int, *,
            script: Path | None = None, script_args: Sequence[str] = ()) -> str:
    """One wrk run; its output. `script_args` go to the Lua script's `init(args)`."""
    threads = max(1, min(connections, os.cpu_count() or 1, 4))
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    command += [url, *(["--", *script_args] if script_args else [])]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          timeout=duration + 30)
    # A script that does not load only earns a line on stderr; wrk then sends plain GETs.
    if done.returncode != 0 or (script is not None and done.stderr.strip()):
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


# --------------------------------------------------------------------------- processes


def proc_status(pid: int | str = "self") -> dict[str, float]:
    """`VmRSS`, `VmHWM` (peak RSS) and the other `Vm*` lines of /proc/PID/status, in MB."""
    sizes = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.startswith("Vm") and value.strip().endswith("kB"):
            sizes[key] = int(value.split()[0]) / 1024
    return sizes


def open_fds(pid: int | str = "self") -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# --------------------------------------------------------------------------- reporting


@dataclass(frozen=True, slots=True)
class Line:
    """One row of the summary: a figure of the gateway beside its baseline, measured in the
    same run, and the target it is held to (`met` None: no target, context only)."""

    scenario: str
    baseline: str
    gateway: str
    ratio: str
    target: str = ""
    met: bool | None = None


def ratio_line(scenario: str, baseline: float, gateway: float, unit: str, *,
               baseline_label: str = "", goal: float | None = None, digits: int = 0) -> Line:
    """A throughput-like figure (more is better): ratio gateway/baseline against `goal`."""
    ratio = gateway / baseline if baseline else 0.0
    label = f" {baseline_label}" if baseline_label else ""
    return Line(scenario, f"{_fmt(baseline, digits)} {unit}{label}",
                f"{_fmt(gateway, digits)} {unit}", f"{ratio:.2f}×",
                f"≥ {goal:g}×" if goal is not None else "",
                ratio >= goal if goal is not None else None)


@dataclass(frozen=True, slots=True)
class Report:
    machine: list[tuple[str, str]]
    rows: list[tuple[Result, float | None]]  # result, throughput ratio to its baseline
    summary: list[Line]  # the figures that count, with their targets
    ratio_header: str = "gateway/direct"
    notes: list[str] = field(default_factory=list)  # findings beside the targets


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _distribution() -> str:
    try:
        release = platform.freedesktop_os_release()
        return release.get("PRETTY_NAME") or release.get("NAME", "")
    except OSError:
        return platform.system()


def wrk_version() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        return "not installed (the Python load generator is used)"
    done = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False, timeout=10)
    first = (done.stdout or done.stderr).strip().splitlines()
    return " ".join(first[0].split()[:3]) if first else wrk


def revision() -> str:
    """Now, and the commit checked out (and whether `gateway/` differs from it)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=False, timeout=10)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " with uncommitted changes" if git("status", "--porcelain", "--", "gateway") else ""
    return f"{time.strftime('%Y-%m-%d %H:%M %Z')}, commit {commit}{dirty}"


def machine(sharing: str) -> list[tuple[str, str]]:
    """CPU, cores, memory, Python, SQLite, OS and wrk; `sharing` names what runs on the cores."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return [
        ("CPU", cpu_model()),
        ("cores", f"{os.cpu_count()} ({usable} usable), shared by {sharing}"),
        ("RAM", _memory()),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()}), "
                   f"uvicorn {uvicorn.__version__} ({loop}, {parser}), "
                   f"aiohttp {aiohttp.__version__}"),
        ("SQLite", sqlite3.sqlite_version),
        ("OS", f"{_distribution()}, kernel {platform.release()} ({platform.machine()})"),
        ("wrk", wrk_version()),
    ]


def _fmt(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def _has_ratios(report: Report) -> bool:
    return any(ratio is not None for _, ratio in report.rows)


def table_rows(report: Report) -> list[list[str]]:
    rows = []
    for result, ratio in report.rows:
        note = f" ({result.errors} errors)" if result.errors else ""
        cells = [result.scenario + note, _fmt(result.rps, 0 if result.rps >= 10 else 2),
                 _fmt(result.p50_ms, 2),
                 _fmt(result.p99_ms, 2)]
        if _has_ratios(report):
            cells.append(f"{ratio:.2f}×" if ratio is not None else "")
        rows.append(cells)
    return rows


def _header(report: Report) -> list[str]:
    ratio = [report.ratio_header] if _has_ratios(report) else []
    return ["scenario", "requests/s", "p50 ms", "p99 ms", *ratio]


SUMMARY_HEADER: Final = ["scenario", "baseline", "gateway", "ratio", "target", "result"]
_SUMMARY_RIGHT: Final = {1, 2, 3}


def summary_rows(lines: Sequence[Line]) -> list[list[str]]:
    verdict = {True: "met", False: "MISSED", None: "—"}
    return [[line.scenario, line.baseline, line.gateway, line.ratio, line.target or "—",
             verdict[line.met]] for line in lines]


def _text_table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def text_machine(entries: Sequence[tuple[str, str]]) -> str:
    width = max(len(key) for key, _ in entries)
    return "\n".join(f"{key.ljust(width)}  {value}" for key, value in entries)


def text_summary(lines: Sequence[Line]) -> str:
    return _text_table(SUMMARY_HEADER, summary_rows(lines), right=_SUMMARY_RIGHT)


def render_text(report: Report, *, with_machine: bool = True) -> str:
    parts = [text_machine(report.machine)] if with_machine else []
    if report.rows:
        parts.append(_text_table(_header(report), table_rows(report), right={1, 2, 3, 4}))
    if report.summary:
        parts.append(text_summary(report.summary))
    return "\n\n".join([*parts, *report.notes])


def _markdown_table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    align = ["---:" if i in right else "---" for i in range(len(header))]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in [header, align, *rows])


def markdown_machine(entries: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"- **{key}**: {value}" for key, value in entries)


def markdown_summary(lines: Sequence[Line]) -> str:
    return _markdown_table(SUMMARY_HEADER, summary_rows(lines), right=_SUMMARY_RIGHT)


def render_markdown(report: Report, *, with_machine: bool = True) -> str:
    parts = [markdown_machine(report.machine)] if with_machine else []
    if report.rows:
        parts.append(_markdown_table(_header(report), table_rows(report), right={1, 2, 3, 4}))
    if report.summary:
        parts.append(markdown_summary(report.summary))
    return "\n\n".join([*parts, *report.notes]) + "\n"


def write_markdown_section(path: Path, name: str, content: str, *, title: str) -> None:
    """Put `content` between `<!-- bench:NAME begin/end -->` in `path`, leaving the rest of
    the file (written by hand) as it is; a file or section not there yet is created."""
    begin, end = f"<!-- bench:{name} begin -->", f"<!-- bench:{name} end -->"
    block = f"{begin}\n{content.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else f"# {title}\n"
    if begin in text and end in text:
        before, _, rest = text.partition(begin)
        _, _, after = rest.partition(end)
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- the command line


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes; a module may add its own."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--duration", type=positive_int, default=8, metavar="S",
                        help="seconds per measurement, after 1 s warm-up (default 8)")
    parser.add_argument("--connections", type=positive_int, default=32, metavar="N",
                        help="concurrent connections for the throughput runs (default 32)")
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator for the throughput runs (default: wrk if it is "
                        "on the PATH, else the Python loop)")
    parser.add_argument("--markdown", type=Path, metavar="PATH",
                        help="also write the results as markdown to PATH")
    return parser


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through `finally`: children are stopped


def stop_children_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)


def choose_tool(choice: str) -> Tool | None:
    """The load generator for `--tool`; None (after saying why) if wrk is asked for but absent."""
    if choice == "wrk" and shutil.which("wrk") is None:
        print("wrk is not on the PATH (Debian: apt-get install wrk)", file=sys.stderr)
        return None
    return "python" if choice == "python" or shutil.which("wrk") is None else "wrk"


Run = Callable[[Tool, int, int, Path], Report]  # tool, connections, duration, work folder


def main(args: argparse.Namespace, run: Run, *, name: str) -> int:
    """Run a benchmark in a temporary folder and print its report; with `--markdown PATH`,
    write it between `<!-- bench:NAME begin/end -->` in PATH (the rest of PATH stays)."""
    tool = choose_tool(args.tool)
    if tool is None:
        return 2

    def write(report: Report) -> None:
        if args.markdown is not None:
            write_markdown_section(args.markdown, name, f"### Run (`python -m bench.{name}`)\n\n"
                                   + render_markdown(report), title="Benchmarks")
            print(f"\nwrote {args.markdown}")

    return run_and_print(
        name, lambda workdir: run(tool, args.connections, args.duration, workdir), write)


def command(argv: Sequence[str] | None, run: Run, *, name: str, description: str) -> int:
    """`main` of a benchmark that takes only the common options."""
    return main(parser(f"python -m bench.{name}", description).parse_args(argv), run,
                name=name)


def run_and_print(
    name: str, run: Callable[[Path], Report], write: Callable[[Report], None]
) -> int:
    """The frame of every benchmark's `main`: children stopped on SIGTERM, a temporary work
    folder, an exit code for Ctrl-C (130) or a failed run (1), the report printed, then
    `write` (the markdown, when asked for)."""
    stop_children_on_sigterm()
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as workdir:
        try:
            report = run(Path(workdir))
        except KeyboardInterrupt:
            print("interrupted; child processes stopped", file=sys.stderr)
            return 130
        except RuntimeError as exc:
            print(f"{name} failed: {exc}", file=sys.stderr)
            return 1
    print()
    print(render_text(report))
    write(report)
    return 0


def write_report(path: Path | None, content: str) -> None:
    if path is not None:
        path.write_text(content, encoding="utf-8")
        print(f"\nwrote {path}")
