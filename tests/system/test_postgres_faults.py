"""PostgreSQL stopped under load, then started again (a restart mid-run): decisions answer
503 with `Retry-After` and never 200 without a commit; beacons wait in the writer's buffer
up to its cap, then 503; readiness says unavailable while liveness stays up; everything
recovers by itself, and nothing confirmed is lost."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from gateway.core.consent.record import ChainVerifier
from tests.support.fleet import beacon, decide, instance, run, stored, verified, visitor
from tests.support.postgres import PostgresServer

CAP = 100  # analytics.queue_size of the instance (its least)


async def outage(
    base: str, server: PostgresServer
) -> tuple[set[str], int, int, dict[str, int]]:
    """(consent ids confirmed, decisions confirmed, beacons answered 202, health answers)"""
    async with httpx.AsyncClient(timeout=30) as client:
        before = [await decide(client, base) for _ in range(5)]
        assert {a.status_code for a in before} == {200}
        confirmed = {a.json()["consent_id"] for a in before}
        person = await visitor(client, base)
        confirmed.add(person.consent_id)
        committed = len(before) + 1

        await asyncio.to_thread(server.halt)
        during = await asyncio.gather(*(decide(client, base) for _ in range(10)))
        for answer in during:
            assert answer.status_code == 503, answer.text
            assert int(answer.headers["Retry-After"]) > 0
        beacons = [await beacon(client, base, person, f"/down-{i}") for i in range(CAP + 10)]
        statuses = [b.status_code for b in beacons]
        assert statuses[:CAP // 2] == [202] * (CAP // 2)  # buffered
        assert statuses[-1] == 503 and "Retry-After" in beacons[-1].headers  # past the cap
        accepted = statuses.count(202)
        health = {"ready": (await client.get(f"{base}/_consent/health/ready")).status_code,
                  "live": (await client.get(f"{base}/_consent/health/live")).status_code}

        await asyncio.to_thread(server.resume)
        began = time.monotonic()
        while (answer := await decide(client, base)).status_code != 200:
            assert answer.status_code == 503
            assert time.monotonic() - began < 30, "no recovery 30 s after the restart"
            await asyncio.sleep(0.5)
        confirmed.add(answer.json()["consent_id"])
        committed += 1
        health["recovered_ready"] = (
            await client.get(f"{base}/_consent/health/ready")).status_code
        # The buffer drains on the writer's next retry (about a second): then 202 again.
        while (after := await beacon(client, base, person, "/after")).status_code != 202:
            assert after.status_code == 503
            assert time.monotonic() - began < 30, "beacons still refused 30 s after"
            await asyncio.sleep(0.25)
        return confirmed, committed, accepted + 1, health


def test_a_postgresql_restart_under_load_loses_nothing_confirmed(
    tmp_path: Path, postgres_url: str, postgres_control: PostgresServer
) -> None:
    gateway = instance(tmp_path, "a", postgres_url,
                       GATEWAY_ANALYTICS_QUEUE_SIZE=str(CAP),
                       GATEWAY_ANALYTICS_ACCESS_LOG="false").start()
    try:
        confirmed, committed, accepted, health = run(outage(gateway.url, postgres_control))
    finally:
        gateway.stop()
    assert health == {"ready": 503, "live": 200, "recovered_ready": 200}
    ids, events = run(stored(postgres_url))
    assert confirmed <= ids
    assert events == accepted
    walk = run(verified(postgres_url))
    # Every 200 is a record, and no 503 decision slipped into the log either.
    assert isinstance(walk.verdict, ChainVerifier) and walk.verdict.checked == committed
