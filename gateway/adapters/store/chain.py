"""Walking the consent log's hash chain through any `ConsentLogStore` (adapter): one check shared by
`consent-gateway verify-log` and `GET /_consent/admin/verify`."""

from __future__ import annotations

from gateway.adapters.store import ConsentLogStore
from gateway.core.consent.export import ChainHead, ConsentFilter
from gateway.core.consent.record import ChainBreak, ChainVerifier


async def walk_chain(store: ConsentLogStore) -> tuple[ChainHead, ChainVerifier | ChainBreak]:
    """Check every entry up to the head read first (appends meanwhile do not count), and
    that the last one is the head: also an edit of the newest record, re-hashed, shows."""
    head = ChainHead(*await store.chain_head())
    verifier = ChainVerifier()
    async for page in store.iter_consent_pages(ConsentFilter(), up_to_seq=head.seq):
        for entry in page:
            problem = verifier.check(entry)
            if problem is not None:
                return head, problem
    problem = verifier.check_head(head.seq)
    if problem is None and verifier.prev_hash != head.hash:
        problem = ChainBreak(head.seq, "the newest record's hash is not the chain head's")
    return head, problem or verifier
