"""PostgreSQL store on asyncpg: one bounded pool, versioned migrations under an advisory
lock, appends ordered by a row lock on the chain head — several gateway instances share it.

One class per kind of data, each over the same pool (`connection.py`), composed into
`PostgresStore`, which implements every protocol of `gateway.adapters.store`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.adapters.store.postgres.abuse import PostgresAbuse
from gateway.adapters.store.postgres.analytics import PostgresAccessLog, PostgresAnalytics
from gateway.adapters.store.postgres.connection import safe_url
from gateway.adapters.store.postgres.consentlog import PostgresConsentLog
from gateway.adapters.store.postgres.inventory import PostgresInventory
from gateway.adapters.store.postgres.reports import PostgresReports
from gateway.adapters.store.postgres.retention import PostgresRetention
from gateway.adapters.store.postgres.schema import MIGRATIONS

if TYPE_CHECKING:
    from gateway.adapters.store import Store

__all__ = ["MIGRATIONS", "PostgresStore", "safe_url"]


class PostgresStore(
    PostgresConsentLog, PostgresAnalytics, PostgresReports, PostgresAccessLog, PostgresAbuse,
    PostgresInventory, PostgresRetention,
):
    """The whole store in one PostgreSQL database."""


if TYPE_CHECKING:
    _implements: type[Store] = PostgresStore
