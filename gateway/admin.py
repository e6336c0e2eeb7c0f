"""Admin endpoints under `/_consent/admin/` (web layer), behind a bearer token.

Tokens are configured only as SHA-256 hashes (`consent-gateway hash-token`); every
configured hash is compared in constant time, so timing says nothing about which one
came close. With no hash configured the admin routes answer 404: the API is off.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.errors import BadRequest, NotFound, Unauthorized
from gateway.events import AnalyticsEvent
from gateway.service import Gateway
from gateway.stats import compute_stats

MAX_RANGE_DAYS: Final = 400
DEFAULT_RANGE_DAYS: Final = 30


def new_admin_token() -> tuple[str, str]:
    """(token to hand to the admin, `sha256:` line for the config)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(presented: str, hashes: tuple[str, ...]) -> bool:
    """Compare against every hash, always all of them (no early exit)."""
    candidate = token_hash(presented).encode("ascii")
    matched = False
    for known in hashes:
        matched |= hmac.compare_digest(candidate, known.encode("ascii"))
    return matched


def admin_routes(gateway: Gateway) -> list[Route]:
    views = _AdminViews(gateway)
    return [Route(f"{gateway.prefix}/admin/stats", views.stats, methods=["GET"])]


class _AdminViews:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def _authorise(self, request: Request) -> None:
        hashes = self.gateway.config.admin.token_hashes
        if not hashes:
            raise NotFound("the admin API is off: set admin.token_hashes")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token_matches(token.strip(), hashes):
            raise Unauthorized("a valid bearer token is needed", field="Authorization")

    async def stats(self, request: Request) -> Response:
        self._authorise(request)
        site = self._site(request.query_params.get("site"))
        start, end = stats_range(
            request.query_params.get("from"), request.query_params.get("to"),
            today=self.gateway.clock().date(),
        )
        since = datetime.combine(start, time.min, tzinfo=UTC)
        until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
        events: list[AnalyticsEvent] = [
            event async for event in self.gateway.store.iter_events(
                site=site, since=since, until=until)
        ]
        settings = self.gateway.config.analytics
        body = compute_stats(
            events, site=site, start=start, end=end,
            session_gap=timedelta(minutes=settings.session_minutes),
            min_visitors=settings.min_group_visitors,
        )
        bots = await self.gateway.store.bot_counts(site, start, end)
        body["bots"] = sum(bots.values())
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def _site(self, value: str | None) -> str:
        if value is None:
            return self.gateway.config.sites[0].id
        if self.gateway.config.site_by_id(value) is None:
            raise BadRequest(f"no site {value[:64]!r} is configured", field="site")
        return value


def stats_range(first: str | None, last: str | None, *, today: date) -> tuple[date, date]:
    """`from`/`to` as ISO dates, both inclusive; the last 30 days by default."""
    end = _date(last, "to") if last else today
    start = _date(first, "from") if first else end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start > end:
        raise BadRequest("from must not be after to", field="from")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise BadRequest(f"at most {MAX_RANGE_DAYS} days at a time", field="from")
    return start, end


def _date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{field} must be a date like 2026-11-21", field=field) from None
