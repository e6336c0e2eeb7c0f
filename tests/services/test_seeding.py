"""`seed-demo` (gateway/services/seeding.py) on a real SQLite file: N beacons through the real
ingest path land as N events over the days asked, with countries, browsers, campaigns and
consent decisions; a store holding events is refused without --force; the stats then show
the traffic. And the synthetic plan itself (core/analytics/synthetic.py) is deterministic."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.adapters.configfile import load_config
from gateway.cli import main
from gateway.core.analytics.synthetic import Decision, Hit, TrafficPlan
from gateway.core.config import GatewayConfig
from gateway.services.seeding import SeedResult, seed_store
from gateway.services.wiring import build_services
from gateway.web.admin import token_hash
from gateway.web.demo import demo_app
from gateway.web.middleware import ConsentMiddleware
from tests.conftest import EXAMPLE_CONFIG, GEOIP_DIR, gateway_env

EVENTS = 400
DAYS = 5
TOKEN = "seed-demo-test-admin-token-0123456789"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return gateway_env(tmp_path, GATEWAY_ANALYTICS_GEOIP_DATABASE=str(
        GEOIP_DIR / "GeoLite2-City-Test.mmdb"), GATEWAY_ADMIN_TOKEN_HASHES=token_hash(TOKEN))


@pytest.fixture
def geo_config(env: dict[str, str]) -> GatewayConfig:
    return load_config(EXAMPLE_CONFIG, env)


def rows(config: GatewayConfig, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(config.storage.path) as db:
        return db.execute(sql).fetchall()


async def test_n_beacons_land_as_n_events_over_the_days_with_decisions(
    geo_config: GatewayConfig,
) -> None:
    site = geo_config.sites[0]
    result = await seed_store(geo_config, site, events=EVENTS, days=DAYS, force=False)
    assert isinstance(result, SeedResult)
    assert result.events == EVENTS and not result.dropped
    [(count, days, countries, browsers, campaigns)] = rows(geo_config, """
        SELECT count(*), count(DISTINCT substr(ts, 1, 10)), count(DISTINCT country),
               count(DISTINCT browser), count(DISTINCT utm_campaign) FROM analytics_events""")
    assert count == EVENTS and days == DAYS
    assert countries >= 4 and browsers >= 4 and campaigns >= 2
    assert rows(geo_config, "SELECT count(*) FROM analytics_events WHERE country = ''") == [(0,)]
    assert rows(geo_config, "SELECT count(*) FROM analytics_events WHERE type = 'event'")[0][0]
    # The example config names `q` as the demo site's search parameter: seeded searches.
    assert rows(geo_config, "SELECT count(DISTINCT search) FROM analytics_events "
                            "WHERE search <> ''")[0][0] >= 2
    actions = dict(rows(geo_config, "SELECT action, count(*) FROM consent_log GROUP BY 1"))
    assert sum(actions.values()) == result.decisions
    assert actions["accept_all"] > actions["reject_all"] > 0
    newest = rows(geo_config, "SELECT max(ts) FROM analytics_events")[0][0]
    assert isinstance(newest, str) and newest <= datetime.now(UTC).isoformat()

    services = build_services(geo_config)
    await services.start()
    try:
        today = datetime.now(UTC).date()
        stats = await services.reports.stats(site.id, today - timedelta(days=29), today)
        transport = httpx.ASGITransport(app=ConsentMiddleware(demo_app(), services=services))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            page = await http.get("/_consent/admin/?lang=en",
                                  headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        await services.stop()
    totals = stats["totals"]
    assert totals["pageviews"] > 0 and totals["visitors"] > 0 and totals["visits"] > 0
    assert sum(day["pageviews"] for day in stats["days"]) == totals["pageviews"]
    assert page.status_code == 200
    assert f"{totals['pageviews']:,}" in page.text or str(totals["pageviews"]) in page.text


def test_the_command_refuses_a_store_with_events_unless_forced(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = load_config(EXAMPLE_CONFIG, env)
    args = ["seed-demo", "--config", str(EXAMPLE_CONFIG), "--events", "50", "--days", "2"]
    assert main(args) == 0
    assert "seeded site demo: 50 events" in capsys.readouterr().out
    assert main(args) == 1
    assert "already holds 50 analytics events" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
    assert rows(config, "SELECT count(*) FROM analytics_events") == [(100,)]
    assert main([*args[:3], "--site", "nope"]) == 2


def test_a_plan_is_the_same_every_time_and_decides_before_the_first_hit() -> None:
    now = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    first = list(TrafficPlan(events=300, days=3, now=now).items())
    assert first == list(TrafficPlan(events=300, days=3, now=now).items())
    hits = [item for item in first if isinstance(item, Hit)]
    assert len(hits) == 300 and all(hit.at < now for hit in hits)
    decided: set[int] = set()
    for item in first:
        if isinstance(item, Decision):
            decided.add(item.visitor.number)
        else:
            assert item.visitor.number in decided
