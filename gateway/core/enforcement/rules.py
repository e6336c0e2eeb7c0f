"""What the blocker holds back (pure): rules by host, URL, path and inline marker.

A `BlockRule` names one host (itself and every subdomain, or a glob such as `*.fbcdn.net`
over the whole host name) and what else identifies the same provider: `urls`, globs over
`host/path?query` (the host exact; `?query` only when the URL has one) for a provider that
shares its host with others (`www.google.com/maps/embed*`); `paths`, globs over the path
alone on any host (`*/matomo.js`) for tools that sites host themselves; and `markers`,
substrings of its inline snippets. In a glob `*` matches any run of characters and `?` one;
matching ignores case.

`BlockRules` compiles them once. A URL is matched first against the overriding rules (a
site's own `[[blocking.rules]]`), then against the rest (the catalogue); within each, a
`urls` glob wins, then a `paths` glob, then the longest matching host, then a host glob.
A rule for `necessary` matches like any other, so it can let through what a broader rule
would hold back, and never blocks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from gateway.core.types import CATEGORIES, Category

_URL_TRIM: Final = "".join(map(chr, range(0x21)))  # browsers strip C0 controls and spaces
_GLOB_CHARS: Final = frozenset("*?[")
_MATCH_CACHE: Final = 4096  # URLs whose rule `BlockRules.match` remembers,
_CACHED_URL_LENGTH: Final = 2048  # each at most this long


@dataclass(frozen=True, slots=True)
class BlockRule:
    """`host` matches itself and every subdomain, or is a glob such as `*.fbcdn.net` (empty
    when the rule matches only by `urls`, `paths` or `markers`); `urls` are globs over
    `host/path?query`, `paths` globs over the path on any host, `markers` substrings that
    identify the provider's inline snippets; `service` names the provider."""

    host: str
    category: Category
    markers: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    service: str = ""


@dataclass(frozen=True, slots=True)
class UrlParts:
    """A URL reduced to what rules look at, lower-cased: host (None when relative), path
    (always starting with `/`) and query."""

    host: str | None
    path: str
    query: str


def url_parts(url: str) -> UrlParts | None:
    """Normalised the way browsers do before resolving, so `\\\\host`, `https:host` or a tab
    cannot hide the host; None for a URL that fetches nothing over the network (`data:`,
    `blob:`) or cannot be read."""
    cleaned = url.strip(_URL_TRIM).replace("\t", "").replace("\n", "").replace("\r", "")
    cleaned = cleaned.replace("\\", "/")
    try:
        parts = urlsplit(cleaned)
        if parts.scheme and parts.scheme.lower() not in ("http", "https"):
            return None
        if parts.scheme and not parts.netloc:  # browsers find the host without the slashes
            parts = urlsplit("//" + cleaned.split(":", 1)[1].lstrip("/"))
        host = parts.hostname
    except ValueError:
        return None
    path = parts.path.lower()
    path = path if path.startswith("/") else "/" + path
    host = unquote(host).lower().rstrip(".") if host else None
    return UrlParts(host, path, parts.query.lower())


def _longest_literal(glob: str) -> bytes:
    return max(re.split(r"[*?]", glob.lower()), key=len).encode("utf-8")


def _glob(pattern: str) -> re.Pattern[str]:
    """`*` any run of characters, `?` one, over the whole text, ignoring case."""
    body = "".join(
        ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower()
    )
    return re.compile(body + r"\Z", re.DOTALL)


class _Layer:
    """One set of rules, indexed: exact hosts in a dict, so a URL costs a lookup a label."""

    def __init__(self, rules: Iterable[BlockRule]) -> None:
        self.hosts: dict[str, BlockRule] = {}
        self.host_globs: list[tuple[str, BlockRule]] = []
        self.urls: dict[str, list[tuple[re.Pattern[str], BlockRule]]] = {}
        self.url_globs: list[tuple[re.Pattern[str], BlockRule]] = []
        self.paths: list[tuple[re.Pattern[str], BlockRule]] = []
        for rule in rules:
            self._add(rule)
        # Every path glob in one regex, one group each, tried in order: the first that
        # matches wins, as it would one by one.
        self._path_rules = tuple(rule for _, rule in self.paths)
        self._any_path = re.compile("|".join(
            "(" + glob.pattern + ")" for glob, _ in self.paths
        ), re.DOTALL) if self.paths else None

    def _add(self, rule: BlockRule) -> None:
        host = rule.host.lower().rstrip(".")
        if host and _GLOB_CHARS & set(host):
            self.host_globs.append((host, rule))
        elif host:
            self.hosts.setdefault(host, rule)
        for url in rule.urls:
            url_host = url.lower().partition("/")[0]
            if _GLOB_CHARS & set(url_host):
                self.url_globs.append((_glob(url), rule))
            else:
                self.urls.setdefault(url_host, []).append((_glob(url), rule))
        self.paths.extend((_glob(path), rule) for path in rule.paths)

    def match(self, url: UrlParts) -> BlockRule | None:
        if url.host is not None and (self.urls or self.url_globs):
            full = url.host + url.path + ("?" + url.query if url.query else "")
            by_host: list[tuple[re.Pattern[str], BlockRule]] = self.urls.get(url.host, [])
            for glob, rule in (*by_host, *self.url_globs):
                if glob.match(full):
                    return rule
        found = self._any_path.match(url.path) if self._any_path else None
        if found is not None and found.lastindex is not None:
            return self._path_rules[found.lastindex - 1]
        return self._by_host(url.host) if url.host is not None else None

    def _by_host(self, host: str) -> BlockRule | None:
        labels = host.split(".")
        for i in range(len(labels)):
            rule = self.hosts.get(".".join(labels[i:]))
            if rule is not None:
                return rule
        return next((rule for glob, rule in self.host_globs if fnmatchcase(host, glob)), None)


class BlockRules:
    """Rules compiled for matching: `overrides` (the site's own) before `rules`."""

    def __init__(self, rules: Iterable[BlockRule], overrides: Iterable[BlockRule] = ()) -> None:
        override_rules, other_rules = tuple(overrides), tuple(rules)
        self._layers = tuple(_Layer(r) for r in (override_rules, other_rules) if r)
        self.categories = frozenset(r.category for r in override_rules + other_rules)
        markers: dict[str, Category] = {}
        for rule in override_rules + other_rules:
            for marker in rule.markers:
                if marker:
                    markers.setdefault(marker, rule.category)  # the first rule naming it
        self._markers = markers
        self._patterns: dict[frozenset[Category], re.Pattern[bytes] | None] = {}
        self._matched: dict[str, tuple[BlockRule, str] | None] = {}
        # What a URL that may match contains: a host (`//`, `\\`, `http`), a character
        # reference that may hide one, or a path rule's longest literal part.
        clues = [b"//", b"\\", b"&", b"http", *(
            _longest_literal(path) for rule in override_rules + other_rules for path in rule.paths
        )]
        # Searched in lower-cased markup: re.IGNORECASE costs four times as much.
        self._clue = re.compile(_trie_regex(_trie(clues)))
        # For the blocker's skipping regex, which looks for them at the bytes they start
        # with: each clue from its first byte that is no letter or digit (`-links` for
        # `outbound-links`), as those are rarer in markup. Where a clue occurs, so does
        # this part of it. `skip_starts` is None when an empty clue matches anywhere.
        skip = [next((c[i:] for i in range(len(c)) if not c[i : i + 1].isalnum()), c)
                for c in clues]
        self.skip_clue = _trie_regex(_trie(skip))
        self.skip_starts = None if b"" in skip else bytes(sorted({c[0] for c in skip}))

    def __bool__(self) -> bool:
        return bool(self._layers)

    def may_match(self, tag: bytes | bytearray, start: int = 0, end: int | None = None) -> bool:
        """False when no URL in this markup (`tag[start:end]`) can match, which is cheaper
        to tell than what its attributes are: nothing names a host (no `//`, `\\` or
        `http`), no character reference can hide one, and no path rule's longest literal
        part occurs."""
        return self._clue.search(tag[start:end].lower()) is not None

    def match(self, url: str) -> tuple[BlockRule, str] | None:
        """The rule for a URL and the URL's host ("" when relative). Pages repeat their
        URLs from response to response, so answers are remembered (a bounded cache)."""
        if url in self._matched:
            return self._matched[url]
        found = self._match(url)
        if len(url) <= _CACHED_URL_LENGTH:
            if len(self._matched) >= _MATCH_CACHE:
                self._matched.clear()
            self._matched[url] = found
        return found

    def _match(self, url: str) -> tuple[BlockRule, str] | None:
        parts = url_parts(url)
        if parts is None:
            return None
        for layer in self._layers:
            rule = layer.match(parts)
            if rule is not None:
                return rule, parts.host or ""
        return None

    def marker_categories(self, content: bytes, blocked: frozenset[Category]) -> list[Category]:
        """The `blocked` categories whose markers occur in an inline script, in the order
        of `CATEGORIES`."""
        pattern = self._marker_pattern(blocked)
        if pattern is None:
            return []
        found: set[Category] = set()
        for match in pattern.finditer(content):
            found.add(self._markers[match.group().decode("utf-8")])
            if len(found) == len(blocked):
                break
        return [c for c in CATEGORIES if c in found]

    def _marker_pattern(self, blocked: frozenset[Category]) -> re.Pattern[bytes] | None:
        if blocked not in self._patterns:
            markers = [m for m, c in self._markers.items() if c in blocked]
            self._patterns[blocked] = marker_pattern(markers)
        return self._patterns[blocked]


_IDENTIFIER: Final = b"A-Za-z0-9_$"


def marker_pattern(markers: Iterable[str]) -> re.Pattern[bytes] | None:
    """One regex for all markers, as a trie (`gtag(|gtm.js` -> `gt(?:ag\\(|m\\.js)`): at a
    place where no marker can start, one comparison a branch, so hundreds of markers cost
    what a handful of separate patterns did. A marker that starts like an identifier must
    start one: `ga(` must not match `omega(`. The longest marker at a place is reported."""
    trie = _trie(marker.encode("utf-8") for marker in markers if marker)
    return re.compile(_trie_regex(trie, identifiers=True)) if trie else None


def _trie(words: Iterable[bytes]) -> dict[int, Any]:
    trie: dict[int, Any] = {}
    for word in words:
        node = trie
        for byte in word:
            node = node.setdefault(byte, {})
        node[-1] = {}  # a word ends here
    return trie


def _trie_regex(node: dict[int, Any], *, identifiers: bool = False) -> bytes:
    """The words of a trie as one regex, longest first; with `identifiers`, a word that
    starts like an identifier must start one."""
    branches = []
    for byte in sorted(b for b in node if b >= 0):
        char = re.escape(bytes([byte]))
        # Checked after the first byte, so every branch starts with a literal to skip by.
        guarded = identifiers and _starts_identifier(byte)
        guard = b"(?<![" + _IDENTIFIER + b"]" + char + b")" if guarded else b""
        branches.append(char + guard + _trie_regex(node[byte]))
    if not branches:
        return b""
    body = b"|".join(branches)
    if -1 in node:
        return b"(?:" + body + b")?"
    return body if len(branches) == 1 else b"(?:" + body + b")"


def _starts_identifier(byte: int) -> bool:
    return chr(byte).isascii() and (chr(byte).isalnum() or chr(byte) in "_$")


def category_for_url(url: str, rules: Sequence[BlockRule] | BlockRules) -> Category | None:
    """The category of the rule matching a URL: by host for an absolute or
    protocol-relative URL, by path for any."""
    compiled = rules if isinstance(rules, BlockRules) else BlockRules(rules)
    found = compiled.match(url)
    return found[0].category if found else None
