"""Two gateway instances (separate `serve` processes and data folders) on one PostgreSQL,
under concurrent decisions and beacons: every confirmed consent is in the one chain and it
verifies, every 202 is stored, an erasure on one instance revokes the consent on the other
within seconds, and the retention purge runs on one of them only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.core.consent.record import ChainVerifier
from tests.conftest import LiveServer
from tests.support.fleet import (
    ADMIN_TOKEN,
    beacon,
    decide,
    instance,
    run,
    stored,
    verified,
    visitor,
)

DECISIONS = 120
VISITORS = 20
BEACONS_EACH = 5


@pytest.fixture
def fleet(tmp_path: Path, postgres_url: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    first = instance(tmp_path, "a", postgres_url).start()
    try:
        second = instance(tmp_path, "b", postgres_url).start()
    except BaseException:
        first.stop()
        raise
    yield first, second
    first.stop()
    second.stop()


async def load(bases: tuple[str, str]) -> tuple[set[str], int]:
    """Decisions on both at once, and visitors who decided on one beaconing to both."""
    async with httpx.AsyncClient(timeout=30) as client:
        answers = await asyncio.gather(*(
            decide(client, bases[i % 2], ("accept_all", "reject_all")[i % 3 == 0])
            for i in range(DECISIONS)))
        assert {a.status_code for a in answers} == {200}
        confirmed = {a.json()["consent_id"] for a in answers}
        people = await asyncio.gather(*(visitor(client, bases[i % 2]) for i in range(VISITORS)))
        confirmed |= {p.consent_id for p in people}
        beacons = await asyncio.gather(*(
            beacon(client, bases[(i + j) % 2], person, f"/page-{j}")
            for i, person in enumerate(people) for j in range(BEACONS_EACH)))
        accepted = [b for b in beacons
                    if b.status_code == 202 and "X-Consent-Dropped" not in b.headers]
        assert len(accepted) == VISITORS * BEACONS_EACH, {b.text for b in beacons}
        return confirmed, len(accepted)


def test_two_instances_share_one_chain_and_store_every_beacon(
    fleet: tuple[LiveServer, LiveServer], postgres_url: str
) -> None:
    first, second = fleet
    confirmed, accepted = run(load((first.url, second.url)))
    first.stop()  # each flushes its writers on the way out
    second.stop()
    ids, events = run(stored(postgres_url))
    assert confirmed <= ids
    assert events == accepted
    walk = run(verified(postgres_url))
    assert isinstance(walk.verdict, ChainVerifier)
    assert walk.verdict.checked == walk.head.seq == DECISIONS + VISITORS


def retention_ran(server: LiveServer) -> bool:
    answer = httpx.get(f"{server.url}/_consent/metrics",
                       headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
    assert answer.status_code == 200
    return "consent_gateway_retention_last_run_timestamp_seconds" in answer.text


def test_an_erasure_on_one_instance_revokes_the_consent_on_the_other(
    fleet: tuple[LiveServer, LiveServer],
) -> None:
    first, second = fleet

    async def scenario() -> float:
        async with httpx.AsyncClient(timeout=30) as client:
            person = await visitor(client, first.url)
            assert "X-Consent-Dropped" not in (await beacon(client, second.url, person)).headers
            erased = await client.delete(f"{second.url}/_consent/me",
                                         headers={"Cookie": person.cookie,
                                                  "Origin": second.url})
            assert erased.status_code == 200 and erased.json()["withdrawn"]
            began = time.monotonic()
            while time.monotonic() - began < 15:
                answer = await beacon(client, first.url, person)
                if answer.headers.get("X-Consent-Dropped") == "no_consent":
                    return time.monotonic() - began
                await asyncio.sleep(0.25)
            raise AssertionError("the erasure did not reach the other instance in 15 s")

    assert run(scenario()) < 10
    # Both started within seconds of each other: one purged, the other found it claimed.
    assert [retention_ran(first), retention_ran(second)].count(True) == 1
