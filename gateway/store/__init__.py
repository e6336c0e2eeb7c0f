"""Storage interface. SQLite is the embedded default; a server database can implement the
same Protocol so several gateway instances share one consent log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from gateway.consentlog import ConsentDraft, ConsentRecord
from gateway.cookies import SeenCookie


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

    def iter_consents(self, *, after_seq: int = 0) -> AsyncIterator[ConsentRecord]:
        """Every record in `seq` order, streamed."""

    async def consent_history(self, consent_id: str) -> list[ConsentRecord]: ...

    async def record_cookies(self, rows: Sequence[SeenCookie]) -> None:
        """Add observations to the cookie inventory (one transaction for the batch)."""

    async def cookie_inventory(self, site: str | None = None) -> list[SeenCookie]: ...

    async def chain_head(self) -> tuple[int, str]:
        """(seq, hash) of the newest record; (0, genesis) for an empty log."""
