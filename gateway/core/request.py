"""What the gateway knows about one request, worked out once by the middleware (a value)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.config import SiteConfig
from gateway.core.consent.cookie import Consent
from gateway.core.consent.regions import OPT_IN, RegionDecision
from gateway.core.network import Peer


@dataclass(frozen=True, slots=True)
class RequestContext:
    site: SiteConfig
    consent: Consent | None
    peer: Peer
    host: str
    gpc: bool
    dnt: bool
    user_agent: str
    accept_language: str | None
    cookies: dict[str, str]
    origin_header: str | None
    signed: str | None = None  # the consent cookie (or snippet token) as received
    region: RegionDecision = OPT_IN  # the `[[regions]]` regime of the client's country

    @property
    def hostname(self) -> str:
        """The `Host` without its port, lowercased."""
        host = self.host.lower()
        if host.startswith("["):
            return host.partition("]")[0] + "]"
        return host.rsplit(":", 1)[0] if host.count(":") == 1 else host

    @property
    def https(self) -> bool:
        return self.peer.scheme == "https"

    @property
    def origin(self) -> str:
        return f"{self.peer.scheme}://{self.host}".lower()

    @property
    def snippet_origin(self) -> str | None:
        """The embedding page's origin when this is a snippet-mode request from a configured
        origin of the site (cross-origin, so no cookie: the consent travels as a token)."""
        origin = (self.origin_header or "").lower()
        if origin and origin != self.origin and origin in self.site.origins:
            return origin
        return None
