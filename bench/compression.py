"""Compression levels for rewritten HTML: bytes on the wire and microseconds per page for
gzip and brotli at several levels, streaming in 16 KB chunks with a flush after each (as the
gateway sends them), on the bench's ~30 KB page and on the demo site's page.

    python -m bench.compression

Prints a table; `docs/benchmarks.md` records the run that chose the defaults.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable

import brotli

from bench.proxy import page_html

CHUNK = 16 * 1024
ROUNDS = 200


def gzip_stream(level: int) -> Callable[[list[bytes]], bytes]:
    def run(chunks: list[bytes]) -> bytes:
        encoder = zlib.compressobj(level, zlib.DEFLATED, 31)
        out = [encoder.compress(c) + encoder.flush(zlib.Z_SYNC_FLUSH) for c in chunks]
        return b"".join(out) + encoder.flush()
    return run


def brotli_stream(quality: int) -> Callable[[list[bytes]], bytes]:
    def run(chunks: list[bytes]) -> bytes:
        encoder = brotli.Compressor(quality=quality)
        out = [encoder.process(c) + encoder.flush() for c in chunks]
        return b"".join(out) + encoder.finish()
    return run


def measure(name: str, run: Callable[[list[bytes]], bytes], page: bytes) -> tuple[str, int, float]:
    chunks = [page[i:i + CHUNK] for i in range(0, len(page), CHUNK)]
    size = len(run(chunks))
    began = time.perf_counter()
    for _ in range(ROUNDS):
        run(chunks)
    return name, size, (time.perf_counter() - began) / ROUNDS * 1e6


def main() -> None:
    page = page_html()
    print(f"page: {len(page):,} bytes, chunks of {CHUNK // 1024} KB, {ROUNDS} rounds each")
    print(f"{'encoder':<12}{'bytes':>9}{'ratio':>8}{'us/page':>10}")
    candidates = [(f"gzip-{n}", gzip_stream(n)) for n in (1, 4, 6, 9)]
    candidates += [(f"br-{n}", brotli_stream(n)) for n in (1, 3, 4, 5, 6, 9)]
    for name, run in candidates:
        label, size, micros = measure(name, run, page)
        print(f"{label:<12}{size:>9,}{len(page) / size:>8.1f}{micros:>10.0f}")


if __name__ == "__main__":
    main()
