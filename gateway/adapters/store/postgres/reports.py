"""Analytics reports in PostgreSQL (adapter). The SQL reports of `sqlite/reports.py` are
not ported yet: `analytics_report` refuses with a `StoreError` (the stats endpoint answers
503 saying so) rather than give numbers that were not checked against the oracle."""

from __future__ import annotations

from gateway.adapters.store.postgres.connection import PostgresConnection
from gateway.core.analytics.reports import ReportFigures, ReportRequest
from gateway.core.errors import StoreError


class PostgresReports(PostgresConnection):
    async def analytics_report(self, request: ReportRequest) -> ReportFigures:
        raise StoreError("analytics reports are not yet supported on PostgreSQL")

    async def erasures(self, site: str) -> int:
        rows = await self._read("SELECT erasures FROM analytics_erasures WHERE site = $1", site,
                                failed="cannot read the erasure count")
        return int(rows[0][0]) if rows else 0
