"""Admin authentication: bearer tokens and HTTP Basic users stored only as hashes, checked
without an early exit, failed attempts limited and logged without the secret, and the
optional separate admin listener."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from gateway.adapters.configfile import load_config
from gateway.services.wiring import Services, build_services
from gateway.web.admin.auth import (
    basic_matches,
    basic_user_line,
    new_admin_token,
    token_hash,
    token_matches,
)
from gateway.web.demo import demo_app
from gateway.web.middleware import ConsentMiddleware
from tests.conftest import EXAMPLE_CONFIG, FrozenClock, LiveServer, free_port, gateway_env

TOKEN, TOKEN_HASH = new_admin_token()
PASSWORD = "correct horse battery staple"
ALICE = basic_user_line("alice", PASSWORD)
STATS = "/_consent/admin/stats"


@pytest.fixture
async def admin_gateway(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Services]:
    config = load_config(EXAMPLE_CONFIG, gateway_env(
        tmp_path, GATEWAY_ADMIN_TOKEN_HASHES=TOKEN_HASH, GATEWAY_ADMIN_BASIC_USERS=ALICE,
        GATEWAY_ADMIN_FAILED_PER_MINUTE="3"))
    gateway = build_services(config, clock=clock)
    await gateway.start()
    yield gateway
    await gateway.stop()


def client_at(gateway: Services, address: str = "203.0.113.9") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=ConsentMiddleware(demo_app(), services=gateway),
                                    client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://localhost")


def basic(name: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"Authorization": "Bearer not-the-token"}, 401),
    ({"Authorization": f"bearer {TOKEN}"}, 200),
    (BEARER, 200),
    (basic("alice", PASSWORD), 200),
    (basic("alice", "wrong"), 401),
    (basic("mallory", PASSWORD), 401),
    ({"Authorization": "Basic !!!not-base64"}, 401),
    ({"Authorization": "Digest whatever"}, 401),
])
async def test_only_a_valid_token_or_user_gets_in(
    admin_gateway: Services, headers: dict[str, str], status: int
) -> None:
    async with client_at(admin_gateway) as client:
        response = await client.get(STATS, headers=headers)
    assert response.status_code == status, response.text
    if status == 401:
        assert response.json()["error"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Basic realm=")


async def test_failed_attempts_are_limited_and_then_even_the_right_token_waits(
    admin_gateway: Services,
) -> None:
    async with client_at(admin_gateway) as attacker, client_at(admin_gateway, "198.51.100.7") \
            as admin:
        statuses = [(await attacker.get(STATS, headers=basic("alice", f"guess{n}"))).status_code
                    for n in range(5)]
        late = await attacker.get(STATS, headers=BEARER)
        elsewhere = await admin.get(STATS, headers=BEARER)
    assert statuses == [401, 401, 401, 429, 429]
    assert late.status_code == 429 and int(late.headers["retry-after"]) <= 60
    assert elsewhere.status_code == 200


async def test_failures_are_logged_without_the_secret_or_the_address(
    admin_gateway: Services, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="consent_gateway"):
        async with client_at(admin_gateway) as client:
            await client.get(STATS, headers=basic("alice", "hunter2-secret"))
            await client.get(STATS, headers={"Authorization": "Bearer leaked-token-value"})
    text = caplog.text
    assert "authentication failed (wrong user name or password)" in text
    assert "authentication failed (wrong bearer token)" in text
    for secret in ("hunter2-secret", "leaked-token-value", "203.0.113"):
        assert secret not in text


def test_the_basic_user_line_holds_no_password() -> None:
    assert PASSWORD not in ALICE and ALICE.startswith("alice:scrypt:")
    assert basic_matches("alice", PASSWORD, (ALICE,))
    assert not basic_matches("alice", PASSWORD + "x", (ALICE,))


def fastest(check: Callable[[], object], rounds: int = 7, repeat: int = 200) -> float:
    """The least time of several rounds: the cost of the work itself, with the noise of a
    shared machine mostly removed."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(repeat):
            check()
        best = min(best, time.perf_counter() - started)
    return best


def test_a_token_is_compared_with_every_hash_whichever_matches() -> None:
    tokens = [f"token-{n}-" + "x" * 40 for n in range(200)]
    hashes = tuple(token_hash(t) for t in tokens)
    first = fastest(lambda: token_matches(tokens[0], hashes))
    last = fastest(lambda: token_matches(tokens[-1], hashes))
    none = fastest(lambda: token_matches("no-such-token", hashes))
    # An early exit would make the first match ~200x faster than the last.
    assert 0.6 < first / last < 1.6, (first, last)
    assert 0.6 < none / last < 1.6, (none, last)


def test_an_unknown_user_costs_the_same_scrypt_as_a_known_one() -> None:
    users = (ALICE,)
    known = fastest(lambda: basic_matches("alice", "wrong", users), rounds=3, repeat=5)
    unknown = fastest(lambda: basic_matches("mallory", "wrong", users), rounds=3, repeat=5)
    assert 0.6 < known / unknown < 1.6, (known, unknown)


def test_with_an_admin_listener_the_admin_routes_exist_only_there(tmp_path: Path) -> None:
    admin_port = free_port()
    server = LiveServer(tmp_path, env={
        "GATEWAY_ADMIN_TOKEN_HASHES": TOKEN_HASH,
        "GATEWAY_SERVER_ADMIN_LISTEN": f"127.0.0.1:{admin_port}",
    }).start()
    try:
        public = httpx.get(server.url + STATS, headers=BEARER, timeout=10)
        private = httpx.get(f"http://127.0.0.1:{admin_port}{STATS}", headers=BEARER, timeout=10)
        site_on_admin = httpx.get(f"http://127.0.0.1:{admin_port}/", timeout=10)
        site_on_public = httpx.get(server.url + "/", timeout=10)
    finally:
        server.stop()
    assert public.status_code == 404
    assert private.status_code == 200 and "totals" in private.json()
    assert site_on_admin.status_code == 404
    assert site_on_public.status_code == 200
