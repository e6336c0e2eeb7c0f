"""Streaming HTML rewriting (pure): insert markup before `</head>` across any chunk boundary."""

from __future__ import annotations

import re
from typing import Final

_HEAD_END: Final = re.compile(rb"</head\s*>", re.IGNORECASE)
_BODY_START: Final = re.compile(rb"<body[\s>]", re.IGNORECASE)
# Longest marker we look for, minus one: what must be held back between chunks.
_HOLD_BACK: Final = 16
ASCII_COMPATIBLE_CHARSETS: Final = frozenset(
    {"", "utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "windows-1252",
     "iso-8859-15", "windows-1250", "iso-8859-2"}
)


class HeadInjector:
    """Feed response chunks in, get rewritten chunks out; `finish()` flushes the rest.

    The markup goes before `</head>`; a document without one gets it before `<body>`, and a
    fragment with neither gets it at the end, where scripts still run.
    """

    def __init__(self, markup: bytes) -> None:
        self._markup = markup
        self._pending = b""
        self.done = False

    def feed(self, chunk: bytes) -> bytes:
        if self.done:
            return chunk
        data = self._pending + chunk
        match = _HEAD_END.search(data) or _BODY_START.search(data)
        if match:
            self.done = True
            self._pending = b""
            return data[: match.start()] + self._markup + data[match.start() :]
        cut = max(0, len(data) - _HOLD_BACK)
        self._pending = data[cut:]
        return data[:cut]

    def finish(self) -> bytes:
        if self.done:
            return b""
        self.done = True
        rest, self._pending = self._pending, b""
        return rest + self._markup


def private_cache_control(upstream: str | None) -> str:
    """Personalised HTML must never sit in a shared cache: force `private`, drop what would
    let a shared cache keep it, keep anything stricter (`no-store`, `no-cache`, `max-age`)."""
    shared_only = {"public", "s-maxage", "proxy-revalidate"}
    directives = [d.strip() for d in (upstream or "").split(",") if d.strip()]
    kept = [d for d in directives if d.split("=")[0].strip().lower() not in shared_only]
    names = {d.split("=")[0].strip().lower() for d in kept}
    if "private" not in names and "no-store" not in names:
        kept.insert(0, "private")
    return ", ".join(kept)


def vary_with_cookie(upstream: str | None) -> str:
    fields = [f.strip() for f in (upstream or "").split(",") if f.strip()]
    if "*" in fields or any(f.lower() == "cookie" for f in fields):
        return ", ".join(fields)
    return ", ".join([*fields, "Cookie"])


def weak_etag(etag: str) -> str:
    """The body changed, so a strong validator would lie; a weak one still allows 304s."""
    return etag if etag.startswith("W/") else f"W/{etag}"
