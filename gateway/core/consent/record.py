"""Proof of consent: records of SPEC §3.4, their hash chain and its verification (pure).

Each record's `hash` is SHA-256 over a canonical JSON of every other field, `prev_hash`
included, so changing, removing or reordering any record breaks the chain from there on.
Fields added later (`mode`, `host`) are hashed only when they hold something, so records
written before they existed (where they are empty) keep their hashes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from gateway.core.types import Action, Category, Source

GENESIS_HASH: Final = "0" * 64


@dataclass(frozen=True, slots=True)
class ConsentDraft:
    """A decision about to be logged; the store gives it `seq`, `prev_hash` and `hash`."""

    recorded_at: datetime
    consent_id: str
    site: str
    action: Action
    source: Source
    granted: tuple[Category, ...]
    denied: tuple[Category, ...]
    revision: int
    banner_hash: str
    language: str
    ip: str
    user_agent: str
    page: str
    gpc: bool
    # The regional regime the decision was taken under (`opt-in`, `notice`, `none`) and the
    # host it was taken on (with `consent.cookie_domain`, one of several sharing it).
    mode: str = field(default="", kw_only=True)
    host: str = field(default="", kw_only=True)


# Hashed only when not empty (see the module docstring).
LATER_FIELDS: Final = ("mode", "host")


@dataclass(frozen=True, slots=True)
class ConsentRecord(ConsentDraft):
    """A draft sealed into the chain."""

    seq: int
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["recorded_at"] = format_timestamp(self.recorded_at)
        data["granted"], data["denied"] = list(self.granted), list(self.denied)
        return {name: data[name] for name in FIELDS}


# Column and export order: position first, then the decision, then the chain links.
FIELDS: Final = ("seq", *ConsentDraft.__dataclass_fields__, "prev_hash", "hash")


def format_timestamp(moment: datetime) -> str:
    """UTC, microseconds, `Z`: one spelling, so the hash survives any database round trip."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def record_hash(record: ConsentRecord) -> str:
    fields = record.to_json()
    del fields["hash"]
    for name in LATER_FIELDS:
        if not fields[name]:
            del fields[name]
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def seal(draft: ConsentDraft, *, seq: int, prev_hash: str) -> ConsentRecord:
    """Give a draft its place in the chain."""
    unsealed = ConsentRecord(**asdict(draft), seq=seq, prev_hash=prev_hash, hash="")
    return replace(unsealed, hash=record_hash(unsealed))


@dataclass(frozen=True, slots=True)
class Tombstone:
    """What retention leaves of a record: its place and its links, so the chain around it
    still verifies, and nothing about the decision or the visitor."""

    seq: int
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "tombstone": True, "prev_hash": self.prev_hash,
                "hash": self.hash}


LogEntry = ConsentRecord | Tombstone


@dataclass(frozen=True, slots=True)
class ChainBreak:
    seq: int
    reason: str


class ChainVerifier:
    """Checks records fed in `seq` order, one at a time (so a long log streams).

    A tombstone's contents are gone, so only its links are checked: its `prev_hash` must be
    the previous hash and the next record must point at its `hash`. A record edited and
    then disguised as a tombstone still breaks the chain unless its hash is kept, which is
    exactly what an honest tombstone does.
    """

    def __init__(self) -> None:
        self.expected_seq = 1
        self.prev_hash = GENESIS_HASH
        self.checked = 0
        self.tombstones = 0

    @classmethod
    def after(cls, seq: int, chain_hash: str) -> ChainVerifier:
        """A verifier that takes the records from `seq + 1` on, trusting record `seq` to
        have `chain_hash` (a checkpoint an earlier full check reached)."""
        verifier = cls()
        verifier.expected_seq, verifier.prev_hash = seq + 1, chain_hash
        return verifier

    def check(self, record: LogEntry) -> ChainBreak | None:
        if record.seq != self.expected_seq:
            return ChainBreak(self.expected_seq, f"record missing (next found is {record.seq})")
        if record.prev_hash != self.prev_hash:
            return ChainBreak(record.seq, "prev_hash does not match the previous record")
        if isinstance(record, ConsentRecord) and record_hash(record) != record.hash:
            return ChainBreak(record.seq, "hash does not match the record's contents")
        self.expected_seq += 1
        self.prev_hash = record.hash
        self.checked += 1
        self.tombstones += isinstance(record, Tombstone)
        return None

    def check_head(self, head_seq: int) -> ChainBreak | None:
        """The last record is not followed by anything to vouch for it: compare to the head."""
        if head_seq != self.expected_seq - 1:
            return ChainBreak(self.expected_seq, f"log ends early (head is seq {head_seq})")
        return None
