"""Storage interface. SQLite is the embedded default; a server database can implement the
same Protocol so several gateway instances share one consent log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date, datetime
from typing import Literal, Protocol

from gateway.core.analytics.events import AccessLogEntry, AnalyticsEvent
from gateway.core.consent.export import ConsentFilter
from gateway.core.consent.record import ConsentDraft, ConsentRecord, LogEntry
from gateway.core.enforcement.cookies import SeenCookie
from gateway.core.retention import ConsentCutoffs
from gateway.core.retention import Table as RetentionTable


class Store(Protocol):
    async def open(self) -> None:
        """Connect and bring the schema up to date (safe when several workers race)."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise `StoreError` unless the database answers."""

    async def append_consent(self, draft: ConsentDraft) -> ConsentRecord:
        """Append to the hash chain and commit before returning.

        The chain head is read and extended inside one database write transaction, so the
        database, not a lock in this process, orders appends from every worker.
        """

    def iter_consents(self, *, after_seq: int = 0) -> AsyncIterator[LogEntry]:
        """Every record (or its tombstone) in `seq` order, streamed."""

    def iter_consent_pages(
        self, filters: ConsentFilter, *, up_to_seq: int
    ) -> AsyncIterator[Sequence[LogEntry]]:
        """Pages of the log with `seq <= up_to_seq` in `seq` order, matching `filters`;
        tombstones only when the filters select no content. Each page is its own short
        read (keyset on `seq`), so an export of any size holds no long transaction."""

    async def consent_history(self, consent_id: str) -> list[ConsentRecord]: ...

    async def record_cookies(self, rows: Sequence[SeenCookie]) -> None:
        """Add observations to the cookie inventory (one transaction for the batch)."""

    async def cookie_inventory(self, site: str | None = None) -> list[SeenCookie]: ...

    async def chain_head(self) -> tuple[int, str]:
        """(seq, hash) of the newest record; (0, genesis) for an empty log."""

    async def add_events(self, events: Sequence[AnalyticsEvent]) -> None:
        """Store a batch of analytics events in one transaction."""

    async def add_access_log(self, entries: Sequence[AccessLogEntry]) -> None:
        """Store a batch of access-log rows in one transaction."""

    async def add_bot_counts(self, counts: Mapping[tuple[str, date], int]) -> None:
        """Add to the per-site, per-day bot tallies."""

    def iter_events(
        self, *, site: str | None = None, since: datetime | None = None,
        until: datetime | None = None, visitor: str | None = None,
    ) -> AsyncIterator[AnalyticsEvent]:
        """Analytics events in time order, `since` inclusive, `until` exclusive, streamed."""

    async def bot_counts(self, site: str, start: date, end: date) -> dict[date, int]: ...

    async def consent_decisions(
        self, site: str, since: datetime, until: datetime
    ) -> dict[tuple[date, str, bool], int]:
        """Consent records of `site` recorded from `since` (inclusive) to `until` (exclusive),
        counted per (UTC day, action, whether analytics was granted); tombstones skipped."""

    async def count_rows(self, table: Literal["analytics_events", "access_log"]) -> int: ...

    async def purge_before(self, table: RetentionTable, cutoff: datetime, limit: int) -> int:
        """Delete at most `limit` rows recorded before `cutoff`; return how many."""

    async def count_before(self, table: RetentionTable, cutoff: datetime) -> int: ...

    async def reclaim_space(self) -> None:
        """Return freed space to the file system where the database can."""

    async def tombstone_consents(self, due: ConsentCutoffs, limit: int) -> int:
        """Reduce at most `limit` records whose consent ended long enough ago to tombstones
        (`seq` and hashes kept); return how many."""

    async def count_due_consents(self, due: ConsentCutoffs) -> int: ...

    async def erase_events(self, visitor: str, site: str | None = None) -> int:
        """Delete one visitor pseudonym's analytics events; return how many."""

    async def ip_hash_key(self, day: date, *, create: bool = True) -> bytes | None:
        """The key of `day` for hashing client addresses (created if missing and `create`);
        every worker gets the same one."""

    async def delete_ip_hash_keys_before(self, day: date) -> int: ...

    async def block_client(self, client: str, until: datetime, reason: str) -> None:
        """Blocklist a keyed client hash (never an address) until `until`."""

    async def unblock_client(self, clients: Sequence[str]) -> int: ...

    async def active_blocks(self, now: datetime) -> dict[str, tuple[datetime, str]]:
        """client hash -> (until, reason) of the blocks still running at `now`."""

    async def purge_blocklist(self, now: datetime) -> int:
        """Delete blocks that have run out; return how many."""

    async def erasures_after(self, seq: int) -> list[tuple[int, str, datetime]]:
        """(seq, consent id, recorded_at) of the `erase` records after `seq`."""
