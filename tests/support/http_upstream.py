"""An upstream that exercises the HTTP details a real site relies on — redirects and links
naming its own address, cookies for its own domain, validators, ranges, uploads, chunked and
event-stream responses, pages in other charsets — served by uvicorn in this process."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager

import brotli
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from tests.support.sample_site import serving_app

ASSET = bytes(range(256)) * 64  # 16 KB with every byte value
FRENCH = "Café crème, à bientôt"
PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="{charset}"><title>t</title>
</head><body><h1>{text}</h1>
<iframe src="https://www.youtube.com/embed/abc" title="video"></iframe></body></html>"""


def own_origin(request: Request) -> str:
    host, port = request.scope["server"]
    return f"http://{host}:{port}"


async def echo_headers(request: Request) -> JSONResponse:
    return JSONResponse({name: value for name, value in request.headers.items()})


async def redirect_away(request: Request) -> Response:
    """What an application does that builds URLs from its own idea of where it lives."""
    origin = own_origin(request)
    response = RedirectResponse(f"{origin}/landing?from=login", status_code=302)
    response.headers["Content-Location"] = f"{origin}/login"
    response.headers["Link"] = f'<{origin}/page/2>; rel="next", <{origin}/feed>; rel="alternate"'
    response.headers["Refresh"] = f"3; url={origin}/later"
    response.set_cookie("sid", "abc", domain=request.scope["server"][0], path="/")
    return response


async def asset(request: Request) -> Response:
    etag = '"asset-v1"'
    headers = {"ETag": etag, "Last-Modified": "Tue, 01 Dec 2026 10:00:00 GMT",
               "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    wanted = request.headers.get("range", "")
    if wanted.startswith("bytes="):
        start, _, end = wanted.removeprefix("bytes=").partition("-")
        first, last = int(start), int(end) if end else len(ASSET) - 1
        headers["Content-Range"] = f"bytes {first}-{last}/{len(ASSET)}"
        return Response(ASSET[first:last + 1], status_code=206, headers=headers)
    return Response(ASSET, headers=headers)


async def upload(request: Request) -> JSONResponse:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return JSONResponse({"received": size})


async def chunked(request: Request) -> StreamingResponse:
    async def parts() -> AsyncIterator[bytes]:
        for number in range(50):
            yield f"part {number}\n".encode()
    return StreamingResponse(parts(), media_type="text/plain")


async def events(request: Request) -> StreamingResponse:
    async def stream() -> AsyncIterator[bytes]:
        for number in range(3):
            yield f"data: tick {number}\n\n".encode()
            await asyncio.sleep(0.6)
    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


BIG_CHUNK = b"b" * (1024 * 1024)
BIG_CHUNKS = 64


async def big(request: Request) -> StreamingResponse:
    """64 MB as fast as the reader takes it: a slow client must not make the gateway
    buffer it."""
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(BIG_CHUNKS):
            yield BIG_CHUNK
    return StreamingResponse(chunks(), media_type="application/octet-stream")


def page(charset: str, *, lang: str = "fr") -> bytes:
    return PAGE.format(lang=lang, charset=charset, text=FRENCH).encode(charset)


async def latin1(request: Request) -> Response:
    return Response(page("iso-8859-1"), media_type="text/html; charset=iso-8859-1")


async def utf16(request: Request) -> Response:
    return Response(b"\xff\xfe" + page("utf-16le"), media_type="text/html; charset=utf-16")


async def html_gzip(request: Request) -> Response:
    return Response(gzip.compress(page("utf-8")), media_type="text/html; charset=utf-8",
                    headers={"Content-Encoding": "gzip"})


async def html_brotli(request: Request) -> Response:
    return Response(brotli.compress(page("utf-8")), media_type="text/html; charset=utf-8",
                    headers={"Content-Encoding": "br"})


async def html_plain(request: Request) -> Response:
    return HTMLResponse(page("utf-8"), headers={"ETag": '"page-v1"'})


def http_upstream_app() -> Starlette:
    return Starlette(routes=[
        Route("/headers", echo_headers), Route("/login", redirect_away, methods=["POST", "GET"]),
        Route("/asset.bin", asset, methods=["GET", "HEAD"]),
        Route("/upload", upload, methods=["POST", "PUT"]),
        Route("/chunked", chunked), Route("/events", events),
        Route("/latin1", latin1), Route("/utf16", utf16), Route("/gz", html_gzip),
        Route("/br", html_brotli), Route("/plain", html_plain, methods=["GET", "HEAD"]),
        Route("/big", big),
        Route("/text", lambda request: PlainTextResponse(FRENCH)),
    ])


def http_upstream() -> AbstractContextManager[int]:
    """The upstream on uvicorn in a thread of this process; yields its port."""
    return serving_app(http_upstream_app())
