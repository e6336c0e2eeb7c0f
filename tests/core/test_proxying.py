"""What crosses the reverse proxy: request headers for the upstream, response headers that
must not lead the visitor past the gateway."""

from __future__ import annotations

import pytest

from gateway.core.proxying import (
    OriginRewriter,
    forwarded_header,
    forwarded_node,
    upstream_request_headers,
)

REWRITER = OriginRewriter.for_upstream(
    "http://127.0.0.1:8001", upstream_host=None, public_origin="https://shop.example")


def headers_for(
    incoming: list[tuple[str, str]], upstream_host: str | None = None
) -> dict[str, str]:
    out = upstream_request_headers(incoming, client="203.0.113.7", scheme="https",
                                   upstream_host=upstream_host, accept_encoding="gzip")
    assert len({name.lower() for name, _ in out}) == len(out), "a header sent twice"
    return {name.lower(): value for name, value in out}


def test_the_visitors_host_goes_upstream_unchanged() -> None:
    sent = headers_for([("host", "shop.example"), ("accept", "text/html")])
    assert sent["host"] == "shop.example"
    assert sent["x-forwarded-host"] == "shop.example"
    assert sent["accept"] == "text/html"


def test_upstream_host_replaces_the_host_but_not_x_forwarded_host() -> None:
    sent = headers_for([("host", "shop.example")], upstream_host="app.internal:8080")
    assert sent["host"] == "app.internal:8080"
    assert sent["x-forwarded-host"] == "shop.example"


def test_forwarding_headers_name_every_hop_and_drop_what_the_client_claimed() -> None:
    sent = headers_for([("host", "shop.example"), ("x-forwarded-for", "198.51.100.1"),
                        ("x-forwarded-proto", "gopher"), ("forwarded", "for=1.2.3.4"),
                        ("expect", "100-continue"), ("connection", "keep-alive")])
    assert sent["x-forwarded-for"] == "198.51.100.1, 203.0.113.7"
    assert sent["x-forwarded-proto"] == "https"
    assert sent["forwarded"] == 'for=198.51.100.1, for=203.0.113.7;proto=https;host="shop.example"'
    assert "expect" not in sent and "connection" not in sent


def test_forwarded_nodes_follow_rfc_7239() -> None:
    assert forwarded_node("2001:db8::1") == '"[2001:db8::1]"'
    assert forwarded_node("192.0.2.60") == "192.0.2.60"
    assert forwarded_node("not an address") == '"_unknown"'
    assert forwarded_header(["192.0.2.60"], proto="http", host="") == "for=192.0.2.60;proto=http"


@pytest.mark.parametrize(("value", "expected"), [
    ("http://127.0.0.1:8001/next?page=2", "https://shop.example/next?page=2"),
    ("http://127.0.0.1:8001", "https://shop.example"),
    ("HTTP://127.0.0.1:8001/x", "https://shop.example/x"),
    ("http://127.0.0.1:80011/x", "http://127.0.0.1:80011/x"),  # another port: not ours
    ("http://127.0.0.1:8001.evil.example/", "http://127.0.0.1:8001.evil.example/"),
    ("/relative/path", "/relative/path"),
    ("https://elsewhere.example/", "https://elsewhere.example/"),
])
def test_locations_naming_the_upstream_are_moved_to_the_public_origin(
    value: str, expected: str
) -> None:
    assert REWRITER.header("location", value) == expected
    assert REWRITER.header("content-location", value) == expected


def test_link_and_refresh_headers_are_rewritten_target_by_target() -> None:
    link = '<http://127.0.0.1:8001/p?2>; rel="next", <https://cdn.example/a.css>; rel=preload'
    assert REWRITER.header("link", link) == (
        '<https://shop.example/p?2>; rel="next", <https://cdn.example/a.css>; rel=preload')
    assert REWRITER.header("refresh", "5; url=http://127.0.0.1:8001/done") == (
        "5; url=https://shop.example/done")
    assert REWRITER.header("refresh", "0") == "0"


def test_a_cookie_domain_naming_the_upstream_is_dropped_and_others_kept() -> None:
    assert REWRITER.header("set-cookie", "sid=1; Domain=127.0.0.1; Path=/; HttpOnly") == (
        "sid=1; Path=/; HttpOnly")
    assert REWRITER.header("set-cookie", "sid=1; Domain=.shop.example; Path=/") == (
        "sid=1; Domain=.shop.example; Path=/")


def test_an_upstream_host_counts_as_the_upstream_in_both_schemes() -> None:
    rewriter = OriginRewriter.for_upstream(
        "http://10.0.0.5:8080", upstream_host="shop-origin.saas.example",
        public_origin="https://shop.example")
    assert rewriter.url("https://shop-origin.saas.example/a") == "https://shop.example/a"
    assert rewriter.url("http://10.0.0.5:8080/a") == "https://shop.example/a"
    assert rewriter.set_cookie("a=1; domain=shop-origin.saas.example") == "a=1"


def test_other_headers_pass_unchanged() -> None:
    assert REWRITER.header("x-upstream", "http://127.0.0.1:8001/") == "http://127.0.0.1:8001/"
