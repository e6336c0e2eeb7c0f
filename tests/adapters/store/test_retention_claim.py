"""`claim_retention_run`: on PostgreSQL one instance per interval purges (two stores on one
database stand for two instances); SQLite lets every worker purge."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from gateway.adapters.store.postgres import PostgresStore
from gateway.adapters.store.sqlite import SQLiteStore
from tests.adapters.store.conftest import MakeStore

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def test_one_of_two_instances_claiming_at_once_gets_the_run(make_store: MakeStore) -> None:
    first, second = make_store(), make_store()
    await first.open()
    await second.open()
    try:
        claims = await asyncio.gather(*(s.claim_retention_run(NOW, HOUR)
                                        for s in (first, second, first, second)))
        later = await second.claim_retention_run(NOW + HOUR / 2, HOUR)
        next_round = await second.claim_retention_run(NOW + HOUR, HOUR)
    finally:
        await first.close()
        await second.close()
    if isinstance(first, SQLiteStore):
        assert claims == [True] * 4 and later and next_round
        return
    assert isinstance(first, PostgresStore)
    assert claims.count(True) == 1
    assert not later  # within the interval: already done by the other instance
    assert next_round
