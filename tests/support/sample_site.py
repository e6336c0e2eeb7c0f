"""A sample website for the enforcement tests: a Google-Analytics-style tag, a Facebook-style
pixel and a video iframe, each served locally from a `*.localhost` host (Chromium resolves
those to this machine), plus `Set-Cookie` for `_ga`, `_fbp` and a session cookie; the page
comes plain, gzip or brotli encoded."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import brotli
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp
from starlette.websockets import WebSocket

from tests.conftest import free_port

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Sample shop</title>
<script async src="http://analytics.localhost:{port}/gtag/js?id=G-TEST123"></script>
<script>
window.dataLayer = window.dataLayer || [];
function gtag(){{dataLayer.push(arguments);}}
gtag('js', new Date());
gtag('config', 'G-TEST123');
window.gtagConfigRan = true;
</script>
<script>
!function(f){{f.fbqRan = true;}}(window);
fbq('init', '123456789');
</script>
<script src="/app.js"></script>
</head>
<body>
<h1>Sample shop</h1>
<p id="session">session: {session}</p>
<iframe width="320" height="180" src="http://video.localhost:{port}/embed/abc"
 title="Product video"></iframe>
</body>
</html>
"""

# What the analytics host serves: sets a first-party _ga from script, as gtag.js does.
GTAG_JS = """window.analyticsTagRan = true;
document.cookie = "_ga=GA1.1.987654321.1700000000; path=/; max-age=3600";
"""


def blocking_rules(port: int) -> str:
    """GATEWAY_BLOCKING_RULES for the sample site's hosts."""
    return json.dumps([
        {"host": "analytics.localhost", "category": "analytics", "markers": ["gtag("]},
        {"host": "pixel.localhost", "category": "marketing", "markers": ["fbq("]},
        {"host": "video.localhost", "category": "marketing"},
    ])


def own_port(request: Request) -> int:
    """The port this site listens on: behind the gateway the Host (and so `request.url`)
    is the visitor's, as it should be."""
    return int(request.scope["server"][1])


def _page(request: Request) -> bytes:
    port = own_port(request)
    session = request.cookies.get("sessionid", "none")
    return PAGE.format(port=port, session=session).encode("utf-8")


def _with_cookies(response: Response) -> Response:
    response.set_cookie("sessionid", "s3ss10n", path="/", httponly=True)
    response.set_cookie("_ga", "GA1.1.111.222", path="/", max_age=3600)
    response.set_cookie("_ga_HTTPONLY", "GS1.1.333", path="/", max_age=3600, httponly=True)
    response.set_cookie("_fbp", "fb.1.444.555", path="/", max_age=3600)
    return response


async def page(request: Request) -> Response:
    return _with_cookies(HTMLResponse(_page(request)))


async def gzipped(request: Request) -> Response:
    body = gzip.compress(_page(request))
    return _with_cookies(Response(body, media_type="text/html; charset=utf-8",
                                  headers={"Content-Encoding": "gzip"}))


async def brotli_page(request: Request) -> Response:
    body = brotli.compress(_page(request))
    return _with_cookies(Response(body, media_type="text/html; charset=utf-8",
                                  headers={"Content-Encoding": "br"}))


async def with_csp(request: Request) -> Response:
    """A site with its own Content-Security-Policy, which the banner must get through."""
    response = await page(request)
    response.headers["Content-Security-Policy"] = (
        f"script-src 'self' http://analytics.localhost:{own_port(request)}; style-src 'self'"
    )
    return response


async def app_js(request: Request) -> Response:
    return Response("window.appRan = true;", media_type="text/javascript")


async def gtag_js(request: Request) -> Response:
    return Response(GTAG_JS, media_type="text/javascript")


async def embed(request: Request) -> Response:
    return HTMLResponse("<!doctype html><title>video</title><p>video player</p>")


async def whoami(request: Request) -> Response:
    return JSONResponse({"cookies": sorted(request.cookies)})


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(f"echo: {text}")


def sample_app() -> Starlette:
    from starlette.routing import WebSocketRoute

    return Starlette(routes=[
        Route("/", page), Route("/gz", gzipped), Route("/br", brotli_page),
        Route("/csp", with_csp),
        Route("/app.js", app_js), Route("/gtag/js", gtag_js), Route("/embed/abc", embed),
        Route("/whoami", whoami), WebSocketRoute("/ws", echo),
    ])


@contextmanager
def serving_app(app: ASGIApp) -> Iterator[int]:
    """An ASGI app on uvicorn in a thread of this process, on a free port; yields the port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sample_site() -> AbstractContextManager[int]:
    """The sample site on uvicorn in this process; yields its port."""
    return serving_app(sample_app())
