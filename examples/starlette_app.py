"""consent-gateway inside a Starlette app.

Run from the repository root:
    GATEWAY_SERVER_SECRET_KEYS=$(python -c 'import secrets; print(secrets.token_urlsafe(48))') \\
        uvicorn examples.starlette_app:app --port 8001
then open http://127.0.0.1:8001/ — the banner is injected into the page, the consent API
lives under /_consent/, and the app reads the visitor's choice from the request scope.
The Google Analytics tag below is held back by the middleware (type="text/plain") until the
visitor accepts analytics, and the app's `_ga` cookie never reaches the browser before that.
"""

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from gateway import ConsentMiddleware, consent_of


async def home(request: Request) -> HTMLResponse:
    consent = consent_of(request.scope)
    analytics = consent is not None and consent.allows("analytics")
    response = HTMLResponse(
        "<!doctype html><html><head><title>My shop</title>"
        '<script async src="https://www.googletagmanager.com/gtag/js?id=G-EXAMPLE"></script>'
        "</head><body>"
        f"<h1>My shop</h1><p>Analytics allowed: {'yes' if analytics else 'no'}</p>"
        '<a href="#" data-consent-open>Cookie settings</a></body></html>'
    )
    response.set_cookie("_ga", "GA1.1.1.1")  # what a tag manager's server side might do
    return response


app = Starlette(
    routes=[Route("/", home)],
    middleware=[Middleware(ConsentMiddleware, config_path="config/gateway.toml")],
)
