"""Compressing rewritten HTML for the browser (pure): brotli where accepted, else gzip,
streaming chunk by chunk with a flush after each, so a page renders as it arrives.

Levels chosen by `python -m bench.compression` (docs/benchmarks.md): on a 30 KB page brotli 4
gives 2.6 KB in about 200 us and gzip 6 3.1 KB in about 150-190 us; higher levels cost twice
the time for a few per cent.
"""

from __future__ import annotations

import zlib
from typing import Final, Literal, Protocol

import brotli

BROTLI_QUALITY: Final = 4
GZIP_LEVEL: Final = 6

Coding = Literal["br", "gzip"]


class Encoder(Protocol):
    def feed(self, chunk: bytes) -> bytes: ...
    def finish(self) -> bytes: ...


class _GzipEncoder:
    def __init__(self) -> None:
        self._deflate = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        return self._deflate.compress(chunk) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._deflate.flush(zlib.Z_FINISH)


class _BrotliEncoder:
    def __init__(self) -> None:
        self._compress = brotli.Compressor(quality=BROTLI_QUALITY)

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        return bytes(self._compress.process(chunk)) + bytes(self._compress.flush())

    def finish(self) -> bytes:
        return bytes(self._compress.finish())


def accepted_codings(accept_encoding: str | None) -> dict[str, float]:
    """`Accept-Encoding` as coding -> quality (the first mention of a coding wins)."""
    qualities: dict[str, float] = {}
    for item in (accept_encoding or "").split(","):
        coding, _, params = item.partition(";")
        quality = params.strip().lower().removeprefix("q=").strip() if params else "1"
        try:
            qualities.setdefault(coding.strip().lower(), float(quality))
        except ValueError:
            qualities.setdefault(coding.strip().lower(), 0.0)
    return qualities


def preferred_coding(accept_encoding: str | None) -> Coding | None:
    """brotli if the browser accepts it, else gzip (named, or `*`), else None."""
    qualities = accepted_codings(accept_encoding)
    wildcard = qualities.get("*", 0.0)
    if qualities.get("br", wildcard) > 0:
        return "br"
    if qualities.get("gzip", qualities.get("x-gzip", wildcard)) > 0:
        return "gzip"
    return None


def encoder_for(coding: Coding) -> Encoder:
    return _BrotliEncoder() if coding == "br" else _GzipEncoder()
