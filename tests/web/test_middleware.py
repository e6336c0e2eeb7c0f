"""ConsentMiddleware around ASGI apps, through real HTTP (httpx's ASGI transport)."""

from __future__ import annotations

import gzip
import html
import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.services.wiring import Services
from gateway.web.middleware import ConsentMiddleware

PAGE = b"<!doctype html><html><head><title>t</title></head><body><p>hi</p></body></html>"


async def page(request: Request) -> Response:
    return Response(PAGE, media_type="text/html",
                    headers={"Cache-Control": "public, max-age=600", "ETag": '"v1"'})


async def streamed_page(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(PAGE), 7):  # </head> is split across chunks
            yield PAGE[i:i + 7]
    return StreamingResponse(chunks(), media_type="text/html; charset=utf-8")


async def gzipped_page(request: Request) -> Response:
    return Response(gzip.compress(PAGE), media_type="text/html",
                    headers={"Content-Encoding": "gzip"})


async def zstd_page(request: Request) -> Response:
    return Response(b"\x28\xb5\x2f\xfd opaque", media_type="text/html",
                    headers={"Content-Encoding": "zstd"})


async def data(request: Request) -> Response:
    return JSONResponse({"head": "</head>"})


async def whoami(request: Request) -> Response:
    consent = request.scope["consent"]
    return JSONResponse({
        "granted": sorted(consent.granted) if consent else None,
        "cookie": request.headers.get("cookie"),
    })


async def sets_cookies(request: Request) -> Response:
    response = JSONResponse({})
    for name in ("sessionid", "_ga", "_fbp", "mystery"):
        response.set_cookie(name, "1")
    return response


def site() -> Starlette:
    return Starlette(routes=[
        Route("/", page), Route("/streamed", streamed_page), Route("/gz", gzipped_page),
        Route("/zstd", zstd_page),
        Route("/data", data), Route("/whoami", whoami), Route("/cookies", sets_cookies),
    ])


@pytest.fixture
async def http(gateway: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = ConsentMiddleware(site(), services=gateway)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://localhost") as client:
        yield client


def injected_state(body: str) -> dict[str, object]:
    match = re.search(r'id="consent-gateway"[^>]*data-state="([^"]*)"', body)
    assert match, "banner script tag not injected"
    return dict(json.loads(html.unescape(match.group(1))))


async def test_html_gets_the_banner_tags_first_in_head(http: httpx.AsyncClient) -> None:
    body = (await http.get("/")).text
    head, _, rest = body.partition("</head>")
    assert head.startswith('<!doctype html><html><head><link rel="stylesheet" '
                           'href="/_consent/consent.css?v=')
    assert '<script src="/_consent/consent.js?v=' in head
    assert head.index("consent.js") < head.index("<title>")  # before any script of the site
    assert 'nonce="' in head
    assert "<p>hi</p>" in rest
    assert body.count('id="consent-gateway"') == 1


async def test_without_javascript_the_page_links_to_the_preferences(
    http: httpx.AsyncClient,
) -> None:
    body = (await http.get("/")).text
    assert '<body><noscript><p class="cg-noscript"><a href="/_consent/preferences?return_to=%2F">' \
        in body


async def test_personalised_html_is_never_stored_by_shared_caches(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/")
    assert response.headers["cache-control"] == "private, max-age=600"
    assert "Cookie" in response.headers["vary"]
    assert response.headers["etag"] == 'W/"v1"'
    assert int(response.headers.get("content-length", len(response.content))) == len(
        response.content)


async def test_injection_survives_chunk_boundaries(http: httpx.AsyncClient) -> None:
    body = (await http.get("/streamed")).text
    assert body.index('id="consent-gateway"') < body.index("<title>")
    head_tags = body[body.index("<link rel"):body.index("<title>")]
    noscript = body[body.index("<noscript>"):body.index("</noscript>") + len("</noscript>")]
    assert body.replace(head_tags, "").replace(noscript, "") == PAGE.decode()


async def test_the_inlined_state_carries_texts_and_consent(http: httpx.AsyncClient) -> None:
    state = injected_state((await http.get("/", headers={"Accept-Language": "fr"})).text)
    assert state["language"] == "fr"
    assert state["consent"] is None
    await http.post("/_consent/consent", json={"action": "accept_all"})
    state = injected_state((await http.get("/")).text)
    assert isinstance(state["consent"], dict)
    assert "consent_id" not in state["consent"]  # the page needs no id; keep it out of HTML


async def test_non_html_passes_untouched(http: httpx.AsyncClient) -> None:
    assert (await http.get("/data")).json() == {"head": "</head>"}


async def test_gzip_html_is_decoded_rewritten_and_compressed_again(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/gz", headers={"Accept-Encoding": "gzip, br"})
    assert response.headers["content-encoding"] == "br"  # httpx decodes it for the test
    assert 'id="consent-gateway"' in response.text and "<p>hi</p>" in response.text


async def test_a_browser_without_compression_gets_the_rewritten_page_plain(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/gz", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in response.headers
    assert 'id="consent-gateway"' in response.text and "<p>hi</p>" in response.text


async def test_html_in_an_encoding_we_cannot_undo_passes_untouched(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/zstd")
    assert response.headers["content-encoding"] == "zstd"
    assert response.content == b"\x28\xb5\x2f\xfd opaque"


async def test_the_app_sees_the_verified_consent_in_the_scope(http: httpx.AsyncClient) -> None:
    assert (await http.get("/whoami")).json()["granted"] is None
    await http.post("/_consent/consent", json={"action": "custom",
                                               "categories": {"analytics": True}})
    assert (await http.get("/whoami")).json()["granted"] == ["analytics", "necessary"]


async def test_cookies_of_non_granted_categories_never_reach_the_app(
    http: httpx.AsyncClient,
) -> None:
    await http.post("/_consent/consent", json={"action": "custom",
                                               "categories": {"analytics": True}})
    http.cookies.set("_ga", "GA1")
    http.cookies.set("_fbp", "fb")
    http.cookies.set("sessionid", "s")
    response = await http.get("/whoami")
    cookie = response.json()["cookie"]
    assert "_ga=GA1" in cookie and "sessionid=s" in cookie
    assert "_fbp" not in cookie
    expired = [v for v in response.headers.get_list("set-cookie") if "Max-Age=0" in v]
    assert [v.split("=")[0] for v in expired] == ["_fbp"]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"action": "reject_all"}, {"sessionid"}),
        ({"action": "custom", "categories": {"analytics": True}}, {"sessionid", "_ga"}),
        ({"action": "accept_all"}, {"sessionid", "_ga", "_fbp", "mystery"}),
    ],
)
async def test_set_cookie_is_filtered_by_category(
    http: httpx.AsyncClient, choice: dict[str, object], expected: set[str]
) -> None:
    await http.post("/_consent/consent", json=choice)
    response = await http.get("/cookies")
    names = {v.split("=")[0] for v in response.headers.get_list("set-cookie")}
    assert names == expected


async def test_without_consent_only_necessary_cookies_are_set(http: httpx.AsyncClient) -> None:
    response = await http.get("/cookies")
    assert [v.split("=")[0] for v in response.headers.get_list("set-cookie")] == ["sessionid"]


async def test_lifespan_opens_and_closes_the_store(gateway: Services) -> None:
    await gateway.stop()
    app = ConsentMiddleware(site(), services=gateway)
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []
    seen_open: list[bool] = []

    async def receive() -> dict[str, str]:
        return next(messages)

    async def send(message: dict[str, str]) -> None:
        sent.append(message["type"])
        if message["type"] == "lifespan.startup.complete":
            await gateway.store.ping()  # raises unless open
            seen_open.append(True)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert seen_open == [True]
    from gateway.core.errors import StoreError
    with pytest.raises(StoreError):
        await gateway.store.ping()
