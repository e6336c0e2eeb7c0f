"""The tracker catalogue as values (pure): services, their validation, and the merge with a
site's own `[[blocking.rules]]`.

The catalogue is data (`gateway/adapters/catalogue/trackers.toml`, read by the adapter):
one `[[service]]` table per third-party service or self-hosted tool, with its category and
what identifies it (hosts, `urls`, `paths`, inline markers; see `rules.py` for how each
matches). `parse_catalogue` turns the parsed TOML into a `Catalogue`, naming every problem
of the file at once.

`merged_rules` is how the config and the catalogue combine. The site's rules come first, so
a rule for a host overrides the catalogue for that host and its subdomains; a rule whose
`host` is exactly one of a service's hosts also moves the whole service (its other hosts,
URLs, paths and markers) to the rule's category, so `category = "necessary"` on
`hotjar.com` lets Hotjar's snippet run as well as its script. Every other rule extends the
catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, cast

from gateway.core.enforcement.rules import BlockRule, BlockRules
from gateway.core.types import CATEGORIES, Category

_ID: Final = re.compile(r"[a-z0-9][a-z0-9-]*")
_HOST: Final = re.compile(r"[a-z0-9*?.\-]+")
_LISTS: Final = ("hosts", "urls", "paths", "markers", "cookies")
_TEXTS: Final = ("id", "name", "vendor", "category", "source")
_KEYS: Final = frozenset((*_LISTS, *_TEXTS, "shared_host"))


class CatalogueError(ValueError):
    """The catalogue file is wrong: every problem, one a line."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("tracker catalogue: " + "; ".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class TrackerService:
    """One catalogued service: what it is, who runs it, which category it needs, and how
    its scripts, pixels, embeds and snippets are recognised."""

    id: str
    name: str
    vendor: str
    category: Category
    source: str
    hosts: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    cookies: tuple[str, ...] = ()
    shared_host: bool = False

    def block_rules(self) -> tuple[BlockRule, ...]:
        """One rule a host; the first also carries the URLs, paths and markers."""
        extra = {"markers": self.markers, "urls": self.urls, "paths": self.paths}
        hosts = self.hosts or ("",)
        return tuple(
            BlockRule(host, self.category, service=self.name, **(extra if i == 0 else {}))
            for i, host in enumerate(hosts)
        )


@dataclass(frozen=True, slots=True)
class Catalogue:
    services: tuple[TrackerService, ...]

    def service(self, service_id: str) -> TrackerService | None:
        return next((s for s in self.services if s.id == service_id), None)

    def block_rules(self) -> tuple[BlockRule, ...]:
        return tuple(rule for service in self.services for rule in service.block_rules())


def parse_catalogue(document: Mapping[str, Any]) -> Catalogue:
    """The catalogue from its parsed TOML; `CatalogueError` names every problem."""
    problems: list[str] = []
    unknown = sorted(set(document) - {"service"})
    if unknown:
        problems.append(f"unknown top-level key(s) {', '.join(unknown)}")
    tables = document.get("service", [])
    if not isinstance(tables, list):
        raise CatalogueError(["`service` must be a list of [[service]] tables"])
    services = []
    for index, table in enumerate(tables):
        where = f"service[{table.get('id', index) if isinstance(table, dict) else index}]"
        found = list(_service_problems(table))
        problems.extend(f"{where}: {problem}" for problem in found)
        if not found:
            services.append(_service(table))
    ids = [s.id for s in services]
    problems.extend(f"service id {i!r} is used twice" for i in sorted(set(ids)) if ids.count(i) > 1)
    if problems:
        raise CatalogueError(problems)
    return Catalogue(tuple(services))


def _service_problems(table: Any) -> Iterator[str]:
    if not isinstance(table, dict):
        yield "is not a table"
        return
    for key in sorted(set(table) - _KEYS):
        yield f"unknown key {key!r}"
    for key in _TEXTS:
        if not isinstance(table.get(key), str) or not table[key].strip():
            yield f"{key} is missing or empty"
    for key in _LISTS:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            yield f"{key} must be a list of non-empty strings"
    if not isinstance(table.get("shared_host", False), bool):
        yield "shared_host must be true or false"
    yield from _value_problems(table)


def _value_problems(table: dict[str, Any]) -> Iterator[str]:
    if isinstance(table.get("id"), str) and not _ID.fullmatch(table["id"]):
        yield f"id {table['id']!r} is not a lower-case slug"
    if table.get("category") not in CATEGORIES:
        yield f"category must be one of {', '.join(CATEGORIES)}"
    if isinstance(table.get("source"), str) and not table["source"].startswith("https://"):
        yield "source must be an https:// URL"
    if not any(table.get(key) for key in ("hosts", "urls", "paths", "markers")):
        yield "needs at least one of hosts, urls, paths, markers"
    for host in _strings(table.get("hosts")):
        if not _HOST.fullmatch(host):
            yield f"host {host!r} is not a lower-case host name or glob"
    for url in _strings(table.get("urls")):
        if "/" not in url or "://" in url:
            yield f"url {url!r} is not host/path (no scheme)"
    for path in _strings(table.get("paths")):
        if not path.startswith(("/", "*")):
            yield f"path {path!r} must start with / or *"


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _service(table: dict[str, Any]) -> TrackerService:
    lists = {key: tuple(table.get(key, ())) for key in _LISTS}
    return TrackerService(
        id=table["id"], name=table["name"].strip(), vendor=table["vendor"].strip(),
        category=cast(Category, table["category"]), source=table["source"],
        shared_host=table.get("shared_host", False), **lists,
    )


def merged_rules(catalogue: Catalogue | None, own: Iterable[BlockRule]) -> BlockRules:
    """The site's rules (`own`) over the catalogue: see the module's docstring."""
    own = tuple(own)
    if catalogue is None:
        return BlockRules((), overrides=own)
    moved = {rule.host.lower(): rule.category for rule in reversed(own) if rule.host}
    services = []
    for service in catalogue.services:
        category = next((moved[h] for h in service.hosts if h in moved), service.category)
        services.append(replace(service, category=category))
    return BlockRules(Catalogue(tuple(services)).block_rules(), overrides=own)
