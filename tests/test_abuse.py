"""Rate limits and the blocklist: counted per client by a keyed hash whose key rotates
daily and is gone after 48 hours; refused clients get 429 with Retry-After; no address
is ever stored."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gateway.adapters.configfile import load_config
from gateway.adapters.jobs import purge
from gateway.core.ratelimit import RateLimiter, client_hash
from gateway.services.gateway import Gateway
from gateway.web.admin import token_hash
from gateway.web.demo import demo_app
from gateway.web.middleware import ConsentMiddleware
from tests.conftest import EXAMPLE_CONFIG, FIREFOX_UA, FrozenClock, LiveServer, gateway_env
from tests.test_collect import assert_no_trace_of, database_files

NOON = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
KEY = b"k" * 32
ADMIN_TOKEN = "an-admin-token-for-the-abuse-tests"


def limiter(limit: int = 3, offences: int = 3, block_minutes: int = 60) -> RateLimiter:
    return RateLimiter({"consent": limit, "collect": limit}, offences_to_block=offences,
                       block_for=timedelta(minutes=block_minutes))


# --------------------------------------------------------------------------- core


def test_a_client_under_the_limit_passes() -> None:
    limits = limiter(limit=3)
    assert [limits.check(("a",), "consent", NOON) for _ in range(3)] == [None] * 3


def test_the_request_over_the_limit_waits_for_the_next_minute() -> None:
    limits = limiter(limit=3)
    moment = NOON + timedelta(seconds=15)
    for _ in range(3):
        limits.check(("a",), "consent", moment)
    refused = limits.check(("a",), "consent", moment)
    assert refused is not None and refused.retry_after == 45 and refused.new_block is None


def test_a_new_minute_starts_a_new_count() -> None:
    limits = limiter(limit=1)
    limits.check(("a",), "consent", NOON)
    assert limits.check(("a",), "consent", NOON) is not None
    assert limits.check(("a",), "consent", NOON + timedelta(minutes=1)) is None


def test_clients_and_buckets_are_counted_apart() -> None:
    limits = limiter(limit=1)
    limits.check(("a",), "consent", NOON)
    assert limits.check(("b",), "consent", NOON) is None
    assert limits.check(("a",), "collect", NOON) is None


def test_going_over_in_three_minutes_of_an_hour_blocks_the_client() -> None:
    limits = limiter(limit=1, offences=3, block_minutes=60)
    outcomes = []
    for minute in (0, 20, 40):
        moment = NOON + timedelta(minutes=minute)
        limits.check(("a",), "consent", moment)
        outcomes.append(limits.check(("a",), "consent", moment))
    assert [o is not None and o.new_block is not None for o in outcomes] == [False, False, True]
    later = limits.check(("a",), "collect", NOON + timedelta(minutes=41))
    assert later is not None and later.retry_after == 59 * 60
    assert limits.check(("a",), "consent", NOON + timedelta(minutes=101)) is None


def test_offences_older_than_an_hour_are_forgotten() -> None:
    limits = limiter(limit=1, offences=2)
    for minute in (0, 61):
        moment = NOON + timedelta(minutes=minute)
        limits.check(("a",), "consent", moment)
        refused = limits.check(("a",), "consent", moment)
        assert refused is not None and refused.new_block is None


def test_a_block_made_under_yesterdays_key_still_holds_today() -> None:
    limits = limiter()
    limits.block("hash-under-yesterdays-key", NOON + timedelta(hours=1))
    refused = limits.check(("hash-under-todays-key", "hash-under-yesterdays-key"), "consent",
                           NOON)
    assert refused is not None and refused.retry_after == 3600


def test_unblocking_lifts_the_block() -> None:
    limits = limiter()
    limits.block("a", NOON + timedelta(hours=1))
    limits.unblock(["a"])
    assert limits.check(("a",), "consent", NOON) is None


def test_clients_beyond_the_tracking_cap_pass_uncounted() -> None:
    limits = RateLimiter({"consent": 1, "collect": 1}, offences_to_block=1,
                         block_for=timedelta(minutes=5), max_clients=2)
    for client in ("a", "b"):
        limits.check((client,), "consent", NOON)
    assert [limits.check(("c",), "consent", NOON) for _ in range(5)] == [None] * 5
    assert limits.check(("a",), "consent", NOON) is not None


def test_an_ipv6_client_is_known_by_its_64_and_an_ipv4_mapped_one_as_ipv4() -> None:
    same = client_hash(KEY, "2a02:cfc0:1:2:aaaa::1"), client_hash(KEY, "2a02:cfc0:1:2:bbbb::9")
    assert same[0] == same[1]
    assert client_hash(KEY, "2a02:cfc0:1:3::1") != same[0]
    assert client_hash(KEY, "::ffff:185.130.128.201") == client_hash(KEY, "185.130.128.201")


def test_the_hash_depends_on_the_key_and_holds_nothing_of_the_address() -> None:
    one, other = client_hash(KEY, "185.130.128.201"), client_hash(b"x" * 32, "185.130.128.201")
    assert one != other and len(one) == 32
    assert "185.130" not in one


# --------------------------------------------------------------------------- over HTTP


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
async def strict_gateway(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Gateway]:
    gateway = Gateway(load_config(EXAMPLE_CONFIG, strict_env(tmp_path)), clock=clock)
    await gateway.start()
    yield gateway
    await gateway.stop()


def client_at(gateway: Gateway, address: str) -> httpx.AsyncClient:
    app = ConsentMiddleware(demo_app(), gateway=gateway)
    transport = httpx.ASGITransport(app=app, client=(address, 51000))
    return httpx.AsyncClient(transport=transport, base_url="http://localhost",
                             headers={"User-Agent": FIREFOX_UA})


async def decide(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/_consent/consent", json={"action": "reject_all"})


async def test_a_client_over_the_consent_limit_gets_429_with_retry_after(
    strict_gateway: Gateway,
) -> None:
    async with client_at(strict_gateway, "203.0.113.77") as client:
        statuses = [(await decide(client)).status_code for _ in range(3)]
        refused = await decide(client)
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"] == "too many requests"


async def test_another_client_is_not_held_back_by_one_over_its_limit(
    strict_gateway: Gateway,
) -> None:
    async with client_at(strict_gateway, "203.0.113.77") as noisy, \
            client_at(strict_gateway, "198.51.100.20") as quiet:
        for _ in range(5):
            await decide(noisy)
        assert (await decide(quiet)).status_code == 200


async def test_a_repeat_offender_is_blocked_on_every_worker_by_its_hash_only(
    strict_gateway: Gateway, clock: FrozenClock, tmp_path: Path
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
    other = Gateway(strict_gateway.config, clock=clock)
    await other.start()
    try:
        async with client_at(other, "203.0.113.77") as client:
            assert (await decide(client)).status_code == 429
    finally:
        await other.stop()


async def test_hash_keys_rotate_daily_and_none_outlives_48_hours(
    strict_gateway: Gateway, clock: FrozenClock, tmp_path: Path
) -> None:
    first = await strict_gateway.client_hashes("203.0.113.77")
    clock.advance(days=1)
    second = await strict_gateway.client_hashes("203.0.113.77")
    assert len(first) == 1 and len(second) == 2 and second[1] == first[0] != second[0]
    clock.advance(days=1)
    await strict_gateway.client_hashes("203.0.113.77")
    done = await purge(strict_gateway.store, strict_gateway.config.retention, clock,
                       consent_lifetime=strict_gateway.lifetime)
    days = [row[0] for row in sqlite3.connect(tmp_path / "gateway.sqlite3").execute(
        "SELECT day FROM ip_hash_keys ORDER BY day")]
    assert done["ip_hash_keys"] == 1
    assert days == ["2026-11-22", "2026-11-23"]  # yesterday's and today's, nothing older


async def test_expired_blocks_are_purged(
    strict_gateway: Gateway, clock: FrozenClock
) -> None:
    await strict_gateway.block_address("203.0.113.77", 10)
    clock.advance(minutes=11)
    done = await purge(strict_gateway.store, strict_gateway.config.retention, clock,
                       consent_lifetime=strict_gateway.lifetime)
    assert done["blocklist"] == 1


async def test_the_admin_blocks_and_unblocks_an_address_without_storing_it(
    strict_gateway: Gateway,
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
    strict_gateway: Gateway, body: dict[str, object]
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
