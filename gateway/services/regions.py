"""The regional regime of a request: its country from the local GeoIP database (the full
address in memory only, as for analytics), then the first `[[regions]]` rule naming it."""

from __future__ import annotations

from gateway.adapters.geo import GeoLookup
from gateway.core.config import GatewayConfig
from gateway.core.consent.regions import OPT_IN, RegionalRules, RegionDecision


class RegionService:
    def __init__(self, config: GatewayConfig, geo: GeoLookup) -> None:
        self.rules = RegionalRules(config.regions)
        self.geo = geo

    def decide(self, address: str | None) -> RegionDecision:
        """Opt-in without a rule that could say otherwise: then nobody is located."""
        if not self.rules or not address:
            return OPT_IN
        return self.rules.decide(self.geo.locate(address).country)
