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
from gateway.adapters.useragent import describe_agent
from gateway.core.config import GatewayConfig
from gateway.core.consent.banner import BannerView, embed_placeholder, noscript_markup
from gateway.core.consent.cookie import Consent
from gateway.core.enforcement.blocking import ScriptBlocker
from gateway.core.enforcement.compression import encoder_for, preferred_coding
from gateway.core.enforcement.encoding import UTF16_CHARSETS, Utf16ToUtf8, decoder_for
from gateway.core.enforcement.html import (
    ASCII_COMPATIBLE_CHARSETS,
    PageInjector,
    add_nonce_to_csp,
    markup_bytes,
    private_cache_control,
    vary_with,
    weak_etag,
)
from gateway.core.enforcement.rewrite import PageRewrite
from gateway.core.request import RequestContext
from gateway.core.types import Action, Category
from gateway.services.wiring import Services, build_services
from gateway.web.context import SCOPE_KEY, RequestContexts
from gateway.web.endpoints import build_endpoints
from gateway.web.headmarkup import HeadMarkup

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
        self.contexts = RequestContexts(services.config, services.consents, services.regions)
        self.endpoints = build_endpoints(services, self.contexts)
        self.prefix = services.prefix
        self._admin_port = services.config.server.admin_port
        server = services.config.server
        # Only a gateway that terminates TLS itself may promise HTTPS for the host.
        self._hsts = (server.hsts.header().encode() if server.serves_https and server.hsts.enabled
                      else None)
        self._heads = HeadMarkup(prefix=services.prefix, versions={
            name: asset.etag for name, asset in services.banners.assets.items()})

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

        hsts = self._hsts if scope.get("scheme") == "https" else None

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if hsts is not None:
                    message["headers"] = [*message.get("headers", ()),
                                          (b"strict-transport-security", hsts)]
            await send(message)

        try:
            await self._dispatch(scope, receive, send_noting_status, ctx)
        finally:
            self.services.analytics.log_access(
                ctx, method=scope["method"], path=scope["path"], status=status,
                started=started, duration_ms=(time.perf_counter() - began) * 1000,
            )
            self.services.metrics.request(scope["path"], status)

    async def _dispatch(
        self, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
    ) -> None:
        path: str = scope["path"]
        on_admin_listener = (self._admin_port is not None
                             and _server_port(scope) == self._admin_port)
        if on_admin_listener and not (path.startswith(self.prefix + "/admin/")
                                      or path == self.prefix + "/metrics"):
            # The admin listener serves the admin routes and the metrics, nothing else.
            await JSONResponse({"error": "not found"}, status_code=404)(scope, receive, send)
            return
        if path.startswith(self.prefix + "/") or path in (self.prefix, GPC_PATH):
            await self.endpoints(scope, receive, send)
            return
        stale = self._strip_request_cookies(scope, ctx)
        await self.app(scope, receive,
                       _ResponseFilter(self.services, ctx, scope, send, stale, self._heads))

    def _strip_request_cookies(self, scope: Scope, ctx: RequestContext) -> list[str]:
        """Drop cookies of non-granted categories from the request (noting in the inventory
        those a page script wrote); return the names the browser should be told to delete
        (those a rule, the catalogue or the database puts in a non-granted category)."""
        headers = MutableHeaders(scope=scope)
        raw = headers.get("cookie")
        if not raw:
            return []
        firewall = self.services.firewall
        own = self.services.consents.cookie_name(ctx.https)
        kept, dropped = firewall.strip_request_cookies(raw, ctx.consent, own_cookie=own,
                                                       site=ctx.site.id)
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


class _ResponseFilter:
    """The `send` of one request: records and filters `Set-Cookie`, deletes stale cookies,
    rewrites HTML."""

    def __init__(
        self, services: Services, ctx: RequestContext, scope: Scope, send: Send,
        stale: list[str], heads: HeadMarkup,
    ) -> None:
        self.services = services
        self.heads = heads
        self.ctx = ctx
        self.method = scope.get("method", "GET")
        self.path: str = scope.get("path", "/")
        self.send = send
        self.stale_cookies = stale
        self.pipeline: PageRewrite | None = None
        self.scope = scope  # its Accept-Encoding is read only for a page to rewrite

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
        charset = self._rewritable_charset(headers, message["status"])
        if charset is not None:
            await self._decide_by_default(headers)
            self._prepare_rewrite(headers, charset)

    def _filter_set_cookies(self, headers: MutableHeaders) -> None:
        firewall, ctx = self.services.firewall, self.ctx
        values = headers.getlist("set-cookie")
        if not values and not self.stale_cookies:
            return  # nothing to filter, nothing to delete
        passed, blocked = firewall.filter_response_cookies(
            values, site=ctx.site.id, consent=ctx.consent,
            own_cookie=self.services.consents.cookie_name(ctx.https),
        ) if values else ([], [])
        if blocked:
            del headers["set-cookie"]
            for value in passed:
                headers.append("set-cookie", value)
        for value in firewall.expiring_cookies(ctx.site.id, self.stale_cookies,
                                               host=ctx.host):
            headers.append("set-cookie", value)

    async def _decide_by_default(self, headers: MutableHeaders) -> None:
        """A browser that has not decided yet and sends `Sec-GPC: 1`: log a GPC decision
        (marketing denied, nothing granted); else, in a `notice`/`none` region, an implied
        one granting the region's categories — before the page reflecting it goes out.
        Crawlers get neither: they never decide, and would fill the log."""
        ctx = self.ctx
        services = self.services
        if ctx.consent is not None:
            return
        if services.config.privacy.honour_gpc and ctx.gpc:
            action: Action = "gpc"
            granted: frozenset[Category] = frozenset()
        elif not ctx.region.asks_first and not describe_agent(ctx.user_agent).bot:
            action, granted = "implied", ctx.region.granted
        else:
            return
        consent, _ = await services.consents.record_decision(
            ctx, action=action, granted=granted, source="gpc" if action == "gpc" else "region",
            page=self.path, language=services.banners.language_for(ctx),
        )
        self.ctx = replace(ctx, consent=consent)
        headers.append("set-cookie", services.consents.set_cookie(
            consent, https=ctx.https, host=ctx.hostname))

    def _rewritable_charset(self, headers: MutableHeaders, status: int) -> str | None:
        """The page's charset (`""`: not declared) when this response is HTML the gateway
        can rewrite; None when it passes through untouched."""
        if self.method == "HEAD" or status in _NO_BODY_STATUSES:
            return None
        media_type, _, params = headers.get("content-type", "").partition(";")
        if media_type.strip().lower() != "text/html":
            return None
        charset = params.strip().lower().removeprefix("charset=").strip('"').strip()
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding != "identity" and decoder_for(encoding) is None:
            return None
        rewritable = charset in ASCII_COMPATIBLE_CHARSETS or charset in UTF16_CHARSETS
        return charset if rewritable else None

    def _prepare_rewrite(self, headers: MutableHeaders, charset: str) -> None:
        services, ctx = self.services, self.ctx
        banners = services.banners
        transcoder = Utf16ToUtf8(charset) if charset in UTF16_CHARSETS else None
        output_charset = "utf-8" if transcoder else charset
        coding = (preferred_coding(_header(self.scope, b"accept-encoding"))
                  if services.config.server.compress_html else None)
        nonce = secrets.token_urlsafe(16)

        def head_markup(page_lang: str | None) -> bytes:
            return self.heads.render(
                banners.view_for(ctx, page_lang), ctx.consent, gpc=ctx.gpc,
                mode=ctx.region.mode, charset=output_charset, nonce=nonce,
                page_token=services.analytics.page_token(ctx.site))

        view = banners.view_for(ctx)
        noscript = noscript_markup(preferences_url=f"{services.prefix}/preferences",
                                   label=view.texts["reopen"], page=self.path)
        self.pipeline = PageRewrite(
            decoder=decoder_for(headers.get("content-encoding", "identity")),
            transcoder=transcoder,
            blocker=self._blocker(view, output_charset),
            injector=PageInjector(head_markup, markup_bytes(noscript, output_charset)),
            encoder=encoder_for(coding) if coding else None,
        )
        for name in ("content-length", "content-encoding"):
            if name in headers:
                del headers[name]
        if coding:
            headers["content-encoding"] = coding
        if transcoder:
            headers["content-type"] = "text/html; charset=utf-8"
        headers["cache-control"] = private_cache_control(headers.get("cache-control"))
        headers["vary"] = vary_with(headers.get("vary"), "Cookie", "Accept-Encoding")
        if "etag" in headers:
            headers["etag"] = weak_etag(headers["etag"])
        for name in ("content-security-policy", "content-security-policy-report-only"):
            if name in headers:
                headers[name] = add_nonce_to_csp(headers[name], nonce)

    def _blocker(self, view: BannerView, charset: str) -> ScriptBlocker | None:
        rules = self.services.firewall.block_rules
        if not rules:
            return None
        granted: frozenset[Category] = (
            self.ctx.consent.granted if self.ctx.consent else frozenset({"necessary"})
        )

        def placeholder(category: Category, host: str) -> bytes:
            return markup_bytes(embed_placeholder(view, category, host), charset)

        return ScriptBlocker(rules, granted, placeholder)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _server_port(scope: Scope) -> int | None:
    server = scope.get("server")
    return int(server[1]) if server and server[1] is not None else None
