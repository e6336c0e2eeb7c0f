"""Retention in SQLite: deletes and tombstones in batches, each one short transaction. Old
analytics events take their visits with them: those around the deleted events are rebuilt
from what remains, in the same transaction, so a report stays exact."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final, Literal

from gateway.adapters.store.sqlite import visits
from gateway.adapters.store.sqlite.connection import SQLiteConnection
from gateway.adapters.store.sqlite.schema import BLANKED
from gateway.core.consent.record import format_timestamp
from gateway.core.retention import ConsentCutoffs
from gateway.core.retention import Table as RetentionTable

# Retention deletes in batches; the subquery keeps each transaction short. Events go oldest
# first, and the same batch is read first for the visits it touches.
_OLD_EVENTS: Final = ("SELECT id, site, visitor, ts FROM analytics_events WHERE ts < ? "
                      "ORDER BY ts, id LIMIT ?")
_OLD_EVENT_SPANS: Final = ("SELECT site, visitor, min(ts), max(ts) "  # noqa: S608
                           f"FROM ({_OLD_EVENTS}) GROUP BY site, visitor")
_PURGE: Final = {
    "analytics_events": "DELETE FROM analytics_events WHERE id IN "  # noqa: S608
                        f"(SELECT id FROM ({_OLD_EVENTS}))",
    "access_log": "DELETE FROM access_log WHERE id IN "
                  "(SELECT id FROM access_log WHERE ts < ? LIMIT ?)",
    "bot_counts": "DELETE FROM bot_counts WHERE rowid IN "
                  "(SELECT rowid FROM bot_counts WHERE day < ? LIMIT ?)",
}
_COUNT_BEFORE: Final = {
    "analytics_events": "SELECT count(*) FROM analytics_events WHERE ts < ?",
    "access_log": "SELECT count(*) FROM access_log WHERE ts < ?",
    "bot_counts": "SELECT count(*) FROM bot_counts WHERE day < ?",
}

# Records whose consent ended before `ended_before` (see retention.ConsentCutoffs): expired
# (given before `given_before`) or followed by a later record of the same consent id.
_DUE_CONSENTS: Final = """
    SELECT seq FROM consent_log AS c
    WHERE c.tombstone = 0 AND c.recorded_at < :ended_before
      AND (c.recorded_at < :given_before OR EXISTS (
            SELECT 1 FROM consent_log AS n
            WHERE n.consent_id = c.consent_id AND n.seq > c.seq
              AND n.recorded_at < :ended_before))
"""
_TOMBSTONE: Final = (
    "UPDATE consent_log SET tombstone = 1, "  # noqa: S608 - constants only
    + ", ".join(f"{column} = {value}" for column, value in BLANKED.items())
    + f" WHERE seq IN ({_DUE_CONSENTS} ORDER BY seq LIMIT :limit)"
)


class SQLiteRetention(SQLiteConnection):
    async def count_rows(self, table: Literal["analytics_events", "access_log"]) -> int:
        rows = await self._read(f"SELECT count(*) FROM {table}", (),  # noqa: S608
                                failed=f"cannot count the rows of {table}")
        return int(rows[0][0])

    async def purge_before(self, table: RetentionTable, cutoff: datetime, limit: int) -> int:
        """Delete up to `limit` rows recorded before `cutoff`; returns how many went.
        One short transaction per call."""
        if table == "analytics_events":
            return await self._purge_events(cutoff, limit)
        return await self._write_counted(_PURGE[table], (_stored_cutoff(table, cutoff), limit),
                                         failed=f"could not delete old rows of {table}")

    async def _purge_events(self, cutoff: datetime, limit: int) -> int:
        params = (format_timestamp(cutoff), limit)
        async with self._write_transaction("could not delete old rows of analytics_events") as conn:
            async with conn.execute(_OLD_EVENT_SPANS, params) as cursor:
                spans = [(row[0], row[1], row[2], row[3]) for row in await cursor.fetchall()]
            cursor = await conn.execute(_PURGE["analytics_events"], params)
            await visits.rebuild_windows(conn, spans, self._visit_gap)
        return max(cursor.rowcount, 0)

    async def count_before(self, table: RetentionTable, cutoff: datetime) -> int:
        rows = await self._read(_COUNT_BEFORE[table], (_stored_cutoff(table, cutoff),),
                                failed=f"cannot count the old rows of {table}")
        return int(rows[0][0])

    async def tombstone_consents(self, due: ConsentCutoffs, limit: int) -> int:
        """Reduce up to `limit` due consent records to tombstones, oldest first."""
        params = {**_consent_cutoff_params(due), "limit": limit}
        return await self._write_counted(
            _TOMBSTONE, params, failed="could not reduce consent records to tombstones"
        )

    async def count_due_consents(self, due: ConsentCutoffs) -> int:
        rows = await self._read(f"SELECT count(*) FROM ({_DUE_CONSENTS})",  # noqa: S608
                                _consent_cutoff_params(due),
                                failed="cannot count the consent records due for tombstones")
        return int(rows[0][0])

    async def reclaim_space(self) -> None:
        """Give freed pages back to the file system (incremental vacuum, then a WAL
        checkpoint so the main file really shrinks)."""
        async with self._writing("could not reclaim space") as conn:
            # executescript steps each statement to the end; execute() would step
            # incremental_vacuum once, freeing a single page.
            await conn.executescript("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);")

    async def claim_retention_run(self, now: datetime, every: timedelta) -> bool:
        """Always: every worker on this one file may purge (what one deleted, the next
        finds gone)."""
        return True


def _stored_cutoff(table: RetentionTable, cutoff: datetime) -> str:
    """The cutoff spelt as the table stores time (bot counts are per day)."""
    return cutoff.date().isoformat() if table == "bot_counts" else format_timestamp(cutoff)


def _consent_cutoff_params(due: ConsentCutoffs) -> dict[str, str]:
    return {"ended_before": format_timestamp(due.ended_before),
            "given_before": format_timestamp(due.given_before)}
