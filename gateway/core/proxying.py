"""What crosses the reverse proxy (pure): the request headers the upstream gets, and the
response headers that must not lead the visitor past the gateway.

Like Caddy and Traefik, the visitor's `Host` goes upstream unchanged unless the site sets
`upstream_host`; `X-Forwarded-For/-Proto/-Host` and RFC 7239 `Forwarded` say who asked.
Like nginx's `proxy_redirect default`, `Location`, `Content-Location`, `Refresh` and `Link`
naming the upstream's origin are turned into the visitor's, and a `Set-Cookie` `Domain`
naming the upstream's host is dropped so the cookie lands on the public host.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded. `expect` too: the
# ASGI server has already answered `100 Continue` when the body is read.
HOP_BY_HOP: Final = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "proxy-connection",
})
_NOT_FORWARDED: Final = HOP_BY_HOP | {
    "host", "accept-encoding", "content-length", "expect", "forwarded",
}
_LINK_TARGET: Final = re.compile(r"<([^>]*)>")
_REFRESH_URL: Final = re.compile(r"(?i)(\burl\s*=\s*['\"]?)([^'\";\s]+)")


def forwarded_node(address: str) -> str:
    """An RFC 7239 node: IPv6 bracketed and quoted, anything unparsable obfuscated."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return '"_unknown"' if address.strip() else "unknown"
    return f'"[{ip}]"' if ip.version == 6 else str(ip)


def forwarded_header(chain: Sequence[str], *, proto: str, host: str) -> str:
    """`Forwarded` holding what `X-Forwarded-For` holds (one `for=` per hop), with this
    hop's `proto` and `host` on the last element."""
    elements = [f"for={forwarded_node(address)}" for address in chain]
    last = f"proto={proto}" + (f';host="{_quoted(host)}"' if host else "")
    elements[-1] = f"{elements[-1]};{last}"
    return ", ".join(elements)


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def upstream_request_headers(
    incoming: Iterable[tuple[str, str]],
    *,
    client: str,
    scheme: str,
    upstream_host: str | None,
    accept_encoding: str,
) -> list[tuple[str, str]]:
    """The headers the upstream gets: the visitor's, minus hop-by-hop ones, with the
    visitor's `Host` (or `upstream_host`) and the forwarding headers of this hop."""
    received = list(incoming)
    host = next((value for name, value in received if name == "host"), "")
    earlier = next((value for name, value in received if name == "x-forwarded-for"), "")
    chain = [part.strip() for part in earlier.split(",") if part.strip()] + [client]
    out = [
        (name, value) for name, value in received
        if name not in _NOT_FORWARDED and not name.startswith("x-forwarded-")
    ]
    out += [
        ("Host", upstream_host or host),
        ("X-Forwarded-For", ", ".join(chain)),
        ("X-Forwarded-Proto", scheme),
        ("X-Forwarded-Host", host),
        ("Forwarded", forwarded_header(chain, proto=scheme, host=host)),
        ("Accept-Encoding", accept_encoding),
    ]
    return out


@dataclass(frozen=True, slots=True)
class OriginRewriter:
    """Turns URLs naming the upstream (`upstream_origins`, e.g. `http://10.0.0.5:8080`) into
    the same URL on the gateway's public origin (`https://shop.example.org`)."""

    upstream_origins: tuple[str, ...]
    public_origin: str

    @classmethod
    def for_upstream(
        cls, upstream: str, *, upstream_host: str | None, public_origin: str
    ) -> OriginRewriter:
        parts = urlsplit(upstream)
        origins = {f"{parts.scheme}://{parts.netloc}".lower()}
        if upstream_host:
            origins |= {f"http://{upstream_host}".lower(), f"https://{upstream_host}".lower()}
        origins.discard(public_origin.lower())
        return cls(tuple(sorted(origins, key=len, reverse=True)), public_origin)

    def url(self, value: str) -> str:
        lowered = value.lower()
        for origin in self.upstream_origins:
            if lowered.startswith(origin) and lowered[len(origin):len(origin) + 1] in (
                "", "/", "?", "#"
            ):
                return self.public_origin + value[len(origin):]
        return value

    def link(self, value: str) -> str:
        return _LINK_TARGET.sub(lambda m: f"<{self.url(m.group(1))}>", value)

    def refresh(self, value: str) -> str:
        return _REFRESH_URL.sub(lambda m: m.group(1) + self.url(m.group(2)), value)

    def upstream_hosts(self) -> frozenset[str]:
        return frozenset((urlsplit(origin).hostname or "") for origin in self.upstream_origins)

    def set_cookie(self, value: str) -> str:
        """Drop a `Domain` attribute naming the upstream's host: the browser would refuse
        the cookie on the public host, or keep it for the wrong one."""
        hosts = self.upstream_hosts()
        kept = [
            part for part in value.split(";")
            if not (part.strip().lower().startswith("domain=")
                    and part.split("=", 1)[1].strip().lstrip(".").lower() in hosts)
        ]
        return ";".join(kept)

    def header(self, name: str, value: str) -> str:
        """One response header, rewritten if it is one that can lead away."""
        rewrite = _REWRITTEN.get(name)
        return value if rewrite is None else rewrite(self, value)


_REWRITTEN: Final = {
    "location": OriginRewriter.url,
    "content-location": OriginRewriter.url,
    "refresh": OriginRewriter.refresh,
    "link": OriginRewriter.link,
    "set-cookie": OriginRewriter.set_cookie,
}
