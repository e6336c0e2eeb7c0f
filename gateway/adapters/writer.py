"""Batched background writes (adapter): analytics events and access-log rows.

Rows wait in a bounded in-memory buffer and are written in one transaction per batch when
`batch_size` rows are waiting, every `flush_interval` seconds, and at shutdown. A full
buffer refuses new rows (the endpoint then answers 503 with `Retry-After`) instead of
dropping any silently; a failed write keeps its rows and is retried. While a failed batch
waits for its retry the writer reports `failing`, so a caller that promises durability can
refuse new rows at once instead of piling them up in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Generic, TypeVar

from gateway.core.errors import StoreError

log = logging.getLogger("consent_gateway")

T = TypeVar("T")
RETRY_DELAY_S: Final = 1.0
# At shutdown: tries after 0, 0.5, 1.5 and 3.5 s. A store still failing then is not coming
# back before a process manager's grace period (Docker: 10 s) ends in SIGKILL.
SHUTDOWN_ATTEMPTS: Final = 4


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
        self._last_write_failed = False
        self.written = 0
        self.refused_since_full = 0
        self.unwritable = 0  # rows left out because writing them raised a bug, not an outage
        self.failed_batches = 0  # batches the store refused (each retried)

    @property
    def waiting(self) -> int:
        """Rows accepted but not yet committed."""
        return len(self._pending) + self._in_flight

    @property
    def failing(self) -> bool:
        """The store refused the last batch, whose rows still wait for a retry."""
        return self._last_write_failed and self.waiting > 0

    def offer(self, row: T) -> bool:
        """Queue one row; False when the buffer is full (nothing was queued). The log gets
        one line when the buffer fills and one when it takes rows again, not one per row."""
        if self.waiting >= self.capacity:
            if self.refused_since_full == 0:
                log.warning("%s: buffer full (%d rows waiting); refusing rows until a batch "
                            "is written", self.name, self.waiting)
            self.refused_since_full += 1
            return False
        if self.refused_since_full:
            log.warning("%s: taking rows again; %d refused while full", self.name,
                        self.refused_since_full)
            self.refused_since_full = 0
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
            if attempt + 1 < SHUTDOWN_ATTEMPTS:
                await asyncio.sleep(RETRY_DELAY_S * 2**attempt / 2)
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
            refused = await self._write_batch(batch)
        finally:
            self._in_flight = 0
        self._last_write_failed = bool(refused)
        # Put refused rows back in front, in order: nothing accepted is lost.
        self._pending.extendleft(reversed(refused))
        return not refused

    async def _write_batch(self, batch: list[T]) -> list[T]:
        """Write the batch; returns the rows to retry because the store refused them."""
        try:
            await self._write(batch)
        except StoreError as exc:
            self.failed_batches += 1
            log.warning("%s: batch of %d not written, will retry: %s", self.name, len(batch), exc)
            return batch
        except Exception:
            log.exception("%s: batch of %d not written (bug?), writing it row by row",
                          self.name, len(batch))
            return await self._write_rows_alone(batch)
        self.written += len(batch)
        return []

    async def _write_rows_alone(self, batch: list[T]) -> list[T]:
        """After an error that is not the store's (a bug), each row on its own: a row that can
        never be written must not hold back every other row for good. It is counted in
        `unwritable` and named in the log by position only, never by content."""
        for position, row in enumerate(batch):
            try:
                await self._write([row])
            except StoreError as exc:
                log.warning("%s: %d rows not written, will retry: %s",
                            self.name, len(batch) - position, exc)
                return batch[position:]
            except Exception as exc:
                self.unwritable += 1
                log.error("%s: row %d of a batch of %d cannot be written, left out (%s)",
                          self.name, position + 1, len(batch), type(exc).__name__)
            else:
                self.written += 1
        return []
