"""Admin endpoints under `/_consent/admin/` (web layer), behind `auth.authorise`.

`admin_routes` lists every admin route; the views of a larger area live in a module of
their own here (export, dashboard) and add their routes to that list."""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.core.consent.cookie import is_consent_id
from gateway.core.consent.record import format_timestamp
from gateway.core.errors import BadRequest, InvalidField, NotFound
from gateway.core.pseudonymise import parse_ip
from gateway.services.wiring import Services
from gateway.web.admin.auth import authorise, new_admin_token, token_hash, token_matches
from gateway.web.admin.dashboard import dashboard_routes
from gateway.web.admin.export import export_routes
from gateway.web.admin.reports import requested_site, site_stats, stats_range
from gateway.web.bodies import parse_json, read_capped_body

# Blocks are by a hash whose key is deleted after 48 hours: longer would outlive the key.
MAX_BLOCK_MINUTES: Final = 1440
__all__ = ["admin_routes", "new_admin_token", "stats_range", "token_hash", "token_matches"]


def admin_routes(services: Services) -> list[Route]:
    views = _AdminViews(services)
    admin = f"{services.prefix}/admin"
    return [
        Route(f"{admin}/stats", views.stats, methods=["GET"]),
        Route(f"{admin}/subjects/{{consent_id}}", views.subject, methods=["GET"]),
        Route(f"{admin}/subjects/{{consent_id}}", views.erase_subject, methods=["DELETE"]),
        Route(f"{admin}/blocklist", views.blocklist, methods=["GET"]),
        Route(f"{admin}/blocklist", views.block, methods=["POST"]),
        Route(f"{admin}/blocklist", views.unblock, methods=["DELETE"]),
        *dashboard_routes(services),
        *export_routes(services),
    ]


class _AdminViews:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def stats(self, request: Request) -> Response:
        await authorise(self.services, request)
        site = self._site(request.query_params.get("site"))
        start, end = stats_range(
            request.query_params.get("from"), request.query_params.get("to"),
            today=self.services.clock().date(),
        )
        body = await site_stats(self.services, site, start, end)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def subject(self, request: Request) -> Response:
        """Access on behalf of a visitor who wrote in with their consent id."""
        await authorise(self.services, request)
        consent_id = _consent_id(request)
        body = await self.services.subjects.subject_data(consent_id, site=None)
        if not body["consent_history"]:
            raise NotFound("no consent record has this consent id", field="consent_id")
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def erase_subject(self, request: Request) -> Response:
        """Erasure on behalf of a visitor: their events go, an `erase` record is logged per
        site (their browser's cookie no longer counts as consent from then on)."""
        await authorise(self.services, request)
        consent_id = _consent_id(request)
        history = await self.services.store.consent_history(consent_id)
        if not history:
            raise NotFound("no consent record has this consent id", field="consent_id")
        erased = 0
        for site_id in sorted({record.site for record in history}):
            site = self.services.config.site_by_id(site_id)
            erased += await self.services.subjects.erase_events_of(consent_id, site_id)
            if site is not None:
                await self.services.consents.record_admin_erasure(consent_id, site)
        return JSONResponse({"consent_id": consent_id, "erased_events": erased,
                             "withdrawn": True}, headers={"Cache-Control": "no-store"})

    async def blocklist(self, request: Request) -> Response:
        await authorise(self.services, request)
        blocks = await self.services.abuse.active_blocks()
        rows = [{"client": client, "until": format_timestamp(until), "reason": reason}
                for client, (until, reason) in sorted(blocks.items())]
        return JSONResponse({"blocked": rows}, headers={"Cache-Control": "no-store"})

    async def block(self, request: Request) -> Response:
        """Block an address for a while; it is hashed with the day's key, never stored."""
        await authorise(self.services, request)
        data = await _json_body(request)
        address = _address(data.get("ip"))
        minutes = data.get("minutes", self.services.config.abuse.block_minutes)
        if type(minutes) is not int or not 1 <= minutes <= MAX_BLOCK_MINUTES:
            raise InvalidField(f"minutes must be a whole number from 1 to {MAX_BLOCK_MINUTES}",
                               field="minutes")
        client, until = await self.services.abuse.block_address(address, minutes)
        return JSONResponse({"client": client, "until": format_timestamp(until)},
                            status_code=201, headers={"Cache-Control": "no-store"})

    async def unblock(self, request: Request) -> Response:
        await authorise(self.services, request)
        address = _address((await _json_body(request)).get("ip"))
        removed = await self.services.abuse.unblock_address(address)
        return JSONResponse({"unblocked": removed}, headers={"Cache-Control": "no-store"})

    def _site(self, value: str | None) -> str:
        return requested_site(self.services, value)


def _consent_id(request: Request) -> str:
    value = str(request.path_params["consent_id"])
    if not is_consent_id(value):
        raise BadRequest("a consent id is 22 characters of A-Z, a-z, 0-9, - and _",
                         field="consent_id")
    return value


async def _json_body(request: Request) -> dict[str, Any]:
    data = parse_json(await read_capped_body(request, 4096) or b"{}")
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object", field="body")
    return data


def _address(value: object) -> str:
    parsed = parse_ip(value) if isinstance(value, str) else None
    if parsed is None:
        raise InvalidField("ip must be an IPv4 or IPv6 address", field="ip")
    return str(parsed)
