"""Known cookies: what a cookie name is, from shipped data rather than the site's own rules
(pure).

Two kinds of data feed it: the Open Cookie Database (a CSV, read as published) with the
gateway's own additions for web frameworks, and the tracker catalogue's cookie names. Both
become `KnownCookie`s in a `NameTable`: exact names in a dict, prefixes in one dict per
prefix length probed longest first, so a lookup costs a handful of dict probes however many
thousand names are known, and an exact name beats a prefix, a longer prefix a shorter one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from gateway.core.types import CATEGORIES, Category

# The Open Cookie Database's categories in ours. What keeps a site working or secure
# (Functional, Necessary, Security) needs no consent.
OCD_CATEGORIES: Final[Mapping[str, Category]] = {
    "Functional": "necessary",
    "Necessary": "necessary",
    "Security": "necessary",
    "Personalization": "preferences",
    "Analytics": "analytics",
    "Marketing": "marketing",
}
# A prefix shorter than this that the database places on another party's domain is left
# out: such a cookie never reaches the site, and as a prefix of the site's own names it
# would mislabel them (Marfeel's `_s` would file `_session_id` under analytics, Adhese's
# `cap` `captcha`).
MIN_THIRD_PARTY_PREFIX: Final = 4
# Names the database lists more than once (with different vendors) get the strictest.
_STRICTNESS: Final = {category: rank for rank, category in enumerate(CATEGORIES)}
_OCD_COLUMNS: Final = ("Platform", "Category", "Cookie / Data Key name", "Domain",
                       "Description", "Retention period", "Wildcard match")


@dataclass(frozen=True, slots=True)
class KnownCookie:
    """One cookie name (or name prefix) and what the data says about it."""

    name: str  # without the trailing "*" of a prefix
    category: Category
    prefix: bool = False
    platform: str = ""  # the product that sets it ("Hotjar", "Django")
    description: str = ""
    retention: str = ""  # as the data words it ("1 year", "session")
    domain: str = ""  # where the data says it lives; "" for the site's own domain

    @property
    def pattern(self) -> str:
        """The name as a `[[cookies]]` pattern: a prefix ends in `*`."""
        return self.name + "*" if self.prefix else self.name


class NameTable:
    """Known cookies by exact name and by prefix. For a name listed twice the entry given
    first wins, so callers pass the data they trust most first."""

    def __init__(self, entries: Iterable[KnownCookie]) -> None:
        self._exact: dict[str, KnownCookie] = {}
        prefixes: dict[int, dict[str, KnownCookie]] = {}
        for entry in entries:
            table = prefixes.setdefault(len(entry.name), {}) if entry.prefix else self._exact
            table.setdefault(entry.name, entry)
        self._prefixes = tuple(sorted(prefixes.items(), reverse=True))

    def __len__(self) -> int:
        return len(self._exact) + sum(len(table) for _, table in self._prefixes)

    def lookup(self, name: str) -> KnownCookie | None:
        """The entry naming `name` exactly, else the one with the longest matching prefix."""
        found = self._exact.get(name)
        if found is not None:
            return found
        for length, table in self._prefixes:
            if len(name) >= length and (found := table.get(name[:length])) is not None:
                return found
        return None


def parse_open_cookie_database(text: str) -> list[KnownCookie]:
    """The Open Cookie Database's CSV as `KnownCookie`s (see its README in the package).

    Categories are mapped by `OCD_CATEGORIES` (a row with any other is left out), wildcard
    rows become prefixes, names are stripped of stray whitespace. Where a name is listed
    more than once, a row for the site's own domain beats rows for another party's, then the
    strictest category wins. Short prefixes bound to another party's domain are left out
    (`MIN_THIRD_PARTY_PREFIX`).
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in _OCD_COLUMNS if column not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(f"not the Open Cookie Database: no column {', '.join(missing)}")
    chosen: dict[tuple[str, bool], KnownCookie] = {}
    for row in reader:
        entry = _ocd_entry(row)
        if entry is None:
            continue
        key = (entry.name, entry.prefix)
        held = chosen.get(key)
        if held is None or _rank(entry) > _rank(held):
            chosen[key] = entry
    return list(chosen.values())


def _ocd_entry(row: Mapping[str, str | None]) -> KnownCookie | None:
    name = (row["Cookie / Data Key name"] or "").strip()
    category = OCD_CATEGORIES.get((row["Category"] or "").strip())
    domain = (row["Domain"] or "").strip()
    prefix = (row["Wildcard match"] or "").strip() == "1"
    if not name or category is None:
        return None
    if prefix and domain and len(name) < MIN_THIRD_PARTY_PREFIX:
        return None
    return KnownCookie(
        name, category, prefix=prefix, platform=(row["Platform"] or "").strip(),
        description=" ".join((row["Description"] or "").split()),
        retention=(row["Retention period"] or "").strip(), domain=domain,
    )


def _rank(entry: KnownCookie) -> tuple[bool, int]:
    return (not entry.domain, _STRICTNESS[entry.category])


def parse_known_cookies(
    entries: Iterable[Mapping[str, Any]], *, where: str = "known cookies"
) -> list[KnownCookie]:
    """Entries of the gateway's own cookie data (`[[cookie]]` tables: `name`, a trailing
    `*` for a prefix; `category`; optional `platform`, `description`, `retention`). A bad
    entry is a packaging bug, so it raises `ValueError` naming it."""
    known = []
    for number, entry in enumerate(entries, start=1):
        name, category = entry.get("name"), entry.get("category")
        if not isinstance(name, str) or not name.rstrip("*") or category not in CATEGORIES:
            raise ValueError(f"{where}: entry {number} needs a name and a category")
        known.append(KnownCookie(
            name.rstrip("*"), category, prefix=name.endswith("*"),
            platform=str(entry.get("platform", "")),
            description=str(entry.get("description", "")),
            retention=str(entry.get("retention", "")),
        ))
    return known
