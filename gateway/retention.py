"""Retention policy (pure): what is old enough to delete, given the time and the config.

Access-log rows and analytics events are deleted a fixed number of days after they were
recorded (one year by default), so the privacy statement's promise holds without anyone
having to remember it. The runner that applies the policy lives in `gateway.jobs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, get_args

from gateway.config import RetentionConfig

Table = Literal["analytics_events", "access_log", "bot_counts"]
TABLES: Final[tuple[Table, ...]] = get_args(Table)


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Rows recorded before these moments are due for deletion."""

    analytics_events: datetime
    access_log: datetime

    @property
    def bot_counts(self) -> datetime:
        # Bot tallies are analytics data too: the same period (stored per whole day).
        return self.analytics_events

    def of(self, table: Table) -> datetime:
        return {"analytics_events": self.analytics_events, "access_log": self.access_log,
                "bot_counts": self.bot_counts}[table]


def cutoffs(now: datetime, policy: RetentionConfig) -> Cutoffs:
    return Cutoffs(
        analytics_events=now - timedelta(days=policy.analytics_days),
        access_log=now - timedelta(days=policy.access_log_days),
    )
