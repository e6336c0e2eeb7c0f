"""`/_consent/metrics` (Prometheus text, admin only), `/_consent/health/live|ready`, and
JSON log lines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.adapters.configfile import load_config
from gateway.adapters.logformat import scrub
from gateway.core.config import GatewayConfig
from gateway.core.errors import StoreError
from gateway.services.wiring import Services
from gateway.web.admin import token_hash
from tests.conftest import (
    EXAMPLE_CONFIG,
    LiveServer,
    free_port,
    gateway_env,
)

TOKEN = "metrics-test-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture
def config(tmp_path: Path) -> GatewayConfig:
    """The suite's `gateway` and `client` fixtures, with an admin token and no rate limits."""
    return load_config(EXAMPLE_CONFIG, gateway_env(
        tmp_path, GATEWAY_ADMIN_TOKEN_HASHES=token_hash(TOKEN), GATEWAY_ABUSE_ENABLED="false"))


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_metrics_need_admin_credentials(client: httpx.AsyncClient) -> None:
    assert (await client.get("/_consent/metrics")).status_code == 401
    assert (await client.get("/_consent/metrics", headers={"Authorization": "Bearer no"})
            ).status_code == 401


async def test_metrics_count_requests_decisions_and_beacons(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    decided = await client.post("/_consent/consent", json={"action": "accept_all"}, headers=ORIGIN)
    assert decided.status_code == 200
    token = re.search(r'data-page-token="([^"]+)"', (await client.get("/")).text)
    assert page.status_code == 200 and token is not None
    beacon = {"type": "pageview", "url": "http://localhost/", "token": token.group(1)}
    assert (await client.post("/_consent/collect", json=beacon, headers=ORIGIN)).status_code == 202
    dropped = await client.post("/_consent/collect", json={"type": "nonsense"}, headers=ORIGIN)
    assert dropped.headers["X-Consent-Dropped"] == "invalid"

    answer = await client.get("/_consent/metrics", headers=BEARER)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(answer.text)
    assert got[("consent_gateway_requests_total", (("route", "page"), ("status", "200")))] == 2
    assert got[("consent_gateway_requests_total", (("route", "consent"), ("status", "200")))] == 1
    assert got[("consent_gateway_decisions_total", (("action", "accept_all"),))] == 1
    assert got[("consent_gateway_beacons_total", (("outcome", "accepted"), ("reason", "")))] == 1
    assert got[("consent_gateway_beacons_total",
                (("outcome", "dropped"), ("reason", "invalid")))] == 1
    assert got[("consent_gateway_chain_head_seq", ())] == 1
    assert ("consent_gateway_writer_queue_depth", (("writer", "analytics"),)) in got
    assert "203.0.113" not in answer.text


async def test_ready_says_unavailable_when_the_store_fails_but_live_stays_up(
    client: httpx.AsyncClient, gateway: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready = await client.get("/_consent/health/ready")
    assert ready.status_code == 200 and ready.json()["migrations"] == "done"

    async def down() -> None:
        raise StoreError("database does not answer")

    monkeypatch.setattr(gateway.store, "ping", down)
    assert (await client.get("/_consent/health/ready")).status_code == 503
    assert (await client.get("/_consent/health")).status_code == 503
    live = await client.get("/_consent/health/live")
    assert live.status_code == 200 and live.json()["status"] == "ok"


def test_scrub_removes_addresses_and_url_passwords() -> None:
    line = scrub("from 203.0.113.7 and 2001:db8::1 to postgresql://gw:s3cret@db:5432/x")
    assert "203.0.113.7" not in line and "2001:db8::1" not in line and "s3cret" not in line
    assert "postgresql://gw:***@db:5432/x" in line


def test_on_the_admin_listener_metrics_need_no_credentials_and_logs_are_json(
    tmp_path: Path,
) -> None:
    admin_port = free_port()
    server = LiveServer(tmp_path, env={
        "GATEWAY_ADMIN_TOKEN_HASHES": token_hash(TOKEN),
        "GATEWAY_SERVER_ADMIN_LISTEN": f"127.0.0.1:{admin_port}",
        "GATEWAY_SERVER_LOG_FORMAT": "json",
    }).start()
    try:
        private = httpx.get(f"http://127.0.0.1:{admin_port}/_consent/metrics", timeout=10)
        public = httpx.get(f"{server.url}/_consent/metrics", headers=BEARER, timeout=10)
    finally:
        server.stop()
    assert private.status_code == 200 and "consent_gateway_requests_total" in private.text
    assert public.status_code == 404  # the admin routes live on the admin listener only
    lines = [line for line in server.log.read_text().splitlines() if line.startswith("{")]
    assert lines, server.log.read_text()
    for line in lines:
        entry = json.loads(line)
        assert {"ts", "level", "logger", "message"} <= entry.keys()
        assert "127.0.0.1" not in line
