"""The known-cookie data shipped in the package, read once per process (adapter).

`cookie_database()`: the gateway's framework cookies (`framework-cookies.toml`), then the
Open Cookie Database (`open-cookie-database/`, see its README for where it came from).
`tracker_cookies()`: the cookie names of the tracker catalogue's services (`trackers.toml`,
read by `load_catalogue`). Files are read through `importlib.resources`, so they work from a
wheel as from a checkout.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Final

from gateway.adapters.catalogue import load_catalogue
from gateway.core.enforcement.knowncookies import (
    KnownCookie,
    parse_known_cookies,
    parse_open_cookie_database,
)

OPEN_COOKIE_DATABASE: Final = ("open-cookie-database", "open-cookie-database.csv")
FRAMEWORK_COOKIES: Final = "framework-cookies.toml"


def _data(*parts: str) -> Traversable:
    found = files("gateway.adapters.catalogue")
    for part in parts:
        found = found / part
    return found


@cache
def cookie_database() -> tuple[KnownCookie, ...]:
    """Framework cookies first: for a name both list, theirs is the one that counts."""
    frameworks = _read_toml(FRAMEWORK_COOKIES).get("cookie", [])
    ocd = _data(*OPEN_COOKIE_DATABASE).read_text(encoding="utf-8")
    return (*parse_known_cookies(frameworks, where=FRAMEWORK_COOKIES),
            *parse_open_cookie_database(ocd))


@cache
def tracker_cookies() -> tuple[KnownCookie, ...]:
    """The `cookies` names of every service of the tracker catalogue, with the service's
    category and name (as platform); a trailing `*` makes a prefix."""
    return tuple(
        KnownCookie(name.rstrip("*"), service.category, prefix=name.endswith("*"),
                    platform=service.name)
        for service in load_catalogue().services
        for name in service.cookies
    )


def _read_toml(name: str) -> dict[str, Any]:
    return tomllib.loads(_data(name).read_text(encoding="utf-8"))
