"""Consent decisions per day and the consent rate, from the store's counts (pure).

The consent rate is the share of decisions that allowed analytics, among the decisions a
visitor makes about the banner's question: accept all, reject all, a custom choice, or a GPC
signal (a refusal sent by the browser). A withdrawal or an erasure is no answer to the
question, so it is shown per day but not counted in the rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

RATE_ACTIONS: Final = frozenset({"accept_all", "reject_all", "custom", "gpc"})
# Stacking order of the chart: agreement at the bottom, refusal and its relatives above it.
CHART_ACTIONS: Final = ("accept_all", "custom", "reject_all", "gpc", "implied", "withdraw",
                        "erase")
# The regional regimes (`[[regions]]`) in chart order; records from before they were kept
# (mode "") were all taken under opt-in.
MODES: Final = ("opt-in", "notice", "none")
# Always in the legend and the table, even in a period without one of them.
MAIN_ACTIONS: Final = ("accept_all", "custom", "reject_all")

# (UTC day, action, whether analytics was granted) -> decisions, as `Store` counts them.
DecisionCounts = Mapping[tuple[date, str, bool], int]
# The same, split further by the regional mode the decision was taken under.
ModeCounts = Mapping[tuple[date, str, bool, str], int]


@dataclass(frozen=True, slots=True)
class DecisionDay:
    day: date
    by_action: Mapping[str, int]
    answers: int  # decisions that count in the rate
    allowed: int  # of those, the ones that allowed analytics

    @property
    def total(self) -> int:
        return sum(self.by_action.values())

    @property
    def rate(self) -> float | None:
        """Percent, one decimal; None on a day without an answer."""
        return round(100.0 * self.allowed / self.answers, 1) if self.answers else None


def decision_days(counts: DecisionCounts, start: date, end: date) -> list[DecisionDay]:
    """One entry for every day from `start` to `end` inclusive, empty days included."""
    by_day: dict[date, dict[str, int]] = {}
    answers: dict[date, list[int]] = {}
    for (day, action, analytics), n in counts.items():
        if not start <= day <= end:
            continue
        actions = by_day.setdefault(day, {})
        actions[action] = actions.get(action, 0) + n
        if action in RATE_ACTIONS:
            tally = answers.setdefault(day, [0, 0])
            tally[0] += n
            tally[1] += n if analytics else 0
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return [
        DecisionDay(day, by_day.get(day, {}), *answers.get(day, (0, 0))) for day in days
    ]


def days_by_mode(counts: ModeCounts, start: date, end: date) -> dict[str, list[DecisionDay]]:
    """The decision days of each mode that had a decision in the period, in `MODES` order."""
    split: dict[str, dict[tuple[date, str, bool], int]] = {}
    for (day, action, analytics, mode), n in counts.items():
        per_mode = split.setdefault(mode or "opt-in", {})
        per_mode[day, action, analytics] = per_mode.get((day, action, analytics), 0) + n
    order = [m for m in MODES if m in split] + sorted(set(split) - set(MODES))
    return {mode: decision_days(split[mode], start, end) for mode in order}


def overall_rate(days: Sequence[DecisionDay]) -> float | None:
    answers = sum(day.answers for day in days)
    allowed = sum(day.allowed for day in days)
    return round(100.0 * allowed / answers, 1) if answers else None


def shown_actions(days: Sequence[DecisionDay]) -> tuple[str, ...]:
    """The main actions, then any other that happened in the period, in chart order."""
    seen = {action for day in days for action, n in day.by_action.items() if n}
    known = tuple(a for a in CHART_ACTIONS if a in MAIN_ACTIONS or a in seen)
    # An action a newer gateway logged that this one does not know still gets a column.
    extra = tuple(sorted(seen - set(CHART_ACTIONS)))
    return known + extra
