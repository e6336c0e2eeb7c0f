"""The signed consent cookie (gateway/core/consent/cookie.py): it round-trips, and anything
that is not a fresh, untouched cookie of this site and policy revision counts as no consent."""

from __future__ import annotations

import base64
import re
import string
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeSerializer

from gateway.core.analytics.pagetoken import PageTokens
from gateway.core.consent.cookie import (
    COOKIE_SALT,
    MAX_COOKIE_CHARS,
    Consent,
    ConsentCookieCodec,
    granted_categories,
    new_consent_id,
)
from gateway.core.types import CATEGORIES, OPTIONAL_CATEGORIES, Category
from tests.conftest import SECRET

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
LIFETIME = timedelta(days=365)
OLD_KEY = "old-signing-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
NEW_KEY = "new-signing-key-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
BASE64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def make_consent(
    *granted: Category, site: str = "demo", revision: int = 1, decided_at: datetime = NOW
) -> Consent:
    return Consent(
        consent_id=new_consent_id(),
        site=site,
        granted=granted_categories(granted),
        revision=revision,
        decided_at=decided_at,
    )


def codec(*keys: str) -> ConsentCookieCodec:
    return ConsentCookieCodec(keys or (SECRET,), LIFETIME)


def decode(
    value: str | None,
    *,
    using: ConsentCookieCodec | None = None,
    site: str = "demo",
    revision: int = 1,
    now: datetime = NOW,
) -> Consent | None:
    return (using or codec()).decode(value, site=site, revision=revision, now=now)


def change_char(value: str, position: int) -> str:
    """Replace one character by another that changes what it encodes.

    A base64 character stands for 6 bits; flipping the highest of them always changes the
    decoded bytes (the last character of a segment may carry unused low bits, so a change
    there alone would not alter the cookie's content at all)."""
    char = value[position]
    replacement = BASE64URL[(BASE64URL.index(char) + 32) % 64] if char in BASE64URL else "A"
    return value[:position] + replacement + value[position + 1 :]


def test_a_cookie_decodes_to_the_consent_it_was_made_from() -> None:
    consent = make_consent("analytics", "preferences")
    assert decode(codec().encode(consent)) == consent


def test_a_cookie_is_url_safe_and_fits_a_cookie_value() -> None:
    value = codec().encode(make_consent(*OPTIONAL_CATEGORIES))
    assert re.fullmatch(r"[A-Za-z0-9_.\-]+", value)
    assert len(value) < MAX_COOKIE_CHARS


@pytest.mark.parametrize("where", ["first", "quarter", "middle", "last-of-payload", "dot", "last"])
def test_one_changed_character_anywhere_makes_the_cookie_worthless(where: str) -> None:
    value = codec().encode(make_consent("analytics"))
    dot = value.rindex(".")
    position = {
        "first": 0,
        "quarter": len(value) // 4,
        "middle": len(value) // 2,
        "last-of-payload": dot - 1,
        "dot": dot,
        "last": len(value) - 1,
    }[where]
    assert decode(change_char(value, position)) is None


def test_no_single_character_of_a_cookie_can_be_changed_unnoticed() -> None:
    value = codec().encode(make_consent("marketing"))
    survivors = [i for i in range(len(value)) if decode(change_char(value, i)) is not None]
    assert survivors == []


def test_a_cookie_signed_with_an_unknown_key_counts_as_no_consent() -> None:
    value = codec("someone-elses-key-cccccccccccccccccccccccccc").encode(make_consent("analytics"))
    assert decode(value) is None


def test_a_cookie_signed_for_another_purpose_counts_as_no_consent() -> None:
    consent = make_consent("analytics")
    genuine = codec().encode(consent)
    payload = URLSafeSerializer([SECRET], salt=COOKIE_SALT).loads(genuine)
    other_purpose = URLSafeSerializer([SECRET], salt="some-other-salt").dumps(payload)
    assert decode(other_purpose) is None


def test_a_cookie_signed_with_the_old_key_still_verifies_after_rotation() -> None:
    consent = make_consent("analytics")
    value = codec(OLD_KEY).encode(consent)
    assert decode(value, using=codec(NEW_KEY, OLD_KEY)) == consent


def test_after_rotation_new_cookies_are_signed_with_the_newest_key() -> None:
    consent = make_consent("analytics")
    value = codec(NEW_KEY, OLD_KEY).encode(consent)
    assert decode(value, using=codec(NEW_KEY)) == consent
    assert decode(value, using=codec(OLD_KEY)) is None


def test_a_cookie_at_the_end_of_its_lifetime_counts_as_no_consent() -> None:
    value = codec().encode(make_consent("analytics"))
    assert decode(value, now=NOW + LIFETIME) is None


def test_a_cookie_one_second_before_the_end_of_its_lifetime_is_valid() -> None:
    consent = make_consent("analytics")
    value = codec().encode(consent)
    assert decode(value, now=NOW + LIFETIME - timedelta(seconds=1)) == consent


def test_a_shorter_configured_lifetime_applies_to_cookies_already_given() -> None:
    value = codec().encode(make_consent("analytics"))
    short = ConsentCookieCodec([SECRET], timedelta(days=30))
    assert decode(value, using=short, now=NOW + timedelta(days=31)) is None


def test_a_cookie_from_an_older_policy_revision_counts_as_no_consent() -> None:
    value = codec().encode(make_consent("analytics", revision=1))
    assert decode(value, revision=2) is None


def test_a_cookie_of_another_site_counts_as_no_consent() -> None:
    value = codec().encode(make_consent("analytics", site="shop"))
    assert decode(value, site="demo") is None


def test_a_cookie_stamped_far_in_the_future_counts_as_no_consent() -> None:
    value = codec().encode(make_consent("analytics", decided_at=NOW + timedelta(hours=1)))
    assert decode(value) is None


def test_a_cookie_stamped_a_minute_ahead_is_tolerated_as_clock_skew() -> None:
    consent = make_consent("analytics", decided_at=NOW + timedelta(minutes=1))
    assert decode(codec().encode(consent)) == consent


def test_an_over_long_cookie_is_refused_even_when_properly_signed() -> None:
    # Random text, so the serializer's zlib compression cannot shrink it below the cap.
    long_site = "".join(new_consent_id() for _ in range(MAX_COOKIE_CHARS // 22 + 1))
    value = codec().encode(make_consent("analytics", site=long_site))
    assert len(value) > MAX_COOKIE_CHARS
    assert decode(value, site=long_site) is None


@pytest.mark.parametrize(
    "value",
    [None, "", "consent", "a.b", ".", "....", "eyJpIjoxfQ.AAAA", "%00%ff", "ü.ñ", " " * 40],
)
def test_garbage_counts_as_no_consent(value: str | None) -> None:
    assert decode(value) is None


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"i": "short", "s": "demo", "g": [], "r": 1, "t": int(NOW.timestamp())},
        {"i": new_consent_id(), "s": "demo", "g": ["tracking"], "r": 1, "t": 1},
        {"i": new_consent_id(), "s": "demo", "g": [], "r": "1", "t": int(NOW.timestamp())},
        {"i": new_consent_id(), "s": "demo", "g": [], "r": True, "t": int(NOW.timestamp())},
        {"i": new_consent_id(), "s": "demo", "g": [], "r": 1, "t": NOW.timestamp() + 0.5},
    ],
)
def test_a_signed_payload_of_the_wrong_shape_counts_as_no_consent(payload: object) -> None:
    # Signed by us, e.g. by an older version: the shape is still checked, not trusted.
    value = URLSafeSerializer([SECRET], salt=COOKIE_SALT).dumps(payload)
    assert decode(value) is None


def test_a_consent_id_is_22_url_safe_characters_holding_128_bits() -> None:
    consent_id = new_consent_id()
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", consent_id)
    assert len(base64.urlsafe_b64decode(consent_id + "==")) == 16


def test_consent_ids_do_not_repeat() -> None:
    ids = {new_consent_id() for _ in range(20_000)}
    assert len(ids) == 20_000


def test_necessary_is_granted_even_when_a_choice_leaves_it_out() -> None:
    assert granted_categories([]) == {"necessary"}
    assert granted_categories(["analytics"]) == {"necessary", "analytics"}


def test_a_consent_allows_necessary_whatever_its_granted_set_says() -> None:
    consent = Consent(new_consent_id(), "demo", frozenset(), 1, NOW)
    assert consent.allows("necessary")
    assert not any(consent.allows(c) for c in OPTIONAL_CATEGORIES)


def test_necessary_survives_the_cookie_round_trip_of_a_rejection() -> None:
    decoded = decode(codec().encode(make_consent()))
    assert decoded is not None
    assert decoded.categories() == {c: c == "necessary" for c in CATEGORIES}
    assert decoded.denied == frozenset(OPTIONAL_CATEGORIES)


def test_a_signature_spelt_differently_in_its_padding_bits_is_refused() -> None:
    """base64 leaves the last character's low bits unused: 'A'..'D' decode alike. Every
    one-character change must still be refused, so only the issued spelling verifies."""
    issued = codec().encode(make_consent("analytics"))
    group = BASE64URL.index(issued[-1]) // 4 * 4
    siblings = [c for c in BASE64URL[group:group + 4] if c != issued[-1]]
    assert len(siblings) == 3
    for sibling in siblings:
        assert decode(issued[:-1] + sibling) is None
    assert decode(issued) is not None


def test_every_other_character_in_every_position_is_refused() -> None:
    value = codec().encode(make_consent("preferences"))
    survivors = [
        (i, c) for i in range(len(value)) for c in BASE64URL + "."
        if c != value[i] and decode(value[:i] + c + value[i + 1:]) is not None
    ]
    assert survivors == []


# ------------------------------------------- one codec, many requests (verification is cached)


def test_a_remembered_cookie_still_expires_and_still_belongs_to_one_site() -> None:
    shared = codec()
    consent = make_consent("analytics")
    value = shared.encode(consent)
    assert decode(value, using=shared) == consent  # verified and remembered
    assert decode(value, using=shared, now=NOW + LIFETIME) is None
    assert shared.decode(value, site="other-site", revision=1, now=NOW) is None
    assert decode(value, using=shared) == consent


def test_a_forged_cookie_stays_refused_when_sent_again() -> None:
    shared = codec()
    forged = change_char(shared.encode(make_consent("analytics")), 5)
    assert [decode(forged, using=shared) for _ in range(3)] == [None, None, None]


def test_keys_derived_for_page_tokens_never_serve_consent_cookies() -> None:
    tokens, shared = PageTokens([SECRET], timedelta(hours=1)), codec()
    token = tokens.issue("example", now=NOW)
    cookie = shared.encode(make_consent("analytics"))
    assert tokens.verify(token, site="example", now=NOW)
    assert decode(cookie, using=shared) is not None
    assert decode(token, using=shared) is None
    assert not tokens.verify(cookie, site="example", now=NOW)
