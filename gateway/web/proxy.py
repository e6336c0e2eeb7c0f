"""Reverse proxy to the site's upstream, on one shared aiohttp keep-alive pool.

aiohttp, not httpx: measured here about 10x the throughput as a proxy client. Bodies
stream both ways; the response body is never buffered whole.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Final
from urllib.parse import urlsplit

import aiohttp
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from gateway.core.enforcement.encoding import acceptable_encodings
from gateway.services.wiring import Services
from gateway.web.context import context_of

log = logging.getLogger("consent_gateway.proxy")

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP: Final = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "proxy-connection",
})
_CHUNK: Final = 64 * 1024

_ERROR_PAGE: Final = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{status} {title}</title></head><body><h1>{title}</h1><p>{detail}</p></body></html>"""


class ReverseProxy:
    def __init__(self, services: Services, upstreams: Mapping[str, str]) -> None:
        self.services = services
        self.upstreams = dict(upstreams)
        server = services.config.server
        self.timeout = aiohttp.ClientTimeout(
            total=None, connect=server.upstream_connect_timeout,
            sock_read=server.upstream_read_timeout,
        )
        self._session: aiohttp.ClientSession | None = None

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
                url, headers=_websocket_headers(scope, ctx.peer.address, ctx.peer.scheme),
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

    def _url(self, scope: Scope) -> str:
        ctx = context_of(scope)
        base = self.upstreams.get(ctx.site.id) or next(iter(self.upstreams.values()))
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        url = base + raw_path.decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        return url

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = context_of(scope)
        url = self._url(scope)
        headers = _request_headers(scope, ctx.peer.address, ctx.peer.scheme)
        relay = _Relay(send)
        try:
            async with self._client().request(
                scope["method"], url, headers=headers, data=_request_body(scope, receive),
                allow_redirects=False,
            ) as upstream:
                await relay.stream(upstream)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("upstream %s failed: %r", urlsplit(url).netloc, exc)
            if relay.started:
                return  # mid-body: all we can do is end the connection
            if isinstance(exc, TimeoutError):
                await _error(send, 504, "Gateway Timeout", "The website took too long to answer.")
            else:
                await _error(send, 502, "Bad Gateway", "The website cannot be reached right now.")


def _request_headers(scope: Scope, client: str, scheme: str) -> list[tuple[str, str]]:
    incoming = Headers(scope=scope)
    out = [
        (name, value) for name, value in incoming.items()
        if name not in HOP_BY_HOP and name not in ("host", "accept-encoding", "content-length")
        and not name.startswith("x-forwarded-")
    ]
    forwarded_for = incoming.get("x-forwarded-for")
    out += [
        ("X-Forwarded-For", f"{forwarded_for}, {client}" if forwarded_for else client),
        ("X-Forwarded-Proto", scheme),
        ("X-Forwarded-Host", incoming.get("host", "")),
        # Only encodings the HTML rewriter can undo (no zstd, no stacked codings).
        ("Accept-Encoding", acceptable_encodings(incoming.get("accept-encoding"))),
    ]
    return out


def _request_body(scope: Scope, receive: Receive) -> AsyncIterator[bytes] | None:
    """None for a request without a body: a GET must not turn into a chunked upload with a
    made-up Content-Type (some servers refuse those, and it costs a task per request)."""
    for name, _ in scope["headers"]:
        if name in (b"content-length", b"transfer-encoding"):
            return _body(receive)
    return None


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


class _Relay:
    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def stream(self, upstream: aiohttp.ClientResponse) -> None:
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in upstream.headers.items()  # multidict: Set-Cookie stays separate
            if name.lower() not in HOP_BY_HOP
        ]
        self.started = True
        await self.send(
            {"type": "http.response.start", "status": upstream.status, "headers": headers}
        )
        async for chunk in upstream.content.iter_chunked(_CHUNK):
            await self.send({"type": "http.response.body", "body": chunk, "more_body": True})
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})


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


def _websocket_headers(scope: Scope, client: str, scheme: str) -> list[tuple[str, str]]:
    return [
        (name, value) for name, value in _request_headers(scope, client, scheme)
        if name.lower() not in _WS_HANDSHAKE and name != "Accept-Encoding"
    ]
