"""The built-in demo site `serve` shows when no upstream is given: a few pages, a fake
analytics script held back until consent, and a page that sets cookies of every category."""

from __future__ import annotations

import html
import json
from typing import Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

_PAGE: Final = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · consent-gateway demo</title>
<link rel="stylesheet" href="/demo/site.css">
</head>
<body>
<header><strong>{shop_name}</strong> <nav>{nav}</nav></header>
<main>
<h1>{title}</h1>
{body}
</main>
<footer><a href="#" data-consent-open>{settings}</a></footer>
<script type="text/plain" data-consent-category="analytics" src="/demo/fake-analytics.js"></script>
</body>
</html>
"""

# The demo speaks Dutch or English, as the browser asks, so the banner follows the page.
TEXTS: Final = {
    "nl": {
        "shop_name": "Demowinkel",
        "nav": '<a href="/">Home</a> · <a href="/shop">Winkel (zet cookies)</a> · '
               '<a href="/privacy">Privacy</a>',
        "settings": "Cookie-instellingen",
        "home_title": "Welkom",
        "home": """<p>Deze pagina komt van de ingebouwde demosite achter <b>consent-gateway</b>.
De gateway heeft de cookiebanner in de pagina gezet; de site zelf weet niets van toestemming.</p>
<ul>
<li>Het statistiekenscript onderaan deze pagina draait pas als u <em>statistieken</em>
accepteert. Status: <output id="analytics-status">niet geladen</output>.</li>
<li><a href="/shop">De winkel</a> probeert een noodzakelijke, een voorkeurs-, een statistiek- en
een marketingcookie te zetten; de gateway laat alleen door wat u accepteerde.</li>
</ul>""",
        "shop_title": "Winkel",
        "shop": "Dit antwoord zet vier cookies. De tabel toont welke uw browser terugstuurde "
                "naar de site; herlaad na het wijzigen van uw keuze.",
        "privacy_title": "Privacyverklaring",
        "privacy": """<p>Deze demo bewaart uw cookiekeuze in een ondertekende cookie en in een
controleerbaar toestemmingslogboek (met uw IP-adres ingekort tot het netwerkdeel). Verder
wordt niets verzameld.</p>""",
        "loaded": "geladen (u accepteerde statistieken)",
    },
    "en": {
        "shop_name": "Demo shop",
        "nav": '<a href="/">Home</a> · <a href="/shop">Shop (sets cookies)</a> · '
               '<a href="/privacy">Privacy</a>',
        "settings": "Cookie settings",
        "home_title": "Welcome",
        "home": """<p>This page is served by the built-in demo site behind <b>consent-gateway</b>.
The gateway injected the consent banner into it; the site itself knows nothing about consent.</p>
<ul>
<li>The analytics script at the bottom of this page only runs once you accept
<em>analytics</em>. Status: <output id="analytics-status">not loaded</output>.</li>
<li><a href="/shop">The shop</a> tries to set a necessary, a preferences, an analytics and a
marketing cookie; the gateway lets through only what you accepted.</li>
</ul>""",
        "shop_title": "Shop",
        "shop": "This response sets four cookies. The table shows which of them your browser "
                "sent back to the site; reload after changing your choice.",
        "privacy_title": "Privacy statement",
        "privacy": """<p>This demo stores your consent decision in a signed cookie and a
tamper-evident consent log (with your IP address shortened to its network part). Nothing
else is collected.</p>""",
        "loaded": "loaded (you accepted analytics)",
    },
}


SHOP_HEADINGS: Final = {
    "nl": ("cookie", "categorie", "ontvangen door de site", "ja", "nee"),
    "en": ("cookie", "category", "received by the site", "yes", "no"),
}


def page_language(request: Request) -> str:
    """First of nl/en in Accept-Language (by q-value), else nl."""
    ranked = []
    for position, item in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, params = item.strip().partition(";")
        try:
            quality = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            quality = 0.0
        ranked.append((-quality, position, tag.split("-")[0].strip().lower()))
    return next((lang for _, _, lang in sorted(ranked) if lang in TEXTS), "nl")


_SITE_CSS: Final = """body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1a1a1a}
header,main,footer{max-width:46rem;margin:0 auto;padding:1rem}
header{display:flex;gap:1rem;flex-wrap:wrap;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
a{color:#0645ad}"""

_FAKE_ANALYTICS: Final = """(function () {
  document.documentElement.setAttribute("data-fake-analytics", "loaded");
  var out = document.getElementById("analytics-status");
  var loaded = LOADED;
  if (out) { out.textContent = loaded[document.documentElement.lang] || loaded.en; }
})();
""".replace("LOADED", json.dumps({lang: texts["loaded"] for lang, texts in TEXTS.items()}))

# What /shop tries to set: one cookie per category, as a typical site would.
SHOP_COOKIES: Final = (
    ("cart", "3-items", "necessary"),
    ("lang", "nl", "preferences"),
    ("_ga", "GA1.1.1234567890.1700000000", "analytics"),
    ("_fbp", "fb.1.1700000000.1234567890", "marketing"),
)


def _page(request: Request, name: str, body: str | None = None) -> HTMLResponse:
    lang = page_language(request)
    texts = TEXTS[lang]
    return HTMLResponse(_PAGE.format(
        lang=lang, title=html.escape(texts[f"{name}_title"]), shop_name=texts["shop_name"],
        nav=texts["nav"], settings=texts["settings"], body=body or texts[name],
    ), headers={"Vary": "Accept-Language"})


async def home(request: Request) -> Response:
    return _page(request, "home")


async def shop(request: Request) -> Response:
    lang = page_language(request)
    texts = TEXTS[lang]
    cookie, category, received, yes, no = SHOP_HEADINGS[lang]
    rows = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td><td>{kind}</td>"
        f"<td>{yes if name in request.cookies else no}</td></tr>"
        for name, _, kind in SHOP_COOKIES
    )
    body = (
        f"<p>{texts['shop']}</p>"
        f"<table><tr><th>{cookie}</th><th>{category}</th><th>{received}</th></tr>{rows}</table>"
    )
    response = _page(request, "shop", body)
    for name, value, _ in SHOP_COOKIES:
        response.set_cookie(name, value, max_age=3600, path="/", samesite="lax")
    return response


async def privacy(request: Request) -> Response:
    return _page(request, "privacy")


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
