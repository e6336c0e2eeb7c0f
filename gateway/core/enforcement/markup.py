"""How the blocker reads HTML (pure): tag and attribute syntax as the HTML tokenizer has it.

Two readings of the same syntax, held to each other byte for byte by the tests: `tokenize`
walks a tag's attributes in Python and can stop anywhere (a tag cut off by the end of a
chunk resumes where it stopped), and the regexes (`TAG`, `ORDINARY_RUN`,
`matched_attributes`) read whole tags and runs of ordinary markup in one match each.

The rules followed are the spec's where it decides what is a tag: comments (including
`<!-->`), bogus comments (`<!DOCTYPE`, `<?`), raw-text elements whose content is never
markup, and the attribute rules (quotes only right after `=`, `/` between attributes,
first duplicate wins). `<noscript>` is read as markup, as a browser without JavaScript
reads it, so what it would fetch is seen too.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from typing import Final

_GT, _EQ, _DQ, _SQ, _SLASH = b">"[0], b"="[0], b'"'[0], b"'"[0], b"/"[0]
TAG_NAME: Final = re.compile(rb"[^\t\n\f\r />]*")
_BETWEEN_ATTRS: Final = re.compile(rb"[\t\n\f\r /]*")  # a stray `/` separates like a space
_ATTR_NAME: Final = re.compile(rb"[^\t\n\f\r />][^\t\n\f\r />=]*")  # may start with `=`
_SPACES: Final = re.compile(rb"[\t\n\f\r ]*")
_UNQUOTED: Final = re.compile(rb"[^\t\n\f\r >]*")
COMMENT_END: Final = re.compile(rb"--!?>")
# Elements whose content is text, not tags. <noscript> is deliberately absent: its content
# is parsed, so a tracking pixel meant for visitors without JavaScript is blocked too.
RAW_TEXT: Final = (b"script", b"style", b"textarea", b"title", b"xmp", b"iframe", b"noembed",
                   b"noframes")
RAW_END: Final = {n: re.compile(rb"</" + n + rb"[\t\n\f\r />]", re.IGNORECASE) for n in RAW_TEXT}
# Start tags the blocker reads besides the raw-text ones (elements that fetch, and
# <noscript>, whose end tag it reads too); every other tag is copied unread.
FETCHING: Final = (b"img", b"source", b"link", b"object", b"embed", b"noscript")
# The attribute walk (`tokenize`) as regexes: the walk costs microseconds a tag, a match a
# fraction of one. Every part ends in a lookahead showing that it stopped where the walk
# stops, so backtracking cannot find a second reading of the same bytes: a match ends where
# the walk ends, and a failed one fails in linear time. (Possessive quantifiers would say
# this directly, but matched wrongly before Python 3.11.5: python/cpython#106052.)
_ATTR_NAME_SYNTAX: Final = rb"[^\t\n\f\r />][^\t\n\f\r />=]*(?=[\t\n\f\r />=])"
_QUOTED: Final = rb"\"[^\"]*\"|'[^']*'"
_QUOTED_WITHOUT_GT: Final = rb"\"[^\">]*\"|'[^'>]*'"
_UNQUOTED_OR_NONE: Final = rb"|[^\t\n\f\r >\"'][^\t\n\f\r >]*(?=[\t\n\f\r >])|(?=>)"


def _attribute_syntax(name: bytes, value: bytes, quoted: bytes = _QUOTED) -> bytes:
    """One attribute with its leading separators; `name` and `value` wrap their parts."""
    return (
        rb"[\t\n\f\r /]*" + name % _ATTR_NAME_SYNTAX + rb"(?:[\t\n\f\r ]*=[\t\n\f\r ]*"
        + value % (quoted + _UNQUOTED_OR_NONE) + rb"|(?![\t\n\f\r ]*=))"
    )


def _tag_syntax(quoted: bytes = _QUOTED) -> bytes:
    return (
        rb"[A-Za-z][^\t\n\f\r />]*(?=[\t\n\f\r />])(?:"
        + _attribute_syntax(rb"%b", rb"(?:%b)", quoted) + rb")*[\t\n\f\r /]*>"
    )


_ATTR: Final = re.compile(_attribute_syntax(rb"(%b)", rb"(%b)"))
_TAG_SYNTAX: Final = _tag_syntax()
# The same for a tag whose only `>` is the one that ends it (none in a quoted value).
_GT_ENDED_TAG: Final = _tag_syntax(_QUOTED_WITHOUT_GT)
TAG: Final = re.compile(rb"</?" + _TAG_SYNTAX)
# Text and tags that are copied as they are and leave the tokenizer reading markup: any
# `<` that starts nothing, end tags other than `</noscript`, and start tags other than the
# raw-text and fetching elements (a first-letter test spares most tags the name test). On
# an ordinary page that is nearly all of it, taken in one match; the walk reads the rest.
_READ: Final = RAW_TEXT + FETCHING
_READ_FIRST: Final = b"".join(sorted({n[:1] + n[:1].upper() for n in _READ}))
_NAME_END: Final = rb"[\t\n\f\r />]"
_ORDINARY_TAG: Final = (
    rb"<(?:/(?!(?i:noscript)" + _NAME_END + rb")|(?=[^" + _READ_FIRST + rb"])|(?!(?i:"
    + b"|".join(_READ) + rb")" + _NAME_END + rb"))" + _TAG_SYNTAX
)
ORDINARY_RUN: Final = re.compile(rb"[^<]*(?:(?:<(?=[^A-Za-z/!?])|" + _ORDINARY_TAG + rb")[^<]*)*")
# A whole start tag of an element that fetches and is neither raw text nor <noscript>: the
# blocker copies one unread when no URL in it can match (`BlockRules.may_match`).
FETCHING_TAG: Final = re.compile(
    rb"<(?=(?i:img|source|link|object|embed)" + _NAME_END + rb")" + _TAG_SYNTAX
)


@functools.lru_cache(maxsize=32)
def skippable_run(clue: bytes, starts: bytes | None) -> re.Pattern[bytes]:
    """`ORDINARY_RUN` that also takes the start tags of elements that fetch (neither raw
    text nor <noscript>) in which `clue` (a regex of lower-case text, each match starting
    with a byte in `starts`; None when it matches anywhere) occurs nowhere, in any case:
    tags whose URLs no rule can match (`BlockRules.may_match`). One match copies a page's
    text, ordinary tags and most images, so the blocker's Python code sees only the tags
    that matter. The clue is looked for up to the tag's first `>`, which ends the tag (one
    with a `>` in a quoted value is not taken); a clue that could hold `<` or `>` is not
    looked for at all."""
    if starts is None or b"<" in clue or b">" in clue:
        return ORDINARY_RUN
    watched = {bytes([c]) for c in starts.lower() + starts.upper()}
    cls = b"".join(re.escape(c) for c in sorted(watched))
    free = rb"[^>" + cls + rb"]*"
    no_clue = rb"(?=" + free + rb"(?:(?!(?i:" + clue + rb"))[" + cls + rb"]" + free + rb")*>)"
    fetching = rb"<(?=(?i:img|source|link|object|embed)" + _NAME_END + rb")" + no_clue
    return re.compile(
        rb"[^<]*(?:(?:<(?=[^A-Za-z/!?])|" + _ORDINARY_TAG + rb"|" + fetching + _GT_ENDED_TAG
        + rb")[^<]*)*"
    )


@dataclass(frozen=True, slots=True)
class Attr:
    name: bytes  # lower-cased
    lead: int  # start of the separator before it, so removing lead:end leaves tidy markup
    start: int
    name_end: int
    end: int
    value: bytes  # raw, without quotes, entities not decoded


def match_end(pattern: re.Pattern[bytes], data: bytes | bytearray, pos: int, n: int) -> int:
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
    end = match_end(_UNQUOTED, data, at, n)
    return None if end >= n else (at, end, end)


def tokenize(
    data: bytes | bytearray, pos: int, n: int, attrs: list[Attr] | None
) -> tuple[int, bool]:
    """Walk the attributes after a tag name like the HTML tokenizer, collecting them into
    `attrs`: (index past the closing `>`, True), or, if `data[:n]` ends first, (start of the
    unfinished attribute, False). Each attribute is read from where the one before ended,
    so reading can resume there once more bytes have come."""
    while True:
        lead = pos
        pos = match_end(_BETWEEN_ATTRS, data, pos, n)
        if pos >= n:
            return lead, False
        if data[pos] == _GT:
            return pos + 1, True
        name_end = match_end(_ATTR_NAME, data, pos, n)
        after = match_end(_SPACES, data, name_end, n)
        if after >= n:
            return lead, False  # the name, or an `=`, may still follow
        value = (name_end, name_end, name_end)
        if data[after] == _EQ:
            at = match_end(_SPACES, data, after + 1, n)
            found = _attribute_value(data, at, n) if at < n else None
            if found is None:
                return lead, False
            value = found
        if attrs is not None:
            name = bytes(data[pos:name_end]).lower()
            raw = bytes(data[value[0] : value[1]])
            attrs.append(Attr(name, lead, pos, name_end, value[2], raw))
        pos = value[2]


def scan_tag(data: bytes | bytearray, lt: int, resume: int, n: int) -> tuple[int, bool]:
    """Like `tokenize` for the tag at `lt`, resuming at `resume` if past `lt`; a cut-off
    name gives (lt, False): reading starts over."""
    if resume > lt:
        return tokenize(data, resume, n, None)
    name_at = lt + 2 if data[lt + 1] == _SLASH else lt + 1
    name_end = match_end(TAG_NAME, data, name_at, n)
    return (lt, False) if name_end >= n else tokenize(data, name_end, n, None)


def tag_name(tag: bytes) -> bytes:
    """The lower-cased name of a start tag (`<img ...>` -> `img`)."""
    return tag[1 : match_end(TAG_NAME, tag, 1, len(tag))].lower()


def walked_attributes(tag: bytes) -> list[Attr]:
    attrs: list[Attr] = []
    tokenize(tag, match_end(TAG_NAME, tag, 1, len(tag)), len(tag), attrs)
    return attrs


def matched_attributes(tag: bytes) -> list[Attr]:
    """`walked_attributes` for a whole tag, one regex match an attribute."""
    attrs: list[Attr] = []
    pos = match_end(TAG_NAME, tag, 1, len(tag))
    while attr := _ATTR.match(tag, pos):
        start, end = attr.span(2)
        if start < end and tag[start] in (_DQ, _SQ):
            start, end = start + 1, end - 1
        name = attr.group(1).lower()
        attrs.append(Attr(name, pos, attr.start(1), attr.end(1), attr.end(), tag[start:end]))
        pos = attr.end()
    return attrs


def first(attrs: list[Attr], name: bytes) -> Attr | None:
    """The browser keeps the first of duplicate attributes and drops the rest."""
    return next((a for a in attrs if a.name == name), None)


def text(value: bytes) -> str:
    """An attribute value as the browser reads it: character references decoded."""
    return html.unescape(value.decode("latin-1"))
