"""Walking the consent log's hash chain through any `ConsentLogStore` (adapter): one check shared by
`consent-gateway verify-log` and `GET /_consent/admin/verify`.

A routine walk resumes at the checkpoint (seq + hash) the last walk that got through left:
it checks that this record is still there with that hash, then hashes only the records
after it, so it is quick however long the log is. A full walk (`full=True`, `verify-log
--full`, `verify?full=1`) hashes every record from the first: an old record edited with
its stored hash kept shows only then. Every walk that reaches the head moves the checkpoint
there. The hashing runs in a worker thread a page at a time, so the event loop keeps
serving requests meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.adapters.store import ConsentLogStore
from gateway.core.consent.export import GENESIS_HEAD, ChainHead, ConsentFilter
from gateway.core.consent.record import ChainBreak, ChainVerifier, LogEntry
from gateway.core.errors import StoreError


@dataclass(frozen=True, slots=True)
class ChainWalk:
    head: ChainHead  # read first: appends during the walk do not count
    verdict: ChainVerifier | ChainBreak
    resumed_from: int  # the checkpoint's seq: records up to it were verified before (0: all)


async def walk_chain(store: ConsentLogStore, *, full: bool = False) -> ChainWalk:
    """Check every entry after the checkpoint (every entry, if `full`) up to the head read
    first, and that the last one is the head: also an edit of the newest record, re-hashed,
    shows."""
    head = ChainHead(*await store.chain_head())
    start = GENESIS_HEAD if full else await _resume_point(store, head)
    if isinstance(start, ChainBreak):
        return ChainWalk(head, start, 0)
    verifier = ChainVerifier.after(start.seq, start.hash)
    async for page in store.iter_consent_pages(ConsentFilter(), up_to_seq=head.seq,
                                               after_seq=start.seq):
        problem = await asyncio.to_thread(_check_page, verifier, page)
        if problem is not None:
            return ChainWalk(head, problem, start.seq)
    problem = verifier.check_head(head.seq)
    if problem is None and verifier.prev_hash != head.hash:
        problem = ChainBreak(head.seq, "the newest record's hash is not the chain head's")
    if problem is not None:
        return ChainWalk(head, problem, start.seq)
    # Only a shortcut for the next walk: a store that refuses the write (read-only) still
    # has an intact chain.
    with contextlib.suppress(StoreError):
        await store.save_chain_checkpoint(head.seq, head.hash)
    return ChainWalk(head, verifier, start.seq)


def _check_page(verifier: ChainVerifier, page: Sequence[LogEntry]) -> ChainBreak | None:
    for entry in page:
        problem = verifier.check(entry)
        if problem is not None:
            return problem
    return None


async def _resume_point(store: ConsentLogStore, head: ChainHead) -> ChainHead | ChainBreak:
    """Where a routine walk starts: the checkpoint, if its record is still what was
    verified; the first record if there is no checkpoint."""
    saved = await store.chain_checkpoint()
    if saved is None or saved[0] == 0:
        return GENESIS_HEAD
    seq, chain_hash = saved
    if seq > head.seq:
        return ChainBreak(head.seq + 1, f"log ends before seq {seq}, verified earlier")
    # Left unfinished: a page is read whole, so no cursor stays open.
    entry = await anext(aiter(store.iter_consents(after_seq=seq - 1)), None)
    if entry is None or entry.seq != seq:
        return ChainBreak(seq, "record missing (verified earlier)")
    if entry.hash != chain_hash:
        return ChainBreak(seq, "hash differs from the one verified earlier")
    return ChainHead(seq, chain_hash)
