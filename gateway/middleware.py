"""`ConsentMiddleware`: pure ASGI, wraps any ASGI app (or the reverse proxy).

Per request it verifies the consent cookie once and puts the result in the scope, serves
the gateway's own endpoints, keeps cookies of non-granted categories away from the app and
from the browser, and injects the banner into HTML responses.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path
from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.banner import banner_tags, noscript_markup
from gateway.config import GatewayConfig
from gateway.configfile import load_config
from gateway.consent import Consent
from gateway.cookies import expire_cookie, filter_set_cookies, strip_request_cookies
from gateway.endpoints import build_endpoints
from gateway.html import (
    ASCII_COMPATIBLE_CHARSETS,
    PageInjector,
    private_cache_control,
    vary_with_cookie,
    weak_etag,
)
from gateway.service import SCOPE_KEY, Gateway, RequestContext
from gateway.static_files import default_config_path

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
    default `config/gateway.toml`), or a ready `gateway`. The consent of the current request
    is `request.scope["consent"]` (a `Consent` or `None`).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: GatewayConfig | None = None,
        config_path: str | Path | None = None,
        gateway: Gateway | None = None,
    ) -> None:
        self.app = app
        if gateway is None:
            config = config or load_config(config_path or default_config_path())
            gateway = Gateway(config)
        self.gateway = gateway
        self.endpoints = build_endpoints(gateway)
        self.prefix = gateway.prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.gateway.start()  # no-op once started; covers servers without lifespan
        ctx = self.gateway.context_for(scope)
        scope[SCOPE_KEY] = ctx
        scope["consent"] = ctx.consent
        path: str = scope["path"]
        if path.startswith(self.prefix + "/") or path in (self.prefix, GPC_PATH):
            await self.endpoints(scope, receive, send)
            return
        stale = self._strip_request_cookies(scope, ctx)
        await self.app(scope, receive, _ResponseFilter(self.gateway, ctx, scope, send, stale))

    def _strip_request_cookies(self, scope: Scope, ctx: RequestContext) -> list[str]:
        """Drop cookies of non-granted categories from the request; return the names the
        browser should be told to delete (those a rule puts in a non-granted category)."""
        headers = MutableHeaders(scope=scope)
        raw = headers.get("cookie")
        if not raw:
            return []
        own = self.gateway.cookie_name(ctx.https)
        kept, dropped = strip_request_cookies(
            raw, self.gateway.classifier, ctx.consent, own_cookie=own
        )
        if not dropped:
            return []
        if kept:
            headers["cookie"] = kept
        else:
            del headers["cookie"]
        classified = self.gateway.classifier.category_of
        return [name for name in dropped if classified(name) is not None]

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Open the store at startup and close it at shutdown, around the app's own."""

        async def receive_and_start() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.gateway.start()
            return message

        async def send_and_stop(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.gateway.stop()
            await send(message)

        await self.app(scope, receive_and_start, send_and_stop)


class _ResponseFilter:
    """The `send` of one request: filters `Set-Cookie`, injects the banner into HTML."""

    def __init__(
        self, gateway: Gateway, ctx: RequestContext, scope: Scope, send: Send, stale: list[str]
    ) -> None:
        self.gateway = gateway
        self.ctx = ctx
        self.method = scope.get("method", "GET")
        self.path: str = scope.get("path", "/")
        self.send = send
        self.stale_cookies = stale
        self.injector: PageInjector | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            await self._on_start(message)
        elif message["type"] == "http.response.body" and self.injector is not None:
            body = self.injector.feed(message.get("body", b""))
            more = message.get("more_body", False)
            if not more:
                body += self.injector.finish()
            message = {"type": "http.response.body", "body": body, "more_body": more}
        await self.send(message)

    async def _on_start(self, message: Message) -> None:
        headers = MutableHeaders(scope=message)
        own = self.gateway.cookie_name(self.ctx.https)
        passed, blocked = filter_set_cookies(
            headers.getlist("set-cookie"), self.gateway.classifier, self.ctx.consent,
            own_cookie=own,
        )
        if blocked:
            del headers["set-cookie"]
            for value in passed:
                headers.append("set-cookie", value)
        for name in self.stale_cookies:
            headers.append("set-cookie", expire_cookie(name))
        if self._is_injectable(headers, message["status"]):
            await self._honour_gpc(headers)
            self._prepare_injection(headers)

    async def _honour_gpc(self, headers: MutableHeaders) -> None:
        """A browser sending `Sec-GPC: 1` that has not decided yet: log a GPC decision
        (marketing denied, nothing granted) before the page that reflects it goes out."""
        ctx = self.ctx
        if not (self.gateway.config.privacy.honour_gpc and ctx.gpc and ctx.consent is None):
            return
        consent, _ = await self.gateway.record_decision(
            ctx, action="gpc", granted=frozenset(), source="gpc", page=self.path,
            language=self.gateway.language_for(ctx),
        )
        self.ctx = replace(ctx, consent=consent)
        headers.append("set-cookie", self.gateway.consent_set_cookie(consent, https=ctx.https))

    def _is_injectable(self, headers: MutableHeaders, status: int) -> bool:
        if self.method == "HEAD" or status in _NO_BODY_STATUSES:
            return False
        media_type, _, params = headers.get("content-type", "").partition(";")
        if media_type.strip().lower() != "text/html":
            return False
        charset = params.strip().lower().removeprefix("charset=").strip('"')
        encoding = headers.get("content-encoding", "identity").strip().lower()
        return charset in ASCII_COMPATIBLE_CHARSETS and encoding == "identity"

    def _prepare_injection(self, headers: MutableHeaders) -> None:
        gateway, ctx = self.gateway, self.ctx
        nonce = secrets.token_urlsafe(16)
        versions = {name: asset.etag for name, asset in gateway.assets.items()}

        def head_markup(page_lang: str | None) -> bytes:
            view = gateway.view(ctx.site, gateway.language_for(ctx, page_lang))
            state = view.state(ctx.consent, gpc=ctx.gpc, include_id=False)
            tags = banner_tags(state, prefix=gateway.prefix, nonce=nonce, versions=versions)
            return tags.encode("utf-8")

        fallback_view = gateway.view(ctx.site, gateway.language_for(ctx))
        noscript = noscript_markup(
            preferences_url=f"{gateway.prefix}/preferences",
            label=fallback_view.texts["reopen"],
            page=self.path,
        )
        self.injector = PageInjector(head_markup, noscript.encode("utf-8"))
        if "content-length" in headers:
            del headers["content-length"]
        headers["cache-control"] = private_cache_control(headers.get("cache-control"))
        headers["vary"] = vary_with_cookie(headers.get("vary"))
        if "etag" in headers:
            headers["etag"] = weak_etag(headers["etag"])
