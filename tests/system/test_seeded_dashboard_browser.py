"""`consent-gateway seed-demo` fills a store through the real ingest path; a real `serve` on
it then shows, in a real Chromium, the numbers its stats JSON gives: the headline figures,
the top country with its visitors (marked "≈" when estimated) and the note on estimates."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gateway.web.admin import token_hash
from tests.conftest import EXAMPLE_CONFIG, GEOIP_DIR, REPO, LiveServer, gateway_env
from tests.support.browser import chromium

TOKEN = "seeded-dashboard-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EVENTS = 6_000
DAYS = 3


@pytest.fixture
def seeded_server(tmp_path: Path) -> Iterator[LiveServer]:
    env = {**os.environ, **gateway_env(tmp_path),
           "GATEWAY_ANALYTICS_GEOIP_DATABASE": str(GEOIP_DIR / "GeoLite2-City-Test.mmdb"),
           "GATEWAY_ADMIN_TOKEN_HASHES": token_hash(TOKEN)}
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "seed-demo", "--config", str(EXAMPLE_CONFIG),
         "--site", "demo", "--events", str(EVENTS), "--days", str(DAYS)],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert f"seeded site demo: {EVENTS} events" in done.stdout.replace(",", "")
    server = LiveServer(tmp_path, env={k: env[k] for k in (
        "GATEWAY_ANALYTICS_GEOIP_DATABASE", "GATEWAY_ADMIN_TOKEN_HASHES")}).start()
    yield server
    server.stop()


@pytest.mark.browser
def test_chromium_shows_what_the_stats_say_of_seeded_traffic(seeded_server: LiveServer) -> None:
    today = datetime.now(UTC).date()
    span = f"?from={(today - timedelta(days=DAYS)).isoformat()}&to={today.isoformat()}"
    stats = httpx.get(f"{seeded_server.url}/_consent/admin/stats{span}", headers=AUTH,
                      timeout=60).json()
    totals = stats["totals"]
    assert totals["pageviews"] > 0.8 * EVENTS * 0.9  # most seeded hits are pageviews
    top = stats["breakdowns"]["countries"][0]
    with chromium() as browser:
        context = browser.new_context(extra_http_headers=AUTH)
        page = context.new_page()
        page.goto(f"{seeded_server.url}/_consent/admin/{span}&lang=en")
        shown = page.locator(".kpi-pageviews .kpi-value").text_content() or ""
        assert shown.replace(",", "") == str(totals["pageviews"])
        assert (page.locator(".kpi-visitors .kpi-value").text_content() or "").replace(
            ",", "") == str(totals["visitors"])
        row = page.locator("section[aria-labelledby=h-countries] tr",
                           has_text=top["value"]).first
        row_text = row.text_content() or ""
        mark = "≈ " if top.get("estimated") else ""
        assert f"{mark}{top['visitors']:,}" in row_text
        footer = page.locator("footer").text_content() or ""
        assert ("estimated above that" in footer) == bool(stats["visitor_estimates"]["estimated"])
        context.close()
