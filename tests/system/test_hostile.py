"""Hostile input against every public endpoint: arbitrary JSON, binary and invalid UTF-8
bodies, odd forms and query strings, odd header and cookie values, lying Content-Length.
Whatever arrives, the gateway answers without a 5xx, without a stack trace or a file path,
with a JSON `error` for its own endpoints' refusals, and without echoing CR/LF into a
response header. Most requests go straight into the ASGI app (fast, and free to send what
no HTTP client would); a few raw-socket requests check a real uvicorn process as well."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.adapters.configfile import load_config
from gateway.services.wiring import build_services
from gateway.web.admin import new_admin_token
from gateway.web.admin.auth import basic_user_line
from gateway.web.demo import demo_app
from gateway.web.middleware import ConsentMiddleware
from tests.conftest import EXAMPLE_CONFIG, FIREFOX_UA, FrozenClock, LiveServer, gateway_env
from tests.web.test_collect import beacon, consenting, make_gateway, send, stored, visitor

T = TypeVar("T")
TOKEN, TOKEN_HASH = new_admin_token()
PASSWORD = "hostile-basic-password"
SHOP = "https://shop.example"
PREFIX = "/_consent"
CONSENT_ID = "AAAAAAAAAAAAAAAAAAAAAA"

# Every route the gateway serves itself, and pages of the site behind it (the demo).
GATEWAY_ROUTES: list[tuple[str, str]] = [
    ("GET", f"{PREFIX}/consent.js"), ("HEAD", f"{PREFIX}/consent.js"),
    ("GET", f"{PREFIX}/consent.css"), ("GET", f"{PREFIX}/state"),
    ("POST", f"{PREFIX}/consent"), ("POST", f"{PREFIX}/withdraw"),
    ("GET", f"{PREFIX}/preferences"), ("POST", f"{PREFIX}/preferences"),
    ("POST", f"{PREFIX}/collect"), ("GET", f"{PREFIX}/me"), ("DELETE", f"{PREFIX}/me"),
    ("POST", f"{PREFIX}/me/erase"), ("OPTIONS", f"{PREFIX}/consent"),
    ("OPTIONS", f"{PREFIX}/collect"), ("GET", f"{PREFIX}/health"),
    ("GET", "/.well-known/gpc.json"),
    ("GET", f"{PREFIX}/admin/"), ("GET", f"{PREFIX}/admin/stats"),
    ("GET", f"{PREFIX}/admin/consents.csv"), ("GET", f"{PREFIX}/admin/consents.csv.sig"),
    ("GET", f"{PREFIX}/admin/consents.ndjson"), ("GET", f"{PREFIX}/admin/verify"),
    ("GET", f"{PREFIX}/admin/blocklist"), ("POST", f"{PREFIX}/admin/blocklist"),
    ("DELETE", f"{PREFIX}/admin/blocklist"),
    ("GET", f"{PREFIX}/admin/subjects/{CONSENT_ID}"),
    ("DELETE", f"{PREFIX}/admin/subjects/{CONSENT_ID}"),
    ("GET", f"{PREFIX}/nope"), ("PUT", f"{PREFIX}/consent"),
]
SITE_ROUTES: list[tuple[str, str]] = [
    ("GET", "/"), ("GET", "/shop"), ("GET", "/privacy"), ("HEAD", "/shop"),
    ("GET", "/demo/site.css"), ("GET", "/demo/fake-analytics.js"), ("GET", "/missing"),
    ("POST", "/shop"),
]
BODY_ROUTES = [route for route in GATEWAY_ROUTES if route[0] in ("POST", "DELETE")]
ADMIN_QUERY_ROUTES = [
    f"{PREFIX}/admin/", f"{PREFIX}/admin/stats", f"{PREFIX}/admin/consents.csv",
    f"{PREFIX}/admin/consents.csv.sig", f"{PREFIX}/admin/consents.ndjson",
]

# What must never reach a visitor: a traceback, a frame, a path into the code.
LEAK = re.compile(r"Traceback|File \"|\.py\b|site-packages|/work/|gateway/\w+\.py")


# ------------------------------------------------------------------------ the harness


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode()
        return next((v.decode("latin-1") for k, v in self.headers if k.lower() == wanted), None)


class Harness:
    """One gateway (with admin credentials and a snippet origin) on an event loop of its
    own thread, so synchronous hypothesis tests can send it many requests."""

    def __init__(self, tmp_path: Path) -> None:
        self.basic_line = basic_user_line("alice", PASSWORD)
        config = load_config(EXAMPLE_CONFIG, gateway_env(
            tmp_path, GATEWAY_ADMIN_TOKEN_HASHES=TOKEN_HASH,
            GATEWAY_ADMIN_BASIC_USERS=self.basic_line, GATEWAY_ADMIN_FAILED_PER_MINUTE="1000",
            GATEWAY_ABUSE_ENABLED="false", GATEWAY_SITES_DEMO_ORIGINS=SHOP))
        self.gateway = build_services(config)
        self.app = ConsentMiddleware(demo_app(), services=self.gateway)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.run(self.gateway.start())
        self.clients = 0

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def close(self) -> None:
        self.run(self.gateway.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def request(
        self, method: str, path: str, *, query: bytes = b"",
        headers: list[tuple[bytes, bytes]] | None = None, body: bytes | list[bytes] = b"",
        raw_path: bytes | None = None,
    ) -> Answer:
        # Each request from another address: the admin log-in limit must not hide a crash.
        self.clients += 1
        n = self.clients
        address = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        return self.run(call_asgi(self.app, method, path, query=query, headers=headers or [],
                                  body=body, raw_path=raw_path, client=(address, 40000)))


async def call_asgi(
    app: Any, method: str, path: str, *, query: bytes, headers: list[tuple[bytes, bytes]],
    body: bytes | list[bytes], raw_path: bytes | None, client: tuple[str, int],
) -> Answer:
    """One HTTP request straight into the ASGI app, as a server would deliver it; an
    exception escaping the app is what a server turns into a 500, so it fails the test."""
    chunks = [body] if isinstance(body, bytes) else list(body) or [b""]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path,
        "raw_path": raw_path if raw_path is not None else path.encode("utf-8", "replace"),
        "query_string": query, "root_path": "", "headers": headers, "client": client,
        "server": ("localhost", 80),
    }
    pending = [{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
               for i, chunk in enumerate(chunks)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        await asyncio.sleep(0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Answer(start["status"], list(start.get("headers", [])), content)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    running = Harness(tmp_path_factory.mktemp("hostile"))
    yield running
    running.close()


def assert_sound(answer: Answer, path: str, method: str = "GET") -> None:
    """The invariants every answer keeps, whatever the request was."""
    assert answer.status < 500, (answer.status, answer.body[:500])
    text = answer.body.decode("utf-8", "replace")
    if not path.startswith(f"{PREFIX}/consent."):  # the banner script is code, not a leak
        assert not LEAK.search(text), text[:500]
    for name, value in answer.headers:
        assert not re.search(rb"[\r\n\x00]", name + value), (name, value)
    own = path.startswith(PREFIX + "/") or path == "/.well-known/gpc.json"
    if own and answer.status >= 400 and method != "HEAD":
        assert answer.header("content-type") == "application/json", answer.headers
        assert "error" in json.loads(answer.body), answer.body[:500]


def std_headers(*extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return [(b"host", b"localhost"), (b"user-agent", FIREFOX_UA.encode()), *extra]


FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])


# ------------------------------------------------------------------------ strategies

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["accept_all", "reject_all", "custom", "withdraw", "gpc", "erase",
                     "analytics", "necessary", "marketing", "preferences", "/", "//evil",
                     "\u0000", "\U0001f36a", "banner", "api", "demo"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.sampled_from(["action", "categories", "page", "language", "source",
                                         "site", "type", "url", "referrer", "token", "name",
                                         "props", "w", "ip", "minutes", "analytics",
                                         "necessary"]) | st.text(max_size=10),
                        inner, max_size=6),
    ),
    max_leaves=20,
)


def _deep(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


# Valid bodies of each endpoint with one field replaced, dropped or added: handler bugs
# hide right next to the happy path.
VALID_BODIES: list[dict[str, Any]] = [
    {"action": "custom", "categories": {"analytics": True, "marketing": False}, "page": "/",
     "language": "en", "source": "banner", "site": "demo"},
    {"type": "event", "name": "signup", "url": "http://localhost/shop?utm_source=x",
     "referrer": "https://example.org/", "w": 1280, "props": {"plan": "pro"}, "token": "x"},
    {"ip": "192.0.2.1", "minutes": 5},
]


@st.composite
def near_valid_bodies(draw: st.DrawFn) -> bytes:
    body = dict(draw(st.sampled_from(VALID_BODIES)))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(body)) | st.text(max_size=8) if body
                   else st.text(max_size=8))
        if draw(st.booleans()) and key in body:
            del body[key]
        else:
            body[key] = draw(json_values)
    return json.dumps(body).encode()


raw_json_texts = st.one_of(
    near_valid_bodies(), near_valid_bodies(),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.sampled_from([
        _deep(10_000, "list"), _deep(10_000, "dict"), _deep(100_000, "list"),
        b'{"action": NaN}', b'{"action": Infinity, "page": -Infinity}', b"NaN",
        b'{"action":"accept_all","action":"reject_all"}',
        b'{"categories":{"analytics":true,"analytics":"yes"},"action":"custom"}',
        b'{"action":"custom","categories":{"analytics":1e999}}',
        b'{"w": 1' + b"0" * 5000 + b"}", b'{"type":"pageview","w":' + b"9" * 4000 + b"}",
        b"1" + b"0" * 6000, b'"' + b"x" * 7000 + b'"', b'{"page":"' + b"a" * 7900 + b'"}',
        b'{"action":"accept_all"}' + b" " * 20000, b"\xef\xbb\xbf{}", b"{\x00}", b"",
        b'{"page":"\\ud800"}', b'{"\\ud800":1}', b"[" * 50 + b"1",
        b'{"action":"accept_all","page":"/\\r\\nSet-Cookie: x=1"}',
        b'{"type":"pageview","url":"http://localhost/\\r\\n","token":"\\u0000"}',
        b'{"ip":"127.0.0.1","minutes":1e308}', b'{"ip":"::1","minutes":true}',
        b'{"ip":"999.1.1.1"}', b'{"ip":["1.2.3.4"]}',
    ]),
)
binary_bodies = st.one_of(
    st.binary(max_size=300), st.just(b"\xff\xfe\x00{"), st.just(b"\xc3\x28" * 10),
    st.just(b"\x00" * 9000), st.just(b"a" * 70_000),
)
content_types = st.sampled_from([
    b"application/json", b"application/json; charset=utf-16", b"text/plain",
    b"text/plain;charset=UTF-8", b"application/x-www-form-urlencoded",
    b"application/x-www-form-urlencoded; charset=latin-1", b"multipart/form-data; boundary=x",
    b"APPLICATION/JSON", b"", b";;;", b"\xff\xfe", b"application/json; charset=\"\\\"",
    b"application/" + b"x" * 5000,
])
form_bodies = st.one_of(
    st.lists(st.tuples(st.sampled_from(["action", "analytics", "marketing", "necessary",
                                        "preferences", "page", "return_to", "language",
                                        "source", "site", "x"]) | st.text(max_size=8),
                       st.text(max_size=20)), max_size=8)
    .map(lambda pairs: "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode()),
    st.sampled_from([
        b"action=accept_all&return_to=%0d%0aLocation:%20http://evil",
        b"action=accept_all&return_to=/%0d%0aSet-Cookie:%20x=1",
        b"action=accept_all&return_to=//evil.example", b"action=accept_all&return_to=/\\evil",
        b"action=accept_all&page=%ff%fe", b"action=%ff", b"%", b"%%%%=&&&==",
        b"&".join([b"a=1"] * 100), b"action=accept_all&action=reject_all",
        b"action=custom&analytics=on&analytics=off", b"action=accept_all;return_to=/x",
        b"return_to=" + b"%2F" * 3000, b"action=accept_all\x00", b"action=accept_all&\xff=1",
        b"action=accept_all&return_to=/%E2%80%A8x", b"erased=1&return_to=/ok",
    ]),
)
odd_text = st.text(
    alphabet=st.characters(codec="latin-1", exclude_characters="\r\n\x00"), max_size=60)
SHARP_QUERIES: list[bytes] = [
    b"lang=%0d%0aSet-Cookie:%20x", b"return_to=%0d%0aLocation:%20//evil", b"site=%ff",
    b"since=0001-01-01T00:00:00%2B01:00", b"until=9999-12-31T23:59:59-01:00",
    b"since=2026-01-01&since=2026-02-01", b"head=99999999999999999999", b"head=%C2%B2",
    b"head=-1", b"from=2026-13-45", b"from=9999-12-31&to=0001-01-01", b"to=0001-01-01",
    b"v=" + b"x" * 5000, b"site=demo&site=demo", b"%", b"&&&", b"=", b"lang=" + b"a" * 4000,
    b"consent_id=" + CONSENT_ID.encode(), b"action=erase", b"lang=\xff\xfe",
    b"since=2026-11-21T08:00:00Z&until=2026-11-21T07:00:00Z", b"erased=1&return_to=/%00",
    b"from=9999-12-31", b"to=9999-12-31", b"from=0001-01-01&to=0001-01-02",
    b"since=9999-12-31T23:59:59.999999%2B00:00", b"until=0001-01-01T00:00:00%2B14:00",
]
query_strings = st.one_of(
    st.lists(st.tuples(
        st.sampled_from(["lang", "site", "return_to", "erased", "v", "from", "to", "since",
                         "until", "consent_id", "action", "head", "x"]),
        st.text(max_size=30)), max_size=6)
    .map(lambda pairs: "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode()),
    st.binary(max_size=60),
    st.sampled_from(SHARP_QUERIES),
)
header_values = st.one_of(
    odd_text.map(lambda text: text.encode("latin-1")),
    st.binary(max_size=40).map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b"")),
    st.sampled_from([b"x" * 20_000, b"\xff" * 100, b"1", b"-1", b" 1 ", b"\xb2", b"1e3",
                     b"0x10", b"99999999999999999999999", SHOP.encode(), b"null",
                     b"http://localhost", b"same-site", b"cross-site", b"none"]),
)
header_names = st.sampled_from([
    b"origin", b"referer", b"accept-language", b"user-agent", b"sec-gpc", b"dnt", b"sec-fetch-site",
    b"x-forwarded-for", b"x-forwarded-proto", b"forwarded", b"x-consent-token", b"if-none-match",
    b"authorization", b"content-length", b"content-type", b"host", b"cookie", b"accept",
    b"transfer-encoding", b"content-encoding", b"x-" + b"a" * 100,
])
cookie_headers = st.one_of(
    st.lists(st.tuples(st.sampled_from(["consent", "__Host-consent", "_ga", "_fbp", "lang",
                                        "cart", "x"]) | st.text(max_size=6),
                       odd_text), max_size=6)
    .map(lambda pairs: "; ".join(f"{k}={v}" for k, v in pairs).encode("latin-1", "replace")),
    st.sampled_from([
        b"consent=" + b"A" * 9000, b"; ".join(b"c%d=1" % i for i in range(500)),
        b'consent="abc.def"', b'consent="\\"', b"consent=a.b.c.d", b"consent=.", b"consent=",
        b"=;=;;;", b"consent=\xff\xfe", b'consent="' + b"\\" * 300 + b'"',
        b"_ga=1; _ga=2; consent=x; consent=y", b"consent=eyJpIjoiQUFBQSJ9.AAAA",
    ]),
)
authorizations = st.one_of(
    st.just(b""), header_values,
    st.sampled_from([b"Bearer " + TOKEN.encode(), b"Bearer " + TOKEN.encode() + b"x",
                     b"bearer", b"Bearer", b"Basic", b"Basic \xff\xff",
                     b"Basic " + b"A" * 2000, b"Basic YWxpY2U=", b"Basic YWxpY2U6", b"Digest x",
                     b"Bearer " + TOKEN_HASH.encode()]),
)


# ------------------------------------------------------------------------ in-process tests


@settings(FAST, max_examples=300)
@given(route=st.sampled_from([r for r in BODY_ROUTES if r[0] == "POST"]), body=raw_json_texts,
       content_type=st.sampled_from([b"application/json", b"text/plain", b"APPLICATION/JSON",
                                     b"application/json; charset=utf-8"]),
       admin=st.booleans())
def test_arbitrary_json_bodies_never_break_an_endpoint(
    harness: Harness, route: tuple[str, str], body: bytes, content_type: bytes, admin: bool
) -> None:
    headers = std_headers((b"content-type", content_type),
                          (b"content-length", str(len(body)).encode()))
    if admin:
        headers.append((b"authorization", b"Bearer " + TOKEN.encode()))
    method, path = route
    assert_sound(harness.request(method, path, headers=headers, body=body), path, method)


@FAST
@given(route=st.sampled_from([*BODY_ROUTES, ("POST", "/shop")]), body=binary_bodies,
       content_type=content_types)
def test_binary_bodies_and_odd_media_types_get_a_4xx(
    harness: Harness, route: tuple[str, str], body: bytes, content_type: bytes
) -> None:
    method, path = route
    headers = std_headers((b"content-type", content_type),
                          (b"authorization", b"Bearer " + TOKEN.encode()))
    assert_sound(harness.request(method, path, headers=headers, body=body), path, method)


@FAST
@given(path=st.sampled_from([f"{PREFIX}/consent", f"{PREFIX}/preferences",
                             f"{PREFIX}/withdraw", f"{PREFIX}/me/erase"]),
       body=form_bodies,
       content_type=st.sampled_from([b"application/x-www-form-urlencoded",
                                     b"application/x-www-form-urlencoded; charset=latin-1"]),
       origin=st.sampled_from([None, b"http://localhost", SHOP.encode(), b"http://evil"]))
def test_odd_form_posts_never_redirect_off_site_or_break(
    harness: Harness, path: str, body: bytes, content_type: bytes, origin: bytes | None
) -> None:
    headers = std_headers((b"content-type", content_type))
    if origin is not None:
        headers.append((b"origin", origin))
    answer = harness.request("POST", path, headers=headers, body=body)
    assert_sound(answer, path)
    location = answer.header("location")
    if location is not None:
        assert location.startswith("/") and not location.startswith("//"), location
        assert "\\" not in location


@FAST
@given(route=st.sampled_from([r for r in GATEWAY_ROUTES + SITE_ROUTES if r[0] != "POST"]),
       query=query_strings, admin=st.booleans())
def test_odd_query_strings_are_refused_cleanly(
    harness: Harness, route: tuple[str, str], query: bytes, admin: bool
) -> None:
    method, path = route
    headers = std_headers()
    if admin:
        headers.append((b"authorization", b"Bearer " + TOKEN.encode()))
    answer = harness.request(method, path, query=query, headers=headers)
    assert_sound(answer, path, method)


@pytest.mark.parametrize("query", SHARP_QUERIES)
def test_sharp_admin_queries_with_a_valid_token_are_refused_cleanly(
    harness: Harness, query: bytes
) -> None:
    headers = std_headers((b"authorization", b"Bearer " + TOKEN.encode()))
    for path in [*ADMIN_QUERY_ROUTES, f"{PREFIX}/state", f"{PREFIX}/preferences",
                 f"{PREFIX}/consent.js", "/"]:
        assert_sound(harness.request("GET", path, query=query, headers=headers), path)


@FAST
@given(path=st.sampled_from(ADMIN_QUERY_ROUTES), query=query_strings)
def test_admin_queries_with_a_valid_token_never_break(
    harness: Harness, path: str, query: bytes
) -> None:
    headers = std_headers((b"authorization", b"Bearer " + TOKEN.encode()))
    assert_sound(harness.request("GET", path, query=query, headers=headers), path)


@FAST
@given(route=st.sampled_from(GATEWAY_ROUTES + SITE_ROUTES),
       extra=st.lists(st.tuples(header_names, header_values), max_size=5),
       cookie=st.none() | cookie_headers)
def test_arbitrary_header_and_cookie_values_never_break(
    harness: Harness, route: tuple[str, str], extra: list[tuple[bytes, bytes]],
    cookie: bytes | None,
) -> None:
    method, path = route
    headers = std_headers(*extra)
    if cookie is not None:
        headers.append((b"cookie", cookie))
    body = b'{"action":"accept_all"}' if method == "POST" else b""
    assert_sound(harness.request(method, path, headers=headers, body=body), path, method)


@settings(FAST, max_examples=80)
@given(route=st.sampled_from([r for r in GATEWAY_ROUTES if "/admin/" in r[1]]),
       authorization=authorizations, query=st.sampled_from([b"", b"site=demo", b"site=%ff"]))
def test_admin_endpoints_with_any_credential_never_break(
    harness: Harness, route: tuple[str, str], authorization: bytes, query: bytes
) -> None:
    method, path = route
    headers = std_headers((b"authorization", authorization))
    body = b'{"ip":"192.0.2.1","minutes":5}' if method in ("POST", "DELETE") else b""
    answer = harness.request(method, path, query=query, headers=headers, body=body)
    assert_sound(answer, path, method)
    if authorization != b"Bearer " + TOKEN.encode():
        assert answer.status in (400, 401, 404, 429), answer.status


@FAST
@given(consent_id=st.text(max_size=40), method=st.sampled_from(["GET", "DELETE"]),
       authorized=st.booleans())
def test_admin_subjects_with_any_id_never_break(
    harness: Harness, consent_id: str, method: str, authorized: bool
) -> None:
    path = f"{PREFIX}/admin/subjects/{consent_id}"
    headers = std_headers()
    if authorized:
        headers.append((b"authorization", b"Bearer " + TOKEN.encode()))
    assert_sound(harness.request(method, path, headers=headers), path, method)


@FAST
@given(route=st.sampled_from(BODY_ROUTES), declared=header_values,
       body=st.sampled_from([b"", b"{}", b'{"action":"accept_all"}', b"x" * 9000]),
       chunked=st.booleans())
def test_content_length_that_lies_or_is_not_a_number_is_a_4xx(
    harness: Harness, route: tuple[str, str], declared: bytes, body: bytes, chunked: bool
) -> None:
    method, path = route
    headers = std_headers((b"content-type", b"application/json"),
                          (b"content-length", declared),
                          (b"authorization", b"Bearer " + TOKEN.encode()))
    chunks: bytes | list[bytes] = [body[i:i + 100] for i in range(0, len(body), 100)] \
        if chunked else body
    assert_sound(harness.request(method, path, headers=headers, body=chunks), path, method)


@FAST
@given(path=st.text(max_size=40).map(lambda tail: f"{PREFIX}/{tail}")
       | st.text(max_size=40).map(lambda tail: "/" + tail)
       | st.sampled_from([f"{PREFIX}/\r\nSet-Cookie: x=1", f"{PREFIX}/me/\ufffd",
                          "/\r\nLocation: //evil", f"{PREFIX}/admin/subjects/\x00",
                          f"{PREFIX}/preferences/../admin/", "/" + "a" * 10_000]),
       method=st.sampled_from(["GET", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH", "BREW"]))
def test_odd_paths_and_methods_never_break(harness: Harness, path: str, method: str) -> None:
    headers = std_headers((b"content-type", b"application/json"))
    answer = harness.request(method, path, headers=headers, body=b"{}",
                             raw_path=quote(path, safe="/").encode())
    assert_sound(answer, path, method)


def test_oversized_bodies_are_refused_with_a_413_not_read(harness: Harness) -> None:
    huge = b'{"page":"' + b"a" * 2_000_000 + b'"}'
    for method, path in BODY_ROUTES:
        headers = std_headers((b"content-type", b"application/json"),
                              (b"authorization", b"Bearer " + TOKEN.encode()))
        answer = harness.request(method, path, headers=headers, body=huge)
        assert_sound(answer, path, method)
        if path.endswith("/collect"):
            assert answer.status == 202 and answer.header("x-consent-dropped") == "invalid"
        elif method == "DELETE" and "/blocklist" not in path:
            assert answer.status in (200, 404)  # these read no body at all
        else:
            assert answer.status == 413, (path, answer.status)


def test_a_preferences_return_to_with_crlf_is_not_echoed(harness: Harness) -> None:
    """Query parameters that end up in `Location` or `Set-Cookie` (the form's return
    address, the erase redirect, the language) keep CR/LF out of every header."""
    for query in (b"return_to=/%0d%0aSet-Cookie:%20evil=1", b"lang=nl%0d%0aX-Evil:%201",
                  b"return_to=/ok%0aLocation:%20//evil"):
        answer = harness.request("GET", f"{PREFIX}/preferences", query=query, headers=std_headers())
        assert_sound(answer, f"{PREFIX}/preferences")
        assert answer.status == 200
        assert b"evil=1" not in b"".join(v for _, v in answer.headers)
    body = b"return_to=/x%0d%0aSet-Cookie:%20evil%3D1"
    answer = harness.request(
        "POST", f"{PREFIX}/me/erase", body=body,
        headers=std_headers((b"content-type", b"application/x-www-form-urlencoded")))
    assert_sound(answer, f"{PREFIX}/me/erase")
    assert answer.status == 303
    assert "evil" not in (answer.header("location") or "")


async def test_a_lone_surrogate_is_refused_and_cannot_spoil_a_batch(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """`"\\ud800"` is valid JSON but no Unicode: named in an error it broke the JSON
    response (500), and stored in an event it failed the batch write of other visitors'
    events, which had been answered 202."""
    gateway = make_gateway(tmp_path, clock, GATEWAY_ABUSE_ENABLED="false")
    await gateway.start()
    try:
        async with visitor(gateway) as client:
            refused = await client.post("/_consent/consent", content=b'{"\\ud800": 1}',
                                        headers={"Content-Type": "application/json"})
            assert refused.status_code == 400 and refused.json()["field"] == "body"
            token = await consenting(client)
            assert "x-consent-dropped" not in (await send(client, beacon(token))).headers
            poisoned = await send(client, beacon(token, type="event", name="\ud800",
                                                 props={"k": "\udfff"}))
            assert poisoned.headers["x-consent-dropped"] == "invalid"
            assert "x-consent-dropped" not in (await send(client, beacon(token))).headers
        assert len(await stored(gateway)) == 2
    finally:
        await gateway.stop()


# ------------------------------------------------------------------------ a real server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("hostile-live"), env={
        "GATEWAY_ADMIN_TOKEN_HASHES": TOKEN_HASH, "GATEWAY_ABUSE_ENABLED": "false",
        "GATEWAY_ADMIN_BASIC_USERS": basic_user_line("alice", PASSWORD)}).start()
    yield server
    server.stop()


def raw_exchange(port: int, request: bytes, timeout: float = 3.0) -> bytes:
    """Send bytes as they are; return what came back before the server closed the
    connection or went quiet (b"" when it said nothing)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except OSError:
            return b""
        received = b""
        try:
            while not _complete(received) and (chunk := sock.recv(65536)):
                received += chunk
        except OSError:
            pass
        return received


def _complete(response: bytes) -> bool:
    """A whole response is in (keep-alive: the server stays open after it)."""
    head, found, body = response.partition(b"\r\n\r\n")
    if re.search(rb"(?im)^transfer-encoding: *chunked", head):
        return body.endswith(b"0\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    return bool(found and length and len(body) >= int(length.group(1)))


RAW_REQUESTS = [
    b"GET /_consent/consent.js?\xff HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /_consent/state?lang=\xc3\x28 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"POST /_consent/consent HTTP/1.1\r\nHost: localhost\r\nContent-Length: \xb2\r\n\r\n",
    b"GET /_consent/state\xff\xfe HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /_consent/%ff%fe%c3%28 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /%ff%fe HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /_consent/state?lang=%ff%0d%0aX:%201 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /_consent/state HTTP/1.1\r\nHost: localhost\r\nAccept-Language: \xff\xfe\xfd\r\n\r\n",
    b"GET /_consent/state HTTP/1.1\r\nHost: localhost\r\nX-Evil: a\rb\r\n\r\n",
    b"GET /_consent/state HTTP/1.1\r\nHost: localhost\r\nX-Evil: a\nSet-Cookie: b\r\n\r\n",
    b"GET /_consent/state HTTP/1.1\r\nHost: localhost\r\nBad Name: x\r\n\r\n",
    b"GET /_consent/state HTTP/1.1\r\nHost: localhost\r\nCookie: consent=\x00\x01\x7f\r\n\r\n",
    b"GET /_consent/state HTTP/1.1\r\nHost: \xff\xfe\r\n\r\n",
    b"GET /_consent/state HTTP/1.1\r\nHost: localhost\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",
    b"POST /_consent/consent HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n{\"action\":",
    b"POST /_consent/consent HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    b"Content-Length: abc\r\n\r\n{}",
    b"POST /_consent/consent HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    b"POST /_consent/collect HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Type: text/plain\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    b"POST /_consent/consent HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    b"Content-Length: 23\r\n\r\n{\"action\":\"accept_\xff\"}",
    b"BREW /_consent/state HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /_consent/state HTTP/9.9\r\nHost: localhost\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),
    b"GET /_consent/admin/stats HTTP/1.1\r\nHost: localhost\r\n"
    b"Authorization: Bearer \xff\r\n\r\n",
    b"GET /_consent/admin/stats HTTP/1.1\r\nHost: localhost\r\n"
    b"Authorization: Basic \xc3\xa9=\r\n\r\n",
]


@pytest.mark.parametrize("request_bytes", RAW_REQUESTS, ids=range(len(RAW_REQUESTS)))
def test_a_real_server_refuses_malformed_http_without_a_5xx(
    live: LiveServer, request_bytes: bytes
) -> None:
    answer = raw_exchange(live.port, request_bytes)
    if answer:
        status_line = answer.split(b"\r\n", 1)[0]
        assert re.match(rb"HTTP/1\.[01] [1-4]\d\d ", status_line), answer[:300]
        assert not LEAK.search(answer.decode("latin-1")), answer[:500]
        head = answer.split(b"\r\n\r\n", 1)[0]
        assert b"\nX:" not in head and b"Set-Cookie: b" not in head
    # Whatever the last request did, the server goes on serving.
    health = raw_exchange(live.port, b"GET /_consent/health HTTP/1.1\r\nHost: localhost\r\n"
                                     b"Connection: close\r\n\r\n")
    assert health.startswith(b"HTTP/1.1 200 "), health[:200]
    log = live.log.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


@pytest.fixture(scope="module")
def proxied(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A second gateway as a reverse proxy in front of the first (its demo site)."""
    server = LiveServer(tmp_path_factory.mktemp("hostile-proxy"), "--upstream", live.url,
                        env={"GATEWAY_ABUSE_ENABLED": "false"}).start()
    yield server
    server.stop()


PROXIED_REQUESTS = [
    b"GET /shop HTTP/1.1\r\nHost: localhost\r\nCookie: " + b"; ".join(
        b"_ga%d=%s" % (i, b"x" * 50) for i in range(100)) + b"\r\n\r\n",
    b"GET /shop HTTP/1.1\r\nHost: localhost\r\nCookie: consent=\xff\xfe; _ga=\x80\r\n\r\n",
    b"GET /%0d%0aSet-Cookie:%20evil=1 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /shop?%0d%0a=%ff HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET //evil.example/x HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET http://evil.example/ HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /shop HTTP/1.1\r\nHost: \xff.example\r\nAccept-Language: \xff;q=\xfe\r\n\r\n",
    b"GET /shop HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: \xff, br;q=nan\r\n\r\n",
    b"GET /shop HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: \xff, ::1, 999.1.1.1\r\n\r\n",
    b"POST /shop HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    b"Content-Length: 9\r\n\r\n{\"a\":\xff}x",
    b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive, Cookie\r\n"
    b"Cookie: consent=x\r\n\r\n",
    b"GET /" + b"a" * 8000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
]


@pytest.mark.parametrize("request_bytes", PROXIED_REQUESTS, ids=range(len(PROXIED_REQUESTS)))
def test_the_reverse_proxy_passes_on_hostile_requests_without_a_5xx(
    proxied: LiveServer, request_bytes: bytes
) -> None:
    answer = raw_exchange(proxied.port, request_bytes)
    if answer:
        status_line = answer.split(b"\r\n", 1)[0]
        assert re.match(rb"HTTP/1\.[01] [1-4]\d\d ", status_line), answer[:300]
        head = answer.split(b"\r\n\r\n", 1)[0]
        assert b"\nevil" not in head.lower() and b"set-cookie: evil" not in head.lower()
        assert not LEAK.search(answer.decode("latin-1")), answer[:500]
    health = raw_exchange(proxied.port, b"GET /_consent/health HTTP/1.1\r\nHost: localhost\r\n"
                                        b"Connection: close\r\n\r\n")
    assert health.startswith(b"HTTP/1.1 200 "), health[:200]
    assert "Traceback" not in proxied.log.read_text(errors="replace")
