"""The proxies the gateway is measured beside: a bare Python reverse proxy (a pure ASGI app
that only relays, on a choice of upstream clients) and nginx's `proxy_pass` (the C limit),
both started as child processes on 127.0.0.1 in front of the same upstream.

The bare proxy is what any Python reverse proxy costs before doing anything of its own: it
reads no cookie, rewrites nothing, logs nothing. `BENCH_PROXY_CLIENT` chooses the upstream
client (`aiohttp`, the gateway's; `pyreqwest`, `aiosonic`, `httpx`), `BENCH_UPSTREAM` the site.
nginx is started only when the `nginx` binary is on the PATH (Debian: `apt-get install nginx`);
`start_nginx` returns None otherwise, and the benchmarks leave its column out.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from bench.common import Child, free_port

CLIENTS: Final = ("aiohttp", "pyreqwest", "aiosonic", "httpx")
_HOP_BY_HOP: Final = frozenset({
    b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer", b"upgrade",
    b"proxy-connection", b"host", b"content-length",
})
_DROP_DOWN: Final = frozenset({"connection", "keep-alive", "transfer-encoding",
                               "content-length"})

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
# One upstream exchange: (method, url, headers) → status, headers, body chunks.
Exchange = Callable[[str, str, list[tuple[str, str]]],
                    Awaitable[tuple[int, list[tuple[str, str]], AsyncIterator[bytes]]]]


# --------------------------------------------------------------------------- upstream clients
# Each returns a function that sends one request and hands back the response to stream.
# The clients are made in the worker's event loop, on the first request.


def _aiohttp_client() -> tuple[Exchange, Callable[[], Awaitable[None]]]:
    import aiohttp

    session = aiohttp.ClientSession(
        auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
        connector=aiohttp.TCPConnector(limit=256),
        timeout=aiohttp.ClientTimeout(total=None, connect=5, sock_read=30))

    async def exchange(method: str, url: str, headers: list[tuple[str, str]]
                       ) -> tuple[int, list[tuple[str, str]], AsyncIterator[bytes]]:
        response = await session.request(method, url, headers=headers, allow_redirects=False)

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.content.iter_any():
                    yield chunk
            finally:
                response.release()

        return response.status, list(response.headers.items()), body()

    return exchange, session.close


def _pyreqwest_client() -> tuple[Exchange, Callable[[], Awaitable[None]]]:
    from datetime import timedelta

    from pyreqwest.client import ClientBuilder

    client = (ClientBuilder().max_connections(256).connect_timeout(timedelta(seconds=5))
              .read_timeout(timedelta(seconds=30)).follow_redirects(False).gzip(False)
              .brotli(False).deflate(False).zstd(False).build())

    async def exchange(method: str, url: str, headers: list[tuple[str, str]]
                       ) -> tuple[int, list[tuple[str, str]], AsyncIterator[bytes]]:
        request = client.request(method, url).headers(headers).build_streamed()
        response = await request.__aenter__()

        async def body() -> AsyncIterator[bytes]:
            try:
                reader = response.body_reader
                while (chunk := await reader.read_chunk()) is not None:
                    yield bytes(chunk)
            finally:
                await request.__aexit__(None, None, None)

        return response.status, list(response.headers.items()), body()

    return exchange, client.close


def _aiosonic_client() -> tuple[Exchange, Callable[[], Awaitable[None]]]:
    import aiosonic
    from aiosonic.connectors import TCPConnector
    from aiosonic.pools import PoolConfig

    client = aiosonic.HTTPClient(TCPConnector(pool_configs={":default": PoolConfig(size=256)}))
    timeouts = aiosonic.Timeouts(sock_connect=5, sock_read=30)

    async def exchange(method: str, url: str, headers: list[tuple[str, str]]
                       ) -> tuple[int, list[tuple[str, str]], AsyncIterator[bytes]]:
        response = await client.request(url, method=method, headers=headers, follow=False,
                                        timeouts=timeouts, stream=True)

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.read_chunks():
                    yield chunk
            finally:
                await response.aclose()

        return response.status_code, list(response.raw_headers), body()

    return exchange, client.aclose


def _httpx_client() -> tuple[Exchange, Callable[[], Awaitable[None]]]:
    import httpx

    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=256),
                               timeout=httpx.Timeout(30, connect=5))

    async def exchange(method: str, url: str, headers: list[tuple[str, str]]
                       ) -> tuple[int, list[tuple[str, str]], AsyncIterator[bytes]]:
        response = await client.send(client.build_request(method, url, headers=headers),
                                     stream=True)

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.aiter_raw():
                    yield chunk
            finally:
                await response.aclose()

        return response.status_code, list(response.headers.multi_items()), body()

    return exchange, client.aclose


_MAKERS: Final = {"aiohttp": _aiohttp_client, "pyreqwest": _pyreqwest_client,
                  "aiosonic": _aiosonic_client, "httpx": _httpx_client}


def bare_proxy_app() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """A uvicorn/granian `--factory`: GET and HEAD relayed to `BENCH_UPSTREAM`, the
    response streamed back chunk by chunk; nothing else."""
    upstream = os.environ["BENCH_UPSTREAM"].rstrip("/")
    make = _MAKERS[os.environ.get("BENCH_PROXY_CLIENT", "aiohttp")]
    made: list[tuple[Exchange, Callable[[], Awaitable[None]]]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            if made:
                await made[0][1]()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        if not made:
            made.append(make())
        url = upstream + scope["path"]
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode("latin-1")
        headers = [(name.decode("latin-1"), value.decode("latin-1"))
                   for name, value in scope["headers"] if name not in _HOP_BY_HOP]
        status, response_headers, body = await made[0][0](scope["method"], url, headers)
        await send({"type": "http.response.start", "status": status, "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in response_headers if name.lower() not in _DROP_DOWN]})
        async for chunk in body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


def start_bare_proxy(workdir: Path, upstream: str, *, client: str = "aiohttp",
                     ready_path: str = "/") -> tuple[Child, str]:
    """The bare proxy on uvicorn (httptools, uvloop; one worker) with the given client."""
    port = free_port()
    child = Child(
        f"bare-{client}",
        [sys.executable, "-m", "uvicorn", "bench.baselines:bare_proxy_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--no-access-log", "--log-level", "warning"],
        {**os.environ, "BENCH_UPSTREAM": upstream, "BENCH_PROXY_CLIENT": client},
        workdir / f"bare-{client}.log",
    )
    url = f"http://127.0.0.1:{port}"
    child.start(url + ready_path)
    return child, url


# --------------------------------------------------------------------------- nginx

_NGINX_CONF: Final = """{user}daemon off;
worker_processes {workers};
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {work}/nginx-body;
    proxy_temp_path {work}/nginx-proxy;
    fastcgi_temp_path {work}/nginx-fastcgi;
    uwsgi_temp_path {work}/nginx-uwsgi;
    scgi_temp_path {work}/nginx-scgi;
    upstream site {{ server {upstream}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location = /_bench/ready {{ return 200 "ready"; }}
        location / {{
            proxy_pass http://site;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def nginx_available() -> bool:
    return shutil.which("nginx") is not None


def start_nginx(workdir: Path, upstream: str, *, workers: int = 1) -> tuple[Child, str] | None:
    """nginx `proxy_pass` (keep-alive pool to the upstream, buffering as shipped, no access
    log) in front of `upstream`; None when nginx is not installed."""
    nginx = shutil.which("nginx")
    if nginx is None:
        return None
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(_NGINX_CONF.format(
        # As root the workers would drop to `nobody`, who cannot use the temporary folder.
        user="user root;\n" if os.geteuid() == 0 else "", workers=workers, work=workdir,
        upstream=upstream.removeprefix("http://").rstrip("/"), port=port), encoding="utf-8")
    child = Child("nginx", [nginx, "-c", str(conf), "-p", str(workdir), "-e",
                            str(workdir / "nginx-error.log")],
                  dict(os.environ), workdir / "nginx.log")
    url = f"http://127.0.0.1:{port}"
    child.start(url + "/_bench/ready")
    return child, url
