"""Which consent regime applies to a visitor: the first `[[regions]]` rule naming their
country (pure). Unknown country, no rule: `opt-in`, today's behaviour and the law in the EEA.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from gateway.core.config.regions import (
    ANY_COUNTRY,
    GROUPS,
    OPT_IN_BY_DEFAULT,
    Mode,
    RegionRule,
)
from gateway.core.types import Category

# The Consent Mode v2 signals each category stands for (consent.js has the same table).
SIGNALS: Final[dict[Category, tuple[str, ...]]] = {
    "necessary": ("security_storage",),
    "preferences": ("functionality_storage", "personalization_storage"),
    "analytics": ("analytics_storage",),
    "marketing": ("ad_storage", "ad_user_data", "ad_personalization"),
}


@dataclass(frozen=True, slots=True)
class RegionDecision:
    """The regime for one visitor: the mode and what it grants before they decide."""

    mode: Mode
    granted: frozenset[Category] = frozenset()

    @property
    def asks_first(self) -> bool:
        return self.mode == "opt-in"


OPT_IN: Final = RegionDecision("opt-in")


class RegionalRules:
    """`[[regions]]` compiled once: `decide(country)` for every visitor."""

    def __init__(self, rules: Sequence[RegionRule]) -> None:
        self.rules = tuple(rules)

    def __bool__(self) -> bool:
        """False when every visitor gets opt-in anyway: then nobody needs to be located."""
        return any(rule.mode != "opt-in" for rule in self.rules)

    def decide(self, country: str) -> RegionDecision:
        if not country:
            return OPT_IN  # no database, a private address, a country it does not know
        for rule in self.rules:
            if rule.names(country):
                return RegionDecision(rule.mode, frozenset(rule.granted))
        return OPT_IN

    def consent_mode_defaults(self) -> list[dict[str, Any]]:
        """Consent Mode v2 region defaults: per `notice`/`none` rule, its countries that no
        earlier rule claims, with its categories' signals granted. `*` has no region code
        of its own: the page's own state (and its `update`) covers those visitors."""
        claimed: set[str] = set()
        star = False  # after `*`, only the default opt-in countries are left to name
        entries = []
        for rule in self.rules:
            countries = _expanded(rule.countries) - claimed
            if star:
                countries &= OPT_IN_BY_DEFAULT
            claimed |= countries
            star = star or ANY_COUNTRY in rule.countries
            if rule.mode != "opt-in" and countries:
                granted = [name for category in sorted(rule.granted)
                           for name in SIGNALS[category]]
                entries.append({"region": sorted(countries), "granted": granted})
        return entries


def _expanded(codes: Sequence[str]) -> set[str]:
    countries: set[str] = set()
    for code in codes:
        if code != ANY_COUNTRY:
            countries |= GROUPS.get(code, {code})
    return countries
