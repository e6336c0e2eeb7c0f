"""The visit rule the store keeps at ingest (`core/analytics/visits.py`), without a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.core.analytics.visits import Hit, Visit, continue_visits, continues, sessionise

GAP = timedelta(minutes=30)
T0 = datetime(2026, 3, 1, 23, 50, tzinfo=UTC)


def hit(minutes: float, path: str = "/", *, pageview: bool = True, **fields: Any) -> Hit:
    return Hit(T0 + timedelta(minutes=minutes), pageview, path, **fields)


def visits_of(*hits: Hit) -> list[Visit]:
    return sessionise("shop", "v1", hits, GAP)


def test_hits_at_most_one_gap_apart_are_one_visit_and_a_microsecond_more_splits() -> None:
    together = visits_of(hit(0), hit(30))
    apart = visits_of(hit(0), Hit(T0 + GAP + timedelta(microseconds=1), True, "/"))
    assert [v.pageviews for v in together] == [2]
    assert [v.pageviews for v in apart] == [1, 1]


def test_a_visit_over_midnight_counts_on_the_day_it_started() -> None:
    (visit,) = visits_of(hit(0), hit(20))
    assert visit.day.isoformat() == "2026-03-01" and visit.last_day.isoformat() == "2026-03-02"
    assert visit.duration_us == 20 * 60 * 1_000_000


def test_arrival_order_does_not_change_the_visits() -> None:
    hits = [hit(0, "/a"), hit(5, "/b", pageview=False), hit(10, "/c"), hit(100, "/d")]
    assert visits_of(*hits) == visits_of(*reversed(hits))


def test_sources_come_from_the_first_hit_and_pages_from_the_pageviews() -> None:
    (visit,) = visits_of(
        hit(0, "/signup", pageview=False, referrer_host="search.example", utm_source="ads"),
        hit(1, "/a", referrer_host="shop.example"), hit(2, "/b"),
    )
    assert (visit.referrer_host, visit.utm_source) == ("search.example", "ads")
    assert (visit.entry_page, visit.exit_page) == ("/a", "/b")
    assert (visit.pageviews, visit.events, visit.bounce) == (2, 1, False)


def test_a_referrer_from_the_site_itself_is_a_direct_visit() -> None:
    (visit,) = visits_of(hit(0, referrer_host="shop.example", hostname="shop.example"))
    assert visit.referrer_host == "" and visit.bounce


def test_a_custom_event_of_the_same_microsecond_comes_before_the_pageview() -> None:
    (visit,) = visits_of(hit(0, "/p", referrer_host="b.example"),
                         hit(0, "/e", pageview=False, referrer_host="a.example"))
    assert visit.referrer_host == "a.example" and visit.entry_page == "/p"


def test_later_hits_extend_the_newest_visit_or_start_new_ones() -> None:
    (latest,) = visits_of(hit(0))
    later = [hit(20, "/x"), hit(200, "/y")]
    assert continues(latest, later)
    extended, fresh = continue_visits(latest, "shop", "v1", later, GAP)
    assert (extended.started_at, extended.pageviews, extended.exit_page) == (T0, 2, "/x")
    assert (fresh.started_at, fresh.pageviews) == (later[1].ts, 1)


def test_a_hit_at_or_before_the_newest_visits_end_needs_a_rebuild() -> None:
    (latest,) = visits_of(hit(0), hit(10))
    assert not continues(latest, [hit(10)])
    assert not continues(latest, [hit(5)])
    assert continues(None, [hit(5)])


def test_continuing_a_visit_equals_sessionising_all_its_hits() -> None:
    first, rest = [hit(0, "/a"), hit(10, "/b", pageview=False)], [hit(25, "/c"), hit(90, "/d")]
    (latest,) = visits_of(*first)
    assert continue_visits(latest, "shop", "v1", rest, GAP) == visits_of(*first, *rest)


def hide(minutes: float, path: str = "/") -> Hit:
    return hit(minutes, path, pageview=False)._replace(pagehide=True)


def test_a_pages_time_runs_to_the_next_pageview_or_custom_event() -> None:
    (visit,) = visits_of(hit(0, "/a"), hit(2, "/b"), hit(3, "/b", pageview=False, name="buy"),
                         hit(10, "/a"))
    assert visit.page_times == {"/a": [120_000_000, 1], "/b": [60_000_000, 1]}
    assert visit.open_at == T0 + timedelta(minutes=10)  # the last view's end is unknown


def test_a_pagehide_of_the_same_page_ends_its_time_but_counts_nowhere() -> None:
    (visit,) = visits_of(hit(0, "/a"), hide(1, "/other"), hide(4, "/a"))
    assert visit.page_times == {"/a": [240_000_000, 1]} and visit.open_at is None
    assert (visit.pageviews, visit.events, visit.bounce) == (1, 0, True)
    assert visit.duration_us == 4 * 60 * 1_000_000  # but it lengthens the visit


def test_a_pagehide_after_the_gap_begins_an_empty_visit_later_hits_may_join() -> None:
    first, second = visits_of(hit(0, "/a"), hide(45, "/a"), hit(50, "/b"))
    assert first.page_times == {} and not first.empty
    assert (second.started_at, second.pageviews, second.empty) == (T0 + timedelta(minutes=45),
                                                                   1, False)
    (alone,) = visits_of(hide(0, "/a"))
    assert alone.empty


def test_page_times_are_the_same_whether_hits_arrive_at_once_or_one_by_one() -> None:
    hits = [hit(0, "/a"), hide(1, "/a"), hit(2, "/b", search="shoes"), hit(5, "/b")]
    latest = None
    for one in hits:
        (latest,) = continue_visits(latest, "shop", "v1", [one], GAP)
    assert latest == visits_of(*hits)[0]
    assert latest.searches == {"shoes": 1}
