"""Page tokens (gateway/core/analytics/pagetoken.py): a short-lived signed token naming the
site verifies only for that site, within its lifetime, under a current or older key."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeSerializer

from gateway.core.analytics.pagetoken import MAX_PAGE_TOKEN_CHARS, REUSE_WINDOW, PageTokens
from gateway.core.consent.cookie import COOKIE_SALT
from tests.conftest import SECRET

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PAGE_TOKEN_LIFETIME = timedelta(minutes=30)
OLD_KEY = "old-page-token-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
NEW_KEY = "new-page-token-key-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"


def page_tokens(*keys: str) -> PageTokens:
    return PageTokens(keys or (SECRET,), PAGE_TOKEN_LIFETIME)


def test_a_page_token_verifies_for_its_site_within_its_lifetime() -> None:
    token = page_tokens().issue("demo", now=NOW)
    later = NOW + PAGE_TOKEN_LIFETIME - timedelta(seconds=1)
    assert page_tokens().verify(token, site="demo", now=later)


def test_a_page_token_does_not_verify_at_the_end_of_its_lifetime() -> None:
    token = page_tokens().issue("demo", now=NOW)
    assert not page_tokens().verify(token, site="demo", now=NOW + PAGE_TOKEN_LIFETIME)


def test_a_page_token_does_not_verify_for_another_site() -> None:
    token = page_tokens().issue("demo", now=NOW)
    assert not page_tokens().verify(token, site="other", now=NOW)


def test_a_page_token_signed_with_another_key_does_not_verify() -> None:
    token = page_tokens("someone-elses-key-cccccccccccccccccccccccc").issue("demo", now=NOW)
    assert not page_tokens().verify(token, site="demo", now=NOW)


def test_a_page_token_signed_with_the_old_key_still_verifies_after_rotation() -> None:
    token = page_tokens(OLD_KEY).issue("demo", now=NOW)
    assert page_tokens(NEW_KEY, OLD_KEY).verify(token, site="demo", now=NOW)


def test_after_rotation_page_tokens_are_signed_with_the_newest_key() -> None:
    token = page_tokens(NEW_KEY, OLD_KEY).issue("demo", now=NOW)
    assert page_tokens(NEW_KEY).verify(token, site="demo", now=NOW)
    assert not page_tokens(OLD_KEY).verify(token, site="demo", now=NOW)


def test_a_page_token_from_the_future_does_not_verify() -> None:
    token = page_tokens().issue("demo", now=NOW + timedelta(hours=1))
    assert not page_tokens().verify(token, site="demo", now=NOW)


def test_a_value_signed_with_the_same_key_for_another_purpose_is_no_page_token() -> None:
    payload = ["demo", int(NOW.timestamp())]
    consent_signed = URLSafeSerializer([SECRET], salt=COOKIE_SALT).dumps(payload)
    assert not page_tokens().verify(consent_signed, site="demo", now=NOW)


def test_a_page_token_over_the_length_cap_is_refused_even_if_genuine() -> None:
    # Hex digests: signed payloads are compressed, so a repetitive name would stay short.
    long_site = "".join(hashlib.sha256(bytes([i])).hexdigest() for i in range(8))
    token = page_tokens().issue(long_site, now=NOW)
    assert len(token) > MAX_PAGE_TOKEN_CHARS
    assert not page_tokens().verify(token, site=long_site, now=NOW)


@pytest.mark.parametrize("token", [None, "", 42, "x" * 5000], ids=["None", "empty", "int", "huge"])
def test_a_page_token_that_is_no_token_at_all_does_not_verify(token: object) -> None:
    assert not page_tokens().verify(token, site="demo", now=NOW)


def test_a_page_token_is_signed_once_per_site_per_window_and_still_verifies() -> None:
    tokens = page_tokens()
    first = tokens.issue("demo", now=NOW)
    within = NOW + timedelta(seconds=REUSE_WINDOW - 1)
    assert tokens.issue("demo", now=within) == first
    assert tokens.issue("other", now=within) != first
    after = NOW + timedelta(seconds=REUSE_WINDOW)
    fresh = tokens.issue("demo", now=after)
    assert fresh != first
    # The reused token carries the second it was issued: its lifetime runs from then.
    assert page_tokens().verify(first, site="demo", now=within)
    second = timedelta(seconds=1)
    assert page_tokens().verify(first, site="demo", now=NOW + PAGE_TOKEN_LIFETIME - second)
    assert not page_tokens().verify(first, site="demo", now=NOW + PAGE_TOKEN_LIFETIME)
    assert page_tokens().verify(fresh, site="demo", now=after + PAGE_TOKEN_LIFETIME - second)


def test_a_clock_that_goes_back_gets_a_freshly_signed_token() -> None:
    tokens = page_tokens()
    first = tokens.issue("demo", now=NOW)
    earlier = NOW - timedelta(seconds=1)
    token = tokens.issue("demo", now=earlier)
    assert token != first
    assert page_tokens().verify(token, site="demo", now=earlier)
