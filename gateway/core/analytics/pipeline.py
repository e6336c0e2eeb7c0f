"""The analytics ingestion pipeline (pure; I/O comes in as functions).

A beacon goes through an ordered list of named steps, as in Plausible's ingestion: each
step returns the work-in-progress or a `Drop` with a reason from a fixed set, and the
first drop ends the run. Dropping is a value, not an exception::

    validate -> provenance -> bot -> consent -> dnt -> geo -> user_agent -> pseudonymise
             -> attribution -> AnalyticsEvent

`bot` runs before `consent` because crawlers never consent: checked after it, bots would all
be dropped as `no_consent` and the per-day bot count (which stores nothing about anyone)
would always be zero.

The full client address and user agent come from the request (never from the body) and
live only in memory; what leaves the pipeline is an `AnalyticsEvent` without either.
Of the page URL's query string only the UTM parameters and, for a pageview, the site-search
term are kept (`search_term`: the first of the site's `search_params` present, lower-cased,
whitespace collapsed, at most `MAX_SEARCH_CHARS`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from gateway.core.analytics.events import (
    EVENT_TYPES,
    UTM_FIELDS,
    Agent,
    AnalyticsEvent,
    Drop,
    EventType,
    Location,
)
from gateway.core.consent.cookie import Consent
from gateway.core.jsontext import loads_unicode_json

MAX_BODY_BYTES: Final = 8 * 1024
MAX_URL_CHARS: Final = 2000
MAX_PROPS: Final = 30
MAX_PROP_KEY: Final = 100
MAX_PROP_VALUE: Final = 500
MAX_NAME_CHARS: Final = 120
MAX_PATH_CHARS: Final = 1000
MAX_UTM_CHARS: Final = 200
MAX_SCREEN_WIDTH: Final = 100_000
MAX_SEARCH_CHARS: Final = 100
VISITOR_SALT: Final = b"consent-gateway.visitor.v1"


@dataclass(frozen=True, slots=True)
class Beacon:
    """What the client may tell us, validated and capped."""

    type: EventType
    url: str
    referrer: str = ""
    name: str = ""
    props: Mapping[str, str] | None = None
    screen_width: int | None = None
    page_token: str | None = None
    consent_token: str | None = None


@dataclass(frozen=True, slots=True)
class Arrival:
    """What the gateway knows about the request itself; the body can change none of it."""

    site: str
    now: datetime
    address: str            # the full client address: memory only, never stored
    user_agent: str
    consent: Consent | None  # from the consent cookie, verified by the middleware
    origin: str | None       # the Origin header
    own_origin: str          # scheme://host of the gateway as the browser saw it
    snippet_origins: tuple[str, ...]  # origins configured for the site (snippet mode)
    dnt: bool


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The I/O the steps need, handed in so the pipeline stays pure and testable."""

    decode_consent: Callable[[str, str], Consent | None]  # (signed token, site id)
    page_token_valid: Callable[[str | None, str], bool]    # (page token, site id)
    locate: Callable[[str], Location]
    describe_agent: Callable[[str], Agent]
    visitor_key: bytes
    dnt_denies_analytics: bool = False
    # Per site id, the query parameters whose value is a site-search term (`search_params`).
    search_params: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def run(self, body: bytes, arrival: Arrival) -> AnalyticsEvent | Drop:
        work: _Work | Drop = _Work(arrival=arrival, body=body)
        for _name, step in STEPS:
            assert isinstance(work, _Work)
            work = step(self, work)
            if isinstance(work, Drop):
                return work
        assert isinstance(work, _Work) and work.event is not None
        return work.event


@dataclass(slots=True)
class _Work:
    """One beacon's way through the steps. Each step fills in its field (one run owns its
    `_Work`; copying it per step cost ~10% of the beacon path)."""

    arrival: Arrival
    body: bytes
    beacon: Beacon | None = None
    consent: Consent | None = None
    agent: Agent | None = None
    location: Location | None = None
    visitor: str = ""
    event: AnalyticsEvent | None = None


Step = Callable[[Pipeline, _Work], "_Work | Drop"]


# ------------------------------------------------------------------------ the steps


def validate(_: Pipeline, work: _Work) -> _Work | Drop:
    if len(work.body) > MAX_BODY_BYTES:
        return Drop("invalid", f"body: over {MAX_BODY_BYTES} bytes")
    try:
        data = loads_unicode_json(work.body)
    except (ValueError, RecursionError):
        return Drop("invalid", "body: not JSON")
    beacon = beacon_from_json(data)
    if not isinstance(beacon, Beacon):
        return beacon
    work.beacon = beacon
    return work


def provenance(pipeline: Pipeline, work: _Work) -> _Work | Drop:
    """A page served through the gateway returns its page token; a snippet site is known by
    its configured Origin, which must also be the page URL's origin."""
    beacon, arrival = _beacon(work), work.arrival
    origin = (arrival.origin or "").lower()
    if origin and origin != arrival.own_origin:
        if origin not in arrival.snippet_origins:
            return Drop("forged", "Origin: not an origin of this site")
        if _origin_of(beacon.url) != origin:
            return Drop("forged", "url: not on the sending origin")
        return work
    if _origin_of(beacon.url) != arrival.own_origin:
        return Drop("forged", "url: not a page of this site")
    if not pipeline.page_token_valid(beacon.page_token, arrival.site):
        return Drop("forged", "token: missing, expired or not signed by this gateway")
    return work


def consent(pipeline: Pipeline, work: _Work) -> _Work | Drop:
    token = _beacon(work).consent_token
    found = work.arrival.consent
    origin = (work.arrival.origin or "").lower()
    if found is None and token and origin in work.arrival.snippet_origins:
        # Snippet mode: no cookie of ours on a foreign page, the signed value instead.
        found = pipeline.decode_consent(token, work.arrival.site)
    if found is None or found.site != work.arrival.site or not found.allows("analytics"):
        return Drop("no_consent")
    work.consent = found
    return work


def dnt(pipeline: Pipeline, work: _Work) -> _Work | Drop:
    if pipeline.dnt_denies_analytics and work.arrival.dnt:
        return Drop("dnt")
    return work


def bot(pipeline: Pipeline, work: _Work) -> _Work | Drop:
    agent = pipeline.describe_agent(work.arrival.user_agent)
    if agent.bot:
        return Drop("bot")
    work.agent = agent
    return work


def geo(pipeline: Pipeline, work: _Work) -> _Work | Drop:
    # The lookup needs the full address (a truncated one is often in another network).
    work.location = pipeline.locate(work.arrival.address)
    return work


def user_agent(pipeline: Pipeline, work: _Work) -> _Work | Drop:
    if work.agent is None:
        work.agent = pipeline.describe_agent(work.arrival.user_agent)
    return work


def pseudonymise(pipeline: Pipeline, work: _Work) -> _Work | Drop:
    assert work.consent is not None
    work.visitor = visitor_id(pipeline.visitor_key, work.consent)
    return work


def attribution(pipeline: Pipeline, work: _Work) -> _Work | Drop:
    beacon, agent, location = _beacon(work), work.agent or Agent(), work.location or Location()
    url = urlsplit(beacon.url)
    utm = utm_fields(url.query)
    names = pipeline.search_params.get(work.arrival.site, ())
    search = search_term(url.query, names) if names and beacon.type == "pageview" else ""
    event = AnalyticsEvent(
        site=work.arrival.site,
        ts=work.arrival.now,
        visitor=work.visitor,
        type=beacon.type,
        path=clean_path(url.path),
        name=beacon.name,
        hostname=(url.hostname or "").lower(),
        referrer_host=referrer_host(beacon.referrer, own_host=url.hostname or ""),
        utm_source=utm["utm_source"],
        utm_medium=utm["utm_medium"],
        utm_campaign=utm["utm_campaign"],
        utm_term=utm["utm_term"],
        utm_content=utm["utm_content"],
        country=location.country,
        region=location.region,
        city=location.city,
        browser=agent.browser,
        os=agent.os,
        device=agent.device,
        screen_width=beacon.screen_width,
        props=dict(beacon.props or {}),
        search=search,
    )
    work.event = event
    return work


STEPS: Final[tuple[tuple[str, Step], ...]] = (
    ("validate", validate),
    ("provenance", provenance),
    ("bot", bot),
    ("consent", consent),
    ("dnt", dnt),
    ("geo", geo),
    ("user_agent", user_agent),
    ("pseudonymise", pseudonymise),
    ("attribution", attribution),
)


# ------------------------------------------------------------------------ helpers


def _beacon(work: _Work) -> Beacon:
    assert work.beacon is not None, "validate runs first"
    return work.beacon


def visitor_id(key: bytes, consent: Consent) -> str:
    """Keyed HMAC of the consent id: the same visitor across visits, but not reversible
    (nor linkable to the consent log) without the server's key."""
    return visitor_of(key, consent.site, consent.consent_id)


def visitor_of(key: bytes, site: str, consent_id: str) -> str:
    message = f"{site}:{consent_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def visitor_key_from(secret: str) -> bytes:
    """A key for visitor ids derived from the signing secret, separate by purpose."""
    return hmac.new(secret.encode(), VISITOR_SALT, hashlib.sha256).digest()


def beacon_from_json(data: Any) -> Beacon | Drop:
    """The beacon's fields, each checked; unknown fields (an `ip`, a `user_agent`) are
    ignored, since the request, not the body, says who sent it."""
    if not isinstance(data, dict):
        return Drop("invalid", "body: not a JSON object")
    kind = data.get("type")
    if kind not in EVENT_TYPES:
        return Drop("invalid", "type: must be 'pageview', 'event' or 'pagehide'")
    url = data.get("url")
    if not (isinstance(url, str) and 0 < len(url) <= MAX_URL_CHARS and _is_http_url(url)):
        return Drop("invalid", f"url: must be an http(s) URL of at most {MAX_URL_CHARS} chars")
    referrer = data.get("referrer") or ""
    if not (isinstance(referrer, str) and len(referrer) <= MAX_URL_CHARS):
        return Drop("invalid", f"referrer: must be a string of at most {MAX_URL_CHARS} chars")
    name = _event_name(kind, data.get("name"))
    props = _props(data.get("props"))
    width = _screen_width(data.get("w", data.get("screen_width")))
    tokens = [data.get(key) for key in ("token", "consent")]
    for problem in (name, props, width):
        if isinstance(problem, Drop):
            return problem
    if not all(t is None or (isinstance(t, str) and len(t) <= 2048) for t in tokens):
        return Drop("invalid", "token: must be a string")
    assert isinstance(name, str) and not isinstance(props, Drop) and not isinstance(width, Drop)
    return Beacon(kind, url, referrer, name, props, width, tokens[0], tokens[1])


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _event_name(kind: str, name: object) -> str | Drop:
    if kind != "event":
        return ""
    if not (isinstance(name, str) and 0 < len(name.strip()) <= MAX_NAME_CHARS):
        return Drop("invalid", f"name: an event needs a name of at most {MAX_NAME_CHARS} chars")
    return name.strip()


def _props(value: object) -> dict[str, str] | Drop | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_PROPS:
        return Drop("invalid", f"props: at most {MAX_PROPS} string pairs")
    for key, item in value.items():
        if not (isinstance(item, str) and len(key) <= MAX_PROP_KEY
                and len(item) <= MAX_PROP_VALUE):
            return Drop("invalid", f"props: keys ≤ {MAX_PROP_KEY}, string values ≤ "
                                   f"{MAX_PROP_VALUE} chars")
    return dict(value)


def _screen_width(value: object) -> int | Drop | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= MAX_SCREEN_WIDTH:
        return Drop("invalid", "w: screen width must be a whole number of pixels")
    return value


def clean_path(path: str) -> str:
    """The path only: no query string or fragment ever reaches the store."""
    path = path or "/"
    return path[:MAX_PATH_CHARS] if path.startswith("/") else "/" + path[: MAX_PATH_CHARS - 1]


def referrer_host(referrer: str, *, own_host: str) -> str:
    """Where the visitor came from, as a host (`www.` dropped); nothing for the site itself."""
    if not referrer:
        return ""
    try:
        host = (urlsplit(referrer).hostname or "").lower()
    except ValueError:
        return ""
    host = host.removeprefix("www.")
    return "" if host == own_host.lower().removeprefix("www.") else host[:253]


def utm_fields(query: str) -> dict[str, str]:
    found = dict.fromkeys(UTM_FIELDS, "")
    try:
        pairs = parse_qsl(query, max_num_fields=100)
    except ValueError:  # a URL with hundreds of parameters: attribution is not worth it
        return found
    for key, value in pairs:
        if key in found and not found[key]:
            found[key] = value.strip()[:MAX_UTM_CHARS]
    return found


def search_term(query: str, names: tuple[str, ...]) -> str:
    """The value of the first of `names` the query string has (a non-blank one), lower-cased,
    whitespace collapsed to single spaces, at most `MAX_SEARCH_CHARS`; "" when none."""
    try:
        pairs = parse_qsl(query, max_num_fields=100)
    except ValueError:
        return ""
    values: dict[str, str] = {}
    for key, value in pairs:
        term = " ".join(value.split()).lower()
        if key in names and term and key not in values:
            values[key] = term[:MAX_SEARCH_CHARS].rstrip()
    return next((values[name] for name in names if name in values), "")
