"""The cookie inventory: which cookies each site sets, counted in memory and written to the
store in batches, so no response waits for a database write (adapter)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Final

from gateway.core.enforcement.cookies import SeenCookie, set_cookie_attributes, set_cookie_name

# A hostile or buggy upstream could invent endless names; beyond this many we stop learning.
MAX_NAMES: Final = 10_000

Key = tuple[str, str]


class CookieInventory:
    def __init__(self) -> None:
        self._pending: dict[Key, SeenCookie] = {}
        self._where: dict[Key, tuple[str, str]] = {}

    def observe(
        self, *, site: str, header_value: str, category: str | None, now: datetime
    ) -> None:
        name = set_cookie_name(header_value)
        key = (site, name)
        if not name or (key not in self._where and len(self._where) >= MAX_NAMES):
            return
        attributes = set_cookie_attributes(header_value)
        path, domain = attributes.get("path") or "/", attributes.get("domain", "")
        self._where[key] = (path, domain)
        seen = self._pending.get(key)
        if seen is None:
            seen = SeenCookie(site, name, category or "unknown", now, now, 0, path, domain,
                              "httponly" in attributes)
        self._pending[key] = replace(
            seen, category=category or "unknown", last_seen=now, count=seen.count + 1,
            path=path, domain=domain, http_only="httponly" in attributes,
        )

    def location(self, site: str, name: str) -> tuple[str, str] | None:
        """(path, domain) the upstream last set this cookie with, needed to delete it."""
        return self._where.get((site, name))

    def remember(self, rows: list[SeenCookie]) -> None:
        """Learn locations from the stored inventory (at start, so deletions match)."""
        for row in rows[:MAX_NAMES]:
            self._where.setdefault((row.site, row.name), (row.path, row.domain))

    def drain(self) -> list[SeenCookie]:
        rows, self._pending = list(self._pending.values()), {}
        return rows
