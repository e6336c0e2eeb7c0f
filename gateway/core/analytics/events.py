"""Values of first-party analytics shared by the pipeline, the store and the stats (pure).

An `AnalyticsEvent` is what may be stored: no IP address, no user-agent string, no query
string, no consent id — only `visitor`, a keyed HMAC of the consent id. (`search` is the
one value taken from a query string: the term of a site-search parameter the site names in
`[[sites]].search_params`, lower-cased and capped.)

A `pagehide` is an engagement hit `consent.js` sends when the visitor leaves a page: it
ends that page's time on page and extends its visit, and is neither a pageview nor a custom
event (it counts in no total or breakdown and does not keep a visit from being a bounce).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal, get_args

EventType = Literal["pageview", "event", "pagehide"]
Device = Literal["desktop", "mobile", "tablet", "other"]
DropReason = Literal[
    "invalid",      # malformed or over a cap
    "no_consent",   # no valid signed consent granting analytics
    "forged",       # claims a proxied page but carries no valid page token / wrong origin
    "bot",          # a crawler or a headless browser: counted, not stored
    "dnt",          # DNT: 1 with privacy.dnt_denies_analytics
    "disabled",     # analytics switched off in the configuration
]

EVENT_TYPES: Final[tuple[EventType, ...]] = get_args(EventType)
DEVICES: Final[tuple[Device, ...]] = get_args(Device)
DROP_REASONS: Final[tuple[DropReason, ...]] = get_args(DropReason)

UTM_FIELDS: Final = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


@dataclass(frozen=True, slots=True)
class Location:
    """Where an address is, as far as may be stored. Empty strings: unknown / not kept."""

    country: str = ""
    region: str = ""
    city: str = ""


@dataclass(frozen=True, slots=True)
class Agent:
    """A user agent reduced to families, no versions (no fingerprint)."""

    browser: str = "Other"
    os: str = "Other"
    device: Device = "other"
    bot: bool = False


@dataclass(frozen=True, slots=True)
class AnalyticsEvent:
    """One stored pageview, custom event or pagehide (SPEC §3.5)."""

    site: str
    ts: datetime
    visitor: str
    type: EventType
    path: str
    name: str = ""
    hostname: str = ""
    referrer_host: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_term: str = ""
    utm_content: str = ""
    country: str = ""
    region: str = ""
    city: str = ""
    browser: str = "Other"
    os: str = "Other"
    device: Device = "other"
    screen_width: int | None = None
    props: dict[str, str] = field(default_factory=dict)
    search: str = ""  # a pageview's site-search term (lower-cased, ≤ 100 chars), or ""


@dataclass(frozen=True, slots=True)
class Drop:
    """An event the pipeline refused; dropping is an outcome, not an error."""

    reason: DropReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AccessLogEntry:
    """One request the gateway handled, kept for security (no consent needed): the path
    without its query, the truncated address and the browser family only."""

    ts: datetime
    site: str
    method: str
    path: str
    status: int
    duration_ms: float
    ip: str
    browser: str
