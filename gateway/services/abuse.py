"""Abuse limits: per-client rate limits keyed by a daily-rotating address hash, and the
blocklist shared through the store (an address is hashed at once and never stored)."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from gateway.adapters.clock import Clock
from gateway.adapters.store import AbuseStore
from gateway.core.config import GatewayConfig
from gateway.core.errors import StoreError, TooManyRequests
from gateway.core.ratelimit import Bucket, RateLimiter, client_hash

log = logging.getLogger("consent_gateway")


class AbuseGuard:
    def __init__(self, config: GatewayConfig, *, store: AbuseStore, clock: Clock) -> None:
        abuse = config.abuse
        self.enabled = abuse.enabled
        self.store = store
        self.clock = clock
        # Failed admin log-ins are always limited; `abuse.enabled` is about visitors.
        self.limiter = RateLimiter(
            {"consent": abuse.consent_per_minute, "collect": abuse.collect_per_minute,
             "admin": config.admin.failed_per_minute},
            offences_to_block=abuse.offences_to_block,
            block_for=timedelta(minutes=abuse.block_minutes),
        )
        self._hash_keys: tuple[date, tuple[bytes, ...]] | None = None

    async def client_hashes(self, address: str) -> tuple[str, ...]:
        """The client's keyed hashes: under today's key and, while it lives, yesterday's
        (so a block made late yesterday still holds). Newest first."""
        today = self.clock().date()
        if self._hash_keys is None or self._hash_keys[0] != today:
            current = await self.store.ip_hash_key(today)
            previous = await self.store.ip_hash_key(today - timedelta(days=1), create=False)
            self._hash_keys = (today, tuple(key for key in (current, previous) if key))
        return tuple(client_hash(key, address) for key in self._hash_keys[1])

    async def check_rate(self, address: str, bucket: Bucket, *, count: bool = True) -> None:
        """Raise `TooManyRequests` when the client is over its limit or blocked (`count`
        off: only look). Without the store's keys (an outage) requests pass: limiting must
        not take the site down."""
        if bucket != "admin" and not self.enabled:
            return
        try:
            clients = await self.client_hashes(address)
        except StoreError as exc:
            log.warning("rate limits off for now, no hash key: %s", exc)
            return
        verdict = self.limiter.check(clients, bucket, self.clock(), count=count)
        if verdict is None:
            return
        if verdict.new_block is not None:
            log.warning("a client went over the %s limit repeatedly; blocked until %s",
                        bucket, verdict.new_block.isoformat(timespec="seconds"))
            await self._store_block(clients[0], verdict.new_block, "rate")
        raise TooManyRequests(f"too many {bucket} requests from this client; try again later",
                              retry_after=verdict.retry_after)

    async def _store_block(self, client: str, until: datetime, reason: str) -> None:
        try:
            await self.store.block_client(client, until, reason)
        except StoreError as exc:  # the block still holds in this process
            log.warning("block not stored: %s", exc)

    async def sync_blocks(self) -> None:
        """Blocks made by other workers (or the admin) take effect here too."""
        blocks = await self.store.active_blocks(self.clock())
        self.limiter.replace_blocks({client: until for client, (until, _) in blocks.items()})

    async def active_blocks(self) -> dict[str, tuple[datetime, str]]:
        return await self.store.active_blocks(self.clock())

    async def block_address(self, address: str, minutes: int) -> tuple[str, datetime]:
        """An admin's block: the address is hashed at once and never stored."""
        clients = await self.client_hashes(address)
        until = self.clock() + timedelta(minutes=minutes)
        await self.store.block_client(clients[0], until, "admin")
        self.limiter.block(clients[0], until)
        return clients[0], until

    async def unblock_address(self, address: str) -> int:
        clients = await self.client_hashes(address)
        self.limiter.unblock(clients)
        return await self.store.unblock_client(clients)
