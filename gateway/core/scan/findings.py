"""What a consent scan saw, what each thing is, and the verdict (pure).

The browser (`gateway/adapters/scanner.py`) hands over a `BrowserScan`: per moment the
requests it attempted, the cookies in its jar and the `localStorage` keys of the pages.
`build_report` classifies them the way the gateway would:

- a cookie by the site owner's `[[cookies]]` rules, the tracker catalogue and the cookie
  database (`CookieClassifier`); the gateway's own consent cookie is necessary;
- a `localStorage` key by the same data (it knows some storage keys, e.g. Hotjar's);
- a request by the blocking rules (`[[blocking.rules]]` over the tracker catalogue): every request
  to another site is listed, with the rule's category or "unknown", and so is a request to
  the scanned site itself that a rule names (a self-hosted Matomo or Plausible).

The verdict: before a decision and after "Reject all" only necessary things may happen. A
request to a host of any other category or of none, and a cookie of any other category or of
none, fail the scan; a storage key fails it only when the data names it for another category
(a page's own storage keys are seldom named anywhere, and storage never leaves the browser by
itself). After "Accept all" everything is recorded and nothing is judged.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

from gateway.core.enforcement.cookies import Classification
from gateway.core.enforcement.rules import BlockRules, url_parts

Moment = Literal["before", "rejected", "accepted"]
MOMENTS: Final[tuple[Moment, ...]] = ("before", "rejected", "accepted")
# The moments at which only necessary things may happen.
JUDGED: Final[tuple[Moment, ...]] = ("before", "rejected")
UNKNOWN: Final = "unknown"
NECESSARY: Final = "necessary"
# Where the consent cookie's category comes from: it is the gateway's own.
GATEWAY_SOURCE: Final = "gateway"
EXAMPLE_URL_CAP: Final = 300
# Second-level labels under which a country code's domains are registered (example.co.uk).
# Without the public suffix list this is an approximation; it errs towards "third party".
_SECOND_LEVELS: Final = frozenset({"ac", "co", "com", "edu", "gov", "ne", "net", "or", "org"})

ProblemKind = Literal["request", "cookie", "storage"]
Party = Literal["first", "third"]


@dataclass(frozen=True, slots=True)
class BrowserCookie:
    """A cookie in the browser's jar: never its value. `expires` is a Unix time, None for a
    session cookie."""

    name: str
    domain: str
    path: str
    http_only: bool
    expires: float | None


@dataclass(frozen=True, slots=True)
class Observation:
    """What the browser saw at one moment: the requests it attempted (URL, resource type)
    in order, the cookies in its jar at the end, and `(origin, key)` of `localStorage`."""

    moment: Moment
    requests: tuple[tuple[str, str], ...] = ()
    cookies: tuple[BrowserCookie, ...] = ()
    storage: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PageSeen:
    url: str
    title: str


@dataclass(frozen=True, slots=True)
class BrowserScan:
    """The browser's whole record: the pages (the start page first), whether our banner was
    there to decide with, and an observation per moment recorded (only "before" without a
    banner)."""

    url: str
    pages: tuple[PageSeen, ...]
    banner: bool
    observations: tuple[Observation, ...]


@dataclass(frozen=True, slots=True)
class ScanClassifiers:
    """How the gateway classifies: `cookie` is `CookieClassifier.classify`, `rules` the
    blocking rules, `own_cookies` the consent cookie's names."""

    cookie: Callable[[str], Classification]
    rules: BlockRules
    own_cookies: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CookieFinding:
    name: str
    domain: str
    path: str
    http_only: bool
    expires: datetime | None  # None: a session cookie
    category: str  # a category or "unknown"
    source: str  # rule, catalogue, database, unknown or gateway


@dataclass(frozen=True, slots=True)
class StorageFinding:
    origin: str
    key: str
    category: str


@dataclass(frozen=True, slots=True)
class RequestFinding:
    """The requests to one host that one rule (or none) covers."""

    host: str
    party: Party
    category: str
    service: str  # the catalogue's service or the rule's host; "" when no rule matched
    count: int
    example: str  # the first such URL, cut at EXAMPLE_URL_CAP characters


@dataclass(frozen=True, slots=True)
class MomentFindings:
    moment: Moment
    requests: tuple[RequestFinding, ...] = ()
    cookies: tuple[CookieFinding, ...] = ()
    storage: tuple[StorageFinding, ...] = ()


@dataclass(frozen=True, slots=True)
class Problem:
    moment: Moment
    kind: ProblemKind
    name: str  # the host, cookie name or storage key
    category: str


@dataclass(frozen=True, slots=True)
class ScanReport:
    url: str
    scanned_at: datetime
    pages: tuple[PageSeen, ...]
    banner: bool
    moments: tuple[MomentFindings, ...]
    problems: tuple[Problem, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "problems", tuple(
            problem for found in self.moments if found.moment in JUDGED
            for problem in moment_problems(found)
        ))

    @property
    def passed(self) -> bool:
        return not self.problems

    def moment(self, moment: Moment) -> MomentFindings | None:
        return next((m for m in self.moments if m.moment == moment), None)


def build_report(scan: BrowserScan, classifiers: ScanClassifiers, *,
                 scanned_at: datetime) -> ScanReport:
    site = url_parts(scan.url)
    host = site.host if site is not None and site.host else ""
    return ScanReport(
        url=scan.url, scanned_at=scanned_at, pages=scan.pages, banner=scan.banner,
        moments=tuple(classify_observation(o, classifiers, site_host=host)
                      for o in scan.observations),
    )


def classify_observation(observation: Observation, classifiers: ScanClassifiers, *,
                         site_host: str) -> MomentFindings:
    return MomentFindings(
        moment=observation.moment,
        requests=_requests(observation.requests, classifiers.rules, site_host),
        cookies=tuple(sorted(
            (_cookie(c, classifiers) for c in set(observation.cookies)),
            key=lambda c: (c.name, c.domain, c.path),
        )),
        storage=tuple(
            StorageFinding(origin, key, _category(classifiers.cookie(key)))
            for origin, key in sorted(set(observation.storage))
        ),
    )


def _category(known: Classification) -> str:
    return known.category or UNKNOWN


def _cookie(cookie: BrowserCookie, classifiers: ScanClassifiers) -> CookieFinding:
    if cookie.name in classifiers.own_cookies:
        category, source = NECESSARY, GATEWAY_SOURCE
    else:
        known = classifiers.cookie(cookie.name)
        category, source = _category(known), known.source
    expires = (None if cookie.expires is None or cookie.expires < 0
               else datetime.fromtimestamp(int(cookie.expires), UTC))
    return CookieFinding(cookie.name, cookie.domain, cookie.path, cookie.http_only, expires,
                         category, source)


def _requests(requests: Iterable[tuple[str, str]], rules: BlockRules,
              site_host: str) -> tuple[RequestFinding, ...]:
    found: dict[tuple[str, str, str], RequestFinding] = {}
    for url, _kind in requests:
        parts = url_parts(url)
        if parts is None or not parts.host:
            continue
        party: Party = "third" if is_third_party(parts.host, site_host) else "first"
        match = rules.match(url)
        if party == "first" and (match is None or match[0].category == NECESSARY):
            continue  # the site's own page, scripts and images
        category = match[0].category if match else UNKNOWN
        service = (match[0].service or match[0].host) if match else ""
        key = (parts.host, category, service)
        seen = found.get(key)
        found[key] = (RequestFinding(parts.host, party, category, service, 1,
                                     url[:EXAMPLE_URL_CAP]) if seen is None
                      else RequestFinding(seen.host, seen.party, category, service,
                                          seen.count + 1, seen.example))
    return tuple(sorted(found.values(), key=lambda r: (r.host, r.category, r.service)))


def moment_problems(found: MomentFindings) -> list[Problem]:
    """What must not happen at a judged moment: see the module's docstring."""
    problems = [Problem(found.moment, "request", r.host, r.category)
                for r in found.requests if r.category != NECESSARY]
    problems += [Problem(found.moment, "cookie", c.name, c.category)
                 for c in found.cookies if c.category != NECESSARY]
    problems += [Problem(found.moment, "storage", s.key, s.category)
                 for s in found.storage if s.category not in (NECESSARY, UNKNOWN)]
    return list(dict.fromkeys(problems))  # once each, in order


def site_of(host: str) -> str:
    """The registrable part of a host name, roughly: an IP address or `localhost` itself,
    `name.localhost` (browsers treat each as a site of its own), else the last two labels,
    or three under a country code's usual second level (`shop.example.co.uk`)."""
    host = host.lower().rstrip(".").strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    labels = host.split(".")
    if len(labels) <= 2:
        return host
    keep = 3 if len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVELS else 2
    return ".".join(labels[-keep:])


def is_third_party(host: str, site_host: str) -> bool:
    return site_of(host) != site_of(site_host)
