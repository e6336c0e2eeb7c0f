"""The SQL of a day's archive (`core/analytics/archive.py`), for every engine: what each
breakdown counts of one day's visits, one row per (breakdown, value, visitor) with its
count. The engines differ only in how a JSON object or array in a visit row is unnested
and how parameters are written, which a `Dialect` says."""

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
    object_items: str  # FROM-item unnesting `r.{column}` (a JSON object) as (key, value)
    array_items: str  # FROM-item unnesting `r.places` (a JSON array of arrays) as `p`
    item: str  # element `{i}` of `p` as text
    count: str  # a count read from JSON as an integer
    pair_item: str  # element `{i}` of `e.value` (a JSON array from `object_items`) as text

    def counted(self, breakdown: Breakdown) -> str:
        """`(value, visitor, n)`: one row per thing a breakdown counts, from `r` or `pl`."""
        field = breakdown.field
        values = {"referrer": f"CASE WHEN referrer_host = '' THEN {self.direct} "
                              "ELSE referrer_host END", "region": _REGION, "city": _CITY}
        if breakdown.unit == "visit":
            return f"SELECT {values.get(field, field)} AS value, visitor, pageviews AS n FROM r"
        if breakdown.unit == "hit" and field == "pageview":
            return (
                "SELECT entry_page AS value, visitor, pageviews AS n FROM r "
                "WHERE pages IS NULL AND pageviews > 0 UNION ALL "
                f"SELECT e.key, r.visitor, {self.count.format('e.value')} "
                f"FROM r, {self.object_items.format(column='pages')}")
        if breakdown.unit == "hit":
            column = "searches" if field == "search" else "names"
            return (f"SELECT e.key AS value, r.visitor, {self.count.format('e.value')} AS n "
                    f"FROM r, {self.object_items.format(column=column)}")
        return f"SELECT {values.get(field, field)} AS value, visitor, n FROM pl"

    def day_counted(self) -> str:
        """Every breakdown in one statement: (breakdown, value, visitor, count, time on page
        in microseconds, timed views); the times only in `pages` rows. A visit of pagehides
        only counts nowhere."""
        places = ", ".join(self.item.format(i=i) for i in range(len(_PLACE)))
        n = self.count.format(self.item.format(i=len(_PLACE)))
        parts = " UNION ALL ".join(
            f"SELECT '{b.name}' AS name, c.*, 0 AS us, 0 AS timed FROM ({self.counted(b)}) c"
            for b in BREAKDOWNS)
        us, timed = (self.count.format(self.pair_item.format(i=i)) for i in (0, 1))
        times = (f"SELECT 'pages', e.key, r.visitor, 0, {us}, {timed} "
                 f"FROM r, {self.object_items.format(column='page_times')}")
        return f"""
            WITH r AS MATERIALIZED (
                SELECT {', '.join(R_COLUMNS)} FROM visits
                WHERE site = {self.site} AND day = {self.day} AND pageviews + events > 0
            ), pl AS (
                SELECT visitor, {', '.join(_PLACE)}, pageviews AS n FROM r WHERE places IS NULL
                UNION ALL
                SELECT r.visitor, {places}, {n} FROM r, {self.array_items}
            )
            SELECT name, value, visitor, sum(n), sum(us), sum(timed)
            FROM ({parts} UNION ALL {times}) t
            WHERE value <> '' GROUP BY name, value, visitor"""


SQLITE = Dialect(
    site=":site", day=":day", direct=":direct",
    object_items="json_each(r.{column}) AS e", array_items="json_each(r.places) AS p",
    item="p.value ->> {i}", count="{}", pair_item="e.value ->> {i}",
)
POSTGRES = Dialect(
    site="$1", day="$2", direct="$3",
    object_items="jsonb_each_text(r.{column}) AS e",
    array_items="jsonb_array_elements(r.places) AS p", item="p ->> {i}",
    count="({})::bigint", pair_item="e.value::jsonb ->> {i}",
)
