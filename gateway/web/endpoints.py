"""The gateway's own HTTP endpoints under the prefix (SPEC §3.1), and the one place where
errors become HTTP responses for them."""

from __future__ import annotations

import logging
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.adapters.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from gateway.core.analytics.events import AnalyticsEvent, Drop
from gateway.core.analytics.pipeline import MAX_BODY_BYTES as MAX_BEACON_BYTES
from gateway.core.consent.banner import consent_json
from gateway.core.consent.choice import Choice, choice_from_form, choice_from_json, safe_return_path
from gateway.core.consent.cookie import Consent
from gateway.core.consent.preferences import PAGE_CSP, render_preferences
from gateway.core.consent.subjects import subject_document
from gateway.core.enforcement.encoding import accepts_gzip
from gateway.core.errors import (
    BadRequest,
    CrossSiteRequest,
    InvalidField,
    PayloadTooLarge,
    RequestError,
    StoreError,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    WriteQueueFull,
)
from gateway.core.request import RequestContext
from gateway.core.types import Action
from gateway.core.version import __version__
from gateway.services.wiring import Services
from gateway.web.admin import admin_routes
from gateway.web.admin.auth import authorise
from gateway.web.bodies import parse_json, read_capped_body
from gateway.web.context import RequestContexts, context_of, on_admin_listener

log = logging.getLogger("consent_gateway")

_SAME_ORIGIN_FETCH: Final = frozenset({"same-origin", "none"})


def build_endpoints(services: Services, contexts: RequestContexts) -> Starlette:
    prefix = services.prefix
    handlers = _Handlers(services, contexts)
    routes = [
        Route(f"{prefix}/consent.js", handlers.asset, methods=["GET", "HEAD"]),
        Route(f"{prefix}/consent.css", handlers.asset, methods=["GET", "HEAD"]),
        Route(f"{prefix}/state", handlers.state, methods=["GET"]),
        Route(f"{prefix}/consent", handlers.decide, methods=["POST"]),
        Route(f"{prefix}/withdraw", handlers.withdraw, methods=["POST"]),
        Route(f"{prefix}/preferences", handlers.preferences, methods=["GET"]),
        Route(f"{prefix}/preferences", handlers.decide, methods=["POST"]),
        Route(f"{prefix}/collect", handlers.collect, methods=["POST"]),
        Route(f"{prefix}/me", handlers.my_data, methods=["GET"]),
        Route(f"{prefix}/me", handlers.erase_me, methods=["DELETE"]),
        Route(f"{prefix}/me/erase", handlers.erase_me, methods=["POST"]),
        *(
            Route(f"{prefix}/{name}", handlers.preflight, methods=["OPTIONS"])
            for name in ("state", "consent", "withdraw", "collect", "me")
        ),
        *admin_routes(services),
        Route(f"{prefix}/health", handlers.health, methods=["GET"]),
        Route(f"{prefix}/health/live", handlers.live, methods=["GET"]),
        Route(f"{prefix}/health/ready", handlers.health, methods=["GET"]),
        Route(f"{prefix}/metrics", handlers.metrics, methods=["GET"]),
        Route("/.well-known/gpc.json", handlers.gpc, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={
            RequestError: error_response,
            StoreError: error_response,
            HTTPException: error_response,
            Exception: error_response,
        },
    )


# Every response of the gateway's own endpoints: no MIME sniffing, no framing, no referrer
# leaving the site, and no content at all for a document that sets no policy of its own.
_SECURITY_HEADERS: Final = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
)


class SecurityHeaders:
    """Pure ASGI: adds `_SECURITY_HEADERS` a response does not set itself (the preferences
    page and the dashboard bring stricter or more specific ones)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _SECURITY_HEADERS:
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def error_response(request: Request, exc: Exception) -> Response:
    """Every error of the gateway's endpoints becomes JSON here, and only here."""
    if isinstance(exc, TooManyRequests):
        return JSONResponse(exc.to_json(), status_code=exc.status_code,
                            headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, Unauthorized) and exc.challenge:
        return JSONResponse(exc.to_json(), status_code=exc.status_code,
                            headers={"WWW-Authenticate": exc.challenge})
    if isinstance(exc, RequestError):
        return JSONResponse(exc.to_json(), status_code=exc.status_code)
    if isinstance(exc, HTTPException):
        body = {"error": exc.detail.lower() if isinstance(exc.detail, str) else "error"}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
    if isinstance(exc, StoreError):
        if exc.logged:
            log.error("store unavailable: %s", exc)  # never the request: no address, secret
        return JSONResponse({"error": exc.error, "detail": exc.detail}, status_code=503,
                            headers={"Retry-After": str(exc.retry_after)})
    log.exception("unexpected error on %s", request.scope["path"])
    return JSONResponse({"error": "internal error"}, status_code=500)


class _Handlers:
    def __init__(self, services: Services, contexts: RequestContexts) -> None:
        self.services = services
        self.contexts = contexts
        self.banners = services.banners
        self.consents = services.consents
        self.firewall = services.firewall

    async def asset(self, request: Request) -> Response:
        asset = self.banners.assets[request.scope["path"].rsplit("/", 1)[-1]]
        gzipped = accepts_gzip(request.headers.get("accept-encoding"))
        # Each encoding is its own representation, with its own validator.
        etag = f'"{asset.etag}-gzip"' if gzipped else f'"{asset.etag}"'
        # A URL carrying the current version never changes; an unversioned one (the
        # snippet's) is revalidated often so fixes reach every site soon.
        versioned = request.query_params.get("v") == asset.etag
        headers = {
            "ETag": etag,
            "Cache-Control": "public, max-age=31536000, immutable" if versioned
            else "public, max-age=300",
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped if gzipped else asset.body, media_type=asset.media_type,
                        headers=headers)

    async def state(self, request: Request) -> Response:
        ctx = context_of(request.scope)
        language = self.banners.language_for(ctx, request.query_params.get("lang"))
        body = self.banners.view(ctx.site, language).state(
            ctx.consent, gpc=ctx.gpc, include_id=True, mode=ctx.region.mode
        )
        response = JSONResponse(body, headers={"Cache-Control": "no-store"})
        allow_snippet(response, ctx)
        return response

    async def preflight(self, request: Request) -> Response:
        """CORS preflight for snippet mode: any origin configured for some site may ask;
        the request itself is then checked against its own site's origins."""
        origin = (request.headers.get("origin") or "").lower()
        if not any(origin in site.origins for site in self.services.config.sites):
            raise CrossSiteRequest("this origin is not configured for any site", field="Origin")
        return Response(status_code=204, headers={
            **_cors_headers(origin),
            "Access-Control-Allow-Methods": "GET, POST, DELETE",
            "Access-Control-Allow-Headers": "Content-Type, X-Consent-Token",
            "Access-Control-Max-Age": "600",
        })

    async def preferences(self, request: Request) -> Response:
        ctx = context_of(request.scope)
        return_to = safe_return_path(
            request.query_params.get("return_to") or _same_origin_path(request, ctx)
        )
        view = self.banners.view(ctx.site, self.banners.language_for(ctx))
        css = f"{self.services.prefix}/consent.css?v={self.banners.assets['consent.css'].etag}"
        page = render_preferences(
            view, ctx.consent, return_to=return_to, css_url=css,
            subject_id=self.consents.subject_of(ctx),
            erased=request.query_params.get("erased") == "1",
        )
        return HTMLResponse(page, headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": PAGE_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        })

    async def decide(self, request: Request) -> Response:
        return await self._record(request, fixed_action=None)

    async def withdraw(self, request: Request) -> Response:
        return await self._record(request, fixed_action="withdraw")

    async def _record(self, request: Request, *, fixed_action: Action | None) -> Response:
        ctx = context_of(request.scope)
        refuse_cross_site(request, ctx)
        await self.services.abuse.check_rate(ctx.peer.address, "consent")
        choice, is_form = await read_choice(request, fixed_action=fixed_action)
        if choice.site and choice.site != ctx.site.id:
            ctx = self.contexts.context_for(request.scope, site_id=choice.site)
            refuse_cross_site(request, ctx)
        automatic = choice.action in ("gpc", "implied")
        if choice.action == "implied" and ctx.region.asks_first:
            raise InvalidField("nothing is implied here: the visitor is asked first",
                               field="action")
        if automatic and ctx.consent is not None and (ctx.consent.explicit
                                                      or choice.action == "implied"):
            consent = ctx.consent  # the visitor's own choice wins over a GPC signal
        else:
            consent, _ = await self.consents.record_decision(
                ctx,
                action=choice.action,
                granted=ctx.region.granted if choice.action == "implied" else choice.granted,
                source=choice.source,
                page=choice.page,
                language=self.banners.language_for(ctx, choice.language),
            )
        if is_form:
            response: Response = RedirectResponse(choice.return_to or "/", status_code=303)
            self._set_consent_cookies(response, ctx, consent)
            return response
        body = consent_json(consent, self.consents.lifetime, include_id=True)
        assert body is not None
        if ctx.snippet_origin:
            # Cross-origin: a cookie of ours would be third-party, so the snippet keeps the
            # signed value first-party and sends it back in X-Consent-Token.
            response = JSONResponse({**body, "token": self.consents.codec.encode(consent)},
                                    headers={"Cache-Control": "no-store"})
            allow_snippet(response, ctx)
            return response
        response = JSONResponse(body, headers={"Cache-Control": "no-store"})
        self._set_consent_cookies(response, ctx, consent)
        return response

    def _set_consent_cookies(
        self, response: Response, ctx: RequestContext, consent: Consent
    ) -> None:
        response.headers.append(
            "set-cookie", self.consents.set_cookie(consent, https=ctx.https, host=ctx.hostname)
        )
        # Cookies of categories the visitor no longer allows are deleted now, HttpOnly
        # ones included, rather than lingering until they expire.
        withdrawn = [
            name for name in ctx.cookies
            if (category := self.firewall.category_of(name)) is not None
            and not consent.allows(category)
        ]
        for value in self.firewall.expiring_cookies(ctx.site.id, withdrawn, host=ctx.host):
            response.headers.append("set-cookie", value)

    async def collect(self, request: Request) -> Response:
        """The analytics beacon. Dropping is an answer, not an error: 202 either way, with
        the reason in `X-Consent-Dropped`, so a page never retries what we refused."""
        ctx = context_of(request.scope)
        await self.services.abuse.check_rate(ctx.peer.address, "collect")
        try:
            body = await read_capped_body(request, MAX_BEACON_BYTES)
        except PayloadTooLarge:
            outcome: AnalyticsEvent | Drop = Drop(
                "invalid", f"body: over {MAX_BEACON_BYTES} bytes"
            )
        else:
            outcome = self._collect(ctx, body)
        headers = {"Cache-Control": "no-store"}
        if isinstance(outcome, Drop):
            self.services.metrics.beacon("dropped", outcome.reason)
            headers["X-Consent-Dropped"] = outcome.reason
            content = {"accepted": False, "dropped": outcome.reason, "detail": outcome.detail}
        else:
            content = {"accepted": True}
        response = JSONResponse(content, status_code=202, headers=headers)
        allow_snippet(response, ctx)
        return response

    def _collect(self, ctx: RequestContext, body: bytes) -> AnalyticsEvent | Drop:
        metrics = self.services.metrics
        try:
            outcome = self.services.analytics.collect(ctx, body)
        except StoreError as exc:
            metrics.beacon("refused", "queue_full" if isinstance(exc, WriteQueueFull)
                           else "store_failing")
            raise
        if not isinstance(outcome, Drop):
            metrics.beacon("accepted")
        return outcome

    async def my_data(self, request: Request) -> Response:
        """The visitor's own data as a JSON download (GDPR art. 15 and 20)."""
        ctx = context_of(request.scope)
        await self.services.abuse.check_rate(ctx.peer.address, "consent")
        consent_id = self.consents.subject_of(ctx)
        if consent_id is None:
            body = subject_document(consent_id="", site=ctx.site.id, current=None, history=(),
                                    events=(), generated_at=self.services.clock())
        else:
            body = await self.services.subjects.subject_data(consent_id, site=ctx.site.id,
                                                   current=ctx.consent)
        day = self.services.clock().date().isoformat()
        response = JSONResponse(body, headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="my-data-{ctx.site.id}-{day}.json"',
            "X-Content-Type-Options": "nosniff",
        })
        allow_snippet(response, ctx)
        return response

    async def erase_me(self, request: Request) -> Response:
        """Erase the visitor's analytics events and withdraw their consent (logged as
        `erase`); the consent cookie goes too, so the banner asks again."""
        ctx = context_of(request.scope)
        refuse_cross_site(request, ctx)
        await self.services.abuse.check_rate(ctx.peer.address, "consent")
        is_form = request.method == "POST"
        return_to = "/"
        if is_form:
            form = dict(_form_pairs(await read_capped_body(request)))
            return_to = safe_return_path(form.get("return_to")) or "/"
        consent_id = self.consents.subject_of(ctx)
        erased = 0
        if consent_id is not None:
            erased = await self.services.subjects.erase_events_of(consent_id, ctx.site.id)
            await self.consents.record_decision(
                ctx, action="erase", granted=frozenset(), consent_id=consent_id,
                source="preferences" if is_form else "api", page=_page_of(request, ctx),
                language=self.banners.language_for(ctx),
            )
        if is_form:
            query = urlencode({"erased": "1", "return_to": return_to})
            response: Response = RedirectResponse(
                f"{self.services.prefix}/preferences?{query}", status_code=303)
        else:
            response = JSONResponse(
                {"consent_id": consent_id, "erased_events": erased,
                 "withdrawn": consent_id is not None},
                headers={"Cache-Control": "no-store"},
            )
            allow_snippet(response, ctx)
        self._forget_consent(response, ctx)
        return response

    def _forget_consent(self, response: Response, ctx: RequestContext) -> None:
        """Delete the consent cookie and every cookie of an optional category."""
        optional = [
            name for name in ctx.cookies
            if (category := self.firewall.category_of(name)) is not None
            and category != "necessary"
        ]
        names = [self.consents.cookie_name(ctx.https), *optional]
        for value in self.firewall.expiring_cookies(ctx.site.id, names, host=ctx.host):
            response.headers.append("set-cookie", value)

    async def health(self, request: Request) -> Response:
        """Ready (also the plain `/health`): the store answers, and since a store opens only
        once its migrations are done, they are. A load balancer sends traffic here."""
        try:
            await self.services.store.ping()
        except StoreError:
            body = {"status": "unavailable", "database": "error", "version": __version__}
            return JSONResponse(body, status_code=503, headers={"Cache-Control": "no-store"})
        body = {"status": "ok", "database": "ok", "migrations": "done", "version": __version__}
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def live(self, request: Request) -> Response:
        """Live: the process answers; the database is not asked (restarting the gateway
        would not bring it back)."""
        return JSONResponse({"status": "ok", "version": __version__},
                            headers={"Cache-Control": "no-store"})

    async def metrics(self, request: Request) -> Response:
        """Prometheus text format: without credentials on `server.admin_listen` (a private
        listener), else only with admin credentials."""
        services = self.services
        if services.config.server.admin_port is None or not on_admin_listener(
                request.scope, services.config.server.admin_port):
            await authorise(services, request)
        metrics = services.metrics
        try:
            metrics.sources.chain_head = (await services.store.chain_head())[0]
        except StoreError:
            metrics.sources.chain_head = None  # the rest is still worth scraping
        return Response(metrics.render(), media_type=METRICS_CONTENT_TYPE,
                        headers={"Cache-Control": "no-store"})

    async def gpc(self, request: Request) -> Response:
        privacy = self.services.config.privacy
        if not privacy.honour_gpc:
            return JSONResponse({"error": "not found"}, status_code=404)
        body = {"gpc": True, "lastUpdate": privacy.gpc_last_update.isoformat()}
        return JSONResponse(body, headers={"Cache-Control": "public, max-age=86400"})


def _page_of(request: Request, ctx: RequestContext) -> str:
    """Where the visitor asked (path only, never the query), for the consent record."""
    return (_same_origin_path(request, ctx) or "").split("?")[0][:500]


def _cors_headers(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def allow_snippet(response: Response, ctx: RequestContext) -> None:
    """Let a configured origin of the site read the response (no credentials: the snippet
    carries the consent in a header, not a cookie)."""
    if ctx.snippet_origin:
        response.headers.update(_cors_headers(ctx.snippet_origin))


def _same_origin_path(request: Request, ctx: RequestContext) -> str | None:
    referer = urlsplit(request.headers.get("referer", ""))
    if f"{referer.scheme}://{referer.netloc}".lower() == ctx.origin:
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return None


def refuse_cross_site(request: Request, ctx: RequestContext) -> None:
    """State changes only from this origin or the site's configured origins."""
    origin = request.headers.get("origin")
    if origin is not None:
        if origin.lower() not in (ctx.origin, *ctx.site.origins):
            raise CrossSiteRequest(
                f"origin {origin[:100]!r} may not change consent for this site", field="Origin"
            )
        return
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in _SAME_ORIGIN_FETCH:
        raise CrossSiteRequest("cross-site request without an allowed Origin",
                               field="Sec-Fetch-Site")


async def read_choice(request: Request, *, fixed_action: Action | None) -> tuple[Choice, bool]:
    """(choice, came from an HTML form)."""
    body = await read_capped_body(request)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        return choice_from_form(_form_pairs(body), fixed_action=fixed_action), True
    if media_type == "application/json":
        return choice_from_json(parse_json(body), fixed_action=fixed_action), False
    if not body and fixed_action is not None:
        return choice_from_json({}, fixed_action=fixed_action), False
    raise UnsupportedMediaType(
        "send application/json or application/x-www-form-urlencoded", field="Content-Type"
    )


def _form_pairs(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, max_num_fields=40, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"the form is not valid ({type(exc).__name__})", field="body") from None
