"""What a storage engine promises, one protocol per kind of data.

An engine (SQLite today, PostgreSQL later) implements every protocol; the combined `Store`
names that. Code that uses a store asks for the narrowest protocol it needs.

Rules every method keeps unless its docstring says otherwise:

- **Writes** are one transaction each, committed before the method returns: a caller that
  got an answer may tell the visitor it is stored. A write that fails keeps nothing of
  itself (rolled back whole). An empty batch writes nothing and does not fail.
- **Reads** see committed data only. `iter_*` methods stream in pages, each page its own
  short read (keyset on an ordered column), so a long export or walk holds no transaction
  open; rows committed while a stream runs may or may not appear in it.
- **Failures**: a database that cannot do what was asked (gone, locked too long, full,
  read-only, corrupt) raises `StoreError` whose message names what failed ("could not
  write analytics events: …") — callers retry those. A value the database can never take
  (a string the driver cannot encode) raises the driver's own error instead: the batch
  writer tells the two apart and writes the rest of such a batch row by row.
- Every method but `open` and `close` raises `StoreError` when the store is not open.
- Times are timezone-aware UTC `datetime`s; days are UTC `date`s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Literal, Protocol

from gateway.core.analytics.events import AccessLogEntry, AnalyticsEvent
from gateway.core.analytics.reports import ReportFigures, ReportRequest
from gateway.core.consent.export import ConsentFilter
from gateway.core.consent.record import ConsentDraft, ConsentRecord, LogEntry
from gateway.core.enforcement.cookies import SeenCookie
from gateway.core.retention import ConsentCutoffs
from gateway.core.retention import Table as RetentionTable


class StoreLifecycle(Protocol):
    async def open(self) -> None:
        """Connect and bring the schema up to date. Safe when several workers (processes,
        machines) open the same database at once: the migration runs in one write
        transaction that re-reads the schema version inside it; then any rebuild of the
        visits (events stored before visits were kept, or a changed visit gap) is finished,
        a chunk of visitors per short transaction, so other workers keep writing meanwhile.
        On failure nothing is left open and `StoreError` names the database."""

    async def close(self) -> None:
        """Close every connection. Loses nothing (every write returned is committed);
        closing a closed store does nothing."""

    async def ping(self) -> None:
        """Raise `StoreError` unless the database answers a trivial read."""


class ConsentLogStore(Protocol):
    """The consent log: an append-only hash chain of consent records, numbered by `seq`
    (1, 2, 3 … with no gaps). The only change a record may undergo is retention reducing
    it to a tombstone (see `RetentionStore.tombstone_consents`)."""

    async def append_consent(self, draft: ConsentDraft) -> ConsentRecord:
        """Seal `draft` as the next record (`seq` = head + 1, `prev_hash` = head's hash),
        insert it and move the chain head, in one write transaction committed durably
        before returning.

        The head is read and extended inside that transaction, so the database, not a lock
        in this process, orders appends from every worker: two appends never get the same
        `seq` or chain onto the same predecessor."""

    def iter_consents(self, *, after_seq: int = 0) -> AsyncIterator[LogEntry]:
        """Every entry with `seq > after_seq` in `seq` order, streamed: a `ConsentRecord`,
        or a `Tombstone` where retention reduced one."""

    def iter_consent_pages(
        self, filters: ConsentFilter, *, up_to_seq: int, after_seq: int = 0
    ) -> AsyncIterator[Sequence[LogEntry]]:
        """Pages (never empty) of the entries with `after_seq < seq <= up_to_seq` in `seq` order,
        matching `filters`; tombstones only when the filters select no content. Each page is
        its own short read (keyset on `seq`), so an export of any size holds no long
        transaction and appends after `up_to_seq` never change it."""

    async def consent_history(self, consent_id: str) -> list[ConsentRecord]:
        """The records of one consent id in `seq` order (tombstones no longer carry one)."""

    async def chain_head(self) -> tuple[int, str]:
        """(seq, hash) of the newest record, as the head row written with each append says
        (so a truncated tail shows when the chain is walked); (0, genesis) for an empty
        log."""

    async def chain_checkpoint(self) -> tuple[int, str] | None:
        """(seq, hash) of the head the last chain walk that got through reached, or None:
        a routine check resumes there (`adapters/store/chain.py`)."""

    async def save_chain_checkpoint(self, seq: int, chain_hash: str) -> None:
        """Remember (seq, hash) as verified (committed before returning); an older
        checkpoint is replaced."""

    async def erasures_after(self, seq: int) -> list[tuple[int, str, datetime]]:
        """(seq, consent id, recorded_at) of the `erase` records after `seq`, in `seq`
        order: how every worker learns of erasures incrementally."""

    async def consent_decisions(
        self, site: str, since: datetime, until: datetime
    ) -> dict[tuple[date, str, bool], int]:
        """Consent records of `site` recorded from `since` (inclusive) to `until` (exclusive),
        counted per (UTC day, action, whether analytics was granted); tombstones skipped.
        Counted by the database, not by loading records."""

    async def consent_decisions_by_mode(
        self, site: str, since: datetime, until: datetime
    ) -> dict[tuple[date, str, bool, str], int]:
        """As `consent_decisions`, split further by the record's regional `mode` (`""` for
        records from before modes were kept)."""


class AnalyticsStore(Protocol):
    """Analytics events (pseudonymous, no address or user agent), the visits made of
    them, and per-day bot tallies."""

    async def add_events(self, events: Sequence[AnalyticsEvent]) -> None:
        """Store a batch of events in one transaction, committed before returning, and in
        it assign each to a visit (the rule of `core/analytics/visits.py`, with the gap the
        store was opened with). The database decides, so
        several workers agree and a restart changes nothing: the same events give the same
        visits whatever the batches and their order (an event older than its visitor's
        newest visit lands in the right visit, joining two if it bridges them).

        Also the bulk path (seeding, benchmarks): batches of thousands are fine; events in
        time order cost least, as each visit is then extended without reading events."""

    def iter_events(
        self, *, site: str | None = None, since: datetime | None = None,
        until: datetime | None = None, visitor: str | None = None,
    ) -> AsyncIterator[AnalyticsEvent]:
        """Events matching every filter given, in the order they were stored (which is
        time order), `since` inclusive, `until` exclusive, streamed in pages."""

    async def erase_events(self, visitor: str, site: str | None = None) -> int:
        """Delete one visitor pseudonym's events (on `site` only, if given), their visits
        in one transaction, counting an erasure for every site that lost
        events (see `AnalyticsReports.erasures`); return how many events."""

    async def add_bot_counts(self, counts: Mapping[tuple[str, date], int]) -> None:
        """Add (not set) each (site, day) count to its tally, in one transaction."""

    async def bot_counts(self, site: str, start: date, end: date) -> dict[date, int]:
        """day -> bots counted on `site`, `start` to `end` both inclusive; days without
        bots are absent."""


class AnalyticsReports(Protocol):
    """Reports computed by the database from the visits kept at ingest, never by loading
    events: what a report means is `core/analytics/reports.py`."""

    async def analytics_report(self, request: ReportRequest) -> ReportFigures:
        """Every figure of one site over whole UTC days, from one read snapshot: results are
        days × figures and at most `top` + 1 rows per breakdown, so memory does not grow
        with the events. Runs beside writes and other reads (its own connection or pool
        slot), never on the event loop."""

    async def erasures(self, site: str) -> int:
        """How many erasures removed data of `site` so far: a report computed before the
        number changed must not be served after."""


class AccessLogStore(Protocol):
    async def add_access_log(self, entries: Sequence[AccessLogEntry]) -> None:
        """Store a batch of access-log rows in one transaction, committed before
        returning."""


class AbuseStore(Protocol):
    """What rate limits and blocks share between workers: the daily keys for hashing client
    addresses, and the blocklist of client hashes (never an address)."""

    async def ip_hash_key(self, day: date, *, create: bool = True) -> bytes | None:
        """The key of `day` for hashing client addresses. If missing and `create`, a random
        one is inserted only if still absent (committed), then read back, so every worker
        gets the same key however they race; None if missing and not `create`."""

    async def delete_ip_hash_keys_before(self, day: date) -> int:
        """Delete the keys of days before `day` in one transaction; return how many."""

    async def block_client(self, client: str, until: datetime, reason: str) -> None:
        """Blocklist a keyed client hash until `until`, committed before returning. If it
        is already blocked, the later end wins and `reason` replaces the old one."""

    async def unblock_client(self, clients: Sequence[str]) -> int:
        """Take these client hashes off the blocklist in one transaction; return how many
        were on it."""

    async def active_blocks(self, now: datetime) -> dict[str, tuple[datetime, str]]:
        """client hash -> (until, reason) of the blocks still running at `now`
        (`until > now`)."""

    async def purge_blocklist(self, now: datetime) -> int:
        """Delete the blocks that have run out (`until <= now`) in one transaction; return
        how many."""


class InventoryStore(Protocol):
    """The cookie inventory: one row per (site, cookie name) the gateway saw set, or saw
    arrive in a request without ever seeing it set (a page script wrote it)."""

    async def record_cookies(self, rows: Sequence[SeenCookie]) -> None:
        """Merge observations into the inventory in one transaction: per (site, name) the
        counts add up, `first_seen` keeps the earliest, `last_seen` the latest, category and
        its source come from the observation recorded last. Once an observation says
        `set_by = "server"` the row stays so, with that observation's path, domain and
        HttpOnly; a later `script` observation changes neither."""

    async def cookie_inventory(self, site: str | None = None) -> list[SeenCookie]:
        """The inventory (of `site` only, if given), ordered by site, then name."""


class RetentionStore(Protocol):
    """Deleting what the retention policy says is due, in batches: each call is one short
    write transaction, so a large backlog goes while requests keep being written. Each
    `count_*` answers what the matching delete would take without its `limit` (a dry run)."""

    async def count_rows(self, table: Literal["analytics_events", "access_log"]) -> int:
        """How many rows `table` holds."""

    async def purge_before(self, table: RetentionTable, cutoff: datetime, limit: int) -> int:
        """Delete at most `limit` rows recorded before `cutoff` (bot tallies: of days
        before `cutoff`'s day; analytics events oldest first, the visits around them
        rebuilt from what remains) in one transaction; return how many (0: none left).
        PostgreSQL first drops whole monthly partitions that ended before `cutoff` (each its
        own transaction), and counts their rows in the answer too."""

    async def count_before(self, table: RetentionTable, cutoff: datetime) -> int:
        """How many rows `purge_before` would delete, without a limit."""

    async def tombstone_consents(self, due: ConsentCutoffs, limit: int) -> int:
        """Reduce at most `limit` records whose consent ended before `due.ended_before`
        (expired, or replaced by a later record of the same consent id) to tombstones,
        lowest `seq` first, in one transaction: `seq`, `prev_hash` and `hash` stay, so the
        chain still verifies; every other field is blanked. Return how many."""

    async def count_due_consents(self, due: ConsentCutoffs) -> int:
        """How many records `tombstone_consents` would reduce, without a limit."""

    async def reclaim_space(self) -> None:
        """Return freed space to the file system where the database can (it may do
        nothing); runs between this process's writes, not during one."""

    async def claim_retention_run(self, now: datetime, every: timedelta) -> bool:
        """True when this process should run the retention purge now: on a database several
        instances share, only one of them per `every` (the database settles it: an advisory
        lock and the last run's moment, so a second instance asking at once, or soon after,
        gets False). An embedded database may always answer True (its purge is idempotent)."""


class Store(
    StoreLifecycle, ConsentLogStore, AnalyticsStore, AnalyticsReports, AccessLogStore,
    AbuseStore, InventoryStore, RetentionStore, Protocol,
):
    """Everything one storage engine implements; the service layer holds one of these."""
