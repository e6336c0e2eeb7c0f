"""The reverse proxy on the wire, against a real upstream behind a real gateway: the
visitor's Host and forwarding headers go up, nothing comes back that leads past the gateway,
pages arrive compressed and in their own charset, and the HTTP details sites rely on work."""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import brotli
import httpx
import pytest
from playwright.sync_api import Browser

from tests.conftest import LiveServer
from tests.support.browser import chromium
from tests.support.http_upstream import ASSET, FRENCH, http_upstream


@pytest.fixture(scope="module")
def upstream_port() -> Iterator[int]:
    with http_upstream() as port:
        yield port


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, upstream_port: int) -> Iterator[LiveServer]:
    tmp_path = tmp_path_factory.mktemp("proxy")
    server = LiveServer(tmp_path, "--upstream", f"http://127.0.0.1:{upstream_port}",
                        env={"GATEWAY_SERVER_MAX_UPLOAD_MB": "1"}).start()
    yield server
    server.stop()


def get(gateway: LiveServer, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(gateway.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]


def test_the_upstream_sees_the_visitors_host_and_who_asked(gateway: LiveServer) -> None:
    seen = get(gateway, "/headers", headers={"Host": "shop.localhost"}).json()
    assert seen["host"] == "shop.localhost"
    assert seen["x-forwarded-host"] == "shop.localhost"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["forwarded"] == 'for=127.0.0.1;proto=http;host="shop.localhost"'


def test_upstream_host_sends_a_fixed_host(tmp_path: Path, upstream_port: int) -> None:
    server = LiveServer(tmp_path, "--upstream", f"http://127.0.0.1:{upstream_port}",
                        env={"GATEWAY_SITES_DEMO_UPSTREAM_HOST": "origin.internal"}).start()
    try:
        seen = get(server, "/headers", headers={"Host": "shop.localhost"}).json()
    finally:
        server.stop()
    assert seen["host"] == "origin.internal"
    assert seen["x-forwarded-host"] == "shop.localhost"


def test_redirects_links_and_cookies_stay_on_the_gateway(
    gateway: LiveServer, upstream_port: int
) -> None:
    answer = get(gateway, "/login", headers={"Host": "shop.localhost"})
    upstream = f"127.0.0.1:{upstream_port}"
    assert answer.status_code == 302
    assert answer.headers["location"] == "http://shop.localhost/landing?from=login"
    assert answer.headers["content-location"] == "http://shop.localhost/login"
    assert answer.headers["refresh"] == "3; url=http://shop.localhost/later"
    assert answer.headers["link"] == ('<http://shop.localhost/page/2>; rel="next", '
                                      '<http://shop.localhost/feed>; rel="alternate"')
    every_header = " ".join(f"{k}: {v}" for k, v in answer.headers.multi_items())
    assert upstream not in every_header
    assert "domain=" not in every_header.lower()


@pytest.mark.parametrize(("path", "accept", "coding"), [
    ("/plain", "gzip, deflate", "gzip"), ("/gz", "gzip", "gzip"), ("/br", "gzip, br", "br"),
    ("/gz", "identity", None),
])
def test_rewritten_html_goes_out_compressed_when_accepted(
    gateway: LiveServer, path: str, accept: str, coding: str | None
) -> None:
    with httpx.stream("GET", gateway.url + path, headers={"Accept-Encoding": accept}) as raw:
        body = b"".join(raw.iter_raw())
        headers = raw.headers
    assert headers.get("content-encoding") == coding
    assert "accept-encoding" in headers["vary"].lower() and "cookie" in headers["vary"].lower()
    text = {"gzip": gzip.decompress, "br": brotli.decompress, None: bytes}[coding](body)
    assert b"/_consent/consent.js" in text  # rewritten: the banner is in
    assert FRENCH.encode() in text


def test_non_html_keeps_the_upstreams_encoding_and_bytes(gateway: LiveServer) -> None:
    answer = get(gateway, "/asset.bin", headers={"Accept-Encoding": "gzip"})
    assert answer.content == ASSET
    assert "content-encoding" not in answer.headers


def test_a_latin1_page_gets_injected_text_in_latin1(gateway: LiveServer) -> None:
    with httpx.stream("GET", gateway.url + "/latin1",
                      headers={"Accept-Encoding": "identity", "Accept-Language": "fr"}) as raw:
        body = b"".join(raw.iter_raw())
    assert FRENCH.encode("latin-1") in body
    assert "Paramètres".encode() not in body, "UTF-8 bytes in a Latin-1 page"
    assert "Paramètres".encode("latin-1") in body or b"Param&#232;tres" in body


def test_a_utf16_page_is_rewritten_and_sent_as_utf8(gateway: LiveServer) -> None:
    answer = get(gateway, "/utf16")
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert FRENCH in answer.text and "/_consent/consent.js" in answer.text


def test_head_answers_headers_without_a_body(gateway: LiveServer) -> None:
    answer = httpx.head(gateway.url + "/plain")
    assert answer.status_code == 200 and answer.content == b""
    assert answer.headers["content-type"].startswith("text/html")


def test_conditional_requests_get_304_with_validators_kept(gateway: LiveServer) -> None:
    first = get(gateway, "/asset.bin")
    again = get(gateway, "/asset.bin", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == '"asset-v1"'
    assert again.headers["last-modified"] == "Tue, 01 Dec 2026 10:00:00 GMT"


def test_range_requests_get_206(gateway: LiveServer) -> None:
    part = get(gateway, "/asset.bin", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(ASSET)}"
    assert part.content == ASSET[100:200]


def raw_request(gateway: LiveServer, head: bytes, body: bytes = b"", *,
                wait_for_continue: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(head)
        if wait_for_continue:
            assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_expect_100_continue_uploads_reach_the_upstream(gateway: LiveServer) -> None:
    body = b"x" * 50_000
    head = (b"POST /upload HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
            b"Content-Length: 50000\r\nConnection: close\r\n\r\n")
    answer = raw_request(gateway, head, body, wait_for_continue=True)
    assert answer.startswith(b"HTTP/1.1 200") and b'{"received":50000}' in answer


def test_a_large_upload_is_streamed(gateway: LiveServer) -> None:
    answer = httpx.post(gateway.url + "/upload", content=iter([b"y" * 65536] * 15), timeout=20)
    assert answer.json() == {"received": 65536 * 15}


def test_an_upload_over_the_cap_gets_413(gateway: LiveServer) -> None:
    declared = httpx.post(gateway.url + "/upload", content=b"z" * 1_100_000, timeout=20)
    assert declared.status_code == 413
    assert declared.json()["error"] == "payload too large"
    streamed = httpx.post(gateway.url + "/upload", content=iter([b"z" * 65536] * 20), timeout=20)
    assert streamed.status_code == 413


def test_chunked_responses_of_unknown_length_pass(gateway: LiveServer) -> None:
    answer = get(gateway, "/chunked")
    assert answer.text == "".join(f"part {n}\n" for n in range(50))


def test_server_sent_events_are_not_buffered(gateway: LiveServer) -> None:
    began = time.monotonic()
    with httpx.stream("GET", gateway.url + "/events", timeout=10) as stream:
        lines = stream.iter_lines()
        first = next(lines)
        first_after = time.monotonic() - began
        rest = list(lines)
    assert first == "data: tick 0"
    assert first_after < 1.0, "the first event waited for the stream to end"
    assert "data: tick 2" in rest


def resident_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def test_a_slow_client_does_not_make_the_gateway_hold_the_body(gateway: LiveServer) -> None:
    assert gateway.process is not None
    get(gateway, "/chunked")  # warm: the first proxied request loads code and a pool
    before = resident_mb(gateway.process.pid)
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        received = len(sock.recv(65536))
        time.sleep(2)  # the upstream could have sent all 64 MB by now
        peak = resident_mb(gateway.process.pid)
        while received < 4 * 1024 * 1024 and (chunk := sock.recv(65536)):
            received += len(chunk)
    assert peak - before < 24, f"gateway grew {peak - before:.0f} MB for a reader that waits"


@pytest.mark.browser
def test_chromium_without_javascript_reads_injected_text_in_every_charset(
    gateway: LiveServer,
) -> None:
    seen = {}
    with chromium() as browser:
        assert isinstance(browser, Browser)
        context = browser.new_context(java_script_enabled=False, locale="fr-FR")
        page = context.new_page()
        for path in ("/plain", "/latin1", "/utf16"):
            page.goto(gateway.url + path)
            seen[path] = (page.locator("h1").inner_text(),
                          page.locator(".cg-noscript a").inner_text(),
                          page.locator("[data-consent-placeholder] p").inner_text())
        context.close()
    for path, (heading, link, placeholder) in seen.items():
        assert heading == FRENCH, path
        assert link == "Paramètres des cookies", (path, link)
        assert placeholder.startswith("Ce contenu de www.youtube.com"), (path, placeholder)
