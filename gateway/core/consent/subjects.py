"""A visitor's own data, as they (or the admin on their behalf) may download it (pure).

GDPR art. 15 and 20: everything stored under the visitor's consent id — the consent
records that prove their choices and the analytics events recorded under the pseudonym
derived from that id — in a portable, machine-readable JSON document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, Final

from gateway.core.analytics.events import AnalyticsEvent
from gateway.core.consent.record import ConsentRecord, format_timestamp

EXPORT_FORMAT: Final = "consent-gateway/subject-data/v1"
MAX_EXPORT_EVENTS: Final = 100_000


def subject_document(
    *,
    consent_id: str,
    site: str | None,
    generated_at: datetime,
    current: dict[str, Any] | None,
    history: Sequence[ConsentRecord],
    events: Sequence[AnalyticsEvent],
) -> dict[str, Any]:
    """The download. `current` is the consent the visitor's cookie carries now (None when
    the admin exports, or the cookie no longer counts)."""
    return {
        "format": EXPORT_FORMAT,
        "generated_at": format_timestamp(generated_at),
        "site": site,
        "consent_id": consent_id,
        "current_consent": current,
        "consent_history": [record.to_json() for record in history],
        "analytics_events": [event_json(event) for event in events],
        "about": (
            "consent_history: every decision recorded for this consent id, kept as proof of "
            "consent until a year after that consent ended. analytics_events: what was "
            "measured on this site with your consent; 'visitor' is a keyed pseudonym of your "
            "consent id. No IP address or full user-agent string is stored."
        ),
    }


def event_json(event: AnalyticsEvent) -> dict[str, Any]:
    data = asdict(event)
    data["ts"] = format_timestamp(event.ts)
    return data
