"""ReportService on a real SQLite store: identical requests share one computation, a report
is reused for a few seconds, and never after an erasure of the site — in any worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from gateway.adapters.store.sqlite import SQLiteStore
from gateway.core.analytics.events import AnalyticsEvent
from gateway.core.analytics.reports import ReportFigures, ReportRequest
from gateway.core.config import GatewayConfig
from gateway.services.reports import CACHE_SECONDS, ReportService
from tests.conftest import FrozenClock

DAY = date(2026, 11, 21)


class CountingStore(SQLiteStore):
    """The real store, counting the reports it computes and able to hold one back."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reports = 0
        self.release = asyncio.Event()
        self.release.set()

    async def analytics_report(self, request: ReportRequest) -> ReportFigures:
        self.reports += 1
        await self.release.wait()
        return await super().analytics_report(request)


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(config: GatewayConfig) -> AsyncIterator[CountingStore]:
    s = CountingStore(Path(config.storage.path))
    await s.open()
    yield s
    await s.close()


def visit(clock: FrozenClock, visitor: str, site: str = "demo") -> AnalyticsEvent:
    return AnalyticsEvent(site=site, ts=clock(), visitor=visitor, type="pageview", path="/")


async def test_identical_requests_at_once_share_one_report(
    config: GatewayConfig, store: CountingStore
) -> None:
    service = ReportService(config, store=store)
    store.release.clear()
    waiting = [asyncio.create_task(service.stats("demo", DAY, DAY)) for _ in range(5)]
    await asyncio.sleep(0.05)
    store.release.set()
    bodies = await asyncio.gather(*waiting)
    assert store.reports == 1 and all(body == bodies[0] for body in bodies)


async def test_a_caller_going_away_does_not_cancel_the_others(
    config: GatewayConfig, store: CountingStore
) -> None:
    service = ReportService(config, store=store)
    store.release.clear()
    gone = asyncio.create_task(service.stats("demo", DAY, DAY))
    stays = asyncio.create_task(service.stats("demo", DAY, DAY))
    await asyncio.sleep(0.05)
    gone.cancel()
    store.release.set()
    assert (await stays)["site"] == "demo" and store.reports == 1


async def test_a_report_is_reused_for_a_few_seconds_only(
    config: GatewayConfig, store: CountingStore
) -> None:
    ticks = Ticks()
    service = ReportService(config, store=store, monotonic=ticks)
    await service.stats("demo", DAY, DAY)
    ticks.now += CACHE_SECONDS - 1
    await service.stats("demo", DAY, DAY)
    assert store.reports == 1
    ticks.now += 2
    await service.stats("demo", DAY, DAY)
    await service.stats("demo", DAY, DAY + timedelta(days=1))
    assert store.reports == 3


async def test_an_erasure_in_another_worker_is_never_served_from_the_cache(
    config: GatewayConfig, store: CountingStore, clock: FrozenClock
) -> None:
    service = ReportService(config, store=store)
    await store.add_events([visit(clock, "v1"), visit(clock, "v2")])
    assert (await service.stats("demo", DAY, DAY))["totals"]["visitors"] == 2
    other_worker = SQLiteStore(Path(config.storage.path))
    await other_worker.open()
    try:
        await other_worker.erase_events("v1", "demo")
    finally:
        await other_worker.close()
    assert (await service.stats("demo", DAY, DAY))["totals"]["visitors"] == 1
    assert store.reports == 2


async def test_the_body_a_caller_gets_is_its_own(
    config: GatewayConfig, store: CountingStore
) -> None:
    service = ReportService(config, store=store)
    first = await service.stats("demo", DAY, DAY)
    first["totals"]["visitors"] = 999
    assert (await service.stats("demo", DAY, DAY))["totals"]["visitors"] == 0
