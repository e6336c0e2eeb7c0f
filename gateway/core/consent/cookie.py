"""The visitor's consent and its signed cookie (pure: the clock is passed in).

A cookie that is missing, forged, too long, from another site, from an older policy
revision or past its lifetime decodes to `None`: no consent. The gateway fails closed.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from itsdangerous import BadData, BadSignature
from itsdangerous.encoding import base64_decode, base64_encode

from gateway.core.config.regions import MODES, Mode
from gateway.core.signing import url_safe_serializer
from gateway.core.types import CATEGORIES, OPTIONAL_CATEGORIES, Category

COOKIE_SALT: Final = "consent-gateway.consent-cookie.v1"
MAX_COOKIE_CHARS: Final = 1024
VERIFIED_CACHE_SIZE: Final = 4096  # at most ~4 MB of cookie values and decoded consents
_CONSENT_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
# A decision stamped further in the future than this is not ours (or the clock jumped).
_CLOCK_SKEW: Final = timedelta(minutes=5)


def new_consent_id() -> str:
    """128 random bits, URL-safe (22 characters)."""
    return secrets.token_urlsafe(16)


def is_consent_id(value: str) -> bool:
    return bool(_CONSENT_ID.fullmatch(value))


@dataclass(frozen=True, slots=True)
class Consent:
    consent_id: str
    site: str
    granted: frozenset[Category]
    revision: int
    decided_at: datetime
    # False for a decision the gateway took from a Global Privacy Control signal or a
    # `notice`/`none` region: it holds, but the banner still asks (except under `none`),
    # and the visitor's own choice wins.
    explicit: bool = True
    # The regional regime it was taken under; an implied `notice`/`none` decision counts
    # nowhere `opt-in` applies.
    mode: Mode = "opt-in"
    # With `consent.cookie_domain`: the revision of every site sharing the cookie when the
    # decision was taken; it counts on another of those sites while that one's is unchanged.
    revisions: tuple[tuple[str, int], ...] = ()

    def counts_on(self, site: str, revision: int) -> bool:
        if site == self.site:
            return revision == self.revision
        return (site, revision) in self.revisions

    def allows(self, category: Category) -> bool:
        return category == "necessary" or category in self.granted

    def expires_at(self, lifetime: timedelta) -> datetime:
        return self.decided_at + lifetime

    def categories(self) -> dict[Category, bool]:
        return {category: self.allows(category) for category in CATEGORIES}

    @property
    def denied(self) -> frozenset[Category]:
        return frozenset(c for c in OPTIONAL_CATEGORIES if c not in self.granted)


def granted_categories(choice: Iterable[Category]) -> frozenset[Category]:
    """What a choice grants: the chosen categories plus `necessary`, which is never optional."""
    return frozenset(choice) | {"necessary"}


class ConsentCookieCodec:
    """Signs and verifies consent cookies for one site policy.

    `secret_keys` are newest first; the newest signs, all verify (key rotation).
    """

    def __init__(self, secret_keys: Sequence[str], lifetime: timedelta) -> None:
        self.secret_keys = tuple(secret_keys)
        self.lifetime = lifetime
        # Built once: it runs on every request.
        self._serializer = url_safe_serializer(self.secret_keys, COOKIE_SALT)
        # A visitor sends the same cookie with every request: verify each value once. The
        # answer depends only on the value and the keys; age and site are checked each time.
        self._verify: Callable[[str], Consent | None] = functools.lru_cache(
            maxsize=VERIFIED_CACHE_SIZE)(self._verify_signature)

    def encode(self, consent: Consent) -> str:
        payload = {
            "i": consent.consent_id,
            "s": consent.site,
            "g": sorted(c for c in consent.granted if c != "necessary"),
            "r": consent.revision,
            "t": int(consent.decided_at.timestamp()),
        }
        if not consent.explicit:
            payload["x"] = 0
        if consent.mode != "opt-in":
            payload["m"] = consent.mode
        if consent.revisions:
            payload["o"] = dict(consent.revisions)
        return self._serializer.dumps(payload)

    def decode(
        self, value: str | None, *, site: str, revision: int, now: datetime
    ) -> Consent | None:
        consent = self._verified(value)
        if consent is None or not consent.counts_on(site, revision):
            return None
        if consent.decided_at > now + _CLOCK_SKEW or consent.expires_at(self.lifetime) <= now:
            return None
        return consent


    def identify(self, value: str | None, *, site: str) -> str | None:
        """The consent id of a genuine cookie of this site, whatever its revision or age: it
        no longer counts as consent, but it still proves whose data the visitor may see."""
        consent = self._verified(value)
        if consent is None or (consent.site != site and site not in dict(consent.revisions)):
            return None
        return consent.consent_id

    def _verified(self, value: str | None) -> Consent | None:
        if not value or len(value) > MAX_COOKIE_CHARS:
            return None
        return self._verify(value)

    def _verify_signature(self, value: str) -> Consent | None:
        if not _canonical_signature(value):
            return None
        try:
            payload = self._serializer.loads(value)
        except (BadSignature, ValueError, json.JSONDecodeError):
            return None
        return _consent_from_payload(payload)


def _canonical_signature(value: str) -> bool:
    """The last base64 character of the signature carries padding bits the decoder ignores,
    so four spellings verify; only the one we issue counts, or an altered cookie would."""
    signature = value.rpartition(".")[2]
    try:
        return base64_encode(base64_decode(signature)).decode("ascii") == signature
    except (BadData, ValueError):
        return False


def _consent_from_payload(payload: object) -> Consent | None:
    """Signed payloads are ours, but shapes change between versions: check, don't trust."""
    if not isinstance(payload, Mapping):
        return None
    consent_id, site, granted = payload.get("i"), payload.get("s"), payload.get("g")
    revision, stamp, explicit = payload.get("r"), payload.get("t"), payload.get("x", 1)
    mode, revisions = payload.get("m", "opt-in"), payload.get("o", {})
    if not (isinstance(consent_id, str) and is_consent_id(consent_id) and isinstance(site, str)):
        return None
    if not (isinstance(granted, list) and all(g in OPTIONAL_CATEGORIES for g in granted)):
        return None
    if type(revision) is not int or type(stamp) is not int or explicit not in (0, 1):
        return None
    if mode not in MODES or not _site_revisions(revisions):
        return None
    return Consent(
        consent_id=consent_id,
        site=site,
        granted=granted_categories(granted),
        revision=revision,
        decided_at=datetime.fromtimestamp(stamp, tz=UTC),
        explicit=bool(explicit),
        mode=mode,
        revisions=tuple(sorted(revisions.items())),
    )


def _site_revisions(value: object) -> bool:
    return isinstance(value, dict) and len(value) <= 64 and all(
        isinstance(k, str) and type(v) is int for k, v in value.items())
