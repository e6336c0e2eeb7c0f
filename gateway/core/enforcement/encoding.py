"""Undoing the upstream's content encoding of an HTML page so it can be rewritten (pure).

Only HTML that the gateway rewrites is decoded; everything else streams through as sent.
Output comes in bounded pieces, so a small compressed chunk cannot balloon in memory.
"""

from __future__ import annotations

import codecs
import zlib
from collections.abc import Iterator
from typing import Final, Protocol

import brotli

from gateway.core.enforcement.compression import accepted_codings

DECODABLE: Final = frozenset({"gzip", "x-gzip", "deflate", "br"})
_PIECE: Final = 256 * 1024


class Decoder(Protocol):
    def feed(self, chunk: bytes) -> Iterator[bytes]: ...
    def finish(self) -> bytes: ...


class _ZlibDecoder:
    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._inflate = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        data = chunk
        if not self._started and chunk and self._wbits == zlib.MAX_WBITS:
            self._started = True
            # "deflate" is sometimes sent raw, without the zlib header it should have.
            if chunk[0] & 0x0F != 8:
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        while data:
            piece = self._inflate.decompress(data, _PIECE)
            data = self._inflate.unconsumed_tail
            if piece:
                yield piece

    def finish(self) -> bytes:
        return self._inflate.flush()


class _BrotliDecoder:
    def __init__(self) -> None:
        self._inflate = brotli.Decompressor()

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        if chunk:
            yield self._inflate.process(chunk)

    def finish(self) -> bytes:
        return b""


class Utf16ToUtf8:
    """A UTF-16 page (either byte order, BOM or not) as UTF-8, chunk by chunk: the rewriter
    works on ASCII-compatible bytes, and the page is then sent as UTF-8."""

    def __init__(self, charset: str) -> None:
        codec = charset if charset in ("utf-16le", "utf-16be") else "utf-16"
        self._decode = codecs.getincrementaldecoder(codec)(errors="replace")

    def feed(self, chunk: bytes) -> bytes:
        return self._decode.decode(chunk).encode("utf-8")

    def finish(self) -> bytes:
        return self._decode.decode(b"", final=True).encode("utf-8")


UTF16_CHARSETS: Final = frozenset({"utf-16", "utf-16le", "utf-16be", "utf16"})


def decoder_for(content_encoding: str) -> Decoder | None:
    """A decoder for one encoding (`gzip`, `deflate`, `br`), None for identity; anything
    else (stacked or unknown encodings) the caller passes through untouched."""
    encoding = content_encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return _ZlibDecoder(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _ZlibDecoder(zlib.MAX_WBITS)
    if encoding == "br":
        return _BrotliDecoder()
    return None


def acceptable_encodings(accept_encoding: str | None) -> str:
    """What the proxy asks the upstream for: the visitor's list minus what we cannot undo."""
    kept = [
        item.strip() for item in (accept_encoding or "").split(",")
        if item.split(";")[0].strip().lower() in DECODABLE | {"identity"}
    ]
    return ", ".join(kept) or "identity"


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether `Accept-Encoding` allows gzip: named (or else `*`) without `q=0`."""
    qualities = accepted_codings(accept_encoding)
    return qualities.get("gzip", qualities.get("x-gzip", qualities.get("*", 0.0))) > 0
