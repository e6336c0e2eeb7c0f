"""The consent log's hash chain (gateway/core/consent/record.py): a sealed chain verifies, and any
change, removal, reordering or lost tail is reported at the record where it happened."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from gateway.adapters.useragent import browser_and_os
from gateway.core.consent.cookie import new_consent_id
from gateway.core.consent.record import (
    GENESIS_HASH,
    ChainBreak,
    ChainVerifier,
    ConsentDraft,
    ConsentRecord,
    format_timestamp,
    parse_timestamp,
    seal,
)

START = datetime(2026, 11, 21, 12, 0, 0, 250_000, tzinfo=UTC)
USER_AGENTS = (
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
)


def draft(n: int) -> ConsentDraft:
    accepted = n % 2 == 0
    return ConsentDraft(
        recorded_at=START + timedelta(seconds=17 * n, microseconds=n),
        consent_id=new_consent_id(),
        site="demo",
        action="accept_all" if accepted else "reject_all",
        source="banner",
        granted=("necessary", "preferences", "analytics", "marketing") if accepted
        else ("necessary",),
        denied=() if accepted else ("preferences", "analytics", "marketing"),
        revision=1,
        banner_hash="9f" * 32,
        language="nl",
        ip=f"81.2.{60 + n}.0",
        user_agent=browser_and_os(USER_AGENTS[n % len(USER_AGENTS)]),
        page=f"/winkel/product-{n}",
        gpc=n % 3 == 0,
    )


def sealed_chain(length: int = 6) -> list[ConsentRecord]:
    records: list[ConsentRecord] = []
    prev_hash = GENESIS_HASH
    for seq in range(1, length + 1):
        record = seal(draft(seq), seq=seq, prev_hash=prev_hash)
        records.append(record)
        prev_hash = record.hash
    return records


def first_break(records: Iterable[ConsentRecord], head_seq: int | None = None) -> ChainBreak | None:
    verifier = ChainVerifier()
    for record in records:
        problem = verifier.check(record)
        if problem is not None:
            return problem
    return verifier.check_head(head_seq) if head_seq is not None else None


def test_a_sealed_chain_verifies_up_to_its_head() -> None:
    records = sealed_chain()
    assert first_break(records, head_seq=len(records)) is None


def test_the_verifier_counts_every_record_it_checked() -> None:
    verifier = ChainVerifier()
    for record in sealed_chain(5):
        assert verifier.check(record) is None
    assert verifier.checked == 5


def test_sealing_links_each_record_to_the_one_before() -> None:
    records = sealed_chain(3)
    assert records[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]
    assert len({r.hash for r in records}) == 3


def test_the_user_agent_is_logged_as_families_only() -> None:
    # A real UA string carries versions; the proof of consent must hold no fingerprint.
    assert draft(1).user_agent == "Chrome / Windows"
    assert draft(3).user_agent == "Firefox / Ubuntu"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("consent_id", new_consent_id()),
        ("action", "accept_all"),
        ("granted", ("necessary", "analytics")),
        ("denied", ("marketing",)),
        ("revision", 2),
        ("banner_hash", "00" * 32),
        ("language", "en"),
        ("ip", "81.2.99.0"),
        ("page", "/winkel/andere-pagina"),
        ("gpc", False),
        ("site", "shop"),
        ("source", "preferences"),
        ("seq", 9),
        ("recorded_at", START + timedelta(seconds=17 * 3, microseconds=4)),
        ("prev_hash", GENESIS_HASH),
        ("hash", "ab" * 32),
    ],
)
def test_changing_one_field_of_a_record_breaks_the_chain_at_that_record(
    field: str, value: Any
) -> None:
    records = sealed_chain()
    k = 3
    assert getattr(records[k - 1], field) != value, "the change must be a change"
    records[k - 1] = replace(records[k - 1], **{field: value})
    problem = first_break(records)
    assert problem is not None
    assert problem.seq == k


def test_a_changed_record_resealed_by_the_forger_breaks_the_chain_at_the_next_record() -> None:
    records = sealed_chain()
    forged = replace(draft(2), action="accept_all", granted=("necessary", "marketing"))
    records[1] = seal(forged, seq=2, prev_hash=records[0].hash)
    problem = first_break(records)
    assert problem is not None
    assert problem.seq == 3


@pytest.mark.parametrize("removed_seq", [1, 3, 5])
def test_a_removed_record_is_reported_by_its_seq(removed_seq: int) -> None:
    records = [r for r in sealed_chain() if r.seq != removed_seq]
    problem = first_break(records)
    assert problem is not None
    assert problem.seq == removed_seq
    assert "missing" in problem.reason


def test_two_swapped_records_break_the_chain_at_the_first_of_them() -> None:
    records = sealed_chain()
    records[2], records[3] = records[3], records[2]
    problem = first_break(records)
    assert problem is not None
    assert problem.seq == 3


def test_a_truncated_tail_is_caught_by_comparing_with_the_head() -> None:
    records = sealed_chain(6)
    problem = first_break(records[:4], head_seq=6)
    assert problem is not None
    assert problem.seq == 5


def test_a_chain_without_its_tail_looks_intact_record_by_record() -> None:
    # Why check_head exists: every remaining record still verifies on its own.
    assert first_break(sealed_chain(6)[:4]) is None


def test_an_empty_log_matches_an_empty_head() -> None:
    assert ChainVerifier().check_head(0) is None


def test_a_timestamp_round_trip_keeps_microseconds_and_utc() -> None:
    moment = datetime(2026, 11, 21, 12, 34, 56, 789_012, tzinfo=UTC)
    text = format_timestamp(moment)
    assert text == "2026-11-21T12:34:56.789012Z"
    back = parse_timestamp(text)
    assert back == moment
    assert back.microsecond == 789_012
    assert back.utcoffset() == timedelta(0)


def test_a_timestamp_in_another_zone_is_written_as_the_same_instant_in_utc() -> None:
    amsterdam_winter = timezone(timedelta(hours=1))
    moment = datetime(2026, 11, 21, 13, 0, 0, 5, tzinfo=amsterdam_winter)
    assert format_timestamp(moment) == "2026-11-21T12:00:00.000005Z"
    assert parse_timestamp(format_timestamp(moment)) == moment


def test_a_record_exports_its_timestamp_in_the_hashed_spelling() -> None:
    record = sealed_chain(1)[0]
    exported = record.to_json()
    assert parse_timestamp(exported["recorded_at"]) == record.recorded_at
    assert exported["granted"] == list(record.granted)
