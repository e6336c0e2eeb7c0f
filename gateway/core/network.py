"""Who is asking, and over which scheme: trusting forwarded headers only from our proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def parse_networks(items: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


def _is_trusted(address: str, trusted: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


@dataclass(frozen=True, slots=True)
class Peer:
    address: str
    scheme: str


def resolve_peer(
    *,
    socket_address: str | None,
    scheme: str,
    forwarded_for: str | None,
    forwarded_proto: str | None,
    trusted_proxies: tuple[str, ...],
) -> Peer:
    """The client is the socket peer unless that peer is a configured proxy; then walk
    `X-Forwarded-For` from the right and take the first address that is not a proxy."""
    address = socket_address or ""
    trusted = parse_networks(trusted_proxies)
    if not trusted or not _is_trusted(address, trusted):
        return Peer(address, scheme)
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = hop
        if not _is_trusted(hop, trusted):
            break
    proto = (forwarded_proto or "").split(",")[0].strip().lower()
    return Peer(address, proto if proto in ("http", "https") else scheme)
