"""The built-in demo site `serve` shows when no upstream is given: a few pages, a fake
analytics script held back until consent, and a page that sets cookies of every category."""

from __future__ import annotations

import html
from typing import Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

_NAV: Final = (
    '<nav><a href="/">Home</a> · <a href="/shop">Shop (sets cookies)</a> · '
    '<a href="/privacy">Privacy</a></nav>'
)

_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · consent-gateway demo</title>
<link rel="stylesheet" href="/demo/site.css">
</head>
<body>
<header><strong>Demo shop</strong> {nav}</header>
<main>
<h1>{title}</h1>
{body}
</main>
<footer><a href="#" data-consent-open>Cookie settings</a></footer>
<script type="text/plain" data-consent-category="analytics" src="/demo/fake-analytics.js"></script>
</body>
</html>
"""

_HOME: Final = """<p>This page is served by the built-in demo site behind <b>consent-gateway</b>.
The gateway injected the consent banner into it; the site itself knows nothing about consent.</p>
<ul>
<li>The analytics script at the bottom of this page only runs once you accept
<em>analytics</em>. Status: <output id="analytics-status">not loaded</output>.</li>
<li><a href="/shop">The shop</a> tries to set a necessary, a preferences, an analytics and a
marketing cookie; the gateway lets through only what you accepted.</li>
</ul>"""

_PRIVACY: Final = """<p>This demo stores your consent decision in a signed cookie and a
tamper-evident consent log (with your IP address shortened to its network part). Nothing
else is collected.</p>"""

_SITE_CSS: Final = """body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1a1a1a}
header,main,footer{max-width:46rem;margin:0 auto;padding:1rem}
header{display:flex;gap:1rem;flex-wrap:wrap;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
a{color:#0645ad}"""

_FAKE_ANALYTICS: Final = """(function () {
  document.documentElement.setAttribute("data-fake-analytics", "loaded");
  var out = document.getElementById("analytics-status");
  if (out) { out.textContent = "loaded (you accepted analytics)"; }
})();
"""

# What /shop tries to set: one cookie per category, as a typical site would.
SHOP_COOKIES: Final = (
    ("cart", "3-items", "necessary"),
    ("lang", "nl", "preferences"),
    ("_ga", "GA1.1.1234567890.1700000000", "analytics"),
    ("_fbp", "fb.1.1700000000.1234567890", "marketing"),
)


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), nav=_NAV, body=body))


async def home(request: Request) -> Response:
    return _page("Welcome", _HOME)


async def shop(request: Request) -> Response:
    rows = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td><td>{category}</td>"
        f"<td>{'yes' if name in request.cookies else 'no'}</td></tr>"
        for name, _, category in SHOP_COOKIES
    )
    body = (
        "<p>This response sets four cookies. The table shows which of them your browser "
        "sent back to the site; reload after changing your choice.</p>"
        "<table><tr><th>cookie</th><th>category</th><th>received by the site</th></tr>"
        f"{rows}</table>"
    )
    response = _page("Shop", body)
    for name, value, _ in SHOP_COOKIES:
        response.set_cookie(name, value, max_age=3600, path="/", samesite="lax")
    return response


async def privacy(request: Request) -> Response:
    return _page("Privacy statement", _PRIVACY)


async def site_css(request: Request) -> Response:
    return Response(_SITE_CSS, media_type="text/css")


async def fake_analytics(request: Request) -> Response:
    return Response(_FAKE_ANALYTICS, media_type="text/javascript")


def demo_app() -> Starlette:
    return Starlette(routes=[
        Route("/", home),
        Route("/shop", shop),
        Route("/privacy", privacy),
        Route("/demo/site.css", site_css),
        Route("/demo/fake-analytics.js", fake_analytics),
    ])
