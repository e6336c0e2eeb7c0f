"""What an analytics report is (pure): the question core asks a store, and the JSON of the
answer (`GET /_consent/admin/stats`, the dashboard).

The figures mean exactly what the oracle `stats.compute_stats` computes from raw events
(the property test `tests/adapters/store/test_reports_oracle.py` holds the store to it):

- **Visits** (`analytics.visits`) belong, whole, to the UTC day they start, also when they
  run past midnight. The range is a set of whole UTC days and holds the visits that start
  in it, with all their hits. Totals and days: distinct visitors, visits, pageviews,
  custom events, bounce rate (% of visits), mean visit duration (s) — all exact.
- **Breakdowns** come in three kinds by what they count (`Breakdown.unit`):
  `visit` — a property of the visit (entry page, source, UTM), counting its pageviews;
  `hit` — a page, custom event or site-search term, counting its pageviews / uses;
  `visitor` — where and on what a hit was made (country, region, city, browser, OS,
  device), counting pageviews; a custom event adds its visitor but no pageview.
  Empty values (unknown, not kept) are no row. A visit of pagehides only counts nowhere.
- **Time on page** (`pages` rows, `time_on_page`): the mean seconds, to 0.1, over the row's
  pageviews whose time is known — until the visit's next pageview or custom event, or a
  pagehide of that path (`analytics.visits`); `null` when none is.
- **Folding** (k-anonymity): rows rank by distinct visitors, then count, then value (code
  point order); only values with at least `min_visitors` visitors, and not spelled
  `"other"`, are shown, the first `top` of them; every other value is folded into one
  `"other"` row at the end whose visitors are the *distinct* visitors of the folded values
  (a union, not a sum) and whose count is their sum.
- **Exactness**: counts are exact; a row's distinct visitors are exact up to
  `sketch.EXACT_LIMIT` (64) and a HyperLogLog estimate beyond (`core/analytics/sketch.py`,
  about 4.6 % standard error): a range's visitors per row are a union over its days,
  which the stores answer from daily archives (`core/analytics/archive.py`). The JSON says
  so (`visitor_estimates`), and the dashboard shows it.

A store answers with `ReportFigures` — days × figures plus (top + 1) rows per breakdown,
whatever the number of events; `report_json` shapes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Literal

from gateway.core.analytics.sketch import EXACT_LIMIT, STANDARD_ERROR

OTHER: Final = "other"
DIRECT: Final = "(direct)"
DEFAULT_TOP: Final = 10

Unit = Literal["visit", "hit", "visitor"]


@dataclass(frozen=True, slots=True)
class Breakdown:
    name: str  # key in the JSON's `breakdowns`
    unit: Unit
    field: str  # what is counted: a visit field, a hit type, a visitor field

    @property
    def count_key(self) -> str:
        return "count" if self.name in ("events", "searches") else "pageviews"


# In output order (the keys of `breakdowns` in the JSON).
BREAKDOWNS: Final[tuple[Breakdown, ...]] = (
    Breakdown("pages", "hit", "pageview"),
    Breakdown("entry_pages", "visit", "entry_page"),
    Breakdown("referrers", "visit", "referrer"),
    Breakdown("utm_sources", "visit", "utm_source"),
    Breakdown("utm_mediums", "visit", "utm_medium"),
    Breakdown("utm_campaigns", "visit", "utm_campaign"),
    Breakdown("countries", "visitor", "country"),
    Breakdown("regions", "visitor", "region"),
    Breakdown("cities", "visitor", "city"),
    Breakdown("browsers", "visitor", "browser"),
    Breakdown("os", "visitor", "os"),
    Breakdown("devices", "visitor", "device"),
    Breakdown("events", "hit", "event"),
    Breakdown("searches", "hit", "search"),
)
BREAKDOWN_NAMES: Final = tuple(b.name for b in BREAKDOWNS)


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """One site over the UTC days `start`..`end`, both inclusive."""

    site: str
    start: date
    end: date
    min_visitors: int = 5
    top: int = DEFAULT_TOP

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if self.top < 0:
            raise ValueError("top must not be negative")

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """The first instant after the range."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


@dataclass(frozen=True, slots=True)
class Summary:
    """The headline figures of a set of visits (the range, or one day)."""

    visitors: int = 0
    visits: int = 0
    pageviews: int = 0
    events: int = 0
    bounces: int = 0
    duration_us: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "visitors": self.visitors,
            "visits": self.visits,
            "pageviews": self.pageviews,
            "events": self.events,
            "bounce_rate": mean(100.0 * self.bounces, self.visits),
            "visit_duration": mean(self.duration_us / 1_000_000, self.visits),
        }


@dataclass(frozen=True, slots=True)
class Row:
    value: str
    visitors: int
    count: int
    estimated: bool = False  # `visitors` is a sketch's estimate (over `EXACT_LIMIT`)
    time_us: int = 0  # pages: the time on page of its timed views, in microseconds
    timed: int = 0  # pages: how many of its views have a known time


@dataclass(frozen=True, slots=True)
class ReportFigures:
    """A store's answer: days without visits may be absent; breakdowns already folded."""

    totals: Summary
    days: Mapping[date, Summary]
    breakdowns: Mapping[str, Sequence[Row]] = field(default_factory=dict)


def mean(total: float, count: int) -> float:
    return round(total / count, 1) if count else 0.0


def report_json(request: ReportRequest, figures: ReportFigures) -> dict[str, Any]:
    """The stats JSON: the same keys and numbers `compute_stats` gives for the same events."""
    empty = Summary()
    return {
        "site": request.site,
        "from": request.start.isoformat(),
        "to": request.end.isoformat(),
        "totals": figures.totals.to_json(),
        "days": [{"date": day.isoformat(), **figures.days.get(day, empty).to_json()}
                 for day in request.days],
        "breakdowns": {
            b.name: [_row_json(b, row) for row in figures.breakdowns.get(b.name, ())]
            for b in BREAKDOWNS
        },
        "min_visitors": request.min_visitors,
        "visitor_estimates": {
            "exact_up_to": EXACT_LIMIT,
            "standard_error": round(STANDARD_ERROR, 3),
            "estimated": sorted(b.name for b in BREAKDOWNS
                                if any(r.estimated for r in figures.breakdowns.get(b.name, ()))),
        },
    }



def _row_json(breakdown: Breakdown, row: Row) -> dict[str, Any]:
    shaped: dict[str, Any] = {"value": row.value, "visitors": row.visitors,
                              breakdown.count_key: row.count}
    if breakdown.name == "pages":
        shaped["time_on_page"] = mean(row.time_us / 1_000_000, row.timed) if row.timed \
            else None
    if row.estimated:
        shaped["estimated"] = True
    return shaped
