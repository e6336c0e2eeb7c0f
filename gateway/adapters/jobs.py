"""Background jobs (adapter): the retention purge, at start and every interval: old events,
access-log rows and bot counts, consent records to tombstones, expired hash keys and blocks.

Deletes in batches, each its own short transaction, so requests keep being served while a
large backlog goes; then gives the space back to the file system.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Final, Protocol

from gateway.adapters.clock import Clock
from gateway.adapters.store import AbuseStore, RetentionStore
from gateway.core.config import RetentionConfig
from gateway.core.errors import StoreError
from gateway.core.retention import TABLES, Purged, cutoffs

log = logging.getLogger("consent_gateway")
PAUSE_BETWEEN_BATCHES_S: Final = 0.01


class PurgedStore(RetentionStore, AbuseStore, Protocol):
    """What the purge needs: the retention deletes, and the expired hash keys and blocks."""


async def purge(
    store: PurgedStore,
    policy: RetentionConfig,
    clock: Clock,
    *,
    consent_lifetime: timedelta,
    dry_run: bool = False,
    stopping: Callable[[], bool] = lambda: False,
) -> dict[Purged, int]:
    """Delete (or with `dry_run` only count) what the policy says is due, per table;
    `stopping` is asked between batches so a shutdown need not wait for a whole backlog."""
    due = cutoffs(clock(), policy, consent_lifetime=consent_lifetime)
    done: dict[Purged, int] = {}
    for table in TABLES:
        done[table] = await _in_batches(
            partial(store.purge_before, table, due.of(table), policy.batch_size),
            count=partial(store.count_before, table, due.of(table)),
            dry_run=dry_run, stopping=stopping,
        )
    done["consent_log"] = await _in_batches(
        partial(store.tombstone_consents, due.consents, policy.batch_size),
        count=partial(store.count_due_consents, due.consents),
        dry_run=dry_run, stopping=stopping,
    )
    if not dry_run:
        done["ip_hash_keys"] = await store.delete_ip_hash_keys_before(due.oldest_key_day)
        done["blocklist"] = await store.purge_blocklist(due.now)
        if any(done.values()):
            await store.reclaim_space()
    return done


async def _in_batches(
    delete_batch: Callable[[], Awaitable[int]],
    *,
    count: Callable[[], Awaitable[int]],
    dry_run: bool,
    stopping: Callable[[], bool],
) -> int:
    if dry_run:
        return await count()
    total = 0
    while not stopping() and (gone := await delete_batch()) > 0:
        total += gone
        await asyncio.sleep(PAUSE_BETWEEN_BATCHES_S)  # let waiting writes in
    return total


class RetentionJob:
    def __init__(
        self, store: PurgedStore, policy: RetentionConfig, clock: Clock, *,
        consent_lifetime: timedelta,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.consent_lifetime = consent_lifetime
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        # For the metrics: when this process last purged, and what its purges removed.
        self.last_run: datetime | None = None
        self.removed: Counter[str] = Counter()

    def start(self) -> None:
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        """Not a cancel: a delete cut off mid-transaction could leave the connection in it.
        The job finishes its current batch and returns."""
        if self._task is not None:
            self._stop.set()
            await self._task
            self._task = None

    async def _run(self) -> None:
        # Several instances on one database: one of them purges per interval (a little
        # less than it, so the claims of a steady fleet do not drift past each other).
        every = timedelta(minutes=self.policy.interval_minutes * 0.9)
        while not self._stop.is_set():
            try:
                if await self.store.claim_retention_run(self.clock(), every):
                    self.last_run = self.clock()
                    done = await purge(self.store, self.policy, self.clock,
                                       consent_lifetime=self.consent_lifetime,
                                       stopping=self._stop.is_set)
                    self.removed.update({str(table): n for table, n in done.items()})
                    if any(done.values()):
                        log.info("retention: deleted %s", done)
            except StoreError as exc:
                log.warning("retention purge failed, will retry: %s", exc)
            except Exception:  # a bug must not end retention for the life of the process
                log.exception("retention purge failed, will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.policy.interval_minutes * 60)
