"""Streaming blocking (pure): what a third party would fetch stays inert until consent.

`ScriptBlocker` rewrites only the start tags of elements that fetch from a URL a rule
(`rules.py`) assigns to a category the visitor has not granted; every other byte is copied.

- `<script src>`, and inline scripts holding a marker, become `type="text/plain"` (the
  browser keeps but never runs them). Classic scripts are restored by dropping `type`; a
  module script also gets `data-consent-type="module"`, the only executable type that must
  return. An inline script with markers of several blocked categories names them all.
- `<iframe src>` gets a placeholder before it; the URL attributes of `<iframe>`, `<img>`,
  `<source>` (`src`, `srcset`), `<link>` that fetches (`rel` stylesheet, preload, prefetch,
  modulepreload, preconnect, dns-prefetch, prerender: `href`), `<object data>` and
  `<embed src>` are renamed to `data-<name>`, so nothing is fetched until the banner script
  renames them back.
- Each carries `data-consent-category`, which the banner script reads after consent.

`<noscript>` content is read as markup, as a browser without JavaScript reads it, so its
pixels and iframes are neutralised too (with JavaScript on it is inert text either way);
an iframe there gets no placeholder, since nothing could bring it back.

Not modelled: `<!--` escapes inside script data, SVG/MathML content, and `<noscript>` read
as raw text (as a browser with JavaScript reads it); all are rare and at worst miss a tag.
Neither are CSS `url()`s, `<video poster>` or `<a ping>`.

Streaming: input is held back only while a tag, a `<!--` opener or a raw-text end tag is
cut off at the end of a chunk, so the output never depends on how the body was chunked.

Speed: walking every tag's attributes in Python cost more than all the rest of the proxy
on an ordinary page. Regexes that read exactly as the walk does (`markup.py`) copy each run
of text, ordinary tags and tags that fetch but that no rule can match (most images) as one
slice, so Python sees only the tags that matter, which they read too; URL verdicts are
remembered per rule set. The walk reads only what the regexes cannot finish (a tag cut off
by the end of a chunk or by the cap) and, with the shortcuts off, is the reference the
tests hold them to, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Final, Literal

from gateway.core.enforcement.markup import (
    COMMENT_END,
    FETCHING_TAG,
    RAW_END,
    RAW_TEXT,
    TAG,
    Attr,
    first,
    matched_attributes,
    scan_tag,
    skippable_run,
    tag_name,
    text,
    walked_attributes,
)
from gateway.core.enforcement.rules import BlockRule, BlockRules
from gateway.core.types import Category

# A start tag longer than this is not a real page (or is an attack on our memory): its first
# _TAG_CAP bytes pass unmodified and reading resumes as text after them.
_TAG_CAP: Final = 64 * 1024
# Inline scripts are held back whole because the verdict needs their content. Tracker
# snippets are a few KB; anything past this cap is an application bundle, and holding it
# would delay the page and let one script grow our memory, so it passes unmodified.
_INLINE_CAP: Final = 256 * 1024

_SCRIPT_END_LEN: Final = len(b"</script") + 1
_REGEX_TRIES: Final = 2  # reads of a cut-off tag by the regex before the walk takes over
_JS_TYPES: Final = frozenset({
    "", "application/ecmascript", "application/javascript", "application/x-ecmascript",
    "application/x-javascript", "text/ecmascript", "text/javascript", "text/javascript1.0",
    "text/javascript1.1", "text/javascript1.2", "text/javascript1.3", "text/javascript1.4",
    "text/javascript1.5", "text/jscript", "text/livescript", "text/x-ecmascript",
    "text/x-javascript",
})
_HTML_SPACE: Final = "\t\n\f\r "
# The attributes through which each element fetches: renamed to `data-<name>` when held back.
_FETCHED_BY: Final[dict[bytes, tuple[bytes, ...]]] = {
    b"iframe": (b"src",),
    b"img": (b"srcset", b"src"),
    b"source": (b"srcset", b"src"),
    b"link": (b"href",),
    b"object": (b"data",),
    b"embed": (b"src",),
}
# `<link rel>` values that make the browser fetch or connect (others merely describe).
_FETCHING_RELS: Final = frozenset({
    "stylesheet", "preload", "prefetch", "modulepreload", "preconnect", "dns-prefetch",
    "prerender",
})

Placeholder = Callable[[Category, str], bytes]
_Mode = Literal["data", "comment", "bogus", "raw", "held"]
_Step = tuple[int, bool]  # where reading goes on, and whether it can go on in this chunk


def _script_type(attrs: list[Attr]) -> str | None:
    """"" for a classic script, "module", or None for a data block the browser never runs."""
    attr = first(attrs, b"type")
    kind = text(attr.value).strip(_HTML_SPACE).lower() if attr else ""
    if kind in _JS_TYPES:
        return ""
    return kind if kind == "module" else None


def _neutralised_script(tag: bytes, attrs: list[Attr], categories: str) -> bytes:
    # Our attributes go right after the name: first of duplicates wins, whatever follows.
    extra = b' type="text/plain" data-consent-category="' + categories.encode() + b'"'
    if _script_type(attrs) == "module":
        extra += b' data-consent-type="module"'
    at = len(b"<script")
    old = first(attrs, b"type")
    if old is None:
        return tag[:at] + extra + tag[at:]
    return tag[:at] + extra + tag[at : old.lead] + tag[old.end :]


def _neutralised(tag: bytes, name: bytes, attrs: list[Attr], category: Category) -> bytes:
    """`data-consent-category` right after the name, and each attribute through which the
    element fetches (the first of duplicates, which the browser uses) renamed `data-<name>`."""
    at = 1 + len(name)
    renamed = sorted(
        (a for n in _FETCHED_BY[name] if (a := first(attrs, n)) is not None),
        key=lambda a: a.start,
    )
    pieces = [tag[:at], b' data-consent-category="', category.encode(), b'"']
    for attr in renamed:
        pieces += [tag[at : attr.start], b"data-", attr.name]
        at = attr.name_end
    pieces.append(tag[at:])
    return b"".join(pieces)


def _urls(attr: Attr) -> list[str]:
    """The URLs an attribute names: one, or each candidate of a `srcset`."""
    value = text(attr.value)
    if attr.name != b"srcset":
        return [value]
    return [c.split()[0] for c in value.split(",") if c.strip()]


def _link_fetches(attrs: list[Attr]) -> bool:
    rel = first(attrs, b"rel")
    return rel is not None and not _FETCHING_RELS.isdisjoint(text(rel.value).lower().split())


class ScriptBlocker:
    """Feed HTML bytes (an ASCII-compatible charset), get rewritten bytes out; `finish()`
    flushes. Categories in `granted`, and `necessary`, are never blocked. `placeholder`
    builds the markup inserted before each neutralised iframe."""

    # Off, every tag goes through the Python walk: the reference that the tests and
    # bench.blocker hold the regex shortcuts to, byte for byte.
    _regex_shortcuts: ClassVar[bool] = True

    def __init__(
        self,
        rules: BlockRules | Sequence[BlockRule],
        granted: frozenset[Category],
        placeholder: Placeholder,
    ) -> None:
        self._rules = rules if isinstance(rules, BlockRules) else BlockRules(rules)
        self._blocked = frozenset(
            c for c in self._rules.categories if c != "necessary" and c not in granted
        )
        self._placeholder = placeholder
        self._skippable = skippable_run(self._rules.skip_clue, self._rules.skip_starts).match
        self._buf = bytearray()
        self._mode: _Mode = "data"
        self._raw = b"script"  # the raw-text element being read
        self._held = b""  # start tag of the inline script held back with its content
        self._searched = 0  # held content already searched for its end tag
        self._awaiting_gt = False  # an unfinished tag is held; only a `>` can finish it
        self._resume = 0  # where in that tag reading goes on
        self._tries = 0  # times the regex found that tag cut off
        self._noscript = 0  # open <noscript> elements
        self.changed = False

    def feed(self, chunk: bytes) -> bytes:
        if not self._blocked:
            return chunk
        self._buf += chunk
        if self._awaiting_gt and b">" not in chunk and len(self._buf) < _TAG_CAP:
            return b""  # rescanning could not finish the tag, and 1-byte chunks stay linear
        return self._run(final=False)

    def finish(self) -> bytes:
        return self._run(final=True) if self._blocked else b""

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
            end = COMMENT_END.search(buf, pos)
            return self._text_until(buf, pos, end.end() if end else None, 3, final, out)
        if self._mode == "bogus":
            gt = buf.find(b">", pos)
            return self._text_until(buf, pos, gt + 1 if gt >= 0 else None, 0, final, out)
        if self._mode == "raw":
            end = RAW_END[self._raw].search(buf, pos)
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
            if pos > skipped:
                out += buf[skipped:pos]
                self._tries = 0  # a cut-off tag held before is among what was copied
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
        """The end of the text and ordinary tags from `pos` on, and of the tags that fetch
        but cannot match (most images): one regex match takes them all (`skippable_run`);
        a fetching tag it cannot take (a `>` in a quoted value) is tested here. None of
        those tags can be longer than the walk reads (`_TAG_CAP`): each match stops
        `_TAG_CAP` bytes on."""
        while True:
            run = self._skippable(buf, pos, min(len(buf), pos + _TAG_CAP))
            pos = run.end() if run else pos
            tag = FETCHING_TAG.match(buf, pos, min(len(buf), pos + _TAG_CAP))
            if tag is None or self._rules.may_match(buf, pos, tag.end()):
                return pos
            pos = tag.end()

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
        tries, self._tries = self._tries, 0
        n = min(len(buf), lt + _TAG_CAP)
        # The regex reads a whole tag. One cut off by the end of a chunk is tried again
        # once more has come; only if it is still cut off does the walk find where to
        # resume, so a tag arriving in many pieces is still read in linear time.
        regex = self._regex_shortcuts and resume == lt and tries < _REGEX_TRIES
        whole = TAG.match(buf, lt, n) if regex else None
        if whole:
            end, done = whole.end(), True
        elif regex and tries + 1 < _REGEX_TRIES:
            end, done = lt, False  # not walked yet: the regex gets another try
        else:
            end, done = scan_tag(buf, lt, resume, n)
        if done:
            self._on_tag(bytes(buf[lt:end]), out)
            return end, True
        if len(buf) - lt >= _TAG_CAP:
            out += buf[lt : lt + _TAG_CAP]
            return lt + _TAG_CAP, True
        if final:
            out += buf[lt:]  # the browser drops a tag cut off by the end of the file
            return len(buf), False
        self._awaiting_gt, self._resume, self._tries = True, end - lt, tries + 1
        return lt, False

    def _on_tag(self, tag: bytes, out: bytearray) -> None:
        if tag[1:2] == b"/":  # end tags are copied; raw text was already left before them
            if self._noscript and tag_name(tag[1:]) == b"noscript":
                self._noscript -= 1
            out += tag
            return
        name = tag_name(tag)
        if name == b"script":
            self._on_script(tag, out)
            return
        if name in _FETCHED_BY:
            self._on_fetching(name, tag, out)
        else:
            out += tag
            self._noscript += name == b"noscript"
        if name in RAW_TEXT:
            self._enter_raw(name)

    def _enter_raw(self, name: bytes) -> None:
        self._mode, self._raw = "raw", name

    def _attributes(self, tag: bytes) -> list[Attr]:
        return matched_attributes(tag) if self._regex_shortcuts else walked_attributes(tag)

    def _verdict(self, attrs: list[Attr], names: tuple[bytes, ...]) -> tuple[Category, str] | None:
        """The blocked category of the first URL in these attributes that a rule holds
        back, and what the placeholder names: the URL's host, else the service."""
        for name in names:
            attr = first(attrs, name)
            for url in _urls(attr) if attr else ():
                found = self._rules.match(url)
                if found and found[0].category in self._blocked:
                    rule, host = found
                    return rule.category, host or rule.service or rule.host
        return None

    def _on_script(self, tag: bytes, out: bytearray) -> None:
        attrs = self._attributes(tag)
        src, runs = first(attrs, b"src"), _script_type(attrs) is not None
        if runs and src is None:
            self._held, self._searched, self._mode = tag, 0, "held"
            return
        found = self._verdict(attrs, (b"src",)) if runs and self._rules.may_match(tag) else None
        out += _neutralised_script(tag, attrs, found[0]) if found else tag
        self.changed = self.changed or found is not None
        self._enter_raw(b"script")

    def _on_fetching(self, name: bytes, tag: bytes, out: bytearray) -> None:
        if not self._rules.may_match(tag):
            out += tag
            return
        attrs = self._attributes(tag)
        fetches = name != b"link" or _link_fetches(attrs)
        found = self._verdict(attrs, _FETCHED_BY[name]) if fetches else None
        if found is None:
            out += tag
            return
        category, host = found
        if name == b"iframe" and not self._noscript:
            out += self._placeholder(category, host)
        out += _neutralised(tag, name, attrs, category)
        self.changed = True

    def _held_script(self, buf: bytearray, pos: int, final: bool, out: bytearray) -> _Step:
        """An inline script is released once its end tag (or the end of the file, where the
        browser runs it too) shows whether it holds a marker of a blocked provider."""
        end = RAW_END[b"script"].search(buf, pos + max(0, self._searched - _SCRIPT_END_LEN + 1))
        if end is None and not final and len(buf) - pos < _INLINE_CAP + _SCRIPT_END_LEN:
            self._searched = len(buf) - pos
            return pos, False
        stop = end.start() if end else len(buf)
        if stop - pos > _INLINE_CAP:
            out += self._held
            self._enter_raw(b"script")
            return pos, True
        content = bytes(buf[pos:stop])
        categories = self._rules.marker_categories(content, self._blocked)
        if categories:
            attrs = self._attributes(self._held)
            out += _neutralised_script(self._held, attrs, " ".join(categories))
        else:
            out += self._held
        out += content
        self.changed = self.changed or bool(categories)
        self._mode = "data"
        return stop, True
