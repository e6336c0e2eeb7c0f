"""Rate limits and the blocklist over HTTP: clients counted by a keyed hash whose key rotates
daily and is gone after 48 hours; refused clients get 429 with Retry-After; the admin
blocks and unblocks addresses; no address is ever stored (the last test on a real
`consent-gateway serve`)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.adapters.configfile import load_config
from gateway.adapters.jobs import purge
from gateway.services.wiring import Services, build_services
from gateway.web.admin import token_hash
from gateway.web.demo import demo_app
from gateway.web.middleware import ConsentMiddleware
from tests.conftest import EXAMPLE_CONFIG, FIREFOX_UA, FrozenClock, LiveServer, gateway_env
from tests.web.test_collect import assert_no_trace_of, database_files

ADMIN_TOKEN = "an-admin-token-for-the-abuse-tests"


def strict_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return gateway_env(
        tmp_path,
        GATEWAY_ABUSE_CONSENT_PER_MINUTE="3",
        GATEWAY_ABUSE_COLLECT_PER_MINUTE="5",
        GATEWAY_ABUSE_OFFENCES_TO_BLOCK="2",
        GATEWAY_ABUSE_BLOCK_MINUTES="30",
        GATEWAY_ADMIN_TOKEN_HASHES=token_hash(ADMIN_TOKEN),
        **extra,
    )


@pytest.fixture
async def strict_gateway(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Services]:
    gateway = build_services(load_config(EXAMPLE_CONFIG, strict_env(tmp_path)), clock=clock)
    await gateway.start()
    yield gateway
    await gateway.stop()


def client_at(gateway: Services, address: str) -> httpx.AsyncClient:
    app = ConsentMiddleware(demo_app(), services=gateway)
    transport = httpx.ASGITransport(app=app, client=(address, 51000))
    return httpx.AsyncClient(transport=transport, base_url="http://localhost",
                             headers={"User-Agent": FIREFOX_UA})


async def decide(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/_consent/consent", json={"action": "reject_all"})


async def test_a_client_over_the_consent_limit_gets_429_with_retry_after(
    strict_gateway: Services,
) -> None:
    async with client_at(strict_gateway, "203.0.113.77") as client:
        statuses = [(await decide(client)).status_code for _ in range(3)]
        refused = await decide(client)
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"] == "too many requests"


async def test_another_client_is_not_held_back_by_one_over_its_limit(
    strict_gateway: Services,
) -> None:
    async with client_at(strict_gateway, "203.0.113.77") as noisy, \
            client_at(strict_gateway, "198.51.100.20") as quiet:
        for _ in range(5):
            await decide(noisy)
        assert (await decide(quiet)).status_code == 200


async def test_a_repeat_offender_is_blocked_on_every_worker_by_its_hash_only(
    strict_gateway: Services, clock: FrozenClock, tmp_path: Path
) -> None:
    async with client_at(strict_gateway, "203.0.113.77") as client:
        for _ in range(2):  # over the limit in two different minutes
            for _ in range(4):
                await decide(client)
            clock.advance(minutes=1)
        blocked = await client.post("/_consent/collect", content=b"{}")
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 60 * 28
    rows = sqlite3.connect(tmp_path / "gateway.sqlite3").execute(
        "SELECT client, reason FROM blocklist").fetchall()
    assert len(rows) == 1 and rows[0][1] == "rate" and "203.0.113" not in rows[0][0]
    # A second worker on the same database learns of the block.
    other = build_services(strict_gateway.config, clock=clock)
    await other.start()
    try:
        async with client_at(other, "203.0.113.77") as client:
            assert (await decide(client)).status_code == 429
    finally:
        await other.stop()


async def test_hash_keys_rotate_daily_and_none_outlives_48_hours(
    strict_gateway: Services, clock: FrozenClock, tmp_path: Path
) -> None:
    first = await strict_gateway.abuse.client_hashes("203.0.113.77")
    clock.advance(days=1)
    second = await strict_gateway.abuse.client_hashes("203.0.113.77")
    assert len(first) == 1 and len(second) == 2 and second[1] == first[0] != second[0]
    clock.advance(days=1)
    await strict_gateway.abuse.client_hashes("203.0.113.77")
    done = await purge(strict_gateway.store, strict_gateway.config.retention, clock,
                       consent_lifetime=strict_gateway.consents.lifetime)
    days = [row[0] for row in sqlite3.connect(tmp_path / "gateway.sqlite3").execute(
        "SELECT day FROM ip_hash_keys ORDER BY day")]
    assert done["ip_hash_keys"] == 1
    assert days == ["2026-11-22", "2026-11-23"]  # yesterday's and today's, nothing older


async def test_expired_blocks_are_purged(
    strict_gateway: Services, clock: FrozenClock
) -> None:
    await strict_gateway.abuse.block_address("203.0.113.77", 10)
    clock.advance(minutes=11)
    done = await purge(strict_gateway.store, strict_gateway.config.retention, clock,
                       consent_lifetime=strict_gateway.consents.lifetime)
    assert done["blocklist"] == 1


async def test_the_admin_blocks_and_unblocks_an_address_without_storing_it(
    strict_gateway: Services,
) -> None:
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with client_at(strict_gateway, "127.0.0.1") as admin, \
            client_at(strict_gateway, "198.51.100.20") as visitor:
        made = await admin.post("/_consent/admin/blocklist", headers=auth,
                                json={"ip": "198.51.100.20", "minutes": 15})
        assert made.status_code == 201
        assert (await decide(visitor)).status_code == 429
        listed = (await admin.get("/_consent/admin/blocklist", headers=auth)).json()
        assert [row["reason"] for row in listed["blocked"]] == ["admin"]
        assert "198.51.100.20" not in str(listed)
        lifted = await admin.request("DELETE", "/_consent/admin/blocklist", headers=auth,
                                     json={"ip": "198.51.100.20"})
        assert lifted.json() == {"unblocked": 1}
        assert (await decide(visitor)).status_code == 200


@pytest.mark.parametrize("body", [{"ip": "not an address"}, {"ip": "198.51.100.20", "minutes": 0},
                                  {"ip": "198.51.100.20", "minutes": 1441}, {"ip": 5}])
async def test_the_admin_blocklist_refuses_bad_input_by_name(
    strict_gateway: Services, body: dict[str, object]
) -> None:
    async with client_at(strict_gateway, "127.0.0.1") as admin:
        refused = await admin.post("/_consent/admin/blocklist", json=body,
                                   headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert refused.status_code == 422
    assert refused.json()["field"] in ("ip", "minutes")


def test_a_client_over_the_limit_gets_429_and_the_database_holds_no_address_of_it(
    tmp_path: Path,
) -> None:
    address = "185.130.128.201"  # every byte above 127: the packed form is not ASCII text
    server = LiveServer(tmp_path, env=strict_env(
        tmp_path, GATEWAY_SERVER_TRUSTED_PROXIES="127.0.0.1")).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10,
                          headers={"X-Forwarded-For": address}) as client:
            statuses = [client.post("/_consent/consent", json={"action": "accept_all"})
                        .status_code for _ in range(6)]
    finally:
        server.stop()
    assert statuses[:3] == [200] * 3 and statuses[3:] == [429] * 3
    db = sqlite3.connect(tmp_path / "gateway.sqlite3")
    assert db.execute("SELECT count(*) FROM ip_hash_keys").fetchone() == (1,)
    assert ("185.130.128.0",) in db.execute("SELECT DISTINCT ip FROM access_log").fetchall()
    db.close()
    assert_no_trace_of([address], [*database_files(tmp_path), server.log])
