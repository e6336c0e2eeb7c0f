"""Daily archives add up to the figures of a range (`core/analytics/archive.py`)."""

from __future__ import annotations

from dataclasses import astuple
from datetime import date

import pytest

from gateway.core.analytics.archive import (
    DayArchive,
    build_day_archive,
    merge_day,
    report_figures,
)
from gateway.core.analytics.archiveplan import WHOLE_DAY, HourArchives, plan_days
from gateway.core.analytics.reports import ReportRequest, Row, Summary

DAY1, DAY2 = date(2026, 3, 1), date(2026, 3, 2)


def day(on: date, visitors: list[str], counted: list[tuple[str, str, str, int]]) -> DayArchive:
    summary = Summary(visitors=len(set(visitors)), visits=len(visitors), pageviews=10,
                      events=1, bounces=2, duration_us=3_000_000)
    return build_day_archive(on, summary, visitors, counted)


def test_an_archive_survives_bytes() -> None:
    archive = day(DAY1, ["a", "b"], [("pages", "/", "a", 2), ("pages", "/", "b", 1),
                                     ("countries", "NL", "a", 2)])
    again = DayArchive.from_bytes(archive.to_bytes())
    assert again == archive


@pytest.mark.parametrize("data", [b"", b"\x00\x00\x00\x02{}", b"\x00\x00\x00\x01x"])
def test_anything_else_is_not_an_archive(data: bytes) -> None:
    with pytest.raises(ValueError, match="day archive"):
        DayArchive.from_bytes(data)


def test_visitors_are_a_union_over_days_and_counts_a_sum() -> None:
    first = day(DAY1, ["a", "b", "c"], [("pages", "/", v, 1) for v in "abc"])
    second = day(DAY2, ["c", "d"], [("pages", "/", v, 2) for v in "cd"])
    figures = report_figures(ReportRequest("s", DAY1, DAY2, min_visitors=1), [first, second])
    assert figures.totals.visitors == 4  # c came on both days
    assert figures.totals.visits == 5 and figures.totals.pageviews == 20
    assert figures.days[DAY2].visitors == 2
    assert figures.breakdowns["pages"] == [Row("/", 4, 7)]


def test_small_rows_fold_into_other_with_the_union_of_their_visitors() -> None:
    counted = [("countries", "NL", v, 1) for v in "abcde"]
    counted += [("countries", "BE", "a", 1), ("countries", "DE", "a", 3),
                ("countries", "other", "f", 1)]
    figures = report_figures(ReportRequest("s", DAY1, DAY1, min_visitors=2),
                             [day(DAY1, list("abcdef"), counted)])
    assert figures.breakdowns["countries"] == [Row("NL", 5, 5), Row("other", 2, 5)]


def test_rows_rank_by_visitors_then_count_then_value_and_stop_at_top() -> None:
    counted = [("browsers", name, v, n) for name, n in (("B", 1), ("A", 1), ("C", 5))
               for v in "xy"]
    figures = report_figures(ReportRequest("s", DAY1, DAY1, min_visitors=1, top=2),
                             [day(DAY1, ["x", "y"], counted)])
    assert figures.breakdowns["browsers"] == [Row("C", 2, 10), Row("A", 2, 2),
                                              Row("other", 2, 2)]


def test_many_visitors_are_estimated_and_say_so() -> None:
    visitors = [f"v{n}" for n in range(1_000)]
    figures = report_figures(
        ReportRequest("s", DAY1, DAY1, min_visitors=1),
        [day(DAY1, visitors, [("devices", "desktop", v, 1) for v in visitors])],
    )
    (row,) = figures.breakdowns["devices"]
    assert row.estimated and abs(row.visitors - 1_000) <= 140
    assert figures.totals.visitors == 1_000  # totals stay exact


def test_hours_merged_are_the_day_built_at_once() -> None:
    """The store archives hours and merges them (`archiveplan`); the day is the same."""
    visitors = [f"v{n}" for n in range(150)]
    by_hour = {hour: visitors[hour * 50:hour * 50 + 80] for hour in range(3)}  # overlapping
    counted = {hour: [(name, value, v, 1, 0, 0) for v in found
                      for name, value in (("pages", "/"), ("countries", f"C{len(v) % 3}"))]
               for hour, found in by_hour.items()}
    summaries = {hour: Summary(len(set(found)), len(found), 2 * len(found), 0, 0, 0)
                 for hour, found in by_hour.items()}
    builder = HourArchives(DAY1)
    builder.add_summaries([(hour, *astuple(s)) for hour, s in summaries.items()])
    builder.add_visitors([(hour, v) for hour, found in by_hour.items() for v in set(found)])
    builder.add_counted([(hour, *row) for hour, rows in counted.items() for row in rows])
    hours = builder.archives(range(3))
    merged = merge_day(DAY1, [DayArchive.from_bytes(a.to_bytes()) for a in hours.values()])
    everyone = sorted({v for found in by_hour.values() for v in found})
    whole = build_day_archive(
        DAY1, Summary(len(everyone), sum(s.visits for s in summaries.values()),
                      sum(s.pageviews for s in summaries.values()), 0, 0, 0), everyone,
        [row for rows in counted.values() for row in rows])
    assert merged == whole


def test_a_plan_reads_valid_archives_and_makes_only_changed_hours() -> None:
    counts = [(DAY1, 9, 3), (DAY1, 10, 1), (DAY2, 9, 2), (DAY2, 10, 5)]
    kept = [(DAY1, WHOLE_DAY, 4, b"day one"),  # still valid: 3 + 1
            (DAY2, WHOLE_DAY, 6, b"stale"), (DAY2, 9, 2, b"hour 9"), (DAY2, 10, 4, b"old")]
    one, two = plan_days(counts, kept)
    assert (one.whole, one.make, one.live) == (b"day one", {}, True)
    assert (two.whole, two.hours, two.make, two.live) == (None, {9: b"hour 9"}, {10: 5}, True)
