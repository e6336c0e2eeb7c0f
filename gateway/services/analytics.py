"""First-party analytics: beacons through the pipeline into the batched writer, page tokens,
bot tallies, and the access log (a security record, written the same batched way)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Protocol

from gateway.adapters.clock import Clock
from gateway.adapters.geo import GeoLookup
from gateway.adapters.store import AccessLogStore, AnalyticsStore
from gateway.adapters.useragent import describe_agent
from gateway.adapters.writer import BatchWriter
from gateway.core.analytics.events import AccessLogEntry, AnalyticsEvent, Drop
from gateway.core.analytics.pagetoken import PageTokens
from gateway.core.analytics.pipeline import Arrival, Pipeline, visitor_key_from
from gateway.core.config import GatewayConfig, SiteConfig
from gateway.core.consent.cookie import Consent
from gateway.core.errors import StoreError, WriteQueueFull
from gateway.core.request import RequestContext

log = logging.getLogger("consent_gateway")


class AnalyticsStores(AnalyticsStore, AccessLogStore, Protocol):
    """What analytics writes to: events, bot tallies and the access log."""


class AnalyticsService:
    def __init__(
        self,
        config: GatewayConfig,
        *,
        store: AnalyticsStores,
        clock: Clock,
        geo: GeoLookup,
        decode_consent: Callable[[str, str], Consent | None],
        truncate: Callable[[str], str],
    ) -> None:
        settings = config.analytics
        self.enabled = settings.enabled
        self.access_log_enabled = settings.access_log
        self.store = store
        self.clock = clock
        self.geo = geo
        self.truncate = truncate
        # The oldest key: adding a new signing key in front (rotation) keeps the pseudonyms.
        self.visitor_key = visitor_key_from(config.server.secret_keys[-1])
        self.page_tokens = PageTokens(
            config.server.secret_keys, timedelta(minutes=settings.page_token_minutes)
        )
        self.pipeline = Pipeline(
            decode_consent=decode_consent, page_token_valid=self._page_token_valid,
            locate=geo.locate, describe_agent=describe_agent, visitor_key=self.visitor_key,
            dnt_denies_analytics=config.privacy.dnt_denies_analytics,
            search_params={site.id: site.search_params for site in config.sites
                           if site.search_params},
        )
        batch, capacity = settings.batch_size, settings.queue_size
        interval = settings.flush_interval_ms / 1000
        self.events = BatchWriter[AnalyticsEvent](
            "analytics", store.add_events,
            batch_size=batch, flush_interval=interval, capacity=capacity,
        )
        self.access_log = BatchWriter[AccessLogEntry](
            "access log", store.add_access_log,
            batch_size=batch, flush_interval=interval, capacity=capacity,
        )
        self.bots: Counter[tuple[str, date]] = Counter()
        # A failing SQLite file is a full or read-only disk, which does not mend itself: a
        # 202 must not wait in memory for it. A failing PostgreSQL is mostly a restart or a
        # network cut, over in seconds: beacons wait in the buffer up to its cap, then 503.
        self.buffer_while_failing = config.storage.backend == "postgresql"

    def start(self) -> None:
        self.events.start()
        self.access_log.start()

    async def stop(self) -> None:
        # Every event answered 202 is written first; both retry a failing store side by
        # side, so a broken disk delays the stop once, not twice.
        await asyncio.gather(self.events.stop(), self.access_log.stop())

    def collect(self, ctx: RequestContext, body: bytes) -> AnalyticsEvent | Drop:
        """Run a beacon through the pipeline and queue what it accepts; raises
        `WriteQueueFull` rather than dropping an accepted event, and `StoreError` while the
        store refuses writes (a 202 must not wait in memory for a disk that is full)."""
        if not self.enabled:
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
        if self.events.failing and not self.buffer_while_failing:
            raise StoreError("analytics events cannot be written at the moment")
        if not self.events.offer(outcome):
            raise WriteQueueFull("analytics queue is full")
        return outcome

    def page_token(self, site: SiteConfig) -> str:
        return self.page_tokens.issue(site.id, now=self.clock())

    def _page_token_valid(self, token: str | None, site: str) -> bool:
        return self.page_tokens.verify(token, site=site, now=self.clock())

    def log_access(
        self, ctx: RequestContext, *, method: str, path: str, status: int, started: datetime,
        duration_ms: float,
    ) -> None:
        """One access-log row (security purpose); dropped only when the writer is hopelessly
        behind (it logs when its buffer fills), since a request must never wait on it."""
        if not self.access_log_enabled:
            return
        entry = AccessLogEntry(
            ts=started, site=ctx.site.id, method=method[:16], path=path[:1000], status=status,
            duration_ms=duration_ms,
            ip=self.truncate(ctx.peer.address), browser=describe_agent(ctx.user_agent).browser,
        )
        self.access_log.offer(entry)  # refused when full: the writer logs that, once

    async def flush_bot_counts(self) -> None:
        """Bot tallies are counts only, never worth failing a request or shutdown over."""
        bots, self.bots = self.bots, Counter()
        try:
            await self.store.add_bot_counts(bots)
        except StoreError as exc:
            log.warning("bot counts not saved (%d site days): %s", len(bots), exc)
