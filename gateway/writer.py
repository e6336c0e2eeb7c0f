"""Batched background writes (adapter): analytics events and access-log rows.

Rows wait in a bounded in-memory buffer and are written in one transaction per batch when
`batch_size` rows are waiting, every `flush_interval` seconds, and at shutdown. A full
buffer refuses new rows (the endpoint then answers 503 with `Retry-After`) instead of
dropping any silently; a failed write keeps its rows and is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Generic, TypeVar

from gateway.errors import StoreError

log = logging.getLogger("consent_gateway")

T = TypeVar("T")
RETRY_DELAY_S: Final = 1.0
SHUTDOWN_ATTEMPTS: Final = 5


class BatchWriter(Generic[T]):
    def __init__(
        self,
        name: str,
        write: Callable[[Sequence[T]], Awaitable[None]],
        *,
        batch_size: int,
        flush_interval: float,
        capacity: int,
    ) -> None:
        self.name = name
        self._write = write
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.capacity = capacity
        self._pending: deque[T] = deque()
        self._in_flight = 0
        # Held while a batch is out of the buffer: `discard` then sees every waiting row.
        self._batch_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.written = 0

    @property
    def waiting(self) -> int:
        """Rows accepted but not yet committed."""
        return len(self._pending) + self._in_flight

    def offer(self, row: T) -> bool:
        """Queue one row; False when the buffer is full (nothing was queued)."""
        if self.waiting >= self.capacity:
            return False
        self._pending.append(row)
        if len(self._pending) == self.batch_size:  # crossing, not every row past it
            self._wake.set()
        return True

    def start(self) -> None:
        if self._task is None:
            self._stopping = False  # started again after a stop (the gateway starts lazily)
            self._task = asyncio.create_task(self._run(), name=f"writer:{self.name}")

    async def stop(self) -> None:
        """Write everything still waiting; called at shutdown, after the last request."""
        if self._task is not None:
            # Not cancelled: a batch cut off mid-write might be committed yet look unwritten.
            self._stopping = True
            self._wake.set()
            await self._task
            self._task = None
        for attempt in range(SHUTDOWN_ATTEMPTS):
            if await self.flush():
                return
            await asyncio.sleep(RETRY_DELAY_S * (attempt + 1))
        log.error("%s: %d rows could not be written at shutdown", self.name, self.waiting)

    async def flush(self) -> bool:
        """Write every waiting row in batches; False if the store refused one."""
        while self._pending:
            if not await self._write_one_batch():
                return False
        return True

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            if not self._stopping and not await self.flush():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), RETRY_DELAY_S)

    async def discard(self, unwanted: Callable[[T], bool]) -> int:
        """Drop waiting rows (an erasure); returns how many. A batch being written at the
        moment is committed first, so afterwards the store holds every row not dropped."""
        async with self._batch_lock:
            kept = deque(row for row in self._pending if not unwanted(row))
            dropped = len(self._pending) - len(kept)
            self._pending = kept
        return dropped

    async def _write_one_batch(self) -> bool:
        async with self._batch_lock:
            return await self._write_locked()

    async def _write_locked(self) -> bool:
        count = min(self.batch_size, len(self._pending))
        batch = [self._pending.popleft() for _ in range(count)]
        self._in_flight = count
        try:
            await self._write(batch)
        except Exception as exc:
            # Put the rows back in front, in order: nothing accepted is lost.
            self._pending.extendleft(reversed(batch))
            if isinstance(exc, StoreError):
                log.warning("%s: batch of %d not written, will retry: %s", self.name, count, exc)
            else:
                log.exception("%s: batch of %d not written (bug?), will retry", self.name, count)
            return False
        finally:
            self._in_flight = 0
        self.written += count
        return True
