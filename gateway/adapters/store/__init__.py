"""Storage interface: one protocol per kind of data (`protocols.py`), and `Store`, all of them
together, which an engine implements. SQLite (`sqlite/`) is the embedded default; a server
database can implement the same protocols so several gateway instances share one consent log.
"""

from __future__ import annotations

from gateway.adapters.store.protocols import (
    AbuseStore,
    AccessLogStore,
    AnalyticsReports,
    AnalyticsStore,
    ConsentLogStore,
    InventoryStore,
    RetentionStore,
    Store,
    StoreLifecycle,
)

__all__ = [
    "AbuseStore",
    "AccessLogStore",
    "AnalyticsReports",
    "AnalyticsStore",
    "ConsentLogStore",
    "InventoryStore",
    "RetentionStore",
    "Store",
    "StoreLifecycle",
]
