"""The whole gateway on PostgreSQL (`storage.url` from the environment), over real HTTP
(httpx's ASGI transport): a decision is in the chain before it is confirmed, a beacon's
event is stored, `/admin/verify`'s walk passes; a report says plainly that it cannot yet."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gateway.adapters.configfile import load_config
from gateway.adapters.store.chain import walk_chain
from gateway.adapters.store.postgres import PostgresStore
from gateway.core.analytics.events import AnalyticsEvent
from gateway.core.analytics.reports import ReportRequest
from gateway.core.consent.record import ChainVerifier
from gateway.services.wiring import Services, build_services
from gateway.web.demo import demo_app
from gateway.web.middleware import ConsentMiddleware
from tests.conftest import EXAMPLE_CONFIG, FIREFOX_UA, FrozenClock, gateway_env

TOKEN_ATTR = re.compile(r'data-page-token="([^"]+)"')


@pytest.fixture
async def gateway(tmp_path: Path, clock: FrozenClock, postgres_url: str
                  ) -> AsyncIterator[Services]:
    config = load_config(EXAMPLE_CONFIG, gateway_env(
        tmp_path, GATEWAY_STORAGE_URL=postgres_url, GATEWAY_ABUSE_ENABLED="false"))
    services = build_services(config, clock=clock)
    await services.start()
    yield services
    await services.stop()


@pytest.fixture
async def http(gateway: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = ConsentMiddleware(demo_app(), services=gateway)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.77", 51000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost",
                                 headers={"User-Agent": FIREFOX_UA}) as client:
        yield client


async def test_decisions_and_beacons_are_stored_in_postgresql(
    gateway: Services, http: httpx.AsyncClient
) -> None:
    assert isinstance(gateway.store, PostgresStore)
    answer = await http.post("/_consent/consent", json={"action": "accept_all", "page": "/"},
                             headers={"Origin": "http://localhost"})
    assert answer.status_code == 200
    consent_id = answer.json()["consent_id"]
    assert [r.action for r in await gateway.store.consent_history(consent_id)] == ["accept_all"]
    page = await http.get("/")
    token = TOKEN_ATTR.search(page.text)
    assert token is not None
    beacon = await http.post("/_consent/collect", headers={"Origin": "http://localhost"},
                             json={"type": "pageview", "url": "http://localhost/",
                                   "token": token.group(1)})
    assert beacon.status_code == 202 and "X-Consent-Dropped" not in beacon.headers
    await gateway.analytics.stop()  # flushes the writer
    assert [e.path async for e in gateway.store.iter_events()] == ["/"]
    walk = await walk_chain(gateway.store, full=True)
    assert isinstance(walk.verdict, ChainVerifier) and walk.verdict.checked == 1


async def test_a_report_on_postgresql_counts_what_was_stored(gateway: Services) -> None:
    day = date(2026, 11, 21)
    start = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    await gateway.store.add_events([
        AnalyticsEvent(site="demo", ts=start + timedelta(minutes=n), visitor="v1",
                       type="pageview", path=path)
        for n, path in enumerate(("/", "/pricing"))])
    figures = await gateway.store.analytics_report(ReportRequest("demo", day, day, min_visitors=1))
    assert (figures.totals.visitors, figures.totals.visits, figures.totals.pageviews) == (1, 1, 2)
    assert [row.value for row in figures.breakdowns["pages"]] == ["/", "/pricing"]
