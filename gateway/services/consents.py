"""Consents: the signed cookie that carries one, the decisions that make one (committed to
the consent log before anything confirms them), and erasures, which end one everywhere."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from http.cookies import SimpleCookie

from gateway.adapters.clock import Clock
from gateway.adapters.store import ConsentLogStore
from gateway.adapters.useragent import browser_and_os
from gateway.core.config import GatewayConfig, SiteConfig
from gateway.core.config.regions import covers
from gateway.core.consent.cookie import (
    Consent,
    ConsentCookieCodec,
    granted_categories,
    new_consent_id,
)
from gateway.core.consent.record import ConsentDraft, ConsentRecord
from gateway.core.request import RequestContext
from gateway.core.types import CATEGORIES, OPTIONAL_CATEGORIES, Action, Category, Language, Source
from gateway.services.banners import BannerService


class ErasedConsents:
    """Consent ids erased (by the visitor or the admin): their cookies are no consent any
    more, in every worker. Kept for a cookie's lifetime, after which no such cookie is left."""

    def __init__(self, lifetime: timedelta) -> None:
        self.lifetime = lifetime
        self._erased: dict[str, datetime] = {}
        self.seen_seq = 0  # the newest `erase` record of the log taken in

    def __contains__(self, consent_id: object) -> bool:
        return consent_id in self._erased

    def add(self, consent_id: str, at: datetime) -> None:
        self._erased[consent_id] = at

    def take_in(self, rows: list[tuple[int, str, datetime]], *, now: datetime) -> None:
        """`erase` records (seq, consent id, recorded_at) read from the log, oldest first."""
        for seq, consent_id, recorded_at in rows:
            self._erased[consent_id] = recorded_at
            self.seen_seq = seq
        horizon = now - self.lifetime
        self._erased = {cid: at for cid, at in self._erased.items() if at > horizon}


class ConsentService:
    def __init__(
        self,
        config: GatewayConfig,
        *,
        store: ConsentLogStore,
        clock: Clock,
        banners: BannerService,
        truncate: Callable[[str], str],
        on_recorded: Callable[[str], None] = lambda action: None,
    ) -> None:
        """`on_recorded`: told each committed decision's action (the metrics)."""
        self.config = config
        self.store = store
        self.clock = clock
        self.banners = banners
        self.truncate = truncate
        self.on_recorded = on_recorded
        self.lifetime = timedelta(days=config.consent.lifetime_days)
        self.codec = ConsentCookieCodec(config.server.secret_keys, self.lifetime)
        self.erased = ErasedConsents(self.lifetime)
        # With a cookie domain, one decision serves every site: it carries their revisions.
        self.shared_revisions = tuple(sorted(
            (site.id, site.revision) for site in config.sites
        )) if config.consent.cookie_domain else ()

    # ------------------------------------------------------------ the cookie

    def cookie_name(self, https: bool) -> str:
        # __Host- makes the browser refuse the cookie unless Secure, Path=/ and no Domain;
        # a cookie for a parent domain can only be __Secure- (Secure required).
        name = self.config.consent.cookie_name
        if not https:
            return name
        return f"__Secure-{name}" if self.config.consent.cookie_domain else f"__Host-{name}"

    def set_cookie(self, consent: Consent, *, https: bool, host: str = "") -> str:
        """The `Set-Cookie` value carrying a consent: HttpOnly (the page gets the state
        inlined, so no script needs it), SameSite=Lax, Secure and `__Host-` on HTTPS; with
        `consent.cookie_domain` covering `host`, for that parent domain (`__Secure-`)."""
        cookie: SimpleCookie = SimpleCookie()
        name = self.cookie_name(https)
        cookie[name] = self.codec.encode(consent)
        morsel = cookie[name]
        morsel["max-age"] = int(self.lifetime.total_seconds())
        morsel["path"] = "/"
        domain = self.config.consent.cookie_domain
        if domain and covers(domain, host):
            morsel["domain"] = domain
        morsel["httponly"] = True
        morsel["samesite"] = "Lax"
        if https:
            morsel["secure"] = True
        return morsel.OutputString()

    def decode(self, signed: str | None, site: SiteConfig) -> Consent | None:
        """The consent a signed value proves on `site`, fail closed: `None` when the
        signature, site, revision or age is wrong, or the consent was erased."""
        consent = self.codec.decode(signed, site=site.id, revision=site.revision,
                                    now=self.clock())
        if consent is None or consent.consent_id in self.erased:
            return None  # erased: the cookie proves who they are, not a consent
        return consent

    def decode_for_site_id(self, token: str, site_id: str) -> Consent | None:
        site = self.config.site_by_id(site_id)
        return None if site is None else self.decode(token, site)

    def subject_of(self, ctx: RequestContext) -> str | None:
        """Whose data this browser may see and erase: the consent id of its genuine cookie,
        also one of an older revision (it no longer counts as consent, but it is theirs)."""
        if ctx.consent is not None:
            return ctx.consent.consent_id
        return self.codec.identify(ctx.signed, site=ctx.site.id)

    # ------------------------------------------------------------ decisions

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
            site=ctx.site.id, granted=granted_categories(granted), revision=ctx.site.revision,
            decided_at=now, explicit=action not in ("gpc", "implied"), mode=ctx.region.mode,
            revisions=self.shared_revisions,
        )
        draft = ConsentDraft(
            recorded_at=now, consent_id=consent.consent_id, site=ctx.site.id, action=action,
            source=source,
            granted=tuple(c for c in CATEGORIES if consent.allows(c)),
            denied=tuple(c for c in OPTIONAL_CATEGORIES if not consent.allows(c)),
            revision=ctx.site.revision,
            banner_hash=self.banners.view(ctx.site, language).banner_hash,
            language=language, ip=self.truncate(ctx.peer.address),
            user_agent=browser_and_os(ctx.user_agent), page=page, gpc=ctx.gpc,
            mode=ctx.region.mode, host=ctx.hostname[:255],
        )
        record = await self.store.append_consent(draft)
        self.on_recorded(action)
        if action == "erase":
            self.erased.add(consent.consent_id, now)
        return consent, record

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
        self.erased.add(consent_id, record.recorded_at)
        return record

    async def sync_erasures(self) -> None:
        """Erasures logged by other workers revoke those consents here too."""
        rows = await self.store.erasures_after(self.erased.seen_seq)
        self.erased.take_in(rows, now=self.clock())
