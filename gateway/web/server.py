"""Running the gateway: uvicorn on the configured sockets — the public one (HTTPS when
`server.tls_certificate` is set, its certificate re-read on SIGHUP), the admin listener,
and a plain-HTTP listener that only redirects to HTTPS."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
import threading
from typing import Final, Literal
from urllib.parse import quote

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from gateway.adapters.logformat import json_log_config
from gateway.core.config import GatewayConfig

log = logging.getLogger("consent_gateway")
APP_FACTORY: Final = "gateway.app:app_from_environment"
_MAX_REQUEST_HEAD: Final = 16 * 1024


def worker_count(workers: int | Literal["auto"]) -> int:
    """`server.workers` as a number: "auto" is one worker per core this process may run on
    (its CPU affinity, which containers and `taskset` narrow; else every core)."""
    if workers != "auto":
        return workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no sched_getaffinity (macOS)
        return max(1, os.cpu_count() or 1)


def run_server(config: GatewayConfig, *, host: str, port: int,
               workers: int | Literal["auto"]) -> None:
    """Serve until stopped (SIGINT/SIGTERM); `GATEWAY_CONFIG` must name the config file,
    from which every worker builds its app."""
    server = config.server
    uvicorn_config = uvicorn.Config(
        APP_FACTORY, factory=True, host=host, port=port, workers=worker_count(workers),
        log_config=json_log_config() if server.log_format == "json" else LOGGING_CONFIG,
        proxy_headers=False,  # we decide whom to trust (server.trusted_proxies)
        server_header=False, log_level="info",
        # uvicorn's access log prints the full client address; no raw IP may be logged.
        access_log=False,
        ssl_certfile=server.tls_certificate, ssl_keyfile=server.tls_key,
    )
    sockets = [uvicorn_config.bind_socket()]
    if server.admin_listen:
        # A second socket for the admin routes; every worker serves both, and the app
        # tells them apart by the port a request came in on.
        print(f"admin on http://{server.admin_listen}/ (server.admin_listen)", flush=True)
        sockets.append(bind(server.admin_listen))
    if server.http_redirect_port:
        start_https_redirect(host, server.http_redirect_port, https_port=port)
    if uvicorn_config.workers == 1:
        uvicorn_config.load()
        if uvicorn_config.ssl is not None:
            reload_certificate_on_sighup(uvicorn_config.ssl, config)
        uvicorn.Server(uvicorn_config).run(sockets=sockets)
    else:
        from uvicorn.supervisors import Multiprocess

        # The supervisor restarts its workers on SIGHUP: each loads the files anew.
        Multiprocess(uvicorn_config, sockets=sockets).run()


def reload_certificate_on_sighup(context: ssl.SSLContext, config: GatewayConfig) -> None:
    """New connections get the renewed certificate; open ones keep theirs."""
    certificate, key = config.server.tls_certificate, config.server.tls_key

    def reload(signum: int, frame: object) -> None:
        try:
            context.load_cert_chain(str(certificate), str(key))
        except (OSError, ssl.SSLError) as exc:
            log.error("SIGHUP: certificate not reloaded, keeping the old one: %s", exc)
        else:
            log.warning("SIGHUP: certificate reloaded from %s", certificate)

    signal.signal(signal.SIGHUP, reload)


def bind(listen: str) -> socket.socket:
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, int(port)))
    sock.set_inheritable(True)
    return sock


def redirect_response(request_head: bytes, *, https_port: int) -> bytes:
    """308 to the same host and path over HTTPS, for one plain-HTTP request head (pure)."""
    lines = request_head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    target = parts[1] if len(parts) == 3 and parts[1].startswith("/") else "/"
    host = next((line.split(":", 1)[1].strip() for line in lines[1:]
                 if line.lower().startswith("host:")), "")
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if not hostname or any(c in hostname for c in "/\\@ \t"):
        body = b'{"error": "bad request", "detail": "a Host header is needed"}'
        return (b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    authority = hostname if https_port == 443 else f"{hostname}:{https_port}"
    location = f"https://{authority}{quote(target, safe='/?&=%:@!$,;~+*-._')}"
    return (f"HTTP/1.1 308 Permanent Redirect\r\nLocation: {location}\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n").encode("latin-1")


async def _answer_redirect(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, https_port: int
) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        writer.write(redirect_response(head[:_MAX_REQUEST_HEAD], https_port=https_port))
        await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
            ConnectionError):
        pass
    finally:
        writer.close()


def start_https_redirect(host: str, port: int, *, https_port: int) -> threading.Thread:
    """The plain-HTTP listener, on a thread of its own: it does nothing but redirect."""

    async def serve() -> None:
        server = await asyncio.start_server(
            lambda r, w: _answer_redirect(r, w, https_port), host, port,
            limit=_MAX_REQUEST_HEAD)
        async with server:
            await server.serve_forever()

    print(f"redirecting http://{host}:{port}/ to HTTPS (server.http_redirect_port)",
          flush=True)
    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True,
                              name="https-redirect")
    thread.start()
    return thread
