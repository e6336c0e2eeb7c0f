"""Daily report archives (pure), as Matomo "archives" a day: everything a report needs of the
visits that started on one UTC day, small enough that a 30-day report reads 30 of them
instead of every visit.

A `DayArchive` holds the day's headline figures (exact), the hashes of its distinct
visitors (so a range's visitors are an exact union), and per breakdown row — (breakdown,
value) — the count (pageviews or uses) and a `VisitorSketch` of its visitors. A report
adds days up (`report_figures`): every total and per-day figure is exact; a breakdown
row's visitors are exact up to `sketch.EXACT_LIMIT` distinct visitors and a HyperLogLog
estimate beyond (about 4.6 % standard error), which the JSON says (`report_json`). The
`pages` rows also carry their time on page: microseconds and timed views (`times`).

The store archives each hour of a day from its visits (`archiveplan.HourArchives`) and
merges the hours into the day (`merge_day`), keeps both, and makes an hour again only when
its visits changed (`archiveplan.py`). `build_day_archive` makes the same day archive
from a whole day's rows at once (the tests hold the two equal).
"""

from __future__ import annotations

import json
import sys
from array import array
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from gateway.core.analytics.reports import (
    BREAKDOWNS,
    OTHER,
    ReportFigures,
    ReportRequest,
    Row,
    Summary,
)
from gateway.core.analytics.sketch import VisitorSketch, visitor_hash

RowKey = tuple[str, str]  # (breakdown name, value)
# (breakdown, value, visitor, count), or with the time on page: (…, microseconds, views).
Counted = tuple[str, str, str, int] | tuple[str, str, str, int, int, int]
_HEADER: Final = 4  # bytes giving the length of the JSON header


@dataclass(frozen=True, slots=True)
class DayArchive:
    day: date
    summary: Summary
    visitors: bytes  # the distinct visitors' hashes, 8 bytes each (`array('Q')`)
    rows: Mapping[RowKey, tuple[int, bytes]]  # count, `VisitorSketch.to_bytes()`
    # Per `pages` value with a known time on page: (microseconds, timed views).
    times: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    hour: int | None = None  # the UTC hour whose visits (by start) it holds; None: all day

    def to_bytes(self) -> bytes:
        """One blob: the length of a JSON header, the header (day, summary, rows with the
        length of their sketch, page times if any), the visitor hashes, the sketches."""
        s = self.summary
        header = json.dumps({
            "day": self.day.isoformat(),
            "summary": [s.visitors, s.visits, s.pageviews, s.events, s.bounces, s.duration_us],
            "rows": [[name, value, count, len(sketch)]
                     for (name, value), (count, sketch) in self.rows.items()],
            **({"times": [[page, us, n] for page, (us, n) in self.times.items()]}
               if self.times else {}),
            **({"hour": self.hour} if self.hour is not None else {}),
        }, separators=(",", ":"), ensure_ascii=False).encode()
        sketches = b"".join(sketch for _, sketch in self.rows.values())
        return len(header).to_bytes(_HEADER, "big") + header + self.visitors + sketches

    @classmethod
    def from_bytes(cls, data: bytes) -> DayArchive:
        """The archive `to_bytes` wrote; ValueError for anything else."""
        try:
            size = int.from_bytes(data[:_HEADER], "big")
            header = json.loads(data[_HEADER:_HEADER + size])
            summary = Summary(*(int(v) for v in header["summary"]))
            at = _HEADER + size + 8 * summary.visitors
            visitors = data[_HEADER + size:at]
            rows: dict[RowKey, tuple[int, bytes]] = {}
            for name, value, count, length in header["rows"]:
                rows[(name, value)] = (int(count), data[at:at + length])
                at += length
            times = {str(page): (int(us), int(n)) for page, us, n in header.get("times", ())}
            day = date.fromisoformat(header["day"])
            hour = header.get("hour")
            if hour is not None and not (isinstance(hour, int) and 0 <= hour < 24):
                raise ValueError(f"no such hour: {hour!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a day archive: {exc}") from exc
        if at != len(data) or len(visitors) != 8 * summary.visitors:
            raise ValueError("not a day archive: its length does not add up")
        return cls(day, summary, visitors, rows, times, hour)


class Accumulator:
    """What one archive collects from its visits' rows, fed in any number of chunks."""

    __slots__ = ("counts", "members", "times", "visitors")

    def __init__(self) -> None:
        self.visitors: set[int] = set()
        self.counts: defaultdict[RowKey, int] = defaultdict(int)
        self.members: defaultdict[RowKey, set[int]] = defaultdict(set)
        self.times: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])

    def add(self, row: Counted, hashed: int) -> None:
        """One (breakdown, value, visitor, count[, microseconds, timed views]) row."""
        name, value = row[0], row[1]
        self.counts[(name, value)] += row[3]
        self.members[(name, value)].add(hashed)
        if len(row) == 6 and row[5]:
            timed = self.times[value]
            timed[0] += row[4]
            timed[1] += row[5]

    def archive(self, day: date, summary: Summary, hour: int | None = None) -> DayArchive:
        rows = {key: (self.counts[key], VisitorSketch(found).to_bytes())
                for key, found in self.members.items()}
        return DayArchive(day, summary, _packed(array("Q", sorted(self.visitors))), rows,
                          {page: (us, n) for page, (us, n) in self.times.items()}, hour)


class Hashes(dict[str, int]):
    """Visitor ids to their hashes, each hashed once."""

    def __missing__(self, visitor: str) -> int:
        found = self[visitor] = visitor_hash(visitor)
        return found


def build_day_archive(
    day: date, summary: Summary, visitors: Iterable[str], counted: Iterable[Counted],
) -> DayArchive:
    """The archive of `day` from its visits: `summary` (exact, by the store), the distinct
    visitors, and `counted` — (breakdown, value, visitor, count[, time on page in
    microseconds, timed views]) with one row per visitor and value, as
    `adapters/store/reportsql.py` selects them."""
    hashes, found = Hashes(), Accumulator()
    found.visitors.update(hashes[v] for v in visitors)
    for row in counted:
        found.add(row, hashes[row[2]])
    return found.archive(day, summary)


def merge_day(day: date, parts: Sequence[DayArchive]) -> DayArchive:
    """One whole-day archive from archives of parts of it (its hours): the same archive
    `build_day_archive` makes from all its visits at once."""
    visitors: set[int] = set()
    counts: defaultdict[RowKey, int] = defaultdict(int)
    sketches: dict[RowKey, VisitorSketch] = {}
    times: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for part in parts:
        visitors.update(_unpacked(part.visitors))
        _add_rows(part, counts, sketches, times)
    summary = _total(parts, len(visitors))
    rows = {key: (counts[key], sketch.to_bytes()) for key, sketch in sketches.items()}
    return DayArchive(day, summary, _packed(array("Q", sorted(visitors))), rows,
                      {page: (us, n) for page, (us, n) in times.items()})


def _add_rows(
    archive: DayArchive, counts: defaultdict[RowKey, int],
    sketches: dict[RowKey, VisitorSketch], times: defaultdict[str, list[int]],
) -> None:
    for page, (us, n) in archive.times.items():
        timed = times[page]
        timed[0] += us
        timed[1] += n
    for key, (count, sketch) in archive.rows.items():
        counts[key] += count
        found = VisitorSketch.from_bytes(sketch)
        if key in sketches:
            sketches[key].merge(found)
        else:
            sketches[key] = found


def report_figures(request: ReportRequest, archives: Sequence[DayArchive]) -> ReportFigures:
    """A range's figures from its days' archives (days without visits have none)."""
    visitors: set[int] = set()
    counts: defaultdict[RowKey, int] = defaultdict(int)
    sketches: dict[RowKey, VisitorSketch] = {}
    times: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for archive in archives:
        visitors.update(_unpacked(archive.visitors))
        _add_rows(archive, counts, sketches, times)
    return ReportFigures(
        totals=_total(archives, len(visitors)),
        days={archive.day: archive.summary for archive in archives},
        breakdowns=_folded(request, counts, sketches, times),
    )


def _total(archives: Sequence[DayArchive], visitors: int) -> Summary:
    parts = [a.summary for a in archives]
    return Summary(
        visitors=visitors, visits=sum(p.visits for p in parts),
        pageviews=sum(p.pageviews for p in parts), events=sum(p.events for p in parts),
        bounces=sum(p.bounces for p in parts), duration_us=sum(p.duration_us for p in parts),
    )


def _folded(
    request: ReportRequest, counts: Mapping[RowKey, int], sketches: Mapping[RowKey, VisitorSketch],
    times: Mapping[str, Sequence[int]],
) -> dict[str, list[Row]]:
    """Per breakdown, the rows `core/analytics/reports.py` describes: ranked by visitors,
    count, value; at least `min_visitors` and not spelled `other` to be shown, the first
    `top` of them; the rest folded into one `other` row (the union of their visitors)."""
    by_name: defaultdict[str, list[tuple[str, int, VisitorSketch]]] = defaultdict(list)
    for (name, value), sketch in sketches.items():
        by_name[name].append((value, counts[(name, value)], sketch))
    result: dict[str, list[Row]] = {}
    for breakdown in BREAKDOWNS:
        ranked = sorted(((value, sketch.count(), count, sketch)
                         for value, count, sketch in by_name.get(breakdown.name, ())),
                        key=lambda r: (-r[1], -r[2], r[0]))
        shown = [r for r in ranked if r[0] != OTHER and r[1] >= request.min_visitors]
        shown = shown[:request.top]
        timing = times if breakdown.name == "pages" else {}
        rows = [Row(value, n, count, not sketch.exact, *_time(timing, [value]))
                for value, n, count, sketch in shown]
        kept = {r[0] for r in shown}
        folded = [r for r in ranked if r[0] not in kept]
        if folded:
            union = VisitorSketch()
            for *_, sketch in folded:
                union.merge(sketch)
            rows.append(Row(OTHER, union.count(), sum(r[2] for r in folded), not union.exact,
                            *_time(timing, [r[0] for r in folded])))
        if rows:
            result[breakdown.name] = rows
    return result


def _time(times: Mapping[str, Sequence[int]], values: Iterable[str]) -> tuple[int, int]:
    """The time on page of `values` together: (microseconds, timed views)."""
    found = [times[v] for v in values if v in times]
    return sum(t[0] for t in found), sum(t[1] for t in found)


def _packed(values: array[int]) -> bytes:
    if sys.byteorder != "little":
        values.byteswap()
    return values.tobytes()


def _unpacked(data: bytes) -> array[int]:
    values = array("Q")
    values.frombytes(data)
    if sys.byteorder != "little":
        values.byteswap()
    return values
