"""Which report archives a store can use and which it must make (pure).

Visits are archived by the UTC hour they start in, and the hours of a day merged into the
day's archive (`archive.merge_day`: the same archive as one made from the whole day at
once). Each (day, hour) has a change count the store keeps with the visits; a day's count
is the sum of its hours'. An archive is used while the count it was made at is the count
now. So when a pageview arrives today, the next report makes again only the archive of the
current hour, merges it with today's other 23, and reads every other day whole: the live
part of a report costs one hour of visits, not one day.

Hour archives are kept only for the last two days of the range that have visits (`LIVE_DAYS`),
where late beacons and new traffic land; older days keep their whole-day archive only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final

from gateway.core.analytics.archive import Accumulator, DayArchive, Hashes, merge_day
from gateway.core.analytics.reports import Summary

WHOLE_DAY: Final = 24  # the hour column of a whole-day archive
LIVE_DAYS: Final = 2


@dataclass(slots=True)
class DayPlan:
    day: date
    version: int  # the sum of the day's hour counts
    whole: bytes | None = None  # the day's archive, still valid
    hours: dict[int, bytes] = field(default_factory=dict)  # valid hour archives
    make: dict[int, int] = field(default_factory=dict)  # hours to archive -> their count
    live: bool = False  # its hour archives are worth keeping


def plan_days(
    counts: Iterable[tuple[date, int, int]], kept: Iterable[tuple[date, int, int, bytes]],
) -> list[DayPlan]:
    """Per day with visits: what is still valid and which hours to archive again.
    `counts`: (day, hour, count); `kept`: (day, hour or `WHOLE_DAY`, count, archive)."""
    by_day: defaultdict[date, dict[int, int]] = defaultdict(dict)
    for day, hour, count in counts:
        by_day[day][hour] = by_day[day].get(hour, 0) + count
    plans = {day: DayPlan(day, sum(hours.values())) for day, hours in by_day.items()}
    for day, hour, count, body in kept:
        plan = plans.get(day)
        if plan is None:
            continue
        if hour == WHOLE_DAY and count == plan.version:
            plan.whole = body
        elif hour != WHOLE_DAY and by_day[day].get(hour) == count:
            plan.hours[hour] = body
    if not by_day:
        return []
    live_from = max(by_day) - timedelta(days=LIVE_DAYS - 1)
    for day, plan in plans.items():
        plan.live = day >= live_from
        if plan.whole is None:
            plan.make = {h: n for h, n in by_day[day].items() if h not in plan.hours}
    return sorted(plans.values(), key=lambda p: p.day)


def assemble_day(
    plan: DayPlan, made: Mapping[int, DayArchive]
) -> tuple[DayArchive, list[tuple[DayArchive, int]]]:
    """The day's archive — kept and read, or merged from its hours (kept, or `made` just
    now from the visits) — and the new archives worth keeping, with their counts."""
    if plan.whole is not None:
        return DayArchive.from_bytes(plan.whole), []
    fresh = [made[hour] for hour in sorted(plan.make)]
    day = merge_day(plan.day, [DayArchive.from_bytes(body) for body in plan.hours.values()]
                    + fresh)
    keep = [(archive, plan.make[hour]) for hour, archive in zip(sorted(plan.make), fresh,
                                                                  strict=True)
            if plan.live]
    return day, [*keep, (day, plan.version)]


class HourArchives:
    """The archives of some hours of one day, built from the store's rows (as
    `adapters/store/reportsql.py` selects them) fed in any number of chunks."""

    def __init__(self, day: date) -> None:
        self.day = day
        self._hashes = Hashes()
        self._hours: defaultdict[int, Accumulator] = defaultdict(Accumulator)
        self._summaries: dict[int, Summary] = {}

    def add_summaries(self, rows: Iterable[Sequence[Any]]) -> None:
        """(hour, visitors, visits, pageviews, events, bounces, duration in µs) rows."""
        for hour, *figures in rows:
            self._summaries[int(hour)] = Summary(*(int(v) for v in figures))

    def add_visitors(self, rows: Iterable[Sequence[Any]]) -> None:
        """(hour, visitor) rows, each pair once."""
        for hour, visitor in rows:
            self._hours[int(hour)].visitors.add(self._hashes[visitor])

    def add_counted(self, rows: Iterable[Sequence[Any]]) -> None:
        """(hour, breakdown, value, visitor, count, microseconds, timed views) rows."""
        for hour, name, value, visitor, count, us, timed in rows:
            self._hours[int(hour)].add((name, value, visitor, int(count), int(us), int(timed)),
                                       self._hashes[visitor])

    def archives(self, hours: Iterable[int]) -> dict[int, DayArchive]:
        """The archive of each of `hours` (an hour without visits left has an empty one)."""
        return {hour: self._hours[hour].archive(self.day, self._summaries.get(hour, Summary()),
                                                hour)
                for hour in hours}
