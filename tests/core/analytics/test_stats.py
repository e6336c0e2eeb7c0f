"""Dashboard statistics (gateway/core/analytics/stats.py): visits rebuilt from events as
Plausible defines them, every day of the range present, and breakdown rows of too few visitors
folded away.

Expected numbers are worked out by hand from the events below and written as literals."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from gateway.core.analytics.events import AnalyticsEvent, Device, EventType
from gateway.core.analytics.stats import city_label, compute_stats, region_label

NOV_1, NOV_3 = date(2026, 11, 1), date(2026, 11, 3)


def at(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def hit(
    visitor: str,
    ts: datetime,
    path: str = "/",
    *,
    type: EventType = "pageview",
    name: str = "",
    site: str = "demo",
    referrer_host: str = "",
    hostname: str = "demo.example",
    utm_source: str = "",
    utm_medium: str = "",
    utm_campaign: str = "",
    country: str = "",
    region: str = "",
    city: str = "",
    browser: str = "Other",
    device: Device = "other",
    search: str = "",
) -> AnalyticsEvent:
    return AnalyticsEvent(
        site=site, ts=ts, visitor=visitor, type=type, path=path, name=name, hostname=hostname,
        search=search,
        referrer_host=referrer_host, utm_source=utm_source, utm_medium=utm_medium,
        utm_campaign=utm_campaign, country=country, region=region, city=city, browser=browser,
        os="Linux" if browser == "Firefox" else "Android", device=device,
    )  # fmt: skip


def alice(ts: datetime, path: str = "/", **fields: Any) -> AnalyticsEvent:
    return hit(
        "alice", ts, path, country="GB", region="ENG", city="London", browser="Firefox",
        device="desktop", **fields,
    )  # fmt: skip


def bob(ts: datetime, path: str = "/", **fields: Any) -> AnalyticsEvent:
    return hit("bob", ts, path, country="NL", browser="Chrome", device="mobile", **fields)


def carol(ts: datetime, path: str = "/", **fields: Any) -> AnalyticsEvent:
    return hit("carol", ts, path, browser="Firefox", device="desktop", **fields)


# Five visits of three visitors over 1-3 November:
#   A1 alice Nov 1  10:00 /, 10:05 /pricing, 10:10 signup      2 pv 1 ev   600 s
#   A2 alice Nov 2  09:00 /blog                                1 pv bounce   0 s
#   B1 bob   Nov 1  23:50 /, Nov 2 00:10 /docs (20 min gap)    2 pv       1200 s
#   B2 bob   Nov 2  01:00 /docs (50 min gap), 01:05 download   1 pv 1 ev   300 s
#   C1 carol Nov 3  12:00 /pricing, 12:25 /, 12:40 /           3 pv       2400 s
VISITS = [
    alice(at(1, 10, 0), "/", referrer_host="news.example", utm_source="newsletter",
          utm_medium="email", utm_campaign="launch"),
    alice(at(1, 10, 5), "/pricing", referrer_host="demo.example"),
    alice(at(1, 10, 10), "/pricing", type="event", name="signup"),
    alice(at(2, 9, 0), "/blog"),
    bob(at(1, 23, 50), "/", referrer_host="search.example"),
    bob(at(2, 0, 10), "/docs"),
    bob(at(2, 1, 0), "/docs"),
    bob(at(2, 1, 5), "/docs", type="event", name="download"),
    carol(at(3, 12, 0), "/pricing"),
    carol(at(3, 12, 25), "/", utm_source="ads", referrer_host="ads.example"),  # not first
    carol(at(3, 12, 40), "/"),
]  # fmt: skip


def shuffled(events: list[AnalyticsEvent]) -> list[AnalyticsEvent]:
    """Events come from the store in no promised order."""
    copy = list(events)
    random.Random(20261101).shuffle(copy)
    return copy


def stats(
    events: list[AnalyticsEvent],
    *,
    start: date = NOV_1,
    end: date = NOV_3,
    min_visitors: int = 1,
    top: int = 10,
) -> dict[str, Any]:
    return compute_stats(
        shuffled(events), site="demo", start=start, end=end, min_visitors=min_visitors, top=top
    )


def breakdown(events: list[AnalyticsEvent], name: str, **options: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = stats(events, **options)["breakdowns"][name]
    return rows


def pageviews(visitor: str, *times: datetime, path: str = "/") -> list[AnalyticsEvent]:
    return [hit(visitor, ts, path) for ts in times]


# --- totals and days ---------------------------------------------------------------------


def test_totals_count_visitors_visits_pageviews_events_bounces_and_mean_duration() -> None:
    assert stats(VISITS)["totals"] == {
        "visitors": 3,  # alice, bob, carol
        "visits": 5,  # A1 A2 B1 B2 C1
        "pageviews": 9,  # 2 + 1 + 2 + 1 + 3
        "events": 2,  # signup, download
        "bounce_rate": 20.0,  # A2 only: 1/5
        "visit_duration": 900.0,  # (600 + 0 + 1200 + 300 + 2400) / 5
    }


def test_each_day_counts_the_visits_that_start_on_it() -> None:
    assert stats(VISITS)["days"] == [
        # A1, B1: pageviews 2 + 2 (B1's /docs after midnight included), duration (600+1200)/2
        {"date": "2026-11-01", "visitors": 2, "visits": 2, "pageviews": 4, "events": 1,
         "bounce_rate": 0.0, "visit_duration": 900.0},
        # A2, B2: bounce 1/2, duration (0+300)/2
        {"date": "2026-11-02", "visitors": 2, "visits": 2, "pageviews": 2, "events": 1,
         "bounce_rate": 50.0, "visit_duration": 150.0},
        # C1
        {"date": "2026-11-03", "visitors": 1, "visits": 1, "pageviews": 3, "events": 0,
         "bounce_rate": 0.0, "visit_duration": 2400.0},
    ]  # fmt: skip


def test_the_output_names_the_site_the_range_and_the_privacy_threshold() -> None:
    result = stats(VISITS, min_visitors=7)
    assert (result["site"], result["from"], result["to"]) == ("demo", "2026-11-01", "2026-11-03")
    assert result["min_visitors"] == 7


def test_events_exactly_thirty_minutes_apart_are_one_visit() -> None:
    events = pageviews("v", at(1, 10, 0), at(1, 10, 30))
    assert stats(events)["totals"]["visits"] == 1
    assert stats(events)["totals"]["visit_duration"] == 1800.0


def test_events_thirty_minutes_and_one_second_apart_are_two_visits() -> None:
    events = pageviews("v", at(1, 10, 0), at(1, 10, 30, 1))
    assert stats(events)["totals"]["visits"] == 2
    assert stats(events)["totals"]["bounce_rate"] == 100.0  # two single-pageview visits


def test_a_visit_is_extended_by_each_event_not_measured_from_its_start() -> None:
    # 10:00, 10:25, 10:50, 11:15: each gap 25 min, 75 min in all, still one visit
    events = pageviews("v", at(1, 10, 0), at(1, 10, 25), at(1, 10, 50), at(1, 11, 15))
    assert stats(events)["totals"]["visits"] == 1
    assert stats(events)["totals"]["visit_duration"] == 4500.0  # 75 * 60


def test_a_visit_crossing_midnight_counts_on_the_day_it_started() -> None:
    days = stats(pageviews("v", at(1, 23, 50), at(2, 0, 10)))["days"]
    assert [(d["date"], d["visits"], d["pageviews"]) for d in days] == [
        ("2026-11-01", 1, 2),
        ("2026-11-02", 0, 0),
        ("2026-11-03", 0, 0),
    ]


def test_two_visitors_at_the_same_moment_are_two_visits() -> None:
    events = [*pageviews("v", at(1, 10, 0)), *pageviews("w", at(1, 10, 0))]
    assert stats(events)["totals"]["visits"] == 2


def test_a_pageview_with_a_custom_event_is_not_a_bounce() -> None:
    events = [hit("v", at(1, 10, 0)), hit("v", at(1, 10, 0, 20), type="event", name="play")]
    totals = stats(events)["totals"]
    assert (totals["bounce_rate"], totals["visit_duration"]) == (0.0, 20.0)


def test_a_visit_of_custom_events_only_is_not_a_bounce_and_has_no_entry_page() -> None:
    result = stats([hit("v", at(1, 10, 0), type="event", name="play")])
    assert (result["totals"]["visits"], result["totals"]["bounce_rate"]) == (1, 0.0)
    assert result["breakdowns"]["entry_pages"] == []


def test_rates_and_durations_are_rounded_to_one_decimal() -> None:
    events = [
        *pageviews("u", at(1, 10, 0)),  # bounce, 0 s
        *pageviews("v", at(1, 10, 0), at(1, 10, 1, 40)),  # 100 s
        *pageviews("w", at(1, 10, 0), at(1, 10, 0, 1)),  # 1 s
    ]
    totals = stats(events)["totals"]
    assert totals["bounce_rate"] == 33.3  # 100 * 1/3 = 33.33…
    assert totals["visit_duration"] == 33.7  # 101 / 3 = 33.66…


# --- what counts ---------------------------------------------------------------------------


def test_events_of_another_site_are_ignored() -> None:
    events = [*VISITS, hit("dave", at(2, 12, 0), site="shop")]
    assert stats(events)["totals"]["visitors"] == 3  # alice, bob, carol; not dave


def test_events_outside_the_range_of_utc_days_are_ignored() -> None:
    events = [
        *pageviews("v", at(2, 12, 0)),
        *pageviews("early", datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)),
        *pageviews("late", datetime(2026, 11, 3, 0, 0, tzinfo=UTC)),
    ]
    result = stats(events, end=date(2026, 11, 2))
    assert (result["totals"]["visitors"], result["totals"]["pageviews"]) == (1, 1)


def test_the_last_second_of_the_range_counts() -> None:
    result = stats(pageviews("v", datetime(2026, 11, 3, 23, 59, 59, tzinfo=UTC)))
    assert result["days"][2]["visits"] == 1


def test_days_are_utc_days_whatever_zone_a_timestamp_carries() -> None:
    # 00:30 in UTC+2 is 22:30 UTC on 31 October: before the range
    cest = timezone(timedelta(hours=2))
    result = stats(pageviews("v", datetime(2026, 11, 1, 0, 30, tzinfo=cest)))
    assert result["totals"]["visits"] == 0


@pytest.fixture
def server_in_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A local zone far from UTC, so reading a naive time as local time would show."""
    if not hasattr(time, "tzset"):
        pytest.skip("needs time.tzset (POSIX)")
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("server_in_new_york")
def test_a_timestamp_without_a_zone_is_taken_as_utc_not_server_time() -> None:
    # as New York time, 23:30 on 2 November would be 04:30 UTC on the 3rd
    result = stats(pageviews("v", datetime(2026, 11, 2, 23, 30)))
    assert [d["visits"] for d in result["days"]] == [0, 1, 0]


def test_every_day_of_the_range_is_present_with_zeros_where_nothing_happened() -> None:
    result = stats(pageviews("v", at(3, 12, 0)), end=date(2026, 11, 5))
    assert [d["date"] for d in result["days"]] == [
        "2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05",
    ]  # fmt: skip
    assert result["days"][0] == {
        "date": "2026-11-01", "visitors": 0, "visits": 0, "pageviews": 0, "events": 0,
        "bounce_rate": 0.0, "visit_duration": 0.0,
    }  # fmt: skip
    assert [d["visits"] for d in result["days"]] == [0, 0, 1, 0, 0]


def test_no_events_give_zeros_and_empty_breakdowns() -> None:
    result = compute_stats([], site="demo", start=NOV_1, end=NOV_1)
    zeros = {"visitors": 0, "visits": 0, "pageviews": 0, "events": 0,
             "bounce_rate": 0.0, "visit_duration": 0.0}  # fmt: skip
    assert result == {
        "site": "demo",
        "from": "2026-11-01",
        "to": "2026-11-01",
        "totals": zeros,
        "days": [{"date": "2026-11-01", **zeros}],
        "breakdowns": {
            "pages": [],
            "entry_pages": [],
            "referrers": [],
            "utm_sources": [],
            "utm_mediums": [],
            "utm_campaigns": [],
            "countries": [],
            "regions": [],
            "cities": [],
            "browsers": [],
            "os": [],
            "devices": [],
            "events": [],
            "searches": [],
        },
        "min_visitors": 5,
    }


def test_a_range_ending_before_it_starts_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="before start"):
        compute_stats([], site="demo", start=NOV_3, end=NOV_1)


# --- breakdowns ----------------------------------------------------------------------------


def row(value: str, visitors: int, pageviews: int) -> dict[str, Any]:
    return {"value": value, "visitors": visitors, "pageviews": pageviews}


def page_row(value: str, visitors: int, pageviews: int, seconds: float | None) -> dict[str, Any]:
    return {**row(value, visitors, pageviews), "time_on_page": seconds}


def test_pages_count_pageviews_and_distinct_visitors_per_path() -> None:
    assert breakdown(VISITS, "pages") == [
        # alice A1, bob B1, carol twice; timed 5 min, 20 min, 15 min (carol's last: open)
        page_row("/", 3, 4, 800.0),
        page_row("/pricing", 2, 2, 900.0),  # alice A1 (to the signup), carol; 5 and 25 min
        page_row("/docs", 1, 2, 300.0),  # bob B1 (open: B2 is over the gap), B2 (to the event)
        page_row("/blog", 1, 1, None),  # alice A2: one pageview, no end known
    ]


def test_a_pagehide_ends_its_pages_time_and_counts_nowhere_else() -> None:
    events = [hit("x", at(1, 10, 0), "/a"), hit("x", at(1, 10, 2), "/a", type="pagehide")]
    result = stats(events)
    assert result["breakdowns"]["pages"] == [page_row("/a", 1, 1, 120.0)]
    assert result["totals"]["events"] == 0 and result["totals"]["bounce_rate"] == 100.0
    assert result["totals"]["visit_duration"] == 120.0
    assert stats([hit("x", at(1, 10, 0), "/a", type="pagehide")])["totals"]["visits"] == 0


def test_site_searches_count_the_pageviews_with_each_term() -> None:
    events = [hit(v, at(1, 10, 0), "/search", search="shoes") for v in ("x", "y")]
    assert breakdown(events, "searches") == [
        {"value": "shoes", "visitors": 2, "count": 2}]


def test_entry_pages_are_each_visits_first_pageview_with_that_visits_pageviews() -> None:
    assert breakdown(VISITS, "entry_pages") == [
        row("/", 2, 4),  # A1 (2 pv) + B1 (2 pv)
        row("/pricing", 1, 3),  # C1
        row("/blog", 1, 1),  # A2; ties with /docs, so by value
        row("/docs", 1, 1),  # B2
    ]


def test_referrers_come_from_each_visits_first_event_and_none_is_direct() -> None:
    assert breakdown(VISITS, "referrers") == [
        row("(direct)", 3, 5),  # A2 (1 pv), B2 (1), C1 (3; ads.example was not its first)
        row("news.example", 1, 2),  # A1
        row("search.example", 1, 2),  # B1
    ]


def test_a_link_from_the_site_itself_is_no_referrer() -> None:
    events = [hit("v", at(1, 10, 0), referrer_host="demo.example", hostname="demo.example")]
    assert breakdown(events, "referrers") == [row("(direct)", 1, 1)]


def test_utm_fields_come_from_each_visits_first_event_and_empty_ones_are_skipped() -> None:
    result = stats(VISITS)["breakdowns"]
    assert result["utm_sources"] == [row("newsletter", 1, 2)]  # A1; carol's "ads" was not first
    assert result["utm_mediums"] == [row("email", 1, 2)]
    assert result["utm_campaigns"] == [row("launch", 1, 2)]


def test_places_come_from_the_events_and_unknown_ones_are_skipped() -> None:
    result = stats(VISITS)["breakdowns"]
    # carol has no country; bob has no region or city
    assert result["countries"] == [row("GB", 1, 3), row("NL", 1, 3)]  # A1 2 + A2 1; B1 2 + B2 1
    assert result["regions"] == [row("GB-ENG", 1, 3)]
    assert result["cities"] == [row("London, GB", 1, 3)]


def test_browsers_systems_and_devices_come_from_the_events() -> None:
    result = stats(VISITS)["breakdowns"]
    assert result["browsers"] == [row("Firefox", 2, 6), row("Chrome", 1, 3)]  # alice 3 + carol 3
    assert result["os"] == [row("Linux", 2, 6), row("Android", 1, 3)]
    assert result["devices"] == [row("desktop", 2, 6), row("mobile", 1, 3)]


def test_custom_events_are_counted_by_name() -> None:
    assert breakdown(VISITS, "events") == [
        {"value": "download", "visitors": 1, "count": 1},
        {"value": "signup", "visitors": 1, "count": 1},
    ]


def test_a_region_is_named_with_its_country_and_a_city_with_its_country() -> None:
    assert region_label("GB", "ENG") == "GB-ENG"
    assert region_label("GB", "GB-ENG") == "GB-ENG"  # already qualified
    assert region_label("", "ENG") == "ENG"
    assert region_label("GB", "") == ""
    assert city_label("CA", "London") == "London, CA"
    assert city_label("", "London") == "London"


# --- privacy and top-N folding ---------------------------------------------------------------


def from_country(visitor: str, country: str, minute: int = 0) -> AnalyticsEvent:
    return hit(visitor, at(1, 10, minute), country=country)


# NL: 5 visitors, 1 pageview each. GB: 4 visitors. BE: g1 again, on a later visit.
SMALL_GROUPS = [
    *(from_country(f"n{i}", "NL") for i in range(1, 6)),
    *(from_country(f"g{i}", "GB") for i in range(1, 5)),
    from_country("g1", "BE", minute=50),
]


def test_a_row_of_fewer_visitors_than_the_threshold_is_folded_into_other() -> None:
    countries = breakdown(SMALL_GROUPS, "countries", min_visitors=5)
    assert "GB" not in [r["value"] for r in countries]  # 4 visitors < 5


def test_a_row_of_exactly_the_threshold_is_kept() -> None:
    countries = breakdown(SMALL_GROUPS, "countries", min_visitors=5)
    assert countries[0] == row("NL", 5, 5)


def test_the_other_row_comes_last_with_the_union_of_folded_visitors_and_summed_pageviews() -> None:
    countries = breakdown(SMALL_GROUPS, "countries", min_visitors=5)
    # GB {g1..g4} ∪ BE {g1} = 4 visitors (a sum would say 5); pageviews 4 + 1
    assert countries == [row("NL", 5, 5), row("other", 4, 5)]


def test_custom_event_names_of_few_visitors_are_folded_too() -> None:
    events = [hit(f"v{i}", at(1, 10, 0), type="event", name="play") for i in range(2)]
    assert breakdown(events, "events", min_visitors=5) == [
        {"value": "other", "visitors": 2, "count": 2}
    ]


def test_rows_beyond_top_are_folded_into_other() -> None:
    events = [
        *(hit(f"a{i}", at(1, 10, 0), "/a") for i in range(3)),
        *(hit(f"b{i}", at(1, 10, 0), "/b") for i in range(2)),
        hit("c", at(1, 10, 0), "/c"),
        hit("c", at(1, 10, 1), "/d"),
        hit("d", at(1, 10, 0), "/d"),
    ]
    # /c {c} ∪ /d {c, d} = 2 visitors; pageviews 1 + 2
    assert breakdown(events, "pages", top=2) == [
        page_row("/a", 3, 3, None),
        page_row("/b", 2, 2, None),
        page_row("other", 2, 3, 60.0),  # /c, ended by /d a minute later
    ]


def test_a_real_other_device_joins_the_folded_row_so_other_appears_once_and_last() -> None:
    events = [
        *(hit(f"o{i}", at(1, 10, 0), device="other") for i in range(6)),
        *(hit(f"d{i}", at(1, 10, 0), device="desktop") for i in range(5)),
        hit("m", at(1, 10, 0), device="mobile"),
    ]
    # other: 6 "other" + 1 mobile folded = 7 visitors, 7 pageviews
    assert breakdown(events, "devices", min_visitors=5) == [
        row("desktop", 5, 5),
        row("other", 7, 7),
    ]


def test_the_default_threshold_is_five_visitors() -> None:
    result = compute_stats(shuffled(SMALL_GROUPS), site="demo", start=NOV_1, end=NOV_1)
    assert result["breakdowns"]["countries"] == [row("NL", 5, 5), row("other", 4, 5)]
