"""Streaming script and iframe blocking (pure): third-party tags stay inert until consent.

`ScriptBlocker` rewrites only the start tags of `<script>` and `<iframe>` elements that a
`BlockRule` assigns to a category the visitor has not granted; every other byte is copied.
Scripts become `type="text/plain"` (the browser keeps but never runs them), iframes lose
`src` to `data-src`, and each carries `data-consent-category` so the banner script can
bring it back after consent. Classic scripts are restored by dropping `type`; a module
script also gets `data-consent-type="module"`, the only executable type that must return.

The tokenizer follows the HTML spec where it decides what is a tag: comments (including
`<!-->`), bogus comments (`<!DOCTYPE`, `<?`), raw-text elements whose content is never
markup, and the attribute rules (quotes only right after `=`, `/` between attributes,
first duplicate wins). Not modelled: `<!--` escapes inside script data and SVG/MathML
content; both are rare and at worst miss a marker.

Streaming: input is held back only while a tag, a `<!--` opener or a raw-text end tag is
cut off at the end of a chunk, so the output never depends on how the body was chunked.

Speed: walking every tag's attributes in Python cost more than all the rest of the proxy
on an ordinary page. Regexes that read exactly as the walk does copy each run of text and
ordinary tags as one slice and read the script and iframe tags; the walk reads only what
they cannot finish (a tag cut off by the end of a chunk or by the cap) and, with the
shortcuts off, is the reference the tests hold them to, byte for byte.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import ClassVar, Final, Literal
from urllib.parse import unquote, urlsplit

from gateway.core.types import Category

# A start tag longer than this is not a real page (or is an attack on our memory): its first
# _TAG_CAP bytes pass unmodified and reading resumes as text after them.
_TAG_CAP: Final = 64 * 1024
# Inline scripts are held back whole because the verdict needs their content. Tracker
# snippets are a few KB; anything past this cap is an application bundle, and holding it
# would delay the page and let one script grow our memory, so it passes unmodified.
_INLINE_CAP: Final = 256 * 1024

_GT, _EQ, _DQ, _SQ, _SLASH = b">"[0], b"="[0], b'"'[0], b"'"[0], b"/"[0]
_TAG_NAME: Final = re.compile(rb"[^\t\n\f\r />]*")
_BETWEEN_ATTRS: Final = re.compile(rb"[\t\n\f\r /]*")  # a stray `/` separates like a space
_ATTR_NAME: Final = re.compile(rb"[^\t\n\f\r />][^\t\n\f\r />=]*")  # may start with `=`
_SPACES: Final = re.compile(rb"[\t\n\f\r ]*")
_UNQUOTED: Final = re.compile(rb"[^\t\n\f\r >]*")
_COMMENT_END: Final = re.compile(rb"--!?>")
# Elements whose content is text, not tags. <noscript> is deliberately absent: its content
# is parsed, so a tracking iframe meant for visitors without JavaScript is blocked too.
_RAW_TEXT: Final = (b"script", b"style", b"textarea", b"title", b"xmp", b"iframe", b"noembed",
                    b"noframes")
_RAW_END: Final = {n: re.compile(rb"</" + n + rb"[\t\n\f\r />]", re.IGNORECASE) for n in _RAW_TEXT}
_SCRIPT_END_LEN: Final = len(b"</script") + 1
# The attribute walk (`_tokenize`) as regexes: the walk costs microseconds a tag, a match a
# fraction of one. Every part ends in a lookahead showing that it stopped where the walk
# stops, so backtracking cannot find a second reading of the same bytes: a match ends where
# the walk ends, and a failed one fails in linear time. (Possessive quantifiers would say
# this directly, but matched wrongly before Python 3.11.5: python/cpython#106052.)
_ATTR_NAME_SYNTAX: Final = rb"[^\t\n\f\r />][^\t\n\f\r />=]*(?=[\t\n\f\r />=])"
_VALUE_SYNTAX: Final = (
    rb"\"[^\"]*\"|'[^']*'|[^\t\n\f\r >\"'][^\t\n\f\r >]*(?=[\t\n\f\r >])|(?=>)"
)


def _attribute_syntax(name: bytes, value: bytes) -> bytes:
    """One attribute with its leading separators; `name` and `value` wrap their parts."""
    return (
        rb"[\t\n\f\r /]*" + name % _ATTR_NAME_SYNTAX + rb"(?:[\t\n\f\r ]*=[\t\n\f\r ]*"
        + value % _VALUE_SYNTAX + rb"|(?![\t\n\f\r ]*=))"
    )


_ATTR: Final = re.compile(_attribute_syntax(rb"(%b)", rb"(%b)"))
_TAG_SYNTAX: Final = (
    rb"[A-Za-z][^\t\n\f\r />]*(?=[\t\n\f\r />])(?:"
    + _attribute_syntax(rb"%b", rb"(?:%b)") + rb")*[\t\n\f\r /]*>"
)
_TAG: Final = re.compile(rb"</?" + _TAG_SYNTAX)
# Text and tags that are copied as they are and leave the tokenizer reading markup: any
# `<` that starts nothing, every end tag, and start tags other than raw-text elements
# (script and iframe among them; a first-letter test spares most tags the name test). On
# an ordinary page that is nearly all of it, taken in one match; the walk reads the rest.
_RAW_FIRST: Final = b"".join(sorted({n[:1] + n[:1].upper() for n in _RAW_TEXT}))
_ORDINARY_TAG: Final = (
    rb"<(?:/|(?=[^" + _RAW_FIRST + rb"])|(?!(?i:" + b"|".join(_RAW_TEXT) + rb")[\t\n\f\r />]))"
    + _TAG_SYNTAX
)
_ORDINARY_RUN: Final = re.compile(rb"[^<]*(?:(?:<(?=[^A-Za-z/!?])|" + _ORDINARY_TAG + rb")[^<]*)*")
_JS_TYPES: Final = frozenset({
    "", "application/ecmascript", "application/javascript", "application/x-ecmascript",
    "application/x-javascript", "text/ecmascript", "text/javascript", "text/javascript1.0",
    "text/javascript1.1", "text/javascript1.2", "text/javascript1.3", "text/javascript1.4",
    "text/javascript1.5", "text/jscript", "text/livescript", "text/x-ecmascript",
    "text/x-javascript",
})
_HTML_SPACE: Final = "\t\n\f\r "
_URL_TRIM: Final = "".join(map(chr, range(0x21)))  # browsers strip C0 controls and spaces

Placeholder = Callable[[Category, str], bytes]
_Mode = Literal["data", "comment", "bogus", "raw", "held"]
_Step = tuple[int, bool]  # where reading goes on, and whether it can go on in this chunk


@dataclass(frozen=True, slots=True)
class BlockRule:
    """`host` matches itself and every subdomain, or is a glob such as `*.fbcdn.net`;
    `markers` are substrings that identify the provider's inline snippets."""

    host: str
    category: Category
    markers: tuple[str, ...] = ()


def category_for_url(url: str, rules: Sequence[BlockRule]) -> Category | None:
    """The category of the first rule matching the host of an absolute or protocol-relative
    URL; relative URLs stay on the page's own host and never match."""
    host = _url_host(url)
    rule = _rule_for_host(host, rules) if host else None
    return rule.category if rule else None


def _url_host(url: str) -> str | None:
    # Normalised the way browsers do before resolving, so `\\host` or a tab cannot hide it.
    cleaned = url.strip(_URL_TRIM).replace("\t", "").replace("\n", "").replace("\r", "")
    try:
        host = urlsplit(cleaned.replace("\\", "/")).hostname
    except ValueError:
        return None
    return unquote(host).lower().rstrip(".") if host else None


def _rule_for_host(host: str, rules: Sequence[BlockRule]) -> BlockRule | None:
    return next((rule for rule in rules if _host_matches(host, rule.host)), None)


def _host_matches(host: str, pattern: str) -> bool:
    pattern = pattern.lower().rstrip(".")
    if "*" in pattern:
        return fnmatchcase(host, pattern)
    return host == pattern or host.endswith("." + pattern)


@functools.lru_cache(maxsize=256)  # a blocker per page: build each rule's pattern once
def _marker_pattern(markers: tuple[str, ...]) -> re.Pattern[bytes] | None:
    """Markers that start like an identifier must start one: `ga(` must not match `omega(`."""
    parts = [
        (rb"(?<![A-Za-z0-9_$])" if m[0].isalnum() or m[0] in "_$" else b"")
        + re.escape(m.encode())
        for m in markers
        if m
    ]
    return re.compile(b"|".join(parts)) if parts else None


@dataclass(frozen=True, slots=True)
class _Attr:
    name: bytes  # lower-cased
    lead: int  # start of the separator before it, so removing lead:end leaves tidy markup
    start: int
    name_end: int
    end: int
    value: bytes  # raw, without quotes, entities not decoded


def _match_end(pattern: re.Pattern[bytes], data: bytes | bytearray, pos: int, n: int) -> int:
    match = pattern.match(data, pos, n)
    return match.end() if match else pos


def _attribute_value(data: bytes | bytearray, at: int, n: int) -> tuple[int, int, int] | None:
    """(value start, value end, attribute end) for a value beginning at `at`, or None if
    `data[:n]` ends before the value does."""
    quote = data[at]
    if quote in (_DQ, _SQ):
        close = data.find(b'"' if quote == _DQ else b"'", at + 1, n)
        return None if close < 0 else (at + 1, close, close + 1)
    if quote == _GT:  # `a=>`: an empty value, and the `>` still closes the tag
        return at, at, at
    end = _match_end(_UNQUOTED, data, at, n)
    return None if end >= n else (at, end, end)


def _tokenize(
    data: bytes | bytearray, pos: int, n: int, attrs: list[_Attr] | None
) -> tuple[int, bool]:
    """Walk the attributes after a tag name like the HTML tokenizer, collecting them into
    `attrs`: (index past the closing `>`, True), or, if `data[:n]` ends first, (start of the
    unfinished attribute, False). Each attribute is read from where the one before ended,
    so reading can resume there once more bytes have come."""
    while True:
        lead = pos
        pos = _match_end(_BETWEEN_ATTRS, data, pos, n)
        if pos >= n:
            return lead, False
        if data[pos] == _GT:
            return pos + 1, True
        name_end = _match_end(_ATTR_NAME, data, pos, n)
        after = _match_end(_SPACES, data, name_end, n)
        if after >= n:
            return lead, False  # the name, or an `=`, may still follow
        value = (name_end, name_end, name_end)
        if data[after] == _EQ:
            at = _match_end(_SPACES, data, after + 1, n)
            found = _attribute_value(data, at, n) if at < n else None
            if found is None:
                return lead, False
            value = found
        if attrs is not None:
            name = bytes(data[pos:name_end]).lower()
            raw = bytes(data[value[0] : value[1]])
            attrs.append(_Attr(name, lead, pos, name_end, value[2], raw))
        pos = value[2]


def _scan_tag(data: bytes | bytearray, lt: int, resume: int, n: int) -> tuple[int, bool]:
    """Like `_tokenize` for the tag at `lt`, resuming at `resume` if past `lt`; a cut-off
    name gives (lt, False): reading starts over."""
    if resume > lt:
        return _tokenize(data, resume, n, None)
    name_at = lt + 2 if data[lt + 1] == _SLASH else lt + 1
    name_end = _match_end(_TAG_NAME, data, name_at, n)
    return (lt, False) if name_end >= n else _tokenize(data, name_end, n, None)


def _walked_attributes(tag: bytes) -> list[_Attr]:
    attrs: list[_Attr] = []
    _tokenize(tag, _match_end(_TAG_NAME, tag, 1, len(tag)), len(tag), attrs)
    return attrs


def _matched_attributes(tag: bytes) -> list[_Attr]:
    """`_walked_attributes` for a whole tag, one regex match an attribute."""
    attrs: list[_Attr] = []
    pos = _match_end(_TAG_NAME, tag, 1, len(tag))
    while attr := _ATTR.match(tag, pos):
        start, end = attr.span(2)
        if start < end and tag[start] in (_DQ, _SQ):
            start, end = start + 1, end - 1
        name = attr.group(1).lower()
        attrs.append(_Attr(name, pos, attr.start(1), attr.end(1), attr.end(), tag[start:end]))
        pos = attr.end()
    return attrs


def _first(attrs: list[_Attr], name: bytes) -> _Attr | None:
    """The browser keeps the first of duplicate attributes and drops the rest."""
    return next((a for a in attrs if a.name == name), None)


def _text(value: bytes) -> str:
    return html.unescape(value.decode("latin-1"))


def _script_type(attrs: list[_Attr]) -> str | None:
    """"" for a classic script, "module", or None for a data block the browser never runs."""
    attr = _first(attrs, b"type")
    kind = _text(attr.value).strip(_HTML_SPACE).lower() if attr else ""
    if kind in _JS_TYPES:
        return ""
    return kind if kind == "module" else None


def _neutralised_script(tag: bytes, attrs: list[_Attr], category: Category) -> bytes:
    # Our attributes go right after the name: first of duplicates wins, whatever follows.
    extra = b' type="text/plain" data-consent-category="' + category.encode() + b'"'
    if _script_type(attrs) == "module":
        extra += b' data-consent-type="module"'
    at = len(b"<script")
    old = _first(attrs, b"type")
    if old is None:
        return tag[:at] + extra + tag[at:]
    return tag[:at] + extra + tag[at : old.lead] + tag[old.end :]


def _neutralised_iframe(tag: bytes, src: _Attr, category: Category) -> bytes:
    at = len(b"<iframe")
    extra = b' data-consent-category="' + category.encode() + b'"'
    return tag[:at] + extra + tag[at : src.start] + b"data-src" + tag[src.name_end :]


class ScriptBlocker:
    """Feed HTML bytes (an ASCII-compatible charset), get rewritten bytes out; `finish()`
    flushes. Categories in `granted`, and `necessary`, are never blocked. `placeholder`
    builds the markup inserted before each neutralised iframe."""

    # Off, every tag goes through the Python walk: the reference that the tests and
    # bench.blocker hold the regex shortcuts to, byte for byte.
    _regex_shortcuts: ClassVar[bool] = True

    def __init__(
        self, rules: Sequence[BlockRule], granted: frozenset[Category], placeholder: Placeholder
    ) -> None:
        self._rules = tuple(
            r for r in rules if r.category != "necessary" and r.category not in granted
        )
        self._markers = [
            (r.category, p) for r in self._rules if (p := _marker_pattern(r.markers)) is not None
        ]
        self._placeholder = placeholder
        self._buf = bytearray()
        self._mode: _Mode = "data"
        self._raw = b"script"  # the raw-text element being read
        self._held = b""  # start tag of the inline script held back with its content
        self._searched = 0  # held content already searched for its end tag
        self._awaiting_gt = False  # an unfinished tag is held; only a `>` can finish it
        self._resume = 0  # where in that tag reading goes on
        self.changed = False

    def feed(self, chunk: bytes) -> bytes:
        if not self._rules:
            return chunk
        self._buf += chunk
        if self._awaiting_gt and b">" not in chunk and len(self._buf) < _TAG_CAP:
            return b""  # rescanning could not finish the tag, and 1-byte chunks stay linear
        return self._run(final=False)

    def finish(self) -> bytes:
        return self._run(final=True) if self._rules else b""

    def _run(self, *, final: bool) -> bytes:
        buf, out, pos, more = self._buf, bytearray(), 0, True
        self._awaiting_gt = False
        while more:
            pos, more = self._step(buf, pos, final, out)
        del buf[:pos]
        return bytes(out)

    def _step(self, buf: bytearray, pos: int, final: bool, out: bytearray) -> _Step:
        if self._mode == "data":
            return self._data(buf, pos, final, out)
        if self._mode == "comment":
            end = _COMMENT_END.search(buf, pos)
            return self._text_until(buf, pos, end.end() if end else None, 3, final, out)
        if self._mode == "bogus":
            gt = buf.find(b">", pos)
            return self._text_until(buf, pos, gt + 1 if gt >= 0 else None, 0, final, out)
        if self._mode == "raw":
            end = _RAW_END[self._raw].search(buf, pos)
            keep = len(self._raw) + 2  # a cut-off `</name` plus the byte that ends it
            return self._text_until(buf, pos, end.start() if end else None, keep, final, out)
        return self._held_script(buf, pos, final, out)

    def _text_until(
        self, buf: bytearray, pos: int, end: int | None, keep: int, final: bool, out: bytearray
    ) -> _Step:
        """Copy text up to `end` and go back to markup; without an end, copy all but the last
        `keep` bytes, where the end may be starting."""
        if end is not None:
            out += buf[pos:end]
            self._mode = "data"
            return end, True
        stop = len(buf) if final else max(pos, len(buf) - keep)
        out += buf[pos:stop]
        return stop, False

    def _data(self, buf: bytearray, pos: int, final: bool, out: bytearray) -> _Step:
        if self._regex_shortcuts and not self._resume:  # a held tag resumes in the walk
            skipped, pos = pos, self._skip_ordinary(buf, pos)
            out += buf[skipped:pos]
        lt = buf.find(b"<", pos)
        if lt < 0:
            out += buf[pos:]
            return len(buf), False
        out += buf[pos:lt]
        after = buf[lt + 1 : lt + 3]
        if after[:1].isalpha() or (after[:1] == b"/" and after[1:].isalpha()):
            return self._tag(buf, lt, final, out)
        if after[:1] == b"!":
            return self._declaration(buf, lt, final, out)
        if after[:1] == b"?" or (after[:1] == b"/" and (len(after) == 2 or final)):
            out += buf[lt : lt + 2]  # `<?` and `</` without a name open bogus comments
            self._mode = "bogus"
            return lt + 2, True
        if not final and (not after or after == b"/"):
            return lt, False  # what follows `<` decides what it is
        out += b"<"
        return lt + 1, True

    def _skip_ordinary(self, buf: bytearray, pos: int) -> int:
        """The end of the text and ordinary tags from `pos` on. None of those tags can be
        longer than the walk reads (`_TAG_CAP`): the match stops `_TAG_CAP` bytes on."""
        run = _ORDINARY_RUN.match(buf, pos, min(len(buf), pos + _TAG_CAP))
        return run.end() if run else pos

    def _declaration(self, buf: bytearray, lt: int, final: bool, out: bytearray) -> _Step:
        head = bytes(buf[lt : lt + 4])
        if head != b"<!--" and b"<!--".startswith(head) and not final:
            return lt, False
        # The comment end is searched from just after `<!`, so `<!-->` closes at once.
        out += b"<!"
        self._mode = "comment" if head == b"<!--" else "bogus"
        return lt + 2, True

    def _tag(self, buf: bytearray, lt: int, final: bool, out: bytearray) -> _Step:
        resume, self._resume = lt + self._resume, 0
        n = min(len(buf), lt + _TAG_CAP)
        whole = _TAG.match(buf, lt, n) if self._regex_shortcuts and resume == lt else None
        end, done = (whole.end(), True) if whole else _scan_tag(buf, lt, resume, n)
        if done:
            self._on_tag(bytes(buf[lt:end]), out)
            return end, True
        if len(buf) - lt >= _TAG_CAP:
            out += buf[lt : lt + _TAG_CAP]
            return lt + _TAG_CAP, True
        if final:
            out += buf[lt:]  # the browser drops a tag cut off by the end of the file
            return len(buf), False
        self._awaiting_gt, self._resume = True, end - lt
        return lt, False

    def _on_tag(self, tag: bytes, out: bytearray) -> None:
        if tag[1:2] == b"/":  # end tags are copied; raw text was already left before them
            out += tag
            return
        name = tag[1 : _match_end(_TAG_NAME, tag, 1, len(tag))].lower()
        if name == b"script":
            self._on_script(tag, out)
        elif name == b"iframe":
            self._on_iframe(tag, out)
        else:
            out += tag
            if name in _RAW_TEXT:
                self._enter_raw(name)

    def _enter_raw(self, name: bytes) -> None:
        self._mode, self._raw = "raw", name

    def _attributes(self, tag: bytes) -> list[_Attr]:
        return _matched_attributes(tag) if self._regex_shortcuts else _walked_attributes(tag)

    def _blocking_rule(self, src: _Attr | None) -> tuple[BlockRule, str] | None:
        host = _url_host(_text(src.value)) if src else None
        rule = _rule_for_host(host, self._rules) if host else None
        return (rule, host) if rule and host else None

    def _on_script(self, tag: bytes, out: bytearray) -> None:
        attrs = self._attributes(tag)
        src, runs = _first(attrs, b"src"), _script_type(attrs) is not None
        if runs and src is None:
            self._held, self._searched, self._mode = tag, 0, "held"
            return
        found = self._blocking_rule(src) if runs else None
        out += _neutralised_script(tag, attrs, found[0].category) if found else tag
        self.changed = self.changed or found is not None
        self._enter_raw(b"script")

    def _on_iframe(self, tag: bytes, out: bytearray) -> None:
        src = _first(self._attributes(tag), b"src")
        found = self._blocking_rule(src)
        if found and src:
            rule, host = found
            out += self._placeholder(rule.category, host)
            tag = _neutralised_iframe(tag, src, rule.category)
            self.changed = True
        out += tag
        self._enter_raw(b"iframe")

    def _held_script(self, buf: bytearray, pos: int, final: bool, out: bytearray) -> _Step:
        """An inline script is released once its end tag (or the end of the file, where the
        browser runs it too) shows whether it holds a marker of a blocked provider."""
        end = _RAW_END[b"script"].search(buf, pos + max(0, self._searched - _SCRIPT_END_LEN + 1))
        if end is None and not final and len(buf) - pos < _INLINE_CAP + _SCRIPT_END_LEN:
            self._searched = len(buf) - pos
            return pos, False
        stop = end.start() if end else len(buf)
        if stop - pos > _INLINE_CAP:
            out += self._held
            self._enter_raw(b"script")
            return pos, True
        content = bytes(buf[pos:stop])
        category = next((c for c, p in self._markers if p.search(content)), None)
        if category:
            out += _neutralised_script(self._held, self._attributes(self._held), category)
        else:
            out += self._held
        out += content
        self.changed = self.changed or category is not None
        self._mode = "data"
        return stop, True
