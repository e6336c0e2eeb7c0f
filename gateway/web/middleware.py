"""`ConsentMiddleware`: pure ASGI, wraps any ASGI app (or the reverse proxy).

Per request it verifies the consent cookie once and puts the result in the scope, serves
the gateway's own endpoints, keeps cookies of non-granted categories away from the app and
from the browser, and injects the banner into HTML responses.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import replace
from pathlib import Path
from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.adapters.configfile import load_config
from gateway.adapters.static_files import default_config_path
from gateway.core.config import GatewayConfig
from gateway.core.consent.banner import BannerView, banner_tags, embed_placeholder, noscript_markup
from gateway.core.consent.cookie import Consent
from gateway.core.enforcement.blocking import ScriptBlocker
from gateway.core.enforcement.encoding import Decoder, decoder_for
from gateway.core.enforcement.html import (
    ASCII_COMPATIBLE_CHARSETS,
    PageInjector,
    add_nonce_to_csp,
    private_cache_control,
    vary_with_cookie,
    weak_etag,
)
from gateway.core.request import RequestContext
from gateway.core.types import Category
from gateway.services.wiring import Services, build_services
from gateway.web.context import SCOPE_KEY, RequestContexts
from gateway.web.endpoints import build_endpoints

GPC_PATH: Final = "/.well-known/gpc.json"
_NO_BODY_STATUSES: Final = frozenset({204, 205, 304})


def consent_of(scope: Scope) -> Consent | None:
    """The verified consent of the current request (`None`: the visitor has not decided, or
    the cookie failed verification). Works with `request.scope` in any ASGI framework."""
    consent = scope.get("consent")
    return consent if isinstance(consent, Consent) else None


class ConsentMiddleware:
    """Add to any Starlette/FastAPI app: `app.add_middleware(ConsentMiddleware)`.

    Options (keyword-only): `config` (a `GatewayConfig`), or `config_path` (a TOML file;
    default `config/gateway.toml`), or ready `services` (from `build_services`). The consent
    of the current request is `consent_of(request.scope)` (a `Consent` or `None`).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: GatewayConfig | None = None,
        config_path: str | Path | None = None,
        services: Services | None = None,
    ) -> None:
        self.app = app
        if services is None:
            config = config or load_config(config_path or default_config_path())
            services = build_services(config)
        self.services = services
        self.contexts = RequestContexts(services.config, services.consents)
        self.endpoints = build_endpoints(services, self.contexts)
        self.prefix = services.prefix
        self._admin_port = services.config.server.admin_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        await self.services.start()  # no-op once started; covers servers without lifespan
        ctx = self.contexts.context_for(scope)
        scope[SCOPE_KEY] = ctx
        scope["consent"] = ctx.consent
        if scope["type"] == "websocket":
            self._strip_request_cookies(scope, ctx)  # no response headers to delete them with
            await self.app(scope, receive, send)
            return
        started, began = self.services.clock(), time.perf_counter()
        status = 500  # unless a response starts: the app failed before answering

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._dispatch(scope, receive, send_noting_status, ctx)
        finally:
            self.services.analytics.log_access(
                ctx, method=scope["method"], path=scope["path"], status=status,
                started=started, duration_ms=(time.perf_counter() - began) * 1000,
            )

    async def _dispatch(
        self, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
    ) -> None:
        path: str = scope["path"]
        on_admin_listener = (self._admin_port is not None
                             and _server_port(scope) == self._admin_port)
        if on_admin_listener and not path.startswith(self.prefix + "/admin/"):
            # The admin listener serves the admin routes and nothing else.
            await JSONResponse({"error": "not found"}, status_code=404)(scope, receive, send)
            return
        if path.startswith(self.prefix + "/") or path in (self.prefix, GPC_PATH):
            await self.endpoints(scope, receive, send)
            return
        stale = self._strip_request_cookies(scope, ctx)
        await self.app(scope, receive, _ResponseFilter(self.services, ctx, scope, send, stale))

    def _strip_request_cookies(self, scope: Scope, ctx: RequestContext) -> list[str]:
        """Drop cookies of non-granted categories from the request; return the names the
        browser should be told to delete (those a rule puts in a non-granted category)."""
        headers = MutableHeaders(scope=scope)
        raw = headers.get("cookie")
        if not raw:
            return []
        firewall = self.services.firewall
        own = self.services.consents.cookie_name(ctx.https)
        kept, dropped = firewall.strip_request_cookies(raw, ctx.consent, own_cookie=own)
        if not dropped:
            return []
        if kept:
            headers["cookie"] = kept
        else:
            del headers["cookie"]
        return [name for name in dropped if firewall.category_of(name) is not None]

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Open the store at startup and close it at shutdown, around the app's own."""

        async def receive_and_start() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.services.start()
            return message

        async def send_and_stop(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.services.stop()
            await send(message)

        await self.app(scope, receive_and_start, send_and_stop)


class _HtmlPipeline:
    """Decode the upstream's encoding, hold back blocked scripts and embeds, inject the
    banner: each stage streams, so a page is never buffered whole."""

    def __init__(
        self, decoder: Decoder | None, blocker: ScriptBlocker | None, injector: PageInjector
    ) -> None:
        self.decoder = decoder
        self.blocker = blocker
        self.injector = injector

    def feed(self, chunk: bytes) -> bytes:
        pieces = self.decoder.feed(chunk) if self.decoder else (chunk,)
        return b"".join(self._rewrite(piece) for piece in pieces)

    def finish(self) -> bytes:
        tail = self._rewrite(self.decoder.finish()) if self.decoder else b""
        if self.blocker is not None:
            tail += self.injector.feed(self.blocker.finish())
        return tail + self.injector.finish()

    def _rewrite(self, piece: bytes) -> bytes:
        if self.blocker is not None:
            piece = self.blocker.feed(piece)
        return self.injector.feed(piece)


class _ResponseFilter:
    """The `send` of one request: records and filters `Set-Cookie`, deletes stale cookies,
    rewrites HTML."""

    def __init__(
        self, services: Services, ctx: RequestContext, scope: Scope, send: Send,
        stale: list[str],
    ) -> None:
        self.services = services
        self.ctx = ctx
        self.method = scope.get("method", "GET")
        self.path: str = scope.get("path", "/")
        self.send = send
        self.stale_cookies = stale
        self.pipeline: _HtmlPipeline | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            await self._on_start(message)
        elif message["type"] == "http.response.body" and self.pipeline is not None:
            body = self.pipeline.feed(message.get("body", b""))
            more = message.get("more_body", False)
            if not more:
                body += self.pipeline.finish()
            message = {"type": "http.response.body", "body": body, "more_body": more}
        await self.send(message)

    async def _on_start(self, message: Message) -> None:
        headers = MutableHeaders(scope=message)
        self._filter_set_cookies(headers)
        if self._is_rewritable(headers, message["status"]):
            await self._honour_gpc(headers)
            self._prepare_rewrite(headers)

    def _filter_set_cookies(self, headers: MutableHeaders) -> None:
        firewall, ctx = self.services.firewall, self.ctx
        values = headers.getlist("set-cookie")
        passed, blocked = firewall.filter_response_cookies(
            values, site=ctx.site.id, consent=ctx.consent,
            own_cookie=self.services.consents.cookie_name(ctx.https),
        )
        if blocked:
            del headers["set-cookie"]
            for value in passed:
                headers.append("set-cookie", value)
        for value in firewall.expiring_cookies(ctx.site.id, self.stale_cookies):
            headers.append("set-cookie", value)

    async def _honour_gpc(self, headers: MutableHeaders) -> None:
        """A browser sending `Sec-GPC: 1` that has not decided yet: log a GPC decision
        (marketing denied, nothing granted) before the page that reflects it goes out."""
        ctx = self.ctx
        services = self.services
        if not (services.config.privacy.honour_gpc and ctx.gpc and ctx.consent is None):
            return
        consent, _ = await services.consents.record_decision(
            ctx, action="gpc", granted=frozenset(), source="gpc", page=self.path,
            language=services.banners.language_for(ctx),
        )
        self.ctx = replace(ctx, consent=consent)
        headers.append("set-cookie", services.consents.set_cookie(consent, https=ctx.https))

    def _is_rewritable(self, headers: MutableHeaders, status: int) -> bool:
        if self.method == "HEAD" or status in _NO_BODY_STATUSES:
            return False
        media_type, _, params = headers.get("content-type", "").partition(";")
        if media_type.strip().lower() != "text/html":
            return False
        charset = params.strip().lower().removeprefix("charset=").strip('"')
        encoding = headers.get("content-encoding", "identity").strip().lower()
        decodable = encoding == "identity" or decoder_for(encoding) is not None
        return charset in ASCII_COMPATIBLE_CHARSETS and decodable

    def _prepare_rewrite(self, headers: MutableHeaders) -> None:
        services, ctx = self.services, self.ctx
        banners = services.banners
        nonce = secrets.token_urlsafe(16)
        versions = {name: asset.etag for name, asset in banners.assets.items()}

        def head_markup(page_lang: str | None) -> bytes:
            view = banners.view_for(ctx, page_lang)
            state = view.state_attribute(ctx.consent, gpc=ctx.gpc)
            tags = banner_tags(state, prefix=services.prefix, nonce=nonce, versions=versions,
                               page_token=services.analytics.page_token(ctx.site))
            return tags.encode("utf-8")

        view = banners.view_for(ctx)
        noscript = noscript_markup(preferences_url=f"{services.prefix}/preferences",
                                   label=view.texts["reopen"], page=self.path)
        self.pipeline = _HtmlPipeline(
            decoder_for(headers.get("content-encoding", "identity")),
            self._blocker(view),
            PageInjector(head_markup, noscript.encode("utf-8")),
        )
        for name in ("content-length", "content-encoding"):
            if name in headers:
                del headers[name]
        headers["cache-control"] = private_cache_control(headers.get("cache-control"))
        headers["vary"] = vary_with_cookie(headers.get("vary"))
        if "etag" in headers:
            headers["etag"] = weak_etag(headers["etag"])
        for name in ("content-security-policy", "content-security-policy-report-only"):
            if name in headers:
                headers[name] = add_nonce_to_csp(headers[name], nonce)

    def _blocker(self, view: BannerView) -> ScriptBlocker | None:
        rules = self.services.firewall.block_rules
        if not rules:
            return None
        granted: frozenset[Category] = (
            self.ctx.consent.granted if self.ctx.consent else frozenset({"necessary"})
        )

        def placeholder(category: Category, host: str) -> bytes:
            return embed_placeholder(view, category, host).encode("utf-8")

        return ScriptBlocker(rules, granted, placeholder)


def _server_port(scope: Scope) -> int | None:
    server = scope.get("server")
    return int(server[1]) if server and server[1] is not None else None
