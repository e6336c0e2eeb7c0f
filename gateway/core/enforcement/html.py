"""Streaming HTML rewriting (pure): insert markup before `</head>` across any chunk boundary."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from typing import Final

# Where the banner goes: right after <head> so Consent Mode defaults precede every other
# script; a document without <head> gets it before </head> or <body>.
_HEAD_POINT: Final = re.compile(rb"<head\b[^>]*>|</head\s*>|<body\b", re.IGNORECASE)
_BODY_OPEN: Final = re.compile(rb"<body\b[^>]*>", re.IGNORECASE)
_HTML_LANG: Final = re.compile(
    rb"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*)", re.IGNORECASE
)
# Held back between chunks so a tag split across them is still found (long attributes too).
_HOLD_BACK: Final = 512
_SEEN_CAP: Final = 16 * 1024
ASCII_COMPATIBLE_CHARSETS: Final = frozenset(
    {"", "utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "windows-1252",
     "iso-8859-15", "windows-1250", "iso-8859-2"}
)

HeadMarkup = Callable[[str | None], bytes]


def page_language(html_start: bytes) -> str | None:
    """The `lang` of the `<html>` tag, if the document start has one."""
    match = _HTML_LANG.search(html_start)
    return match.group(1).decode("ascii") if match else None


class PageInjector:
    """Feed response chunks in, get rewritten chunks out; `finish()` flushes the rest.

    `head_markup(lang)` is built when the insertion point is reached, with the page's
    `<html lang>` (the tag comes first); `body_markup` goes right after `<body ...>`. A
    fragment with neither gets both at the end, where scripts still run.
    """

    def __init__(self, head_markup: HeadMarkup, body_markup: bytes) -> None:
        self._head_markup = head_markup
        self._body_markup = body_markup
        self._pending = b""
        self._seen = b""
        self._stage = 0  # 0: looking for the head point, 1: for <body>, 2: done

    @property
    def done(self) -> bool:
        return self._stage == 2

    def feed(self, chunk: bytes) -> bytes:
        if self._stage == 2:
            return chunk
        data, self._pending = self._pending + chunk, b""
        out = bytearray()
        while self._stage < 2:
            found = self._insert(data, out)
            if found is None:
                break
            data = found
        if self._stage == 2:
            out += data
            return bytes(out)
        cut = max(0, len(data) - _HOLD_BACK)
        out += data[:cut]
        if self._stage == 0:
            self._seen = (self._seen + data[:cut])[-_SEEN_CAP:]
        self._pending = data[cut:]
        return bytes(out)

    def _insert(self, data: bytes, out: bytearray) -> bytes | None:
        """Insert at the next point if it is in `data`; return what follows it."""
        if self._stage == 0:
            match = _HEAD_POINT.search(data)
            if match is None:
                return None
            at = match.end() if match.group(0)[:5].lower() == b"<head" else match.start()
            out += data[:at] + self._head_markup(page_language(self._seen + data[:at]))
        else:
            match = _BODY_OPEN.search(data)
            if match is None:
                return None
            at = match.end()
            out += data[:at] + self._body_markup
        self._stage += 1
        return data[at:]

    def finish(self) -> bytes:
        rest, self._pending = self._pending, b""
        if self._stage == 0:
            rest += self._head_markup(page_language(self._seen + rest))
        if self._stage < 2:
            rest += self._body_markup
        self._stage = 2
        return rest


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
    return vary_with(upstream, "Cookie")


def vary_with(upstream: str | None, *names: str) -> str:
    """The upstream's `Vary` plus `names` (each once, whatever its case; `*` stays `*`)."""
    fields = [f.strip() for f in (upstream or "").split(",") if f.strip()]
    if "*" in fields:
        return ", ".join(fields)
    present = {f.lower() for f in fields}
    return ", ".join([*fields, *(name for name in names if name.lower() not in present)])


def markup_bytes(markup: str, charset: str) -> bytes:
    """Injected markup in the page's own charset; characters it cannot hold become numeric
    character references (`&#232;`), which mean the same in text and attribute values. An
    unknown charset gets plain ASCII, right in every charset that can be rewritten."""
    if charset in ("utf-8", "utf8"):
        return markup.encode("utf-8")
    try:
        codec = codecs.lookup(charset).name if charset else "ascii"
    except LookupError:
        codec = "ascii"
    return markup.encode(codec, "xmlcharrefreplace")


def weak_etag(etag: str) -> str:
    """The body changed, so a strong validator would lie; a weak one still allows 304s."""
    return etag if etag.startswith("W/") else f"W/{etag}"


def add_nonce_to_csp(policy: str, nonce: str) -> str:
    """Let our nonce'd tags through the site's own Content-Security-Policy.

    The nonce goes into the directive that governs scripts (`script-src`, else
    `default-src`) and the one for styles. A directive relying on `'unsafe-inline'` without
    any nonce or hash is left alone: adding a nonce there would switch `'unsafe-inline'` off
    in CSP 2 browsers and break the site's own inline code.
    """
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    names = [d.split()[0].lower() for d in directives]
    targets = {
        f"{kind}-src" if f"{kind}-src" in names else "default-src" for kind in ("script", "style")
    }
    targets |= {name for name in names if name in ("script-src-elem", "style-src-elem")}
    return "; ".join(
        f"{directive} 'nonce-{nonce}'"
        if name in targets and _nonce_is_harmless(directive) else directive
        for directive, name in zip(directives, names, strict=True)
    )


def _nonce_is_harmless(directive: str) -> bool:
    sources = directive.lower().split()[1:]
    has_nonce_or_hash = any(s.startswith(("'nonce-", "'sha")) for s in sources)
    return "'unsafe-inline'" not in sources or has_nonce_or_hash
