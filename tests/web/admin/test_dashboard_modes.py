"""The dashboard's consent rate split by regional mode (issue 20): the store counts the
decisions per mode, the rate card draws one line per mode next to the overall rate once
anything but opt-in happened, and a tombstone's blanked mode is never counted."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from gateway.adapters.store.sqlite import SQLiteStore
from gateway.core.consent.record import ConsentDraft
from gateway.core.dashboard.decisions import days_by_mode
from gateway.core.dashboard.sections import rate_card
from gateway.core.dashboard.texts import Words
from gateway.core.retention import ConsentCutoffs

DAY = date(2026, 11, 20)
AT = datetime(2026, 11, 20, 10, tzinfo=UTC)
DRAFT = ConsentDraft(
    recorded_at=AT, consent_id="A" * 22, site="demo", action="accept_all", source="banner",
    granted=("necessary", "analytics"), denied=("preferences", "marketing"), revision=1,
    banner_hash="b" * 64, language="en", ip="203.0.113.0", user_agent="Firefox / Linux",
    page="/", gpc=False, mode="opt-in", host="www.example.org",
)


async def test_the_store_counts_decisions_per_mode_and_old_records_as_empty(
    tmp_path: Path
) -> None:
    store = SQLiteStore(tmp_path / "store.sqlite3")
    await store.open()
    await store.append_consent(DRAFT)
    await store.append_consent(replace(DRAFT, mode=""))  # from before modes were kept
    await store.append_consent(replace(DRAFT, action="implied", source="region",
                                       mode="notice"))
    await store.append_consent(replace(DRAFT, action="reject_all", granted=("necessary",),
                                       mode="notice"))
    since = datetime(2026, 11, 20, tzinfo=UTC)
    counts = await store.consent_decisions_by_mode("demo", since, since + timedelta(days=1))
    assert counts == {(DAY, "accept_all", True, "opt-in"): 1, (DAY, "accept_all", True, ""): 1,
                      (DAY, "implied", True, "notice"): 1,
                      (DAY, "reject_all", False, "notice"): 1}
    far = datetime(2100, 1, 1, tzinfo=UTC)
    await store.tombstone_consents(ConsentCutoffs(ended_before=far, given_before=far), 100)
    assert await store.consent_decisions_by_mode("demo", since, far) == {}
    history = [entry async for entry in store.iter_consents()]
    assert all(entry.to_json().get("tombstone") for entry in history)
    await store.close()


def test_the_rate_card_draws_a_line_per_mode_once_anything_but_opt_in_happened() -> None:
    counts = {(DAY, "accept_all", True, ""): 3, (DAY, "reject_all", False, "opt-in"): 1,
              (DAY, "implied", True, "notice"): 5, (DAY, "reject_all", False, "notice"): 1}
    by_mode = days_by_mode(counts, DAY, DAY)
    assert list(by_mode) == ["opt-in", "notice"]
    assert by_mode["opt-in"][0].rate == 75.0
    assert by_mode["notice"][0].rate == 0.0  # implied decisions are no answer
    words = Words("en")
    html = rate_card(by_mode["opt-in"], words, by_mode)
    assert "Consent rate · opt-in" in html and "Consent rate · notice" in html
    assert 'class="line l-mode-notice"' in html or "s-mode-notice" in html
    only_opt_in = days_by_mode({(DAY, "accept_all", True, "opt-in"): 1}, DAY, DAY)
    assert "· opt-in" not in rate_card(only_opt_in["opt-in"], words, only_opt_in)


async def test_a_log_written_before_modes_existed_is_migrated_and_still_verifies(
    tmp_path: Path
) -> None:
    import sqlite3

    from gateway.adapters.store.chain import walk_chain
    from gateway.adapters.store.sqlite.schema import MIGRATIONS
    from gateway.core.consent.record import GENESIS_HASH, ChainVerifier, seal

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for statements in MIGRATIONS[:-1]:  # the schema as the previous release left it
        for statement in statements:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) - 1}")
    old = seal(replace(DRAFT, mode="", host=""), seq=1, prev_hash=GENESIS_HASH)
    row = old.to_json()
    del row["mode"], row["host"]
    row["granted"], row["denied"] = '["necessary", "analytics"]', '["preferences", "marketing"]'
    conn.execute(f"INSERT INTO consent_log ({', '.join(row)}) VALUES "
                 f"({', '.join('?' * len(row))})", tuple(row.values()))
    conn.execute("INSERT INTO consent_chain_head (id, seq, hash) VALUES (1, 1, ?)", (old.hash,))
    conn.commit()
    conn.close()
    store = SQLiteStore(path)
    await store.open()
    await store.append_consent(replace(DRAFT, mode="notice"))
    walk = await walk_chain(store, full=True)
    assert isinstance(walk.verdict, ChainVerifier) and walk.verdict.checked == 2
    modes = [entry.to_json()["mode"] async for entry in store.iter_consents()]
    assert modes == ["", "notice"]
    await store.close()
