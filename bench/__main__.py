"""`python -m bench`: every benchmark in sequence, one summary table, docs/benchmarks.md.

Runs `bench.proxy`, `bench.ingest`, `bench.components` and `bench.scale` one after the other
(never two at once: they share the machine), then prints a description of the machine, one
table of every figure beside its baseline from the same run with its target, and each
benchmark's absolute figures as context. The full run writes the same as markdown into
`docs/benchmarks.md` (`--markdown PATH` elsewhere), between markers, so the hand-written parts
of that file stay.
`--quick` is a short smoke run (2 s per measurement, 20,000 events) that writes nothing unless
`--markdown` is given. The soak test is separate: `python -m bench.soak`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from bench import common, components, ingest, proxy, scale
from bench.common import REPO, Line, Report, Tool

DEFAULT_MARKDOWN: Final = REPO / "docs" / "benchmarks.md"
DEFAULT_DURATION: Final = 8
QUICK_DURATION: Final = 2
_SHARED_KEYS: Final = {"CPU", "cores", "RAM", "Python", "SQLite", "OS", "wrk"}


def machine(tool: Tool, connections: int, duration: int) -> list[tuple[str, str]]:
    load = (f"wrk, {connections} connections" if tool == "wrk"
            else f"Python asyncio + aiohttp loop, {connections} concurrent requests")
    busy = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    return [
        *common.machine("load generator, upstream or baseline, and gateway (one benchmark "
                        "at a time)"),
        ("load", f"{load}, {duration} s per measurement after {common.WARMUP_S} s warm-up"),
        ("run", f"started {common.revision()}; load average before it {busy} (other work on the "
                "machine lowers every figure)"),
    ]


def _own(report: Report) -> Report:
    """A benchmark's report without the machine lines the whole run already shows."""
    entries = [(key, value) for key, value in report.machine if key not in _SHARED_KEYS]
    return Report(entries, report.rows, [], report.ratio_header, report.notes)


def _detail(title: str, report: Report, render: Callable[..., str]) -> str:
    own = _own(report)
    return f"{title}\n\n" + render(own, with_machine=bool(own.machine))


def main(argv: Sequence[str] | None = None) -> int:
    parser = common.parser("python -m bench", "Every benchmark in sequence; one summary.")
    components.add_arguments(parser)
    parser.set_defaults(duration=None)
    args = parser.parse_args(argv)
    duration = args.duration or (QUICK_DURATION if args.quick else DEFAULT_DURATION)
    markdown = args.markdown or (None if args.quick else DEFAULT_MARKDOWN)
    tool = common.choose_tool(args.tool)
    if tool is None:
        return 2
    common.stop_children_on_sigterm()
    sizes = components.Sizes.of(quick=args.quick, events=args.events)
    runs: list[tuple[str, Callable[[Path], Report]]] = [
        ("bench.proxy", lambda work: proxy.run(tool, args.connections, duration, work)),
        ("bench.ingest", lambda work: ingest.run(tool, args.connections, duration, work)),
        ("bench.components", lambda work: components.run(work, sizes)),
        ("bench.scale", lambda work: scale.run(work, *scale.default_sizes(quick=args.quick),
                                               scale.REQUESTS)),
    ]
    reports: list[tuple[str, Report]] = []
    failed: list[str] = []
    started = time.monotonic()
    described = machine(tool, args.connections, duration)
    for name, run in runs:
        print(f"{name}:", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"{name.replace('.', '-')}-") as workdir:
            try:
                reports.append((name, run(Path(workdir))))
            except KeyboardInterrupt:
                print("interrupted; child processes stopped", file=sys.stderr)
                return 130
            except RuntimeError as exc:
                print(f"{name} failed: {exc}", file=sys.stderr)
                failed.append(f"{name} failed: {str(exc).splitlines()[0]}")
    summary: list[Line] = [line for _, report in reports for line in report.summary]
    entries = [*described,
               ("took", f"{(time.monotonic() - started) / 60:.1f} min")]

    print()
    print("\n\n".join([
        common.text_machine(entries),
        common.text_summary(summary),
        *failed,
        *(_detail(f"--- {name}", report, common.render_text) for name, report in reports),
    ]))
    if markdown is not None:
        content = "\n\n".join([
            "## Summary",
            common.markdown_machine(entries),
            common.markdown_summary(summary),
            *failed,
            *(_detail(f"### `{name}`", report, common.render_markdown)
              for name, report in reports),
        ])
        common.write_markdown_section(markdown, "run", content, title="Benchmarks")
        print(f"\nwrote {markdown}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
