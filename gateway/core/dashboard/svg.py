"""Bar and line charts as inline SVG (pure): no script, no external asset, no style attribute,
so they render under a CSP of `default-src 'none'`.

Each chart is drawn twice, for a wide and for a narrow screen, and the stylesheet shows one:
a viewBox scales the drawing, text included, so one drawing cannot have readable labels both
at 1200 and at 350 pixels. Every bar and point carries a `<title>` (day, series, value) and the
chart as a whole an accessible name and description; the page adds the numbers as a table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final, Literal

Variant = Literal["wide", "narrow"]
_CHAR_WIDTH: Final = 6.6  # of a value label at the stylesheet's 11px, in viewBox units
_FILL: Final = 0.84  # of a day's slot that its bars take
_MAX_BAR: Final = 40.0


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    key: str  # colour: the stylesheet's `s-<key>` class
    values: tuple[float | None, ...]  # one per label; None = nothing to show that day


@dataclass(frozen=True, slots=True)
class Chart:
    id: str  # unique on the page
    title: str
    desc: str
    labels: tuple[str, ...]  # short x-axis labels
    long_labels: tuple[str, ...]  # what a bar's title calls its day
    series: tuple[Series, ...]
    fmt: Callable[[float], str]
    stacked: bool = False
    ticks: tuple[float, ...] | None = None  # fixed y-axis ticks (a percentage: 0..100)


@dataclass(frozen=True, slots=True)
class _Frame:
    width: int
    height: int
    left: int
    right: int = 10
    top: int = 20
    bottom: int = 28
    label_every: int = 52  # at most one x label per this many units

    @property
    def plot_width(self) -> float:
        return float(self.width - self.left - self.right)

    @property
    def plot_height(self) -> float:
        return float(self.height - self.top - self.bottom)

    def y(self, value: float, top: float) -> float:
        return self.top + self.plot_height * (1 - value / top)


_FRAMES: Final[dict[Variant, _Frame]] = {
    "wide": _Frame(560, 250, left=44),
    "narrow": _Frame(360, 240, left=40, label_every=60),
}


def bar_chart(chart: Chart) -> str:
    """Grouped bars (one per series and day), or stacked with `chart.stacked`."""
    return _both(chart, _bars)


def line_chart(chart: Chart) -> str:
    """A line per series with a dot per day; a day without a value breaks the line."""
    return _both(chart, _lines)


def share_bar(fraction: float, *, key: str = "") -> str:
    """A small horizontal bar for a table row, decoration only (the number is in the row);
    `key` colours it like that series in the charts."""
    width = _n(round(max(0.0, min(1.0, fraction)) * 100, 1))
    colour = f" s-{escape(key)}" if key else ""
    return (
        '<svg class="share" viewBox="0 0 100 6" preserveAspectRatio="none" '
        'aria-hidden="true" focusable="false"><rect class="track" width="100" height="6"/>'
        f'<rect class="bar{colour}" width="{width}" height="6"/></svg>'
    )


_Body = Callable[[Chart, _Frame, float], str]


def _both(chart: Chart, body: _Body) -> str:
    drawings = "".join(_svg(chart, variant, body) for variant in _FRAMES)
    return f'<div class="chart">{drawings}</div>'


def _svg(chart: Chart, variant: Variant, body: _Body) -> str:
    frame = _FRAMES[variant]
    top, ticks = _scale(chart)
    ident = f"{chart.id}-{variant}"
    return (
        f'<svg class="chart-{variant}" viewBox="0 0 {frame.width} {frame.height}" role="img" '
        f'aria-labelledby="{ident}-t {ident}-d" focusable="false">'
        f'<title id="{ident}-t">{escape(chart.title)}</title>'
        f'<desc id="{ident}-d">{escape(chart.desc)}</desc>'
        f"{_y_axis(frame, top, ticks, chart.fmt)}{_x_axis(frame, chart.labels)}"
        f"{body(chart, frame, top)}</svg>"
    )


def _scale(chart: Chart) -> tuple[float, tuple[float, ...]]:
    """The y-axis top and its ticks: 0 and round steps up to just above the largest value."""
    if chart.ticks:
        return chart.ticks[-1], chart.ticks
    if chart.stacked:
        peak = max((sum(s.values[i] or 0 for s in chart.series)
                    for i in range(len(chart.labels))), default=0.0)
    else:
        peak = max((v or 0 for s in chart.series for v in s.values), default=0.0)
    return nice_ticks(peak)


def nice_ticks(peak: float, *, count: int = 4) -> tuple[float, tuple[float, ...]]:
    """(top, ticks) with whole-number steps of 1, 2 or 5 times a power of ten."""
    raw = max(peak, 1.0) / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(step, 1.0)
    steps = max(math.ceil(peak / step), 1)
    return step * steps, tuple(step * n for n in range(steps + 1))


def _y_axis(frame: _Frame, top: float, ticks: Sequence[float], fmt: Callable[[float], str]) -> str:
    lines = []
    for tick in ticks:
        y = _n(frame.y(tick, top))
        lines.append(
            f'<line class="grid" x1="{frame.left}" x2="{frame.width - frame.right}" '
            f'y1="{y}" y2="{y}"/><text class="tick" x="{frame.left - 6}" y="{y}" '
            f'dy="0.32em" text-anchor="end">{escape(fmt(tick))}</text>'
        )
    return f'<g class="axis">{"".join(lines)}</g>'


def _x_axis(frame: _Frame, labels: Sequence[str]) -> str:
    if not labels:
        return ""
    slot = frame.plot_width / len(labels)
    every = max(1, math.ceil(frame.label_every / slot))
    y = _n(frame.height - frame.bottom + 17)
    texts = [
        f'<text class="tick" x="{_n(frame.left + (i + 0.5) * slot)}" y="{y}" '
        f'text-anchor="middle">{escape(label)}</text>'
        for i, label in enumerate(labels) if i % every == 0
    ]
    return f'<g class="axis">{"".join(texts)}</g>'


def _bars(chart: Chart, frame: _Frame, top: float) -> str:
    slot = frame.plot_width / max(len(chart.labels), 1)
    per_day = 1 if chart.stacked else max(len(chart.series), 1)
    bar = min(slot * _FILL / per_day, _MAX_BAR)
    show_values = _values_fit(chart, bar)
    parts = []
    for i in range(len(chart.labels)):
        first = frame.left + i * slot + (slot - bar * per_day) / 2
        parts.append(_day_bars(chart, frame, top, i, first, bar, show_values))
    return f'<g class="bars">{"".join(parts)}</g>'


def _day_bars(chart: Chart, frame: _Frame, top: float, day: int, first: float, bar: float,
              show_values: bool) -> str:
    parts, base = [], 0.0
    for j, series in enumerate(chart.series):
        value = series.values[day] or 0.0
        if chart.stacked and not value:
            continue  # an empty segment draws nothing, and its title would only add noise
        x = first if chart.stacked else first + j * bar
        y0, y1 = frame.y(base + value, top), frame.y(base, top)
        title = f"{chart.long_labels[day]} — {series.name}: {chart.fmt(value)}"
        parts.append(
            f'<rect class="s-{escape(series.key)}" x="{_n(x + 0.5)}" y="{_n(y0)}" '
            f'width="{_n(max(bar - 1, 1))}" height="{_n(y1 - y0)}">'
            f"<title>{escape(title)}</title></rect>"
        )
        if show_values and not chart.stacked:
            parts.append(_value_label(x + bar / 2, y0, chart.fmt(value)))
        base += value if chart.stacked else 0.0
    if show_values and chart.stacked and base:
        parts.append(_value_label(first + bar / 2, frame.y(base, top), chart.fmt(base)))
    return "".join(parts)


def _values_fit(chart: Chart, bar: float) -> bool:
    """Numbers on the bars only when every one fits its bar; the titles always have them."""
    if chart.stacked:
        totals = [sum(s.values[i] or 0 for s in chart.series) for i in range(len(chart.labels))]
        longest = max((len(chart.fmt(t)) for t in totals), default=0)
    else:
        longest = max((len(chart.fmt(v or 0)) for s in chart.series for v in s.values), default=0)
    return longest * _CHAR_WIDTH + 2 <= bar


def _value_label(x: float, y: float, text: str) -> str:
    return (f'<text class="value" x="{_n(x)}" y="{_n(y - 4)}" '
            f'text-anchor="middle">{escape(text)}</text>')


def _lines(chart: Chart, frame: _Frame, top: float) -> str:
    slot = frame.plot_width / max(len(chart.labels), 1)
    radius = _n(min(3.5, max(1.0, slot / 4)))  # a year of days must not turn into a smudge
    parts = []
    for series in chart.series:
        points = [
            (i, frame.left + (i + 0.5) * slot, frame.y(v, top), v)
            for i, v in enumerate(series.values) if v is not None
        ]
        parts.append(_polylines(series, [(i, x, y) for i, x, y, _ in points]))
        for i, x, y, value in points:
            title = f"{chart.long_labels[i]} — {series.name}: {chart.fmt(value)}"
            parts.append(
                f'<circle class="s-{escape(series.key)}" cx="{_n(x)}" cy="{_n(y)}" r="{radius}">'
                f"<title>{escape(title)}</title></circle>"
            )
    return f'<g class="lines">{"".join(parts)}</g>'


def _polylines(series: Series, points: Sequence[tuple[int, float, float]]) -> str:
    """One polyline per run of consecutive days that have a value."""
    runs: list[list[tuple[float, float]]] = []
    previous = -2
    for i, x, y in points:
        if i != previous + 1:
            runs.append([])
        runs[-1].append((x, y))
        previous = i
    return "".join(
        f'<polyline class="line l-{escape(series.key)}" '
        f'points="{" ".join(f"{_n(x)},{_n(y)}" for x, y in run)}"/>'
        for run in runs if len(run) > 1
    )


def _n(value: float) -> str:
    """Coordinates to one decimal: enough for a screen, and stable text for tests."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text
