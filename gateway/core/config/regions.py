"""`[[regions]]`: which consent regime a visitor's country gets, and the check that
`consent.cookie_domain` covers every site's hosts (pure).

The country groups live here because the configuration validates against them; matching a
country to a rule is `gateway.core.consent.regions`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from gateway.core.config.sites import _Section
from gateway.core.types import Category

Mode = Literal["opt-in", "notice", "none"]
MODES: Final[tuple[Mode, ...]] = ("opt-in", "notice", "none")

EU: Final = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
})
EEA: Final = EU | {"IS", "LI", "NO"}
GROUPS: Final[Mapping[str, frozenset[str]]] = {"EU": EU, "EEA": EEA}
ANY_COUNTRY: Final = "*"
# Opt-in by default: `*` does not reach these; only a rule naming them (or their group) does.
OPT_IN_BY_DEFAULT: Final = EEA | {"GB", "CH"}

_COUNTRY = re.compile(r"[A-Z]{2}")
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}")


class RegionRule(_Section):
    countries: tuple[str, ...] = Field(
        min_length=1,
        description="ISO 3166-1 country codes (`US`, `GB`) and the groups `EEA` (the EU 27 "
        "plus Iceland, Liechtenstein and Norway), `EU` and `*` (every other country: not "
        "the EEA, GB or CH, which stay `opt-in` unless a rule names them or their group). "
        "The first rule naming the visitor's country applies; a visitor whose country is "
        "unknown (no GeoIP database, a private address) always gets `opt-in`, and so does "
        "one no rule names.",
    )
    mode: Mode = Field(
        description="`opt-in`: the banner asks and nothing optional is granted until the "
        "visitor accepts (the default, and what the EEA, GB and CH need). `notice`: the "
        "banner informs, the `granted` categories apply until the visitor refuses (\"Reject "
        "all\" stays on the first layer). `none`: no banner, the `granted` categories apply; "
        "the floating button and the preferences page still let the visitor change them. "
        "A decision the visitor made stands wherever they come from later.",
    )
    granted: tuple[Category, ...] = Field(
        (),
        description="For `notice` and `none`: the optional categories granted until the "
        "visitor decides otherwise (`necessary` always is).",
    )

    @field_validator("countries")
    @classmethod
    def _are_countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        codes = tuple(code.strip().upper() for code in value)
        for code in codes:
            if code != ANY_COUNTRY and code not in GROUPS and not _COUNTRY.fullmatch(code):
                raise ValueError(f"{code!r} is not a country code like 'US', nor EEA, EU or *")
        return codes

    @field_validator("granted")
    @classmethod
    def _optional_only(cls, value: tuple[Category, ...]) -> tuple[Category, ...]:
        if "necessary" in value:
            raise ValueError("'necessary' is always granted; name optional categories only")
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _granted_needs_a_mode(self) -> RegionRule:
        if self.mode == "opt-in" and self.granted:
            raise ValueError("granted: opt-in grants nothing before the visitor decides")
        return self

    def names(self, country: str) -> bool:
        return any(
            code == country or country in GROUPS.get(code, ())
            or (code == ANY_COUNTRY and country not in OPT_IN_BY_DEFAULT)
            for code in self.countries
        )


def normalised_domain(value: str | None) -> str | None:
    """`.Example.org` -> `example.org`; None when empty. Raises ValueError when it is not a
    domain a cookie may name (one label, an address, a port)."""
    if not value:
        return None
    domain = value.strip().lower().lstrip(".")
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"{value!r} is not a parent domain like 'example.org'")
    return domain


CookieDomain = Annotated[str | None, AfterValidator(normalised_domain)]


def covers(domain: str, host: str) -> bool:
    """Whether a cookie with `Domain=domain` reaches `host`."""
    host = host.lower().rstrip(".")
    return host == domain or host.endswith("." + domain)


def cookie_domain_problems(data: Mapping[str, Any]) -> Iterator[str]:
    """`consent.cookie_domain` must cover every host of every site: a browser refuses a
    cookie whose Domain does not cover the page's host, so that site would never remember."""
    consent = data.get("consent")
    domain = consent.get("cookie_domain") if isinstance(consent, Mapping) else None
    if not isinstance(domain, str) or not domain:
        return
    sites = data.get("sites")
    for site in sites if isinstance(sites, list | tuple) else ():
        if not isinstance(site, Mapping):
            continue
        hosts = site.get("hosts") or ()
        if not hosts:
            yield (f"consent.cookie_domain: site {site.get('id')!r} lists no hosts, so "
                   f"{domain!r} cannot be checked to cover it")
        for host in hosts:
            if isinstance(host, str) and not covers(domain, host):
                yield (f"consent.cookie_domain: {domain!r} does not cover host {host!r} of "
                       f"site {site.get('id')!r}")
