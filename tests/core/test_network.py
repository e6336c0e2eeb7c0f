"""The client address and scheme (gateway/core/network.py): forwarded headers are believed
only from trusted proxies, and the client is the rightmost hop that is not one of them."""

from __future__ import annotations

from gateway.core.network import resolve_peer


def peer(socket_address: str, *, xff: str | None = None, proto: str | None = None,
         trusted: tuple[str, ...] = ()) -> tuple[str, str]:
    result = resolve_peer(socket_address=socket_address, scheme="http", forwarded_for=xff,
                          forwarded_proto=proto, trusted_proxies=trusted)
    return result.address, result.scheme


def test_the_socket_address_is_the_client_when_no_proxy_is_trusted() -> None:
    assert peer("203.0.113.77", xff="198.51.100.9") == ("203.0.113.77", "http")


def test_forwarded_headers_from_an_untrusted_peer_are_ignored() -> None:
    result = peer("203.0.113.77", xff="198.51.100.9", proto="https", trusted=("10.0.0.0/8",))
    assert result == ("203.0.113.77", "http")


def test_forwarded_for_from_a_trusted_proxy_names_the_client() -> None:
    assert peer("10.0.0.2", xff="198.51.100.9", trusted=("10.0.0.2",))[0] == "198.51.100.9"


def test_the_rightmost_untrusted_hop_is_the_client_not_a_spoofed_leftmost_one() -> None:
    xff = "1.2.3.4, 198.51.100.9, 10.0.0.7"  # 1.2.3.4 was made up by the client
    assert peer("10.0.0.2", xff=xff, trusted=("10.0.0.0/8",))[0] == "198.51.100.9"


def test_a_trusted_proxy_without_forwarded_for_is_itself_the_client() -> None:
    assert peer("10.0.0.2", trusted=("10.0.0.0/8",)) == ("10.0.0.2", "http")


def test_forwarded_proto_is_believed_from_a_trusted_proxy() -> None:
    assert peer("10.0.0.2", xff="198.51.100.9", proto="https", trusted=("10.0.0.2",))[1] == (
        "https"
    )


def test_a_nonsense_forwarded_proto_keeps_the_socket_scheme() -> None:
    assert peer("10.0.0.2", proto="gopher", trusted=("10.0.0.2",))[1] == "http"


def test_an_ipv6_proxy_network_is_honoured() -> None:
    xff = "2a02:a45e:1234:5678::1"
    assert peer("fd00::2", xff=xff, trusted=("fd00::/8",))[0] == xff
