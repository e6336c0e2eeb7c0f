"""Reverse proxy to the site's upstream, on one shared aiohttp keep-alive pool.

aiohttp, not httpx: measured here about 10x the throughput as a proxy client. Bodies
stream both ways; the response body is never buffered whole.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Final
from urllib.parse import urlsplit

import aiohttp
from starlette.types import Message, Receive, Scope, Send

from gateway.core.enforcement.encoding import acceptable_encodings
from gateway.core.proxying import HOP_BY_HOP, OriginRewriter, upstream_request_headers
from gateway.core.request import RequestContext
from gateway.services.wiring import Services
from gateway.web.context import context_of

log = logging.getLogger("consent_gateway.proxy")


_REWRITERS: Final = 256  # origin rewriters kept (upstream, upstream host, public origin)
_ERROR_PAGE: Final = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{status} {title}</title></head><body><h1>{title}</h1><p>{detail}</p></body></html>"""


class ReverseProxy:
    def __init__(self, services: Services, upstreams: Mapping[str, str]) -> None:
        self.services = services
        self.upstreams = dict(upstreams)
        server = services.config.server
        self.max_upload = int(server.max_upload_mb * 1024 * 1024)
        self.timeout = aiohttp.ClientTimeout(
            total=None, connect=server.upstream_connect_timeout,
            sock_read=server.upstream_read_timeout,
        )
        self._session: aiohttp.ClientSession | None = None
        self._rewriters: dict[tuple[str, str | None, str], OriginRewriter] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout,
                auto_decompress=False,  # pass bytes through as the upstream encoded them
                cookie_jar=aiohttp.DummyCookieJar(),  # never keep visitors' cookies
                connector=aiohttp.TCPConnector(limit=256, ttl_dns_cache=60),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._forward(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._tunnel(scope, receive, send)

    async def _tunnel(self, scope: Scope, receive: Receive, send: Send) -> None:
        """WebSocket upgrades pass through: accept once the upstream accepted, then relay
        frames both ways until either side closes."""
        ctx = context_of(scope)
        if (await receive())["type"] != "websocket.connect":
            return
        url = "ws" + self._url(scope).removeprefix("http")
        try:
            upstream = await self._client().ws_connect(
                url, headers=_websocket_headers(scope, ctx),
                protocols=tuple(scope.get("subprotocols", ())), autoclose=True,
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("upstream websocket %s failed: %r", urlsplit(url).netloc, exc)
            await send({"type": "websocket.close", "code": 1011})
            return
        await send({"type": "websocket.accept", "subprotocol": upstream.protocol})
        await _relay_websocket(receive, send, upstream)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _base(self, ctx: RequestContext) -> str:
        return self.upstreams.get(ctx.site.id) or next(iter(self.upstreams.values()))

    def _rewriter(self, ctx: RequestContext) -> OriginRewriter:
        """Built once per upstream and public origin (a bounded cache: the origin comes
        from the visitor's `Host`)."""
        key = (self._base(ctx), ctx.site.upstream_host, ctx.origin)
        rewriter = self._rewriters.get(key)
        if rewriter is None:
            if len(self._rewriters) >= _REWRITERS:
                self._rewriters.clear()
            rewriter = self._rewriters[key] = OriginRewriter.for_upstream(
                key[0], upstream_host=key[1], public_origin=key[2])
        return rewriter

    def _url(self, scope: Scope) -> str:
        base = self._base(context_of(scope))
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        url = base + raw_path.decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        return url

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = context_of(scope)
        url = self._url(scope)
        body = _RequestBody.of(scope, receive, self.max_upload)
        if body is not None and body.declared_too_large:
            await _too_large(send, self.max_upload)
            return
        relay = _Relay(send, self._rewriter(ctx))
        began = time.perf_counter()
        try:
            async with self._client().request(
                scope["method"], url, headers=_request_headers(scope, ctx),
                data=body.chunks() if body is not None else None, allow_redirects=False,
            ) as upstream:
                self.services.metrics.upstream_seconds(time.perf_counter() - began)
                await relay.stream(upstream)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            if body is not None and body.too_large and not relay.started:
                await _too_large(send, self.max_upload)
                return
            log.warning("upstream %s failed: %r", urlsplit(url).netloc, exc)
            if relay.started:
                return  # mid-body: all we can do is end the connection
            if isinstance(exc, TimeoutError):
                await _error(send, 504, "Gateway Timeout", "The website took too long to answer.")
            else:
                await _error(send, 502, "Bad Gateway", "The website cannot be reached right now.")


def _request_headers(scope: Scope, ctx: RequestContext) -> list[tuple[str, str]]:
    incoming = [(name.decode("latin-1").lower(), value.decode("latin-1"))
                for name, value in scope["headers"]]
    accept = next((value for name, value in incoming if name == "accept-encoding"), None)
    return upstream_request_headers(
        incoming, client=ctx.peer.address, scheme=ctx.peer.scheme,
        upstream_host=ctx.site.upstream_host,
        # Only encodings the HTML rewriter can undo (no zstd, no stacked codings).
        accept_encoding=acceptable_encodings(accept),
    )


class _RequestBody:
    """The visitor's request body, streamed to the upstream and cut off past the cap."""

    def __init__(self, receive: Receive, limit: int, declared: int | None) -> None:
        self.receive = receive
        self.limit = limit
        self.declared_too_large = declared is not None and declared > limit
        self.too_large = False

    @classmethod
    def of(cls, scope: Scope, receive: Receive, limit: int) -> _RequestBody | None:
        """None for a request without a body: a GET must not turn into a chunked upload
        with a made-up Content-Type (some servers refuse those)."""
        has_body, declared = False, None
        for name, value in scope["headers"]:
            if name == b"content-length":
                has_body = True
                declared = int(value) if value.strip().isdigit() else None
            elif name == b"transfer-encoding":
                has_body = True
        return cls(receive, limit, declared) if has_body else None

    async def chunks(self) -> AsyncIterator[bytes]:
        seen = 0
        while True:
            message: Message = await self.receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                self.too_large = True
                raise aiohttp.ClientPayloadError("request body over the upload limit")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


class _Relay:
    def __init__(self, send: Send, rewriter: OriginRewriter) -> None:
        self.send = send
        self.rewriter = rewriter
        self.started = False

    async def stream(self, upstream: aiohttp.ClientResponse) -> None:
        rewrite = self.rewriter.header
        headers = [
            (name.encode("latin-1"), rewrite(name, value).encode("latin-1"))
            for name, value in (  # multidict: Set-Cookie stays separate
                (name.lower(), value) for name, value in upstream.headers.items())
            if name not in HOP_BY_HOP
        ]
        self.started = True
        await self.send(
            {"type": "http.response.start", "status": upstream.status, "headers": headers}
        )
        # Whatever has arrived goes on at once: event streams and long polls are not held.
        async for chunk in upstream.content.iter_any():
            await self.send({"type": "http.response.body", "body": chunk, "more_body": True})
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})


async def _too_large(send: Send, limit: int) -> None:
    body = (f'{{"error": "payload too large", "detail": "request body over '
            f'{limit} bytes (server.max_upload_mb)"}}').encode()
    await send({
        "type": "http.response.start", "status": 413,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()), (b"connection", b"close")],
    })
    await send({"type": "http.response.body", "body": body})


async def _error(send: Send, status: int, title: str, detail: str) -> None:
    body = _ERROR_PAGE.format(status=status, title=title, detail=detail).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})





# ------------------------------------------------------------------------- WebSocket

_WS_HANDSHAKE: Final = frozenset({
    "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
    "sec-websocket-protocol",
})


async def _pump_to_upstream(receive: Receive, upstream: aiohttp.ClientWebSocketResponse) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            await upstream.close(code=message.get("code", 1000))
            return
        if message.get("text") is not None:
            await upstream.send_str(message["text"])
        elif message.get("bytes") is not None:
            await upstream.send_bytes(message["bytes"])


async def _pump_to_client(upstream: aiohttp.ClientWebSocketResponse, send: Send) -> None:
    async for message in upstream:
        if message.type == aiohttp.WSMsgType.TEXT:
            await send({"type": "websocket.send", "text": message.data})
        elif message.type == aiohttp.WSMsgType.BINARY:
            await send({"type": "websocket.send", "bytes": message.data})
        else:
            break
    await send({"type": "websocket.close", "code": upstream.close_code or 1000})


async def _relay_websocket(
    receive: Receive, send: Send, upstream: aiohttp.ClientWebSocketResponse
) -> None:
    tasks = [asyncio.create_task(_pump_to_upstream(receive, upstream)),
             asyncio.create_task(_pump_to_client(upstream, send))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await upstream.close()


def _websocket_headers(scope: Scope, ctx: RequestContext) -> list[tuple[str, str]]:
    return [
        (name, value) for name, value in _request_headers(scope, ctx)
        if name.lower() not in _WS_HANDSHAKE and name != "Accept-Encoding"
    ]
