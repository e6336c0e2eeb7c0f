"""Keys for hashing client addresses, and the blocklist, in SQLite: shared by every worker."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, datetime

from gateway.adapters.store.sqlite.connection import SQLiteConnection
from gateway.core.consent.record import format_timestamp, parse_timestamp


class SQLiteAbuse(SQLiteConnection):
    async def ip_hash_key(self, day: date, *, create: bool = True) -> bytes | None:
        """The day's key for hashing client addresses: made by the first worker that asks,
        read by the others."""
        if create:
            await self._write_counted(
                "INSERT OR IGNORE INTO ip_hash_keys (day, key) VALUES (:day, :key)",
                {"day": day.isoformat(), "key": secrets.token_bytes(32)},
                failed="could not create the day's IP hash key",
            )
        rows = await self._read("SELECT key FROM ip_hash_keys WHERE day = ?", (day.isoformat(),),
                                failed="cannot read the IP hash key")
        return bytes(rows[0][0]) if rows else None

    async def delete_ip_hash_keys_before(self, day: date) -> int:
        return await self._write_counted("DELETE FROM ip_hash_keys WHERE day < :day",
                                         {"day": day.isoformat()},
                                         failed="could not delete old IP hash keys")

    async def block_client(self, client: str, until: datetime, reason: str) -> None:
        """Put a keyed client hash on the blocklist; a longer block wins over a shorter one."""
        await self._write_counted(
            "INSERT INTO blocklist (client, until, reason) VALUES (:client, :until, :reason) "
            "ON CONFLICT (client) DO UPDATE SET until = max(until, excluded.until), "
            "reason = excluded.reason",
            {"client": client, "until": format_timestamp(until), "reason": reason},
            failed="could not add a client to the blocklist",
        )

    async def unblock_client(self, clients: Sequence[str]) -> int:
        marks = ", ".join("?" for _ in clients)
        return await self._write_counted(
            f"DELETE FROM blocklist WHERE client IN ({marks})",  # noqa: S608
            tuple(clients), failed="could not remove clients from the blocklist",
        )

    async def active_blocks(self, now: datetime) -> dict[str, tuple[datetime, str]]:
        rows = await self._read("SELECT client, until, reason FROM blocklist WHERE until > ?",
                                (format_timestamp(now),), failed="cannot read the blocklist")
        return {str(r[0]): (parse_timestamp(r[1]), str(r[2])) for r in rows}

    async def purge_blocklist(self, now: datetime) -> int:
        return await self._write_counted("DELETE FROM blocklist WHERE until <= :now",
                                         {"now": format_timestamp(now)},
                                         failed="could not delete ended blocks")
