"""Retention policy (pure): what is old enough to delete, given the time and the config.

Access-log rows and analytics events are deleted a fixed number of days after they were
recorded (one year by default), so the privacy statement's promise holds without anyone
having to remember it. Consent records are proof, so they are kept while the consent they
prove is in force and a year after it ended, then reduced to tombstones. Keys for hashing
client addresses live at most 48 hours. The runner that applies the policy is `gateway.jobs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final, Literal, get_args

from gateway.core.config import RetentionConfig

# Tables whose rows simply go once they are older than a cut-off.
Table = Literal["analytics_events", "access_log", "bot_counts"]
TABLES: Final[tuple[Table, ...]] = get_args(Table)
# Everything a purge reports on.
Purged = Literal["analytics_events", "access_log", "bot_counts", "consent_log",
                 "ip_hash_keys", "blocklist"]


@dataclass(frozen=True, slots=True)
class ConsentCutoffs:
    """A consent record proves a consent from its `recorded_at` until the consent ended:
    replaced by the next record for the same consent id (a new choice, a withdrawal, an
    erasure) or expired at `recorded_at + lifetime`, whichever came first. It is due for
    its tombstone `consent_log_days` after that end, and never before.

    Both conditions are plain comparisons of stored times, so a store can select the due
    records with an index: `next.recorded_at < ended_before` or `recorded_at <
    given_before` (which is `ended_before - lifetime`).
    """

    ended_before: datetime
    given_before: datetime

    def is_due(self, recorded_at: datetime, next_recorded_at: datetime | None) -> bool:
        replaced = next_recorded_at is not None and next_recorded_at < self.ended_before
        return replaced or recorded_at < self.given_before


def consent_ended_at(
    recorded_at: datetime, next_recorded_at: datetime | None, lifetime: timedelta
) -> datetime:
    """When the consent a record proves stopped being in force."""
    expired = recorded_at + lifetime
    return expired if next_recorded_at is None else min(expired, next_recorded_at)


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Rows recorded before these moments are due for deletion."""

    analytics_events: datetime
    access_log: datetime
    consents: ConsentCutoffs
    # Hash keys of days before this one are deleted: today's and yesterday's remain, so
    # no key is older than 48 hours (a key is made for, and at the earliest on, its day).
    oldest_key_day: date
    now: datetime

    @property
    def bot_counts(self) -> datetime:
        # Bot tallies are analytics data too: the same period (stored per whole day).
        return self.analytics_events

    def of(self, table: Table) -> datetime:
        return {"analytics_events": self.analytics_events, "access_log": self.access_log,
                "bot_counts": self.bot_counts}[table]


def cutoffs(now: datetime, policy: RetentionConfig, *, consent_lifetime: timedelta) -> Cutoffs:
    ended_before = now - timedelta(days=policy.consent_log_days)
    return Cutoffs(
        analytics_events=now - timedelta(days=policy.analytics_days),
        access_log=now - timedelta(days=policy.access_log_days),
        consents=ConsentCutoffs(ended_before, ended_before - consent_lifetime),
        oldest_key_day=now.date() - timedelta(days=1),
        now=now,
    )
