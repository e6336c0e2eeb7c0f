"""The batch writer (gateway/adapters/writer.py): rows are written in order, in batches, when a
batch is full, on a timer and at shutdown; a full buffer refuses rows instead of losing them,
and a store outage delays rows without losing or repeating any."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

import pytest

from gateway.adapters import writer as writer_module
from gateway.adapters.writer import BatchWriter
from gateway.core.errors import StoreError

LONG = 60.0  # a flush interval no test waits for
SHORT = 0.05


class FakeStore:
    """Records the batches it is given; can fail a number of times and can hold a write
    open until `release` is set."""

    def __init__(self, *, failures: int = 0, hold: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.failures = failures
        self.attempts = 0
        self.writing = asyncio.Event()
        self.changed = asyncio.Condition()
        self.release = asyncio.Event()
        if not hold:
            self.release.set()

    async def write(self, rows: Sequence[int]) -> None:
        self.attempts += 1
        self.writing.set()
        await self.release.wait()
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("database is locked")
        async with self.changed:
            self.batches.append(list(rows))
            self.changed.notify_all()

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait until a write makes `condition()` hold; TimeoutError after two seconds."""
        async with asyncio.timeout(2.0), self.changed:
            await self.changed.wait_for(condition)

    @property
    def rows(self) -> list[int]:
        return [row for batch in self.batches for row in batch]


MakeWriter = Callable[..., BatchWriter[int]]


@pytest.fixture
async def make_writer() -> AsyncIterator[MakeWriter]:
    """Writers on a fake store; any still running are stopped after the test."""
    made: list[BatchWriter[int]] = []

    def make(
        store: FakeStore,
        *,
        batch_size: int = 3,
        flush_interval: float = LONG,
        capacity: int = 100,
    ) -> BatchWriter[int]:
        writer = BatchWriter[int](
            "test", store.write,
            batch_size=batch_size, flush_interval=flush_interval, capacity=capacity,
        )
        made.append(writer)
        return writer

    yield make
    for writer in made:  # a test that failed half-way may leave a task running
        if writer._task is not None:
            writer._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer._task


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "RETRY_DELAY_S", 0.01)


def offer_all(writer: BatchWriter[int], rows: range) -> None:
    for row in rows:
        assert writer.offer(row)


# ------------------------------------------------------------------ when rows are written


async def test_waiting_rows_are_written_in_batches_of_batch_size_in_the_order_offered(
    make_writer: MakeWriter,
) -> None:
    store = FakeStore()
    writer = make_writer(store, batch_size=3)
    writer.start()
    offer_all(writer, range(7))
    await store.until(lambda: len(store.rows) == 7)
    assert store.batches == [[0, 1, 2], [3, 4, 5], [6]]


async def test_a_full_batch_is_written_without_waiting_for_the_flush_interval(
    make_writer: MakeWriter,
) -> None:
    store = FakeStore()
    writer = make_writer(store, batch_size=3, flush_interval=LONG)
    writer.start()
    offer_all(writer, range(3))
    await store.until(lambda: store.batches == [[0, 1, 2]])


async def test_a_partial_batch_waits_for_the_flush_interval(make_writer: MakeWriter) -> None:
    store = FakeStore()
    writer = make_writer(store, batch_size=10, flush_interval=LONG)
    writer.start()
    offer_all(writer, range(3))
    await asyncio.sleep(SHORT * 2)
    assert store.batches == []


async def test_a_partial_batch_is_written_once_the_flush_interval_has_passed(
    make_writer: MakeWriter,
) -> None:
    store = FakeStore()
    writer = make_writer(store, batch_size=10, flush_interval=SHORT)
    writer.start()
    offer_all(writer, range(3))
    await store.until(lambda: store.batches == [[0, 1, 2]])


# ------------------------------------------------------------------ a full buffer


async def test_offer_refuses_a_row_when_capacity_rows_are_waiting(
    make_writer: MakeWriter,
) -> None:
    writer = make_writer(FakeStore(), capacity=3)
    offer_all(writer, range(3))
    assert writer.offer(3) is False


async def test_a_refused_row_is_not_queued(make_writer: MakeWriter) -> None:
    store = FakeStore()
    writer = make_writer(store, capacity=3)
    offer_all(writer, range(3))
    writer.offer(99)
    await writer.stop()
    assert store.rows == [0, 1, 2]


async def test_a_row_is_accepted_again_once_the_buffer_has_been_written(
    make_writer: MakeWriter,
) -> None:
    writer = make_writer(FakeStore(), capacity=3)
    offer_all(writer, range(3))
    assert await writer.flush()
    assert writer.offer(3) is True


# ------------------------------------------------------------------ shutdown


async def test_stop_writes_every_row_still_waiting(make_writer: MakeWriter) -> None:
    store = FakeStore()
    writer = make_writer(store, batch_size=3, flush_interval=LONG)
    writer.start()
    offer_all(writer, range(2))  # not a full batch: only shutdown writes it
    await asyncio.sleep(SHORT)  # the writer is now waiting out its flush interval
    await asyncio.wait_for(writer.stop(), 2)
    assert store.rows == [0, 1]


async def test_stop_of_a_writer_never_started_still_writes_its_rows(
    make_writer: MakeWriter,
) -> None:
    store = FakeStore()
    writer = make_writer(store, batch_size=3)
    offer_all(writer, range(5))
    await writer.stop()
    assert store.batches == [[0, 1, 2], [3, 4]]


async def test_stop_while_a_write_is_in_progress_neither_loses_nor_repeats_rows(
    make_writer: MakeWriter,
) -> None:
    store = FakeStore(hold=True)
    writer = make_writer(store, batch_size=2, flush_interval=LONG)
    writer.start()
    offer_all(writer, range(2))
    await asyncio.wait_for(store.writing.wait(), 2)
    offer_all(writer, range(2, 5))  # arrive while the first batch is being written
    stopping = asyncio.create_task(writer.stop())
    await asyncio.sleep(SHORT)
    assert not stopping.done()  # stop waits for the write in progress
    store.release.set()
    await asyncio.wait_for(stopping, 2)
    assert store.rows == [0, 1, 2, 3, 4]


async def test_a_writer_started_again_after_stop_writes_full_batches_again(
    make_writer: MakeWriter,
) -> None:
    store = FakeStore()
    writer = make_writer(store, batch_size=2, flush_interval=LONG)
    writer.start()
    await writer.stop()
    writer.start()  # the gateway starts again lazily on a request after a shutdown
    offer_all(writer, range(2))
    await store.until(lambda: store.batches == [[0, 1]])


async def test_stop_keeps_trying_a_failing_store_until_it_writes_the_rows(
    make_writer: MakeWriter, quick_retries: None
) -> None:
    store = FakeStore(failures=2)
    writer = make_writer(store, batch_size=3)
    offer_all(writer, range(4))
    await writer.stop()
    assert store.rows == [0, 1, 2, 3]


# ------------------------------------------------------------------ store failures


async def test_rows_of_a_failed_write_are_still_waiting(make_writer: MakeWriter) -> None:
    writer = make_writer(FakeStore(failures=1), batch_size=3)
    offer_all(writer, range(4))
    assert await writer.flush() is False
    assert writer.waiting == 4


async def test_rows_of_a_failed_write_are_written_in_order_once_the_store_recovers(
    make_writer: MakeWriter,
) -> None:
    store = FakeStore(failures=2)
    writer = make_writer(store, batch_size=3)
    offer_all(writer, range(5))
    outcomes = [await writer.flush() for _ in range(3)]
    assert outcomes == [False, False, True]
    assert store.batches == [[0, 1, 2], [3, 4]]


async def test_the_running_writer_retries_a_failed_write_without_losing_or_repeating_rows(
    make_writer: MakeWriter, quick_retries: None
) -> None:
    store = FakeStore(failures=3)
    writer = make_writer(store, batch_size=2, flush_interval=SHORT)
    writer.start()
    offer_all(writer, range(5))
    await store.until(lambda: len(store.rows) == 5)
    assert store.rows == [0, 1, 2, 3, 4]
    assert store.attempts > 3


async def test_a_failed_write_does_not_count_as_written(make_writer: MakeWriter) -> None:
    writer = make_writer(FakeStore(failures=1), batch_size=3)
    offer_all(writer, range(3))
    await writer.flush()
    assert writer.written == 0


async def test_the_writer_is_failing_while_the_rows_of_a_failed_write_wait(
    make_writer: MakeWriter,
) -> None:
    writer = make_writer(FakeStore(failures=1), batch_size=3)
    offer_all(writer, range(2))
    assert writer.failing is False
    await writer.flush()
    assert writer.failing is True  # the endpoint refuses new events now (503)


async def test_the_writer_stops_failing_once_the_store_takes_the_rows(
    make_writer: MakeWriter,
) -> None:
    writer = make_writer(FakeStore(failures=1), batch_size=3)
    offer_all(writer, range(2))
    await writer.flush()
    assert await writer.flush() is True
    assert writer.failing is False


async def test_stop_gives_up_on_a_store_that_keeps_failing_and_says_how_many_rows(
    make_writer: MakeWriter, quick_retries: None, caplog: pytest.LogCaptureFixture
) -> None:
    store = FakeStore(failures=100)
    writer = make_writer(store, batch_size=3)
    offer_all(writer, range(4))
    await asyncio.wait_for(writer.stop(), 2)
    assert store.attempts == writer_module.SHUTDOWN_ATTEMPTS
    assert "test: 4 rows could not be written at shutdown" in caplog.text


# ------------------------------------------------------------------ waiting


async def test_waiting_counts_rows_being_written(make_writer: MakeWriter) -> None:
    store = FakeStore(hold=True)
    writer = make_writer(store, batch_size=2)
    offer_all(writer, range(3))
    flushing = asyncio.create_task(writer.flush())
    await asyncio.wait_for(store.writing.wait(), 2)
    assert writer.waiting == 3  # two in flight, one queued
    store.release.set()
    await flushing


async def test_rows_being_written_still_count_against_the_capacity(
    make_writer: MakeWriter,
) -> None:
    store = FakeStore(hold=True)
    writer = make_writer(store, batch_size=2, capacity=2)
    offer_all(writer, range(2))
    flushing = asyncio.create_task(writer.flush())
    await asyncio.wait_for(store.writing.wait(), 2)
    assert writer.offer(2) is False
    store.release.set()
    await flushing


async def test_nothing_is_waiting_once_every_row_is_written(make_writer: MakeWriter) -> None:
    writer = make_writer(FakeStore(), batch_size=2)
    offer_all(writer, range(3))
    await writer.flush()
    assert (writer.waiting, writer.written) == (0, 3)


# ------------------------------------------------------------------ a row that can never be written


class PoisonedStore(FakeStore):
    """Raises a bug-class error (not a `StoreError`) for any write holding `poison`, as
    SQLite's driver does for a string it cannot encode."""

    def __init__(self, poison: int, *, outage_after: int | None = None) -> None:
        super().__init__()
        self.poison = poison
        self.outage_after = outage_after  # attempts after which the store goes down once

    async def write(self, rows: Sequence[int]) -> None:
        if self.outage_after is not None and self.attempts == self.outage_after:
            self.outage_after = None
            self.attempts += 1
            raise StoreError("disk I/O error")
        if self.poison in rows:
            self.attempts += 1
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        await super().write(rows)


async def test_one_unwritable_row_does_not_hold_back_the_rest_of_its_batch(
    make_writer: MakeWriter, caplog: pytest.LogCaptureFixture
) -> None:
    store = PoisonedStore(poison=4)
    writer = make_writer(store, batch_size=3)
    offer_all(writer, range(9))
    assert await writer.flush() is True
    assert store.rows == [0, 1, 2, 3, 5, 6, 7, 8]
    assert (writer.written, writer.unwritable, writer.waiting) == (8, 1, 0)
    assert writer.failing is False
    assert "row 2 of a batch of 3 cannot be written, left out (UnicodeEncodeError)" in caplog.text


async def test_an_outage_while_writing_row_by_row_keeps_the_rows_not_yet_written(
    make_writer: MakeWriter,
) -> None:
    # Attempts: the batch (poisoned), row 3 (written), then the outage on row 4.
    store = PoisonedStore(poison=4, outage_after=2)
    writer = make_writer(store, batch_size=3)
    offer_all(writer, range(3, 6))
    assert await writer.flush() is False
    assert (store.rows, writer.waiting, writer.failing) == ([3], 2, True)
    assert await writer.flush() is True
    assert store.rows == [3, 5]
    assert (writer.written, writer.unwritable) == (2, 1)
