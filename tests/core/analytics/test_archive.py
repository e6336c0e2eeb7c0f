"""Daily archives add up to the figures of a range (`core/analytics/archive.py`)."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.core.analytics.archive import DayArchive, build_day_archive, report_figures
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
