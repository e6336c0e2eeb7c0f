"""IP truncation (gateway/core/pseudonymise.py): only the network part of an address is kept,
and anything that is not an address becomes the placeholder."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.pseudonymise import truncate_ip


def test_the_last_ipv4_byte_is_zeroed_by_default() -> None:
    assert truncate_ip("81.2.69.142") == "81.2.69.0"


def test_masking_two_bytes_zeroes_the_last_two() -> None:
    assert truncate_ip("81.2.69.142", ipv4_mask_bytes=2) == "81.2.0.0"


def test_masking_three_bytes_keeps_only_the_first() -> None:
    assert truncate_ip("81.2.69.142", ipv4_mask_bytes=3) == "81.0.0.0"


def test_an_ipv6_address_keeps_its_first_48_bits() -> None:
    assert truncate_ip("2a02:a45e:1234:5678:9abc:def0:1234:5678") == "2a02:a45e:1234::"


def test_an_ipv6_prefix_of_32_bits_can_be_configured() -> None:
    assert truncate_ip("2a02:a45e:1234:5678::1", ipv6_prefix=32) == "2a02:a45e::"


def test_an_ipv4_mapped_ipv6_address_is_truncated_as_ipv4() -> None:
    assert truncate_ip("::ffff:81.2.69.142") == "81.2.69.0"


@given(st.ip_addresses(), st.integers(1, 3), st.integers(16, 64))
def test_truncation_keeps_exactly_the_network_part(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, mask_bytes: int, prefix: int
) -> None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    bits = 32 - 8 * mask_bytes if ip.version == 4 else prefix
    network = ipaddress.ip_network(f"{ip}/{bits}", strict=False)
    assert truncate_ip(str(ip), ipv4_mask_bytes=mask_bytes, ipv6_prefix=prefix) == str(
        network.network_address)


@pytest.mark.parametrize("garbage", ["", "unknown", "81.2.69", "81.2.69.142.5", "/tmp/gw.sock",
                                     "81.2.69.142, 10.0.0.1", "<script>"])
def test_anything_but_an_ip_address_becomes_the_placeholder(garbage: str) -> None:
    assert truncate_ip(garbage) == "0.0.0.0"
