"""The store's failures, on every engine: each says what failed. Real databases; the failure
is a table dropped behind the store's back, a file that is not a database or a server that
does not answer, a value the database cannot take."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.adapters.store import Store
from gateway.adapters.store.postgres import PostgresStore
from gateway.adapters.store.sqlite import SQLiteStore
from gateway.core.analytics.events import AccessLogEntry, AnalyticsEvent
from gateway.core.consent.export import ConsentFilter
from gateway.core.consent.record import ConsentDraft
from gateway.core.enforcement.cookies import SeenCookie
from gateway.core.errors import StoreError
from gateway.core.retention import ConsentCutoffs
from tests.adapters.store.conftest import driver_error, missing_table_message, raw_sql
from tests.conftest import free_port

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
DAY = date(2026, 11, 21)
DUE = ConsentCutoffs(ended_before=NOW, given_before=NOW)

DRAFT = ConsentDraft(
    recorded_at=NOW, consent_id="AAAAAAAAAAAAAAAAAAAAAA", site="demo", action="accept_all",
    source="banner", granted=("necessary", "analytics"), denied=(), revision=1,
    banner_hash="b" * 64, language="en", ip="81.2.69.0", user_agent="Firefox / Ubuntu",
    page="/", gpc=False,
)
EVENT = AnalyticsEvent(site="demo", ts=NOW, visitor="v" * 16, type="pageview", path="/")
COOKIE = SeenCookie("demo", "_ga", "analytics", NOW, NOW, 1, "/", "", False)


def access(path: str = "/") -> AccessLogEntry:
    return AccessLogEntry(ts=NOW, site="demo", method="GET", path=path, status=200,
                          duration_ms=1.5, ip="81.2.69.0", browser="Firefox")


async def first(items: AsyncIterator[Any]) -> Any:
    return await anext(items, None)


Call = Callable[[Store], Awaitable[Any]]

# (table dropped behind the store's back, the call, what the error must say failed)
FAILURES: list[tuple[str, Call, str]] = [
    ("consent_log", lambda s: s.append_consent(DRAFT), "could not record consent"),
    ("consent_log", lambda s: first(s.iter_consents()), "cannot read the consent log"),
    ("consent_log", lambda s: first(s.iter_consent_pages(ConsentFilter(), up_to_seq=1)),
     "cannot read the consent log"),
    ("consent_log", lambda s: s.consent_history(DRAFT.consent_id),
     "cannot read the history of a consent id"),
    ("consent_log", lambda s: s.erasures_after(0), "cannot read the erasures in the consent log"),
    ("consent_log", lambda s: s.consent_decisions("demo", NOW, NOW),
     "cannot count the consent decisions"),
    ("consent_chain_head", lambda s: s.chain_head(), "cannot read the chain head"),
    ("analytics_events", lambda s: s.add_events([EVENT]), "could not write analytics events"),
    ("analytics_events", lambda s: first(s.iter_events()), "cannot read analytics events"),
    ("analytics_events", lambda s: s.erase_events("v" * 16), "could not erase analytics events"),
    ("bot_counts", lambda s: s.add_bot_counts({("demo", DAY): 1}),
     "could not write the bot counts"),
    ("bot_counts", lambda s: s.bot_counts("demo", DAY, DAY), "cannot read the bot counts"),
    ("access_log", lambda s: s.add_access_log([access()]), "could not write the access log"),
    ("ip_hash_keys", lambda s: s.ip_hash_key(DAY), "could not create the day's IP hash key"),
    ("ip_hash_keys", lambda s: s.ip_hash_key(DAY, create=False), "cannot read the IP hash key"),
    ("ip_hash_keys", lambda s: s.delete_ip_hash_keys_before(DAY),
     "could not delete old IP hash keys"),
    ("blocklist", lambda s: s.block_client("c" * 16, NOW, "admin"),
     "could not add a client to the blocklist"),
    ("blocklist", lambda s: s.unblock_client(["c" * 16]),
     "could not remove clients from the blocklist"),
    ("blocklist", lambda s: s.active_blocks(NOW), "cannot read the blocklist"),
    ("blocklist", lambda s: s.purge_blocklist(NOW), "could not delete ended blocks"),
    ("cookie_inventory", lambda s: s.record_cookies([COOKIE]),
     "could not write the cookie inventory"),
    ("cookie_inventory", lambda s: s.cookie_inventory(), "cannot read the cookie inventory"),
    ("access_log", lambda s: s.count_rows("access_log"), "cannot count the rows of access_log"),
    ("bot_counts", lambda s: s.purge_before("bot_counts", NOW, 10),
     "could not delete old rows of bot_counts"),
    ("analytics_events", lambda s: s.count_before("analytics_events", NOW),
     "cannot count the old rows of analytics_events"),
    ("consent_log", lambda s: s.tombstone_consents(DUE, 10),
     "could not reduce consent records to tombstones"),
    ("consent_log", lambda s: s.count_due_consents(DUE),
     "cannot count the consent records due for tombstones"),
]


async def drop_table(store: Store, table: str) -> None:
    await raw_sql(store, f"DROP TABLE {table}")


@pytest.mark.parametrize(("table", "call", "failed"), FAILURES,
                         ids=[failed for _, _, failed in FAILURES])
async def test_a_failing_operation_raises_a_store_error_naming_what_failed(
    store: Store, table: str, call: Call, failed: str
) -> None:
    await drop_table(store, table)
    with pytest.raises(StoreError) as raised:
        await call(store)
    assert re.fullmatch(rf"{re.escape(failed)}: {missing_table_message(store, table)}",
                        str(raised.value))
    assert isinstance(raised.value.__cause__, driver_error(store))


async def test_a_failed_write_keeps_nothing_and_the_store_keeps_working(store: Store) -> None:
    await drop_table(store, "consent_chain_head")  # the append's head statement fails
    with pytest.raises(StoreError, match=r"^could not record consent: "):
        await store.append_consent(DRAFT)
    assert [entry async for entry in store.iter_consents()] == []
    await store.add_access_log([access()])
    assert await store.count_rows("access_log") == 1


async def test_a_file_that_is_not_a_database_cannot_be_opened_and_names_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gateway.sqlite3"
    path.write_bytes(b"this is not an SQLite database\n" * 512)
    store = SQLiteStore(path)
    with pytest.raises(StoreError, match=f"^cannot open database {re.escape(str(path))}: "):
        await store.open()
    with pytest.raises(StoreError, match=r"^store is not open$"):  # nothing left half open
        await store.ping()


async def test_a_closed_store_says_so(store: Store) -> None:
    await store.close()
    with pytest.raises(StoreError, match=r"^store is not open$"):
        await store.add_access_log([access()])


async def test_a_value_the_driver_cannot_encode_is_not_a_store_error_and_leaves_no_transaction(
    store: Store,
) -> None:
    """The batch writer retries a `StoreError` but writes the rest row by row after any other
    error; that row must not leave the connection inside its transaction either."""
    with pytest.raises(UnicodeEncodeError):
        await store.add_access_log([access("/\ud800")])
    await store.add_access_log([access()])
    assert await store.count_rows("access_log") == 1


async def test_a_server_that_does_not_answer_cannot_be_opened_and_names_it_without_password(
) -> None:
    url = f"postgresql://gateway:hunter2@127.0.0.1:{free_port()}/gateway"
    store = PostgresStore(url)
    with pytest.raises(StoreError) as raised:
        await store.open()
    message = str(raised.value)
    assert message.startswith(
        f"cannot open database postgresql://gateway@127.0.0.1:{url.split(':')[3]}")
    assert "hunter2" not in message
    with pytest.raises(StoreError, match=r"^store is not open$"):
        await store.ping()


async def test_a_nul_character_is_the_drivers_error_not_a_store_error(make_store: Any) -> None:
    """PostgreSQL's text cannot hold NUL: such a row can never be written, so the batch
    writer must write the rest of its batch row by row rather than retry it."""
    store = make_store()
    await store.open()
    try:
        if isinstance(store, PostgresStore):
            with pytest.raises(asyncpg.PostgresError):
                await store.add_access_log([access("/a\x00b")])
        else:
            await store.add_access_log([access("/a\x00b")])
        await store.add_access_log([access()])
        assert await store.count_rows("access_log") == (1 if isinstance(store, PostgresStore)
                                                        else 2)
    finally:
        await store.close()
