"""Page tokens: proof that a beacon comes from a page the gateway served (pure).

Every HTML page the gateway rewrites carries a short-lived signed token naming the site;
the beacon sends it back. Events that claim to come from a proxied page without a valid
token are dropped as `forged`, so nobody can fill the stats by posting to `/collect`
from a script. The token holds no visitor data: the site and the second it was issued.

Signing costs more than the rest of a page's bookkeeping, so a token is signed once per
site per `REUSE_WINDOW` and served to every page in that window; it carries the second it
was issued, so it verifies exactly as before (a reused token merely expires up to
`REUSE_WINDOW` sooner, against a lifetime of at least five minutes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from itsdangerous import BadSignature

from gateway.core.signing import url_safe_serializer

PAGE_TOKEN_SALT: Final = "consent-gateway.page-token.v1"  # noqa: S105 - a salt, not a secret
MAX_PAGE_TOKEN_CHARS: Final = 200
_CLOCK_SKEW: Final = timedelta(minutes=5)
REUSE_WINDOW: Final = 10  # seconds a signed token is served again for its site
_REUSED_SITES: Final = 1024  # sites whose current token is kept (bounded)


class PageTokens:
    """Issues and checks page tokens; `secret_keys` newest first (rotation as for cookies)."""

    def __init__(self, secret_keys: Sequence[str], lifetime: timedelta) -> None:
        self.lifetime = lifetime
        # A salt of its own: a page token can never pass as a consent cookie, or back.
        self._serializer = url_safe_serializer(secret_keys, PAGE_TOKEN_SALT)

        self._current: dict[str, tuple[int, str]] = {}  # site -> (second issued, token)

    def issue(self, site: str, *, now: datetime) -> str:
        stamp = int(now.timestamp())
        current = self._current.get(site)
        if current is not None and 0 <= stamp - current[0] < REUSE_WINDOW:
            return current[1]
        if len(self._current) >= _REUSED_SITES:
            self._current.clear()
        token = self._serializer.dumps([site, stamp])
        self._current[site] = (stamp, token)
        return token

    def verify(self, token: object, *, site: str, now: datetime) -> bool:
        if not isinstance(token, str) or not token or len(token) > MAX_PAGE_TOKEN_CHARS:
            return False
        try:
            payload = self._serializer.loads(token)
        except (BadSignature, ValueError):
            return False
        if not (isinstance(payload, list) and len(payload) == 2):
            return False
        token_site, stamp = payload
        if token_site != site or type(stamp) is not int:
            return False
        issued = datetime.fromtimestamp(stamp, tz=UTC)
        return now - self.lifetime < issued <= now + _CLOCK_SKEW
