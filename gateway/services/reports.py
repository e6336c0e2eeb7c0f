"""Analytics reports for the admin (service): the stats JSON behind `GET /_consent/admin/stats`
and the dashboard. The store computes every figure (`AnalyticsReports`); this shapes the
answer (`core/analytics/reports.py`) and keeps a report from being computed twice at once:

- identical requests that arrive while one is being computed wait for that one;
- a finished report is served again for `CACHE_SECONDS` (15 s), unless an erasure removed
  data of the site meanwhile: the store's erasure count of the site is read first (one small
  query) and is part of the key, so a report that may hold an erased visitor is never served
  after the erasure, by any worker.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable
from datetime import date
from typing import Any, Final, Protocol

from gateway.adapters.store import AnalyticsReports, AnalyticsStore
from gateway.core.analytics.reports import ReportRequest, report_json
from gateway.core.config import GatewayConfig

CACHE_SECONDS: Final = 15.0
CACHE_ENTRIES: Final = 64

_Key = tuple[str, date, date, int]


class ReportStores(AnalyticsReports, AnalyticsStore, Protocol):
    """What a report is read from: the report queries, and the bot tallies."""


class ReportService:
    def __init__(
        self, config: GatewayConfig, *, store: ReportStores,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.store = store
        self.monotonic = monotonic
        self._cache: dict[_Key, tuple[float, dict[str, Any]]] = {}
        self._running: dict[_Key, asyncio.Task[dict[str, Any]]] = {}

    async def stats(self, site: str, start: date, end: date) -> dict[str, Any]:
        """The stats JSON of `site` over the UTC days `start`..`end` (inclusive), with the
        bots counted (not stored) in that time."""
        key = (site, start, end, await self.store.erasures(site))
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self.monotonic():
            return copy.deepcopy(cached[1])
        task = self._running.get(key)
        if task is None:
            task = asyncio.create_task(self._compute(site, start, end), name="report")
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        # A caller that goes away (the browser closed) must not cancel the others' report.
        return copy.deepcopy(await asyncio.shield(task))

    async def _compute(self, site: str, start: date, end: date) -> dict[str, Any]:
        request = ReportRequest(site, start, end,
                                min_visitors=self.config.analytics.min_group_visitors)
        body = report_json(request, await self.store.analytics_report(request))
        body["bots"] = sum((await self.store.bot_counts(site, start, end)).values())
        return body

    def _finished(self, key: _Key, task: asyncio.Task[dict[str, Any]]) -> None:
        self._running.pop(key, None)
        if task.cancelled() or task.exception() is not None:
            return  # the callers got the error; nothing to keep
        now = self.monotonic()
        for stale in [k for k, (expires, _) in self._cache.items() if expires <= now]:
            del self._cache[stale]
        while len(self._cache) >= CACHE_ENTRIES:
            del self._cache[next(iter(self._cache))]  # the oldest
        self._cache[key] = (now + CACHE_SECONDS, task.result())
