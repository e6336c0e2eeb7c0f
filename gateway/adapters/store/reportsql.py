"""The SQL of the report archives (`core/analytics/archive.py`, `archiveplan.py`), for every
engine: for some hours of one day (by the hour its visits start), the summary, the distinct
visitors and what each breakdown counts, one row per (hour, breakdown, value, visitor)
with its count. The engines differ only in how a JSON object or array in a visit row is
unnested, how the hour is read and how parameters are written, which a `Dialect` says."""

# Every statement here is put together from the constants of this module, never from data.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.analytics.reports import BREAKDOWNS, Breakdown

# The day's visits, and what breakdowns count of them.
R_COLUMNS = (
    "visitor", "pageviews", "entry_page", "referrer_host", "utm_source", "utm_medium",
    "utm_campaign", "country", "region", "city", "browser", "os", "device", "pages", "names",
    "places", "searches", "page_times",
)
_PLACE = ("country", "region", "city", "browser", "os", "device")
_REGION = ("CASE WHEN region = '' OR country = '' OR substr(region, 1, length(country) + 1)"
           " = country || '-' THEN region ELSE country || '-' || region END")
_CITY = "CASE WHEN city <> '' AND country <> '' THEN city || ', ' || country ELSE city END"


@dataclass(frozen=True, slots=True)
class Dialect:
    site: str  # the parameters: site, day, the "(direct)" label
    day: str
    direct: str
    hour_of: str  # the UTC hour a visit started in, from `started_at`
    in_hours: str  # `{expr}` is one of the hours asked for; parameter number `{n}`
    bounce: str  # the bounce column as 0 or 1
    object_items: str  # FROM-item unnesting `r.{column}` (a JSON object) as (key, value)
    array_items: str  # FROM-item unnesting `r.places` (a JSON array of arrays) as `p`
    item: str  # element `{i}` of `p` as text
    count: str  # a count read from JSON as an integer
    pair_item: str  # element `{i}` of `e.value` (a JSON array from `object_items`) as text

    def counted(self, breakdown: Breakdown) -> str:
        """`(hour, value, visitor, n)`: one row per thing a breakdown counts, from `r` or
        `pl`."""
        field = breakdown.field
        values = {"referrer": f"CASE WHEN referrer_host = '' THEN {self.direct} "
                              "ELSE referrer_host END", "region": _REGION, "city": _CITY}
        if breakdown.unit == "visit":
            return (f"SELECT hour, {values.get(field, field)} AS value, visitor, "
                    "pageviews AS n FROM r")
        if breakdown.unit == "hit" and field == "pageview":
            return (
                "SELECT hour, entry_page AS value, visitor, pageviews AS n FROM r "
                "WHERE pages IS NULL AND pageviews > 0 UNION ALL "
                f"SELECT r.hour, e.key, r.visitor, {self.count.format('e.value')} "
                f"FROM r, {self.object_items.format(column='pages')}")
        if breakdown.unit == "hit":
            column = "searches" if field == "search" else "names"
            return (f"SELECT r.hour, e.key AS value, r.visitor, "
                    f"{self.count.format('e.value')} AS n "
                    f"FROM r, {self.object_items.format(column=column)}")
        return f"SELECT hour, {values.get(field, field)} AS value, visitor, n FROM pl"

    def _visits(self, hours_parameter: int) -> str:
        """The day's visits in the hours asked for, with their hour; a visit of pagehides
        only counts nowhere."""
        return (f"SELECT {self.hour_of} AS hour, * FROM visits "
                f"WHERE site = {self.site} AND day = {self.day} AND pageviews + events > 0 "
                f"AND {self.in_hours.format(expr=self.hour_of, n=hours_parameter)}")

    def hour_summaries(self) -> str:
        """Per hour: distinct visitors, visits, pageviews, events, bounces, duration."""
        return f"""
            SELECT hour, count(DISTINCT visitor), count(*), coalesce(sum(pageviews), 0),
                   coalesce(sum(events), 0), coalesce(sum({self.bounce}), 0),
                   coalesce(sum(duration_us), 0)
            FROM ({self._visits(3)}) v GROUP BY hour"""

    def hour_visitors(self) -> str:
        return f"SELECT DISTINCT hour, visitor FROM ({self._visits(3)}) v"

    def hour_counted(self) -> str:
        """Every breakdown in one statement: (hour, breakdown, value, visitor, count, time on
        page in microseconds, timed views); the times only in `pages` rows."""
        places = ", ".join(self.item.format(i=i) for i in range(len(_PLACE)))
        n = self.count.format(self.item.format(i=len(_PLACE)))
        parts = " UNION ALL ".join(
            f"SELECT c.hour, '{b.name}' AS name, c.value, c.visitor, c.n, 0 AS us, 0 AS timed "
            f"FROM ({self.counted(b)}) c"
            for b in BREAKDOWNS)
        us, timed = (self.count.format(self.pair_item.format(i=i)) for i in (0, 1))
        times = (f"SELECT r.hour, 'pages', e.key, r.visitor, 0, {us}, {timed} "
                 f"FROM r, {self.object_items.format(column='page_times')}")
        return f"""
            WITH r AS MATERIALIZED (
                SELECT hour, {', '.join(R_COLUMNS)} FROM ({self._visits(4)}) v
            ), pl AS (
                SELECT hour, visitor, {', '.join(_PLACE)}, pageviews AS n FROM r
                WHERE places IS NULL
                UNION ALL
                SELECT r.hour, r.visitor, {places}, {n} FROM r, {self.array_items}
            )
            SELECT hour, name, value, visitor, sum(n), sum(us), sum(timed)
            FROM ({parts} UNION ALL {times}) t
            WHERE value <> '' GROUP BY hour, name, value, visitor"""


SQLITE = Dialect(
    site=":site", day=":day", direct=":direct",
    hour_of="CAST(substr(started_at, 12, 2) AS INTEGER)",
    in_hours="{expr} IN (SELECT value FROM json_each(:hours))", bounce="bounce",
    object_items="json_each(r.{column}) AS e", array_items="json_each(r.places) AS p",
    item="p.value ->> {i}", count="{}", pair_item="e.value ->> {i}",
)
POSTGRES = Dialect(
    site="$1", day="$2", direct="$3",
    hour_of="extract(hour FROM started_at AT TIME ZONE 'UTC')::int",
    in_hours="{expr} = ANY(${n}::int[])", bounce="bounce::int",
    object_items="jsonb_each_text(r.{column}) AS e",
    array_items="jsonb_array_elements(r.places) AS p", item="p ->> {i}",
    count="({})::bigint", pair_item="e.value::jsonb ->> {i}",
)
