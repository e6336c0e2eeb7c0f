"""Turning addresses and user agents into forms that may be stored (pure)."""

from __future__ import annotations

import ipaddress

UNKNOWN_IP = "0.0.0.0"  # noqa: S104 - a stored placeholder, never bound to


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(address: str) -> IPAddress | None:
    """The address, with a dual-stack socket's `::ffff:a.b.c.d` as the IPv4 it is; None
    for anything that is not an IP address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def truncate_ip(address: str, *, ipv4_mask_bytes: int = 1, ipv6_prefix: int = 48) -> str:
    """Zero the host part: 81.2.69.142 -> 81.2.69.0 (/24), 2001:db8:1:2::1 -> 2001:db8:1:: (/48).

    Anything that is not an IP address (a UNIX socket, garbage) becomes `0.0.0.0`, so no
    caller can store an untruncated value by passing something odd.
    """
    ip = parse_ip(address)
    if ip is None:
        return UNKNOWN_IP
    host_bits = 8 * ipv4_mask_bytes if ip.version == 4 else 128 - ipv6_prefix
    return str(type(ip)(int(ip) >> host_bits << host_bits))
