"""The gateway's per-process services and per-request context, shared by middleware and
endpoints: configuration, store, cookie codec, banner views, and recording decisions."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from starlette.datastructures import QueryParams
from starlette.requests import cookie_parser
from starlette.types import Scope

from gateway.adapters.clock import Clock, system_clock
from gateway.adapters.geo import GeoLookup, open_geo_lookup
from gateway.adapters.jobs import RetentionJob
from gateway.adapters.static_files import static_dir
from gateway.adapters.store import Store
from gateway.adapters.store.sqlite import SQLiteStore
from gateway.adapters.useragent import browser_and_os, describe_agent
from gateway.adapters.writer import BatchWriter
from gateway.core.analytics.events import AccessLogEntry, AnalyticsEvent, Drop
from gateway.core.analytics.pagetoken import PageTokens
from gateway.core.analytics.pipeline import Arrival, Pipeline, visitor_key_from, visitor_of
from gateway.core.config import GatewayConfig, SiteConfig
from gateway.core.consent.banner import (
    BannerView,
    banner_view,
    consent_json,
    negotiate_language,
    offered_language,
)
from gateway.core.consent.cookie import (
    Consent,
    ConsentCookieCodec,
    granted_categories,
    new_consent_id,
)
from gateway.core.consent.record import ConsentDraft, ConsentRecord
from gateway.core.consent.subjects import MAX_EXPORT_EVENTS, subject_document
from gateway.core.enforcement.blocking import BlockRule
from gateway.core.enforcement.cookies import CookieClassifier, expire_cookie
from gateway.core.enforcement.inventory import CookieInventory
from gateway.core.errors import StoreError, TooManyRequests, WriteQueueFull
from gateway.core.network import Peer, resolve_peer
from gateway.core.pseudonymise import truncate_ip
from gateway.core.ratelimit import Bucket, RateLimiter, client_hash
from gateway.core.types import CATEGORIES, OPTIONAL_CATEGORIES, Action, Category, Language, Source

log = logging.getLogger("consent_gateway")

SCOPE_KEY: Final = "consent_gateway"
COUNTERS_FLUSH_S: Final = 5.0
TOKEN_HEADER: Final = "x-consent-token"  # noqa: S105 - a header name


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    etag: str
    gzipped: bytes  # gzip -9 of `body`, made once at start: about a third of the size


def load_assets(folder: Path) -> dict[str, Asset]:
    assets = {}
    for name, media_type in (("consent.js", "text/javascript"), ("consent.css", "text/css")):
        body = (folder / name).read_bytes()
        assets[name] = Asset(body, media_type, hashlib.sha256(body).hexdigest()[:16],
                             gzip.compress(body, compresslevel=9, mtime=0))
    return assets


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What the gateway knows about one request, worked out once by the middleware."""

    site: SiteConfig
    consent: Consent | None
    peer: Peer
    host: str
    gpc: bool
    dnt: bool
    user_agent: str
    accept_language: str | None
    cookies: dict[str, str]
    origin_header: str | None
    signed: str | None = None  # the consent cookie (or snippet token) as received

    @property
    def https(self) -> bool:
        return self.peer.scheme == "https"

    @property
    def origin(self) -> str:
        return f"{self.peer.scheme}://{self.host}".lower()

    @property
    def snippet_origin(self) -> str | None:
        """The embedding page's origin when this is a snippet-mode request from a configured
        origin of the site (cross-origin, so no cookie: the consent travels as a token)."""
        origin = (self.origin_header or "").lower()
        if origin and origin != self.origin and origin in self.site.origins:
            return origin
        return None


class Gateway:
    def __init__(
        self,
        config: GatewayConfig,
        *,
        store: Store | None = None,
        clock: Clock = system_clock,
        geo: GeoLookup | None = None,
    ) -> None:
        self.config = config
        self.store: Store = store if store is not None else SQLiteStore(config.storage.path)
        self.clock = clock
        self.lifetime = timedelta(days=config.consent.lifetime_days)
        self.codec = ConsentCookieCodec(config.server.secret_keys, self.lifetime)
        self.classifier = CookieClassifier(
            ((rule.pattern, rule.category) for rule in config.cookies),
            unknown=config.consent.unknown_cookie_policy,
        )
        self.assets = load_assets(static_dir())
        self.inventory = CookieInventory()
        self.block_rules = tuple(
            BlockRule(rule.host, rule.category, rule.markers) for rule in config.blocking
        )
        self._views: dict[tuple[str, Language], BannerView] = {}
        self._started = False
        self._start_lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        self._init_analytics(geo)
        self._init_abuse()

    def _init_abuse(self) -> None:
        abuse = self.config.abuse
        # Failed admin log-ins are always limited; `abuse.enabled` is about visitors.
        self.limiter = RateLimiter(
            {"consent": abuse.consent_per_minute, "collect": abuse.collect_per_minute,
             "admin": self.config.admin.failed_per_minute},
            offences_to_block=abuse.offences_to_block,
            block_for=timedelta(minutes=abuse.block_minutes),
        )
        self._hash_keys: tuple[date, tuple[bytes, ...]] | None = None
        # Consent ids erased (by the visitor or the admin): their cookies are no consent any
        # more, in every worker. Kept for a cookie's lifetime, after which no cookie is left.
        self._erased: dict[str, datetime] = {}
        self._erased_seq = 0

    def _init_analytics(self, geo: GeoLookup | None) -> None:
        # The oldest key: adding a new signing key in front (rotation) keeps the pseudonyms.
        settings, secret = self.config.analytics, self.config.server.secret_keys[-1]
        self.visitor_key = visitor_key_from(secret)
        self.page_tokens = PageTokens(
            self.config.server.secret_keys, timedelta(minutes=settings.page_token_minutes)
        )
        self.geo: GeoLookup = geo or open_geo_lookup(
            settings.geoip_database, detail=self.config.privacy.geo_detail
        )
        self.pipeline = Pipeline(
            decode_consent=self._decode_snippet_consent,
            page_token_valid=self._page_token_valid,
            locate=self.geo.locate,
            describe_agent=describe_agent,
            visitor_key=self.visitor_key,
            dnt_denies_analytics=self.config.privacy.dnt_denies_analytics,
        )
        batch, capacity = settings.batch_size, settings.queue_size
        interval = settings.flush_interval_ms / 1000
        self.events = BatchWriter[AnalyticsEvent](
            "analytics", self.store.add_events,
            batch_size=batch, flush_interval=interval, capacity=capacity,
        )
        self.access_log = BatchWriter[AccessLogEntry](
            "access log", self.store.add_access_log,
            batch_size=batch, flush_interval=interval, capacity=capacity,
        )
        self.bots: Counter[tuple[str, date]] = Counter()
        self.retention = RetentionJob(self.store, self.config.retention, self.clock,
                                      consent_lifetime=self.lifetime)

    @property
    def prefix(self) -> str:
        return self.config.server.prefix

    async def start(self) -> None:
        if self._started:
            return
        async with self._start_lock:
            if not self._started:
                await self.store.open()
                self.inventory.remember(await self.store.cookie_inventory())
                await self.sync_blocks()
                await self.sync_erasures()
                self._flusher = asyncio.create_task(self._flush_counters_every(COUNTERS_FLUSH_S))
                self.events.start()
                self.access_log.start()
                self.retention.start()
                self._started = True

    async def stop(self) -> None:
        async with self._start_lock:
            if self._started:
                if self._flusher is not None:
                    self._flusher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._flusher
                await self.retention.stop()
                # Every event answered 202 is written first; both retry a failing store
                # side by side, so a broken disk delays the stop once, not twice.
                await asyncio.gather(self.events.stop(), self.access_log.stop())
                await self.flush_counters()
                await self.store.close()
                self._started = False

    async def flush_counters(self) -> None:
        """The cookie inventory and bot tallies: counts only, never worth failing a request
        or shutdown over."""
        rows = self.inventory.drain()
        bots, self.bots = self.bots, Counter()
        try:
            await self.store.record_cookies(rows)
            await self.store.add_bot_counts(bots)
        except StoreError as exc:
            log.warning("counters not saved (%d cookie names, %d bot days): %s",
                        len(rows), len(bots), exc)

    async def _flush_counters_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            await self.flush_counters()
            try:
                await self.sync_blocks()
                await self.sync_erasures()
            except StoreError as exc:
                log.warning("blocklist or erasures not refreshed: %s", exc)

    # ------------------------------------------------------------------ abuse

    async def client_hashes(self, address: str) -> tuple[str, ...]:
        """The client's keyed hashes: under today's key and, while it lives, yesterday's
        (so a block made late yesterday still holds). Newest first."""
        today = self.clock().date()
        if self._hash_keys is None or self._hash_keys[0] != today:
            current = await self.store.ip_hash_key(today)
            previous = await self.store.ip_hash_key(today - timedelta(days=1), create=False)
            self._hash_keys = (today, tuple(key for key in (current, previous) if key))
        return tuple(client_hash(key, address) for key in self._hash_keys[1])

    async def check_rate(
        self, ctx: RequestContext, bucket: Bucket, *, count: bool = True
    ) -> None:
        """Raise `TooManyRequests` when the client is over its limit or blocked (`count`
        off: only look). Without the store's keys (an outage) requests pass: limiting must
        not take the site down."""
        if bucket != "admin" and not self.config.abuse.enabled:
            return
        try:
            clients = await self.client_hashes(ctx.peer.address)
        except StoreError as exc:
            log.warning("rate limits off for now, no hash key: %s", exc)
            return
        verdict = self.limiter.check(clients, bucket, self.clock(), count=count)
        if verdict is None:
            return
        if verdict.new_block is not None:
            log.warning("a client went over the %s limit repeatedly; blocked until %s",
                        bucket, verdict.new_block.isoformat(timespec="seconds"))
            await self._store_block(clients[0], verdict.new_block, "rate")
        raise TooManyRequests(f"too many {bucket} requests from this client; try again later",
                              retry_after=verdict.retry_after)

    async def _store_block(self, client: str, until: datetime, reason: str) -> None:
        try:
            await self.store.block_client(client, until, reason)
        except StoreError as exc:  # the block still holds in this process
            log.warning("block not stored: %s", exc)

    async def sync_erasures(self) -> None:
        """Erasures logged by other workers revoke those consents here too."""
        for seq, consent_id, recorded_at in await self.store.erasures_after(self._erased_seq):
            self._erased[consent_id] = recorded_at
            self._erased_seq = seq
        horizon = self.clock() - self.lifetime
        self._erased = {cid: at for cid, at in self._erased.items() if at > horizon}

    async def sync_blocks(self) -> None:
        """Blocks made by other workers (or the admin) take effect here too."""
        blocks = await self.store.active_blocks(self.clock())
        self.limiter.replace_blocks({client: until for client, (until, _) in blocks.items()})

    async def block_address(self, address: str, minutes: int) -> tuple[str, datetime]:
        """An admin's block: the address is hashed at once and never stored."""
        clients = await self.client_hashes(address)
        until = self.clock() + timedelta(minutes=minutes)
        await self.store.block_client(clients[0], until, "admin")
        self.limiter.block(clients[0], until)
        return clients[0], until

    async def unblock_address(self, address: str) -> int:
        clients = await self.client_hashes(address)
        self.limiter.unblock(clients)
        return await self.store.unblock_client(clients)

    # ------------------------------------------------------------------ analytics

    def collect(self, ctx: RequestContext, body: bytes) -> AnalyticsEvent | Drop:
        """Run a beacon through the pipeline and queue what it accepts; raises
        `WriteQueueFull` rather than dropping an accepted event, and `StoreError` while the
        store refuses writes (a 202 must not wait in memory for a disk that is full)."""
        if not self.config.analytics.enabled:
            return Drop("disabled")
        now = self.clock()
        arrival = Arrival(
            site=ctx.site.id, now=now, address=ctx.peer.address, user_agent=ctx.user_agent,
            consent=ctx.consent, origin=(ctx.origin_header or "").lower() or None,
            own_origin=ctx.origin, snippet_origins=ctx.site.origins, dnt=ctx.dnt,
        )
        outcome = self.pipeline.run(body, arrival)
        if isinstance(outcome, Drop):
            if outcome.reason == "bot":
                self.bots[(ctx.site.id, now.date())] += 1
            return outcome
        if self.events.failing:
            raise StoreError("analytics events cannot be written at the moment")
        if not self.events.offer(outcome):
            raise WriteQueueFull("analytics queue is full")
        return outcome

    def page_token(self, site: SiteConfig) -> str:
        return self.page_tokens.issue(site.id, now=self.clock())

    def _page_token_valid(self, token: str | None, site: str) -> bool:
        return self.page_tokens.verify(token, site=site, now=self.clock())

    def _decode_snippet_consent(self, token: str, site_id: str) -> Consent | None:
        site = self.config.site_by_id(site_id)
        if site is None:
            return None
        consent = self.codec.decode(token, site=site.id, revision=site.revision, now=self.clock())
        return None if consent is None or consent.consent_id in self._erased else consent

    def log_access(
        self, ctx: RequestContext, *, method: str, path: str, status: int, started: datetime,
        duration_ms: float,
    ) -> None:
        """One access-log row (security purpose); dropped only when the writer is hopelessly
        behind (it logs when its buffer fills), since a request must never wait on it."""
        if not self.config.analytics.access_log:
            return
        entry = AccessLogEntry(
            ts=started, site=ctx.site.id, method=method[:16], path=path[:1000], status=status,
            duration_ms=duration_ms,
            ip=self.truncate(ctx.peer.address), browser=describe_agent(ctx.user_agent).browser,
        )
        self.access_log.offer(entry)  # refused when full: the writer logs that, once

    def truncate(self, address: str) -> str:
        privacy = self.config.privacy
        return truncate_ip(address, ipv4_mask_bytes=privacy.ipv4_mask_bytes,
                           ipv6_prefix=privacy.ipv6_prefix)

    # ------------------------------------------------------------------ per request

    def on_admin_listener(self, scope: Scope) -> bool:
        """With `server.admin_listen`, admin routes exist only on that listener's port."""
        admin_port = self.config.server.admin_port
        if admin_port is None:
            return True
        server = scope.get("server")
        return server is not None and server[1] == admin_port

    def site_for(self, hostname: str) -> SiteConfig:
        for site in self.config.sites:
            if hostname in site.hosts:
                return site
        return self.config.sites[0]

    def cookie_name(self, https: bool) -> str:
        # __Host- makes the browser refuse the cookie unless Secure, Path=/ and no Domain.
        name = self.config.consent.cookie_name
        return f"__Host-{name}" if https else name

    def consent_set_cookie(self, consent: Consent, *, https: bool) -> str:
        """The `Set-Cookie` value carrying a consent: HttpOnly (the page gets the state
        inlined, so no script needs it), SameSite=Lax, Secure and `__Host-` on HTTPS."""
        cookie: SimpleCookie = SimpleCookie()
        name = self.cookie_name(https)
        cookie[name] = self.codec.encode(consent)
        morsel = cookie[name]
        morsel["max-age"] = int(self.lifetime.total_seconds())
        morsel["path"] = "/"
        morsel["httponly"] = True
        morsel["samesite"] = "Lax"
        if https:
            morsel["secure"] = True
        return morsel.OutputString()

    def expiring_cookies(self, site: str, names: Iterable[str]) -> list[str]:
        """`Set-Cookie` values deleting these cookies: at the path and domain the upstream set
        them with (learned by the inventory), and at `/` on this host in any case."""
        values = []
        for name in names:
            values.append(expire_cookie(name))
            path, domain = self.inventory.location(site, name) or ("/", "")
            if (path, domain) != ("/", ""):
                values.append(expire_cookie(name, path=path, domain=domain or None))
        return values

    def context_for(self, scope: Scope, *, site_id: str | None = None) -> RequestContext:
        """`site_id` (or `?site=`) picks the site in snippet mode, where the Host is the
        gateway's own; otherwise the Host decides."""
        headers = _wanted_headers(scope)
        client = scope.get("client")
        peer = resolve_peer(
            socket_address=client[0] if client else None,
            scheme="https" if scope.get("scheme") in ("https", "wss") else "http",
            forwarded_for=headers.get("x-forwarded-for"),
            forwarded_proto=headers.get("x-forwarded-proto"),
            trusted_proxies=self.config.server.trusted_proxies,
        )
        host = headers.get("host", "")[:255]
        if site_id is None and b"site=" in scope.get("query_string", b""):
            site_id = QueryParams(scope["query_string"]).get("site")
        site = (site_id and self.config.site_by_id(site_id)) or self.site_for(
            (urlsplit("//" + host).hostname or "") if host else ""
        )
        cookies = cookie_parser(headers["cookie"][:8192]) if "cookie" in headers else {}
        # A snippet keeps the signed value first-party and sends it back as a header.
        signed = headers.get(TOKEN_HEADER) or cookies.get(self.cookie_name(peer.scheme == "https"))
        consent = self.codec.decode(
            signed, site=site.id, revision=site.revision, now=self.clock()
        )
        if consent is not None and consent.consent_id in self._erased:
            consent = None  # erased: the cookie proves who they are, not a consent
        return RequestContext(
            site=site,
            consent=consent,
            peer=peer,
            host=host,
            gpc=headers.get("sec-gpc", "").strip() == "1",
            dnt=headers.get("dnt", "").strip() == "1",
            user_agent=headers.get("user-agent", ""),
            accept_language=headers.get("accept-language"),
            cookies=cookies,
            origin_header=headers.get("origin"),
            signed=signed,
        )

    def language_for(self, ctx: RequestContext, requested: object = None) -> Language:
        """Config override, else what the page asks for (`<html lang>`), else the browser."""
        return (
            ctx.site.language
            or offered_language(requested, ctx.site)
            or negotiate_language(ctx.accept_language, ctx.site)
        )

    def view(self, site: SiteConfig, language: Language) -> BannerView:
        key = (site.id, language)
        if key not in self._views:
            self._views[key] = banner_view(self.config, site, language)
        return self._views[key]

    # ------------------------------------------------------------------ decisions

    async def record_decision(
        self,
        ctx: RequestContext,
        *,
        action: Action,
        granted: frozenset[Category],
        source: Source,
        page: str,
        language: Language,
        consent_id: str | None = None,
    ) -> tuple[Consent, ConsentRecord]:
        """Log the decision (committed) and return the consent the cookie will carry. The
        consent id stays the visitor's (`consent_id`, else the cookie's), else a new one."""
        now = self.clock()
        if ctx.dnt and self.config.privacy.dnt_denies_analytics:
            granted = granted - {"analytics"}
        consent = Consent(
            consent_id=consent_id or (ctx.consent.consent_id if ctx.consent else new_consent_id()),
            site=ctx.site.id,
            granted=granted_categories(granted),
            revision=ctx.site.revision,
            decided_at=now,
            explicit=action != "gpc",
        )
        draft = ConsentDraft(
            recorded_at=now,
            consent_id=consent.consent_id,
            site=ctx.site.id,
            action=action,
            source=source,
            granted=tuple(c for c in CATEGORIES if consent.allows(c)),
            denied=tuple(c for c in OPTIONAL_CATEGORIES if not consent.allows(c)),
            revision=ctx.site.revision,
            banner_hash=self.view(ctx.site, language).banner_hash,
            language=language,
            ip=self.truncate(ctx.peer.address),
            user_agent=browser_and_os(ctx.user_agent),
            page=page,
            gpc=ctx.gpc,
        )
        record = await self.store.append_consent(draft)
        if action == "erase":
            self._erased[consent.consent_id] = now
        return consent, record

    # ------------------------------------------------------------------ data subjects

    def subject_of(self, ctx: RequestContext) -> str | None:
        """Whose data this browser may see and erase: the consent id of its genuine cookie,
        also one of an older revision (it no longer counts as consent, but it is theirs)."""
        if ctx.consent is not None:
            return ctx.consent.consent_id
        return self.codec.identify(ctx.signed, site=ctx.site.id)

    async def subject_data(
        self, consent_id: str, *, site: str | None, current: Consent | None = None
    ) -> dict[str, Any]:
        """Everything stored under a consent id (on one site, or on every site it was used).
        Events still waiting to be written are written first, so the download is complete."""
        await self.events.flush()
        history = [r for r in await self.store.consent_history(consent_id)
                   if site is None or r.site == site]
        events: list[AnalyticsEvent] = []
        for site_id in sorted({site} if site else {r.site for r in history}):
            visitor = visitor_of(self.visitor_key, site_id, consent_id)
            async for event in self.store.iter_events(site=site_id, visitor=visitor):
                if len(events) >= MAX_EXPORT_EVENTS:
                    break
                events.append(event)
        return subject_document(
            consent_id=consent_id, site=site, generated_at=self.clock(),
            current=consent_json(current, self.lifetime, include_id=True),
            history=history, events=events,
        )

    async def erase_events_of(self, consent_id: str, site: str) -> int:
        """Delete the analytics events recorded under this consent id on this site,
        including those still waiting to be written; returns how many."""
        visitor = visitor_of(self.visitor_key, site, consent_id)
        queued = await self.events.discard(lambda e: e.visitor == visitor and e.site == site)
        return queued + await self.store.erase_events(visitor, site)

    async def record_admin_erasure(self, consent_id: str, site: SiteConfig) -> ConsentRecord:
        """The `erase` record of an erasure the admin made for a visitor who wrote in: no
        banner was shown and the request did not come from the visitor's browser."""
        draft = ConsentDraft(
            recorded_at=self.clock(), consent_id=consent_id, site=site.id, action="erase",
            source="api", granted=("necessary",), denied=OPTIONAL_CATEGORIES,
            revision=site.revision, banner_hash="", language=site.default_language, ip="",
            user_agent="", page="", gpc=False,
        )
        record = await self.store.append_consent(draft)
        self._erased[consent_id] = record.recorded_at
        return record


_WANTED: Final = frozenset({
    b"host", b"cookie", b"x-forwarded-for", b"x-forwarded-proto", b"sec-gpc", b"dnt",
    b"user-agent", b"accept-language", b"origin", TOKEN_HEADER.encode(),
})


def _wanted_headers(scope: Scope) -> dict[str, str]:
    """The few headers the gateway reads, decoded in one pass over the raw list (the first
    of duplicates wins, as Starlette's Headers.get does)."""
    found: dict[str, str] = {}
    for raw_name, value in scope["headers"]:
        if raw_name in _WANTED:
            found.setdefault(raw_name.decode("latin-1"), value.decode("latin-1"))
    return found


def context_of(scope: Scope) -> RequestContext:
    ctx = scope.get(SCOPE_KEY)
    if not isinstance(ctx, RequestContext):
        raise RuntimeError("ConsentMiddleware must run before the consent endpoints")
    return ctx
