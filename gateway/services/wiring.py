"""The composition root of the services: every per-process object is built here, once, and
handed to those that need it. `create_app` and `ConsentMiddleware` both start from here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache, partial
from typing import Final

from gateway.adapters.clock import Clock, system_clock
from gateway.adapters.geo import GeoLookup, open_geo_lookup
from gateway.adapters.jobs import RetentionJob
from gateway.adapters.metrics import GatewayMetrics
from gateway.adapters.static_files import static_dir
from gateway.adapters.store import Store
from gateway.adapters.store.postgres import PostgresStore
from gateway.adapters.store.sqlite import SQLiteStore
from gateway.core.config import GatewayConfig
from gateway.core.errors import StoreError
from gateway.core.pseudonymise import truncate_ip
from gateway.services.abuse import AbuseGuard
from gateway.services.analytics import AnalyticsService
from gateway.services.banners import BannerService, load_assets
from gateway.services.consents import ConsentService
from gateway.services.firewall import CookieFirewall
from gateway.services.regions import RegionService
from gateway.services.reports import ReportService
from gateway.services.subjects import SubjectService

log = logging.getLogger("consent_gateway")

COUNTERS_FLUSH_S: Final = 5.0
TRUNCATED_ADDRESSES: Final = 1024  # recent client addresses whose truncation is kept


@dataclass(eq=False)
class Services:
    """The services of one gateway process, and their start and stop."""

    config: GatewayConfig
    clock: Clock
    store: Store
    banners: BannerService
    consents: ConsentService
    firewall: CookieFirewall
    analytics: AnalyticsService
    subjects: SubjectService
    abuse: AbuseGuard
    retention: RetentionJob
    reports: ReportService
    regions: RegionService
    metrics: GatewayMetrics
    _started: bool = field(default=False, init=False)
    _start_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    _refresher: asyncio.Task[None] | None = field(default=None, init=False)

    @property
    def prefix(self) -> str:
        return self.config.server.prefix

    async def start(self) -> None:
        """Open the store and start the writers and jobs; a no-op once started."""
        if self._started:
            return
        async with self._start_lock:
            if not self._started:
                await self.store.open()
                await self.firewall.load_inventory()
                await self.abuse.sync_blocks()
                await self.consents.sync_erasures()
                self._refresher = asyncio.create_task(self._refresh_every(COUNTERS_FLUSH_S))
                self.analytics.start()
                self.retention.start()
                self._started = True

    async def stop(self) -> None:
        async with self._start_lock:
            if self._started:
                if self._refresher is not None:
                    self._refresher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._refresher
                await self.retention.stop()
                await self.analytics.stop()
                await self.flush_counters()
                await self.store.close()
                self._started = False

    async def flush_counters(self) -> None:
        """The cookie inventory and bot tallies: counts only, written every few seconds."""
        await self.firewall.flush_inventory()
        await self.analytics.flush_bot_counts()

    async def _refresh_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            await self.flush_counters()
            try:
                await self.abuse.sync_blocks()
                await self.consents.sync_erasures()
            except StoreError as exc:
                log.warning("blocklist or erasures not refreshed: %s", exc)


def build_services(
    config: GatewayConfig,
    *,
    store: Store | None = None,
    clock: Clock = system_clock,
    geo: GeoLookup | None = None,
) -> Services:
    """Every service of one process, wired. Without a `store`, the one `storage.url` names;
    without `geo`, the GeoIP database the config names (or none)."""
    store = store if store is not None else configured_store(config)
    privacy = config.privacy
    # Cached (memory only): a client's requests come from one address, and parsing and
    # masking it again for every access-log row cost ~4% of a pass-through request.
    truncate = lru_cache(maxsize=TRUNCATED_ADDRESSES)(partial(
        truncate_ip, ipv4_mask_bytes=privacy.ipv4_mask_bytes, ipv6_prefix=privacy.ipv6_prefix))
    banners = BannerService(config, load_assets(static_dir()))
    metrics = GatewayMetrics(config.server.prefix)
    consents = ConsentService(config, store=store, clock=clock, banners=banners,
                              truncate=truncate, on_recorded=metrics.decision)
    geo = geo or open_geo_lookup(config.analytics.geoip_database, detail=privacy.geo_detail)
    # `[[regions]]` needs the country even when analytics records no place.
    region_geo = (geo if privacy.geo_detail != "none" or not config.regions
                  else open_geo_lookup(config.analytics.geoip_database, detail="country"))
    analytics = AnalyticsService(config, store=store, clock=clock, geo=geo,
                                 decode_consent=consents.decode_for_site_id, truncate=truncate)
    retention = RetentionJob(store, config.retention, clock, consent_lifetime=consents.lifetime)
    _watch(metrics, analytics, retention, store)
    return Services(
        config=config, clock=clock, store=store, banners=banners, consents=consents,
        firewall=CookieFirewall(config, store=store, clock=clock), analytics=analytics,
        subjects=SubjectService(store=store, clock=clock, consents=consents,
                                analytics=analytics),
        abuse=AbuseGuard(config, store=store, clock=clock),
        retention=retention,
        reports=ReportService(config, store=store),
        regions=RegionService(config, region_geo),
        metrics=metrics,
    )


def _watch(
    metrics: GatewayMetrics, analytics: AnalyticsService, retention: RetentionJob, store: Store
) -> None:
    """What the metrics read of the process's state when scraped (nothing per request)."""
    sources = metrics.sources
    sources.writers.extend((analytics.events, analytics.access_log))
    if isinstance(store, PostgresStore):
        sources.pool_in_use = store.pool_in_use
    sources.retention_last_run = (
        lambda: retention.last_run.timestamp() if retention.last_run else None)
    sources.retention_removed = lambda: dict(retention.removed)


def configured_store(config: GatewayConfig) -> Store:
    """The store `storage.url` names (the SQLite file of `storage.path` by default), keeping
    visits with the configured `session_minutes`."""
    gap = timedelta(minutes=config.analytics.session_minutes)
    storage = config.storage
    if storage.backend == "postgresql":
        return PostgresStore(storage.url, password=storage.password, passfile=storage.passfile,
                             pool_size=storage.pool_size, session_gap=gap)
    return SQLiteStore(storage.path, session_gap=gap)
