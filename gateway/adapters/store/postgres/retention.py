"""Retention in PostgreSQL: deletes and tombstones in batches, each one short transaction.
Old analytics events take their visits with them: those around the deleted events are
rebuilt from what remains, in the same transaction (their visitors locked, as at ingest).

Events, visits and the access log are partitioned by month (`partitions.py`): a month that
ended before the cutoff is dropped whole, first; only the month holding the cutoff and the
DEFAULT partition are deleted from row by row. The instance that claims a run makes the
coming months' partitions."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Final, Literal

from gateway.adapters.store.postgres import partitions, visits
from gateway.adapters.store.postgres.connection import PostgresConnection, rows_of
from gateway.adapters.store.postgres.schema import BLANKED, RETENTION_LOCK
from gateway.core.errors import StoreError
from gateway.core.retention import ConsentCutoffs
from gateway.core.retention import Table as RetentionTable

log = logging.getLogger(__name__)

_OLD_EVENTS: Final = ("SELECT id, site, visitor, ts FROM analytics_events WHERE ts < $1 "
                      "ORDER BY ts, id LIMIT $2")
_PURGE: Final = {
    "access_log": "DELETE FROM access_log WHERE id IN "
                  "(SELECT id FROM access_log WHERE ts < $1 LIMIT $2)",
    "bot_counts": "DELETE FROM bot_counts WHERE (site, day) IN "
                  "(SELECT site, day FROM bot_counts WHERE day < $1 LIMIT $2)",
}
_COUNT_BEFORE: Final = {
    "analytics_events": "SELECT count(*) FROM analytics_events WHERE ts < $1",
    "access_log": "SELECT count(*) FROM access_log WHERE ts < $1",
    "bot_counts": "SELECT count(*) FROM bot_counts WHERE day < $1",
}
# Records whose consent ended before `ended_before` ($1; see retention.ConsentCutoffs):
# expired (given before `given_before`, $2) or followed by a later record of the same
# consent id.
_DUE_CONSENTS: Final = """
    SELECT seq FROM consent_log AS c
    WHERE NOT c.tombstone AND c.recorded_at < $1
      AND (c.recorded_at < $2 OR EXISTS (
            SELECT 1 FROM consent_log AS n
            WHERE n.consent_id = c.consent_id AND n.seq > c.seq AND n.recorded_at < $1))
"""
# `NOT tombstone` again outside: a record another instance reduced meanwhile is re-checked
# after its lock and skipped, instead of being "changed" twice (which the trigger refuses).
_TOMBSTONE: Final = (
    "UPDATE consent_log SET tombstone = true, "  # noqa: S608 - constants only
    + ", ".join(f"{column} = {value}" for column, value in BLANKED.items())
    + f" WHERE NOT tombstone AND seq IN ({_DUE_CONSENTS} ORDER BY seq LIMIT $3)"
)

_CLAIM: Final = ("INSERT INTO job_runs (job, started_at) VALUES ($1, $2) "
                 "ON CONFLICT (job) DO UPDATE SET started_at = excluded.started_at "
                 "WHERE job_runs.started_at <= $3 RETURNING started_at")



class PostgresRetention(PostgresConnection):
    async def count_rows(self, table: Literal["analytics_events", "access_log"]) -> int:
        rows = await self._read(f"SELECT count(*) FROM {table}",  # noqa: S608
                                failed=f"cannot count the rows of {table}")
        return int(rows[0][0])

    async def purge_before(self, table: RetentionTable, cutoff: datetime, limit: int) -> int:
        """Delete up to `limit` rows recorded before `cutoff`; returns how many went.
        One short transaction per call; before it, each month of events or access log that
        ended by `cutoff` is dropped whole (one transaction each, its rows counted too)."""
        if table == "analytics_events":
            return (await self._drop_months(table, cutoff)
                    + await self._purge_events(cutoff, limit))
        dropped = await self._drop_months(table, cutoff) if table == "access_log" else 0
        return dropped + await self._write_counted(
            _PURGE[table], _stored_cutoff(table, cutoff), limit,
            failed=f"could not delete old rows of {table}")

    async def _purge_events(self, cutoff: datetime, limit: int) -> int:
        async with self._transaction("could not delete old rows of analytics_events") as conn:
            old = await conn.fetch(_OLD_EVENTS, cutoff, limit)
            if not old:
                return 0
            spans: dict[tuple[str, str], tuple[datetime, datetime]] = {}
            for _, site, visitor, ts in old:
                first, last = spans.get((site, visitor), (ts, ts))
                spans[(site, visitor)] = (min(first, ts), max(last, ts))
            await visits.lock_visitors(conn, spans)
            status = await conn.execute("DELETE FROM analytics_events WHERE id = ANY ($1)",
                                        [row[0] for row in old])
            await visits.rebuild_windows(
                conn, [(site, visitor, first, last)
                       for (site, visitor), (first, last) in spans.items()], self._visit_gap)
        return rows_of(status)

    async def _drop_months(self, table: str, cutoff: datetime) -> int:
        failed = f"could not drop the old months of {table}"
        async with self._connection(failed) as conn:
            due = await partitions.months_before(conn, table, cutoff)
        dropped = 0
        for month in due:
            async with self._transaction(failed) as conn:
                dropped += await partitions.drop_month(conn, table, month, self._visit_gap)
        return dropped

    async def count_before(self, table: RetentionTable, cutoff: datetime) -> int:
        rows = await self._read(_COUNT_BEFORE[table], _stored_cutoff(table, cutoff),
                                failed=f"cannot count the old rows of {table}")
        return int(rows[0][0])

    async def tombstone_consents(self, due: ConsentCutoffs, limit: int) -> int:
        """Reduce up to `limit` due consent records to tombstones, oldest first."""
        return await self._write_counted(
            _TOMBSTONE, due.ended_before, due.given_before, limit,
            failed="could not reduce consent records to tombstones",
        )

    async def count_due_consents(self, due: ConsentCutoffs) -> int:
        rows = await self._read(f"SELECT count(*) FROM ({_DUE_CONSENTS}) AS due",  # noqa: S608
                                due.ended_before, due.given_before,
                                failed="cannot count the consent records due for tombstones")
        return int(rows[0][0])

    async def reclaim_space(self) -> None:
        """Nothing to do: PostgreSQL's autovacuum makes freed space reusable."""

    async def claim_retention_run(self, now: datetime, every: timedelta) -> bool:
        """One instance per `every`: the advisory lock turns away an instance claiming at
        the same moment, the last start (`job_runs`) one claiming soon after."""
        async with self._transaction("could not claim the retention run") as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RETENTION_LOCK):
                return False
            claimed = await conn.fetchval(_CLAIM, "retention", now, now - every)
        if claimed is not None:
            await self._make_months_ahead(now)
        return claimed is not None

    async def _make_months_ahead(self, now: datetime) -> None:
        """The claiming instance makes the coming months' partitions; failing (a lock not
        had in time) is not failing the run: rows wait in DEFAULT until the next one."""
        try:
            async with self._transaction("could not make the coming months' partitions") as conn:
                made = await partitions.create_ahead(conn, now)
        except StoreError as exc:
            log.warning("%s", exc)
            return
        if made:
            log.info("partitions made: %s", ", ".join(made))


def _stored_cutoff(table: RetentionTable, cutoff: datetime) -> object:
    """The cutoff as the table keeps time (bot counts are per day)."""
    return cutoff.date() if table == "bot_counts" else cutoff
