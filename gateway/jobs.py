"""Background jobs (adapter): the retention purge, at start and every interval.

Deletes in batches, each its own short transaction, so requests keep being served while a
large backlog goes; then gives the space back to the file system.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from gateway.clock import Clock
from gateway.config import RetentionConfig
from gateway.errors import StoreError
from gateway.retention import TABLES, Table, cutoffs
from gateway.store import Store

log = logging.getLogger("consent_gateway")
PAUSE_BETWEEN_BATCHES_S: Final = 0.01


async def purge(
    store: Store,
    policy: RetentionConfig,
    clock: Clock,
    *,
    dry_run: bool = False,
    stopping: Callable[[], bool] = lambda: False,
) -> dict[Table, int]:
    """Delete (or with `dry_run` only count) what the policy says is due, per table;
    `stopping` is asked between batches so a shutdown need not wait for a whole backlog."""
    due = cutoffs(clock(), policy)
    done: dict[Table, int] = {}
    for table in TABLES:
        if dry_run:
            done[table] = await store.count_before(table, due.of(table))
            continue
        done[table] = 0
        while not stopping() and (
            gone := await store.purge_before(table, due.of(table), policy.batch_size)
        ) > 0:
            done[table] += gone
            await asyncio.sleep(PAUSE_BETWEEN_BATCHES_S)  # let waiting writes in
    if not dry_run and any(done.values()):
        await store.reclaim_space()
    return done


class RetentionJob:
    def __init__(self, store: Store, policy: RetentionConfig, clock: Clock) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

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
        while not self._stop.is_set():
            try:
                done = await purge(self.store, self.policy, self.clock,
                                   stopping=self._stop.is_set)
                if any(done.values()):
                    log.info("retention: deleted %s", done)
            except StoreError as exc:
                log.warning("retention purge failed, will retry: %s", exc)
            except Exception:  # a bug must not end retention for the life of the process
                log.exception("retention purge failed, will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.policy.interval_minutes * 60)
