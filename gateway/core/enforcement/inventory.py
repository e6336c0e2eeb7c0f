"""The cookie inventory: which cookies each site uses, counted in memory and written to the
store in batches, so no response waits for a database write."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from gateway.core.enforcement.cookies import (
    Classification,
    SeenCookie,
    set_cookie_attributes,
    set_cookie_name,
)

# A hostile or buggy upstream could invent endless names; beyond this many we stop learning.
MAX_NAMES: Final = 10_000
# Script-written cookies come from the visitor's request, which anyone can fill with made-up
# names: they get a smaller share, so they can never crowd out what the upstream sets.
MAX_SCRIPT_NAMES: Final = 1_000
MAX_NAME_LENGTH: Final = 256

Key = tuple[str, str]


@dataclass(slots=True)
class _Tally:
    """A script's cookie since the last drain: updated in place, as every request carrying
    it counts (a frozen row replaced per request would cost more than the rest of the
    request's cookie handling)."""

    first_seen: datetime
    last_seen: datetime
    count: int
    classification: Classification


class CookieInventory:
    def __init__(self) -> None:
        self._pending: dict[Key, SeenCookie] = {}
        self._where: dict[Key, tuple[str, str]] = {}  # cookies seen set through the gateway
        self._scripts: set[Key] = set()
        self._script_pending: dict[Key, _Tally] = {}

    def observe(
        self, *, site: str, header_value: str, classification: Classification, now: datetime
    ) -> None:
        """Note one upstream `Set-Cookie`."""
        name = set_cookie_name(header_value)
        key = (site, name)
        if not name or (key not in self._where and len(self._where) >= MAX_NAMES):
            return
        attributes = set_cookie_attributes(header_value)
        path, domain = attributes.get("path") or "/", attributes.get("domain", "")
        self._where[key] = (path, domain)
        self._scripts.discard(key)
        self._script_pending.pop(key, None)
        seen = self._pending.get(key) or SeenCookie(site, name, "unknown", now, now, 0, path,
                                                    domain, False)
        self._pending[key] = replace(
            seen, category=classification.category or "unknown", source=classification.source,
            last_seen=now, count=seen.count + 1, path=path, domain=domain,
            http_only="httponly" in attributes,
        )

    def observe_request_cookies(
        self, *, site: str, names: Iterable[str],
        classify: Callable[[str], Classification], now: datetime,
    ) -> None:
        """Note the cookies a request carried: one never set through the gateway was written
        by a page script. Cookies the gateway saw set are counted by their `Set-Cookie`s.
        Per request and cookie, so the common cases cost a dict probe or two."""
        where, pending = self._where, self._script_pending
        for name in names:
            key = (site, name)
            if key in where:
                continue
            tally = pending.get(key)
            if tally is not None:
                tally.last_seen = now
                tally.count += 1
            elif name and len(name) <= MAX_NAME_LENGTH and self._room_for_script(key):
                pending[key] = _Tally(now, now, 1, classify(name))

    def _room_for_script(self, key: Key) -> bool:
        if key in self._scripts:
            return True
        if len(self._scripts) >= MAX_SCRIPT_NAMES:
            return False
        self._scripts.add(key)
        return True

    def location(self, site: str, name: str) -> tuple[str, str] | None:
        """(path, domain) the upstream last set this cookie with, needed to delete it; None
        for a cookie never seen set (a script's)."""
        return self._where.get((site, name))

    def remember(self, rows: list[SeenCookie]) -> None:
        """Learn from the stored inventory (at start) which cookies the upstream sets and
        where, so deletions match and those cookies are not taken for a script's."""
        for row in rows[:MAX_NAMES]:
            key = (row.site, row.name)
            if row.set_by == "server":
                self._where.setdefault(key, (row.path, row.domain))
            elif len(self._scripts) < MAX_SCRIPT_NAMES:
                self._scripts.add(key)

    def drain(self) -> list[SeenCookie]:
        rows = list(self._pending.values()) + [
            SeenCookie(site, name, t.classification.category or "unknown", t.first_seen,
                       t.last_seen, t.count, "/", "", False, source=t.classification.source,
                       set_by="script")
            for (site, name), t in self._script_pending.items()
        ]
        self._pending, self._script_pending = {}, {}
        return rows
