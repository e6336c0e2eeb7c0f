"""Per-client rate limits and a temporary blocklist (pure: the time is passed in).

Clients are told apart by `client_hash`, a keyed HMAC of their address whose key rotates
every day and is deleted after 48 hours (the keys live in the store so that every worker
agrees). The counters are in memory and per process; only a block is stored, and only
as the hash. So the gateway can say "this client sent too much" without ever keeping an
address, and after two days nobody can say which address it was.

Limits count in fixed one-minute windows. A client that goes over a limit gets 429 until
the window ends; one that does so in `offences_to_block` different minutes within an hour
is blocked for `block_for`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from gateway.core.pseudonymise import parse_ip

Bucket = Literal["consent", "collect", "admin"]  # admin: failed log-ins
CLIENT_HASH_CHARS: Final = 32
_WINDOW_S: Final = 60
_OFFENCE_MEMORY: Final = 60  # windows (minutes) an offence counts towards a block
# A flood from more distinct clients than this in one minute is beyond what per-client
# limits can stop; new clients are then not counted, so memory stays bounded.
MAX_TRACKED_CLIENTS: Final = 100_000


def client_hash(key: bytes, address: str) -> str:
    """Keyed hash of a client address. IPv6 clients are keyed by their /64, which one
    subscriber's devices share and which privacy extensions rotate addresses within."""
    parsed = parse_ip(address)  # a dual-stack socket's ::ffff:a.b.c.d is the IPv4 it is
    if parsed is None:
        subject = address.encode("utf-8", "replace")
    else:
        network = parsed.packed[:8] if parsed.version == 6 else parsed.packed
        subject = bytes([parsed.version]) + network
    return hmac.new(key, subject, hashlib.sha256).hexdigest()[:CLIENT_HASH_CHARS]


@dataclass(frozen=True, slots=True)
class Limited:
    """The request is refused; ask again after `retry_after` seconds. `new_block` is set
    when this very request put the client on the blocklist (so it can be stored)."""

    retry_after: int
    new_block: datetime | None = None


class RateLimiter:
    def __init__(
        self,
        limits: Mapping[Bucket, int],
        *,
        offences_to_block: int,
        block_for: timedelta,
        max_clients: int = MAX_TRACKED_CLIENTS,
    ) -> None:
        self.limits = dict(limits)
        self.offences_to_block = offences_to_block
        self.block_for = block_for
        self.max_clients = max_clients
        self._window = -1
        self._counts: dict[tuple[str, Bucket], int] = {}
        self._offences: dict[str, list[int]] = {}
        self._blocks: dict[str, datetime] = {}

    def check(
        self, clients: Sequence[str], bucket: Bucket, now: datetime, *, count: bool = True
    ) -> Limited | None:
        """Count one request of the client; `clients` are its hashes under every live key,
        newest first (blocks made with yesterday's key must still hold). With `count` off,
        only say whether the client is blocked or already over the limit."""
        blocked = self.blocked_until(clients, now)
        if blocked is not None:
            return Limited(_seconds_until(blocked, now))
        window = self._advance(now)
        key = (clients[0], bucket)
        if not count:
            over = self._counts.get(key, 0) > self.limits[bucket]
            return Limited(_WINDOW_S - int(now.timestamp()) % _WINDOW_S) if over else None
        if key not in self._counts and len(self._counts) >= self.max_clients:
            return None
        seen = self._counts[key] = self._counts.get(key, 0) + 1
        if seen <= self.limits[bucket]:
            return None
        if seen == self.limits[bucket] + 1:  # the first excess of this window is an offence
            offences = self._offences.setdefault(clients[0], [])
            offences.append(window)
            if len(offences) >= self.offences_to_block:
                until = now + self.block_for
                self.block(clients[0], until)
                return Limited(_seconds_until(until, now), new_block=until)
        return Limited(_WINDOW_S - int(now.timestamp()) % _WINDOW_S)

    def blocked_until(self, clients: Iterable[str], now: datetime) -> datetime | None:
        if not self._blocks:
            return None
        for client in clients:
            until = self._blocks.get(client)
            if until is not None:
                if until > now:
                    return until
                del self._blocks[client]
        return None

    def block(self, client: str, until: datetime) -> None:
        self._blocks[client] = max(until, self._blocks.get(client, until))

    def unblock(self, clients: Iterable[str]) -> None:
        for client in clients:
            self._blocks.pop(client, None)
            self._offences.pop(client, None)

    def replace_blocks(self, blocks: Mapping[str, datetime]) -> None:
        """Take the store's view (which every worker writes to) as the truth."""
        self._blocks = dict(blocks)

    def _advance(self, now: datetime) -> int:
        window = int(now.timestamp()) // _WINDOW_S
        if window != self._window:
            self._window = window
            self._counts.clear()
            oldest = window - _OFFENCE_MEMORY
            self._offences = {
                client: kept for client, times in self._offences.items()
                if (kept := [t for t in times if t > oldest])
            }
        return window


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))
