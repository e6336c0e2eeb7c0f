"""SQLite store on aiosqlite: WAL, versioned migrations, appends serialised by the database.

One class per kind of data, each over the same two connections (`connection.py`), composed
into `SQLiteStore`, which implements every protocol of `gateway.adapters.store`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.adapters.store.sqlite.abuse import SQLiteAbuse
from gateway.adapters.store.sqlite.analytics import SQLiteAccessLog, SQLiteAnalytics
from gateway.adapters.store.sqlite.connection import BUSY_TIMEOUT_MS
from gateway.adapters.store.sqlite.consentlog import SQLiteConsentLog
from gateway.adapters.store.sqlite.inventory import SQLiteInventory
from gateway.adapters.store.sqlite.reports import SQLiteReports
from gateway.adapters.store.sqlite.retention import SQLiteRetention
from gateway.adapters.store.sqlite.schema import MIGRATIONS

if TYPE_CHECKING:
    from gateway.adapters.store import Store

__all__ = ["BUSY_TIMEOUT_MS", "MIGRATIONS", "SQLiteStore"]


class SQLiteStore(
    SQLiteConsentLog, SQLiteAnalytics, SQLiteReports, SQLiteAccessLog, SQLiteAbuse,
    SQLiteInventory, SQLiteRetention,
):
    """The whole store on one database file."""


if TYPE_CHECKING:
    _implements: type[Store] = SQLiteStore
