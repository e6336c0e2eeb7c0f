"""The request context: read once from the ASGI scope by the middleware (the site, the
verified consent, the client, the few headers the gateway uses) and kept in the scope."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from starlette.datastructures import QueryParams
from starlette.requests import cookie_parser
from starlette.types import Scope

from gateway.core.config import GatewayConfig, SiteConfig
from gateway.core.network import resolve_peer
from gateway.core.request import RequestContext
from gateway.services.consents import ConsentService
from gateway.services.regions import RegionService

SCOPE_KEY: Final = "consent_gateway"
TOKEN_HEADER: Final = "x-consent-token"  # noqa: S105 - a header name

_WANTED: Final = frozenset({
    b"host", b"cookie", b"x-forwarded-for", b"x-forwarded-proto", b"sec-gpc", b"dnt",
    b"user-agent", b"accept-language", b"origin", TOKEN_HEADER.encode(),
})


class RequestContexts:
    def __init__(
        self, config: GatewayConfig, consents: ConsentService, regions: RegionService
    ) -> None:
        self.config = config
        self.consents = consents
        self.regions = regions

    def site_for(self, hostname: str) -> SiteConfig:
        for site in self.config.sites:
            if hostname in site.hosts:
                return site
        return self.config.sites[0]

    def context_for(self, scope: Scope, *, site_id: str | None = None) -> RequestContext:
        """`site_id` (or `?site=`) picks the site in snippet mode, where the Host is the
        gateway's own; otherwise the Host decides."""
        headers = _wanted_headers(scope)
        client = scope.get("client")
        peer = resolve_peer(
            socket_address=client[0] if client else None,
            scheme="https" if scope.get("scheme") in ("https", "wss") else "http",
            forwarded_for=headers.get("x-forwarded-for"),
            forwarded_proto=headers.get("x-forwarded-proto"),
            trusted_proxies=self.config.server.trusted_proxies,
        )
        host = headers.get("host", "")[:255]
        if site_id is None and b"site=" in scope.get("query_string", b""):
            site_id = QueryParams(scope["query_string"]).get("site")
        site = (site_id and self.config.site_by_id(site_id)) or self.site_for(
            (urlsplit("//" + host).hostname or "") if host else ""
        )
        cookies = cookie_parser(headers["cookie"][:8192]) if "cookie" in headers else {}
        # A snippet keeps the signed value first-party and sends it back as a header.
        own_cookie = self.consents.cookie_name(peer.scheme == "https")
        signed = headers.get(TOKEN_HEADER) or cookies.get(own_cookie)
        region = self.regions.decide(peer.address)
        consent = self.consents.decode(signed, site)
        if consent is not None and not consent.explicit and consent.mode != "opt-in" \
                and region.asks_first:
            consent = None  # implied elsewhere, and here the visitor must be asked first
        return RequestContext(
            site=site,
            consent=consent,
            peer=peer,
            host=host,
            gpc=headers.get("sec-gpc", "").strip() == "1",
            dnt=headers.get("dnt", "").strip() == "1",
            user_agent=headers.get("user-agent", ""),
            accept_language=headers.get("accept-language"),
            cookies=cookies,
            origin_header=headers.get("origin"),
            signed=signed,
            region=region,
        )


def on_admin_listener(scope: Scope, admin_port: int | None) -> bool:
    """With `server.admin_listen`, admin routes exist only on that listener's port."""
    if admin_port is None:
        return True
    server = scope.get("server")
    return server is not None and server[1] == admin_port


def _wanted_headers(scope: Scope) -> dict[str, str]:
    """The few headers the gateway reads, decoded in one pass over the raw list (the first
    of duplicates wins, as Starlette's Headers.get does)."""
    found: dict[str, str] = {}
    for raw_name, value in scope["headers"]:
        if raw_name in _WANTED:
            found.setdefault(raw_name.decode("latin-1"), value.decode("latin-1"))
    return found


def context_of(scope: Scope) -> RequestContext:
    ctx = scope.get(SCOPE_KEY)
    if not isinstance(ctx, RequestContext):
        raise RuntimeError("ConsentMiddleware must run before the consent endpoints")
    return ctx
