"""Blocker micro-benchmark: `ScriptBlocker` in process, against its tag-by-tag reference.

Run from the repository root (a few seconds, no servers):

    .venv/bin/python -m bench.blocker [--repeat N] [--chunk BYTES]

It rewrites a few pages of about 30 KB with the rules of the example config (the tracker
catalogue and `[[blocking.rules]]`) and no consent granted (what `bench.proxy` measures end
to end), and prints the time per page of the fast path (runs of text and ordinary tags
copied as one slice) and of the reference (every tag tokenised in Python), both for the
page in one chunk and in chunks of `--chunk` bytes (default 4096). It checks first that
both give the same bytes, so a wrong fast path shows up here as well as in the tests.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Final

from bench.common import REPO
from bench.proxy import PAGE_BYTES, page_html
from gateway.adapters.configfile import load_config
from gateway.core.enforcement.blocking import ScriptBlocker
from gateway.core.enforcement.rules import BlockRules
from gateway.core.types import Category
from gateway.services.firewall import block_rules

CONFIG: Final = REPO / "config" / "gateway.toml"
Factory = Callable[[], ScriptBlocker]


class ReferenceBlocker(ScriptBlocker):
    """Every tag through the tag-by-tag tokenizer: the behaviour the fast path must keep."""

    _regex_shortcuts = False


def config_rules() -> BlockRules:
    env = {"GATEWAY_SERVER_SECRET_KEYS": "bench-secret-key-0123456789-abcdefghijklmnop"}
    return block_rules(load_config(CONFIG, env))


def placeholder(category: Category, host: str) -> bytes:
    markup = f'<div class="cg-placeholder" data-category="{category}" data-host="{host}"></div>'
    return markup.encode()


def quoted_page(size: int = PAGE_BYTES) -> bytes:
    """Ordinary tags only, many with `<`, `>` and tag-like text inside quoted values."""
    parts: list[bytes] = []
    index = 0
    while sum(map(len, parts)) < size:
        parts.append(
            f'<div class="row r{index}" data-tip="<script src=//www.googletagmanager.com/a>"'
            f" title='a > b' data-n={index}>\n<span data-html=\"<iframe src=x></iframe>\">"
            f"{index} &lt; {index + 1}</span><a href=\"/x?a=1&amp;b=2\" rel=nofollow>link</a>"
            f"<br/><input type=checkbox checked disabled></div>\n".encode()
        )
        index += 1
    return b"<!doctype html><html><body>\n" + b"".join(parts) + b"</body></html>\n"


def scripts_page(size: int = PAGE_BYTES) -> bytes:
    """Scripts and iframes everywhere: local and tracking, external and inline."""
    parts: list[bytes] = []
    index = 0
    while sum(map(len, parts)) < size:
        parts.append(
            f'<script src="/js/mod{index}.js" defer></script>\n'
            f"<script>window.w{index} = {{ n: {index}, html: '<p>' }};</script>\n"
            f'<script async src="https://www.googletagmanager.com/gtag/js?id=G-{index}">'
            f"</script>\n<script>gtag('config', 'G-{index}');</script>\n"
            f'<p>Paragraph {index}</p><iframe src="https://www.youtube.com/embed/{index}"'
            f' title="Video {index}"></iframe>\n<!-- item {index} -->\n'.encode()
        )
        index += 1
    return b"<!doctype html><html><body>\n" + b"".join(parts) + b"</body></html>\n"


def pages() -> dict[str, bytes]:
    return {
        "bench.proxy /page.html": page_html(),
        "ordinary tags, quoted < >": quoted_page(),
        "many scripts and iframes": scripts_page(),
    }


def rewrite(factory: Factory, chunks: Sequence[bytes]) -> bytes:
    blocker = factory()
    return b"".join([blocker.feed(chunk) for chunk in chunks]) + blocker.finish()


def per_page_us(factories: Sequence[Factory], chunks: Sequence[bytes], repeat: int) -> list[float]:
    """For each factory, the best of five rounds of `repeat` rewrites, the rounds taken in
    turns so that a burst of other work on the machine disturbs each alike."""
    best = [float("inf")] * len(factories)
    for _ in range(5):
        for index, factory in enumerate(factories):
            started = time.perf_counter()
            for _ in range(repeat):
                rewrite(factory, chunks)
            best[index] = min(best[index], time.perf_counter() - started)
    return [seconds / repeat * 1e6 for seconds in best]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.blocker", description=__doc__)
    parser.add_argument("--repeat", type=int, default=200, help="rewrites per round")
    parser.add_argument("--chunk", type=int, default=4096, help="chunk size in bytes")
    args = parser.parse_args(argv)
    rules, nothing = config_rules(), frozenset[Category]()

    def fast() -> ScriptBlocker:
        return ScriptBlocker(rules, nothing, placeholder)

    def reference() -> ScriptBlocker:
        return ReferenceBlocker(rules, nothing, placeholder)

    print(f"{'page':<28}{'bytes':>8}  {'chunks':<8}{'reference µs':>14}{'fast µs':>10}"
          f"{'speed-up':>10}")
    for name, page in pages().items():
        chunked = [page[i : i + args.chunk] for i in range(0, len(page), args.chunk)]
        for label, chunks in (("one", [page]), (f"{args.chunk} B", chunked)):
            if rewrite(fast, chunks) != rewrite(reference, [page]):
                print(f"{name}: the fast path and the reference disagree", file=sys.stderr)
                return 1
            slow_us, fast_us = per_page_us([reference, fast], chunks, args.repeat)
            print(f"{name:<28}{len(page):>8,}  {label:<8}{slow_us:>14,.0f}{fast_us:>10,.0f}"
                  f"{slow_us / fast_us:>9.1f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
