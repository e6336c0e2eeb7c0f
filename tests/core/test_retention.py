"""Retention policy (gateway/core/retention.py): the cut-off moments per table, one year by
default, and the indexable test for a due consent record agreeing with when its consent
ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gateway.core.config import RetentionConfig
from gateway.core.retention import consent_ended_at, cutoffs

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
POLICY = RetentionConfig()
LIFETIME = timedelta(days=365)


def test_the_cutoffs_are_one_year_by_default() -> None:
    due = cutoffs(NOW, POLICY, consent_lifetime=LIFETIME)
    assert due.analytics_events == due.access_log == NOW - timedelta(days=365)


@given(
    recorded=st.integers(0, 2000), gap=st.none() | st.integers(0, 2000),
    lifetime=st.integers(1, 395), keep=st.integers(30, 800), now=st.integers(0, 4000),
)
def test_the_indexable_due_test_agrees_with_when_a_consent_ended(
    recorded: int, gap: int | None, lifetime: int, keep: int, now: int
) -> None:
    day = timedelta(days=1)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    recorded_at = start + recorded * day
    next_at = None if gap is None else recorded_at + gap * day
    due = cutoffs(start + now * day, RetentionConfig(consent_log_days=keep),
                  consent_lifetime=lifetime * day).consents
    ended = consent_ended_at(recorded_at, next_at, lifetime * day)
    assert due.is_due(recorded_at, next_at) == (ended < start + (now - keep) * day)
