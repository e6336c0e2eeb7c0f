"""`GET /_consent/admin/`: the dashboard (web layer). Gathers the numbers, hands them to the
pure `gateway.core.dashboard.page`, and sends the page with headers that let it do nothing but
show itself: no script, no framing, no referrer, not cached."""

from __future__ import annotations

import asyncio
from datetime import date

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from gateway.adapters.scanner import read_last_scan
from gateway.core.dashboard.page import DashboardData, render_dashboard
from gateway.core.dashboard.style import DASHBOARD_CSP
from gateway.core.dashboard.texts import DashboardLanguage, negotiated_language, requested_language
from gateway.core.errors import BadRequest
from gateway.services.wiring import Services
from gateway.web.admin.auth import authorise
from gateway.web.admin.reports import day_bounds, requested_site, site_stats, stats_range

HEADERS = {
    "Content-Security-Policy": DASHBOARD_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Vary": "Accept-Language, Authorization",
}


def dashboard_routes(services: Services) -> list[Route]:
    async def dashboard(request: Request) -> Response:
        await authorise(services, request)
        return HTMLResponse(await _page(services, request), headers=HEADERS)

    return [Route(f"{services.prefix}/admin/", dashboard, methods=["GET"])]


async def _page(services: Services, request: Request) -> str:
    params = request.query_params
    site = requested_site(services, params.get("site"))
    start, end = stats_range(params.get("from"), params.get("to"), today=services.clock().date())
    language = _language(services, request, site)
    since, until = day_bounds(start, end)
    cookies = await services.store.cookie_inventory(site)
    by_mode = await services.store.consent_decisions_by_mode(site, since, until)
    data = DashboardData(
        site=site,
        sites=tuple(s.id for s in services.config.sites),
        start=start,
        end=end,
        language=language,
        stats=await site_stats(services, site, start, end),
        decisions=_without_mode(by_mode),
        by_mode=by_mode,
        cookies=cookies,
        unknown_policy=services.config.consent.unknown_cookie_policy,
        cookie_facts={c.name: services.firewall.classify(c.name) for c in cookies},
        last_scan=await asyncio.to_thread(read_last_scan, services.config.storage.path),
    )
    return render_dashboard(data)


def _without_mode(
    by_mode: dict[tuple[date, str, bool, str], int],
) -> dict[tuple[date, str, bool], int]:
    counts: dict[tuple[date, str, bool], int] = {}
    for (day, action, analytics, _mode), n in by_mode.items():
        counts[day, action, analytics] = counts.get((day, action, analytics), 0) + n
    return counts


def _language(services: Services, request: Request, site: str) -> DashboardLanguage:
    """`?lang=`, else the browser's nl/en preference, else the site's default if nl/en."""
    try:
        requested = requested_language(request.query_params.get("lang"))
    except ValueError as exc:
        raise BadRequest(str(exc), field="lang") from None
    if requested is not None:
        return requested
    config = services.config.site_by_id(site)
    default = config.default_language if config is not None else "en"
    return negotiated_language(request.headers.get("accept-language"), default)
