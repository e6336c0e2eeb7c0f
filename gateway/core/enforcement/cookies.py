"""Which category a cookie belongs to, and what the visitor's consent lets through (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Final, Literal

from gateway.core.consent.cookie import Consent
from gateway.core.enforcement.knowncookies import KnownCookie, NameTable
from gateway.core.types import OPTIONAL_CATEGORIES, Category

UnknownPolicy = Literal["block", "allow"]
# Where a cookie's category came from, in order of precedence.
CategorySource = Literal["rule", "catalogue", "database", "unknown"]
# How the cookie got into the browser: a `Set-Cookie` through the gateway, or a page script
# (it arrived in a request's `Cookie` header though the gateway never saw it set).
SetBy = Literal["server", "script"]
# Classifications kept per classifier: the hot path asks per cookie per request, and a
# site has far fewer names than this, so a visitor inventing names only evicts.
CLASSIFICATION_CACHE: Final = 4096


@dataclass(frozen=True, slots=True)
class Classification:
    """What the gateway knows about a cookie name. `category` is None for a cookie nothing
    names (the unknown policy applies). `platform`, `description` and `retention` are the
    known-cookie data's for the name (the catalogue's service name as platform when the
    catalogue decided), whatever decided the category; empty when it does not know it."""

    category: Category | None
    source: CategorySource
    pattern: str = ""  # the rule glob, or the known name (a prefix ending in "*"), matched
    platform: str = ""
    description: str = ""
    retention: str = ""


UNKNOWN_COOKIE: Final = Classification(None, "unknown")


class CookieClassifier:
    """Precedence: the site's `[[cookies]]` rules (globs, first match), then the tracker
    catalogue's cookie names, then the cookie database; anything else is unknown."""

    def __init__(
        self,
        rules: Iterable[tuple[str, Category]],
        *,
        unknown: UnknownPolicy = "block",
        catalogue: Iterable[KnownCookie] = (),
        database: Iterable[KnownCookie] = (),
    ) -> None:
        self._rules = tuple(rules)
        self._unknown = unknown
        self._catalogue = NameTable(catalogue)
        self._database = NameTable(database)
        self.classify: Callable[[str], Classification] = lru_cache(CLASSIFICATION_CACHE)(
            self._classify
        )

    def category_of(self, name: str) -> Category | None:
        """The category a rule, the catalogue or the database gives; None for a cookie none
        of them names."""
        return self.classify(name).category

    def _classify(self, name: str) -> Classification:
        known = self._database.lookup(name)
        platform, description, retention = (
            (known.platform, known.description, known.retention) if known else ("", "", "")
        )
        for pattern, category in self._rules:
            if fnmatchcase(name, pattern):
                return Classification(category, "rule", pattern, platform, description,
                                      retention)
        listed = self._catalogue.lookup(name)
        if listed is not None:
            return Classification(listed.category, "catalogue", listed.pattern,
                                  listed.platform or platform, description, retention)
        if known is not None:
            return Classification(known.category, "database", known.pattern, platform,
                                  description, retention)
        return UNKNOWN_COOKIE

    def is_allowed(self, name: str, consent: Consent | None, *, own_cookie: str) -> bool:
        if name == own_cookie:
            return True
        category = self.category_of(name)
        if category is None:
            # An unknown cookie may be anything: only a visitor who accepted every optional
            # category has agreed to whatever it is.
            if self._unknown == "allow":
                return True
            return consent is not None and all(consent.allows(c) for c in OPTIONAL_CATEGORIES)
        return category == "necessary" or (consent is not None and consent.allows(category))


def set_cookie_name(header_value: str) -> str:
    return header_value.split(";", 1)[0].split("=", 1)[0].strip()


def filter_set_cookies(
    values: Sequence[str],
    classifier: CookieClassifier,
    consent: Consent | None,
    *,
    own_cookie: str,
) -> tuple[list[str], list[str]]:
    """Split upstream `Set-Cookie` values into (passed, blocked) by the visitor's consent."""
    passed: list[str] = []
    blocked: list[str] = []
    for value in values:
        name = set_cookie_name(value)
        allowed = classifier.is_allowed(name, consent, own_cookie=own_cookie)
        (passed if allowed else blocked).append(value)
    return passed, blocked


def strip_request_cookies(
    header: str, classifier: CookieClassifier, consent: Consent | None, *, own_cookie: str
) -> tuple[str, list[str]]:
    """Remove cookies of non-granted categories from a `Cookie` header before the app sees it.

    Pairs are kept byte for byte; only whole `name=value` pairs are dropped.
    """
    kept: list[str] = []
    dropped: list[str] = []
    for pair in header.split(";"):
        pair = pair.strip()
        if not pair:
            continue
        name = pair.split("=", 1)[0].strip()
        allowed = classifier.is_allowed(name, consent, own_cookie=own_cookie)
        (kept if allowed else dropped).append(pair if allowed else name)
    return "; ".join(kept), dropped


def set_cookie_attributes(header_value: str) -> dict[str, str]:
    """`Path`, `Domain`, `HttpOnly`… of a `Set-Cookie` value, keys lower-cased. Attributes are
    plain `name[=value]` pairs after the first `;`, so a split is the whole grammar."""
    attributes: dict[str, str] = {}
    for part in header_value.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip():
            attributes[key.strip().lower()] = value.strip()
    return attributes


def expire_cookie(name: str, *, path: str = "/", domain: str | None = None) -> str:
    """A `Set-Cookie` that makes the browser delete a cookie (HttpOnly ones included). The
    browser only deletes a cookie whose name, path and domain all match."""
    value = f"{name}=; Max-Age=0; Path={path or '/'}; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    value += f"; Domain={domain}" if domain else ""
    # Browsers ignore a prefixed cookie without Secure, the deletion of one included.
    return value + ("; Secure" if name.startswith(("__Host-", "__Secure-")) else "")


def script_cookie_domains(host: str, *, limit: int = 4) -> list[str]:
    """Domains a page script on `host` may have given a cookie with `Domain=`: each parent
    of two labels or more and the host itself, widest first (analytics scripts pick the
    widest the browser allows), at most `limit`: `shop.example`, `www.shop.example`. A
    deletion only works at the exact domain, and the gateway never saw these cookies set, so
    it tries each. None for an IP address or a one-label host (cookies there are host-only).
    """
    name = host.lower().rstrip(".")
    if name.startswith("["):
        return []
    name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    labels = name.split(".")
    if len(labels) < 2 or labels[-1].isdigit() or not all(labels):
        return []
    return [".".join(labels[i:]) for i in range(len(labels) - 2, -1, -1)][:limit]


@dataclass(frozen=True, slots=True)
class SeenCookie:
    """One cookie name a site uses, as the inventory keeps it (names, never values). For a
    cookie a script wrote, `count` counts the requests that carried it, and path and domain
    are unknown ("/" and "")."""

    site: str
    name: str
    category: str  # a Category, or "unknown" when nothing names it
    first_seen: datetime
    last_seen: datetime
    count: int
    path: str
    domain: str
    http_only: bool
    source: CategorySource = "rule"  # where `category` came from when last seen
    set_by: SetBy = "server"
