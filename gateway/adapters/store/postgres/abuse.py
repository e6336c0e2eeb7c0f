"""Keys for hashing client addresses, and the blocklist, in PostgreSQL: shared by every
instance, races settled by `INSERT … ON CONFLICT`."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, datetime

from gateway.adapters.store.postgres.connection import PostgresConnection


class PostgresAbuse(PostgresConnection):
    async def ip_hash_key(self, day: date, *, create: bool = True) -> bytes | None:
        """The day's key for hashing client addresses: made by the first instance that
        asks, read by the others."""
        if create:
            await self._write_counted(
                "INSERT INTO ip_hash_keys (day, key) VALUES ($1, $2) "
                "ON CONFLICT (day) DO NOTHING", day, secrets.token_bytes(32),
                failed="could not create the day's IP hash key",
            )
        rows = await self._read("SELECT key FROM ip_hash_keys WHERE day = $1", day,
                                failed="cannot read the IP hash key")
        return bytes(rows[0][0]) if rows else None

    async def delete_ip_hash_keys_before(self, day: date) -> int:
        return await self._write_counted("DELETE FROM ip_hash_keys WHERE day < $1", day,
                                         failed="could not delete old IP hash keys")

    async def block_client(self, client: str, until: datetime, reason: str) -> None:
        """Put a keyed client hash on the blocklist; a longer block wins over a shorter one."""
        await self._write_counted(
            "INSERT INTO blocklist (client, until, reason) VALUES ($1, $2, $3) "
            "ON CONFLICT (client) DO UPDATE SET "
            "until = greatest(blocklist.until, excluded.until), reason = excluded.reason",
            client, until, reason, failed="could not add a client to the blocklist",
        )

    async def unblock_client(self, clients: Sequence[str]) -> int:
        return await self._write_counted(
            "DELETE FROM blocklist WHERE client = ANY ($1::text[])", list(clients),
            failed="could not remove clients from the blocklist",
        )

    async def active_blocks(self, now: datetime) -> dict[str, tuple[datetime, str]]:
        rows = await self._read("SELECT client, until, reason FROM blocklist WHERE until > $1",
                                now, failed="cannot read the blocklist")
        return {str(r[0]): (r[1], str(r[2])) for r in rows}

    async def purge_blocklist(self, now: datetime) -> int:
        return await self._write_counted("DELETE FROM blocklist WHERE until <= $1", now,
                                         failed="could not delete ended blocks")
