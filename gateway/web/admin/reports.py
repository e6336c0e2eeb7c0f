"""What the stats JSON and the dashboard share: the site and date range a request asks for,
and the numbers of one site over that range (web layer, behind `auth.authorise`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from gateway.core.errors import BadRequest
from gateway.services.wiring import Services

MAX_RANGE_DAYS: Final = 400
DEFAULT_RANGE_DAYS: Final = 30
_EARLIEST: Final = date(1970, 1, 1)
_LATEST: Final = date(9999, 12, 30)


def requested_site(services: Services, value: str | None) -> str:
    """The `site` a request names (the first configured site if none); 400 if unknown."""
    if value is None:
        return services.config.sites[0].id
    if services.config.site_by_id(value) is None:
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
    problem = BadRequest(f"{field} must be a date like 2026-11-21", field=field)
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise problem from None
    # Far enough from date.min and date.max that the range arithmetic cannot overflow.
    if not _EARLIEST <= parsed <= _LATEST:
        raise problem
    return parsed


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC days `start`..`end` inclusive as [since, until) instants."""
    since = datetime.combine(start, time.min, tzinfo=UTC)
    return since, datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)


async def site_stats(services: Services, site: str, start: date, end: date) -> dict[str, Any]:
    """The stats JSON of the site over the range, plus the bots counted (not stored),
    computed by the store (`services.reports`), never from events here."""
    return await services.reports.stats(site, start, end)
