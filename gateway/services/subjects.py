"""Data subjects: what is stored under a consent id, as a download, and erasing it — for the
visitor's own browser (`/me`) and for the admin acting on a visitor's written request."""

from __future__ import annotations

from typing import Any, Protocol

from gateway.adapters.clock import Clock
from gateway.adapters.store import AnalyticsStore, ConsentLogStore
from gateway.core.analytics.events import AnalyticsEvent
from gateway.core.analytics.pipeline import visitor_of
from gateway.core.consent.banner import consent_json
from gateway.core.consent.cookie import Consent
from gateway.core.consent.subjects import MAX_EXPORT_EVENTS, subject_document
from gateway.services.analytics import AnalyticsService
from gateway.services.consents import ConsentService


class SubjectStores(ConsentLogStore, AnalyticsStore, Protocol):
    """What a subject's data is read from and erased in."""


class SubjectService:
    def __init__(
        self, *, store: SubjectStores, clock: Clock, consents: ConsentService,
        analytics: AnalyticsService,
    ) -> None:
        self.store = store
        self.clock = clock
        self.consents = consents
        self.analytics = analytics

    async def subject_data(
        self, consent_id: str, *, site: str | None, current: Consent | None = None
    ) -> dict[str, Any]:
        """Everything stored under a consent id (on one site, or on every site it was used).
        Events still waiting to be written are written first, so the download is complete."""
        await self.analytics.events.flush()
        history = [r for r in await self.store.consent_history(consent_id)
                   if site is None or r.site == site]
        events: list[AnalyticsEvent] = []
        for site_id in sorted({site} if site else {r.site for r in history}):
            visitor = visitor_of(self.analytics.visitor_key, site_id, consent_id)
            async for event in self.store.iter_events(site=site_id, visitor=visitor):
                if len(events) >= MAX_EXPORT_EVENTS:
                    break
                events.append(event)
        return subject_document(
            consent_id=consent_id, site=site, generated_at=self.clock(),
            current=consent_json(current, self.consents.lifetime, include_id=True),
            history=history, events=events,
        )

    async def erase_events_of(self, consent_id: str, site: str) -> int:
        """Delete the analytics events recorded under this consent id on this site,
        including those still waiting to be written; returns how many."""
        visitor = visitor_of(self.analytics.visitor_key, site, consent_id)
        queued = await self.analytics.events.discard(
            lambda e: e.visitor == visitor and e.site == site)
        return queued + await self.store.erase_events(visitor, site)
