"""Which category a cookie belongs to, and what the visitor's consent lets through (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Literal

from gateway.core.consent.cookie import Consent
from gateway.core.types import OPTIONAL_CATEGORIES, Category

UnknownPolicy = Literal["block", "allow"]


class CookieClassifier:
    def __init__(
        self, rules: Iterable[tuple[str, Category]], *, unknown: UnknownPolicy = "block"
    ) -> None:
        self._rules = tuple(rules)
        self._unknown = unknown

    def category_of(self, name: str) -> Category | None:
        """The first matching rule's category; None for a cookie no rule names."""
        for pattern, category in self._rules:
            if fnmatchcase(name, pattern):
                return category
        return None

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


@dataclass(frozen=True, slots=True)
class SeenCookie:
    """One cookie name a site sets, as the inventory keeps it for the admin dashboard."""

    site: str
    name: str
    category: str  # a Category, or "unknown" when no [[cookies]] rule names it
    first_seen: datetime
    last_seen: datetime
    count: int
    path: str
    domain: str
    http_only: bool
