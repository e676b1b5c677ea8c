"""Boston CityScore arithmetic: a KPI's score is value/target (target/value where lower is
better); the city score is the mean of the KPI scores; 1.0 means on target."""
from __future__ import annotations

from collections.abc import Iterable

SCORE_CAP = 2.0  # one runaway KPI cannot carry the whole city score
FLAT = 0.01  # relative changes smaller than this count as no change
ON_TARGET, NEAR_TARGET = 1.0, 0.9  # score thresholds: >= 1 on target, >= 0.9 near


def kpi_score(value: float | None, target: float, direction: str) -> float | None:
    """The KPI's score, capped to [0, SCORE_CAP]; None when there is no value."""
    if value is None:
        return None
    if direction == "higher":
        score = value / target
    elif value <= 0:
        score = SCORE_CAP
    else:
        score = target / value
    return max(0.0, min(SCORE_CAP, score))


def target_status(score: float | None) -> str | None:
    """``on`` / ``near`` / ``off`` target by the score; None without a score."""
    if score is None:
        return None
    if score >= ON_TARGET:
        return "on"
    return "near" if score >= NEAR_TARGET else "off"


def city_score(scores: Iterable[float | None]) -> float | None:
    """Mean of the available scores; None when no KPI has a value."""
    present = [s for s in scores if s is not None]
    return sum(present) / len(present) if present else None


NEAR_ZERO = 0.05  # a base below this share of the target is too small for a % change


def relative_change(value: float | None, previous: float | None,
                    target: float | None = None) -> float | None:
    """(value - previous) / |previous|, or None when it cannot be computed or when the
    base is near zero (below ``NEAR_ZERO`` of ``target``), where a percentage misleads."""
    if value is None or previous is None or previous == 0:
        return None
    if target is not None and abs(previous) < NEAR_ZERO * abs(target):
        return None
    return (value - previous) / abs(previous)


def kpi_change(value: float | None, previous: float | None, unit: str,
               target: float) -> tuple[float | None, str | None]:
    """How a KPI changed, in the form that reads honestly: percentage points for a KPI in
    %, a relative change (as a fraction, unit "%") otherwise, and the plain difference in
    the KPI's unit when the base is near zero. ``(None, None)`` without both values."""
    if value is None or previous is None:
        return None, None
    if unit == "%":
        return value - previous, "pp"
    relative = relative_change(value, previous, target)
    if relative is None:
        return value - previous, unit
    return relative, "%"


def change_improving(change: float | None, change_unit: str | None, direction: str,
                     decimals: int) -> bool | None:
    """Whether a ``kpi_change`` is good news; None when flat (under 1 % relative, or
    rounding to zero at the KPI's precision)."""
    if change is None:
        return None
    if change_unit == "%":
        return is_improving(change, direction)
    if abs(change) < 0.5 * 10 ** -decimals:
        return None
    return (change > 0) == (direction == "higher")


def score_change(pairs: Iterable[tuple[float | None, float | None]]) -> float | None:
    """Like-for-like change of a city score: the mean change of the KPIs scored in both
    windows (a KPI new this window does not move the comparison); None when none is."""
    both = [(now, before) for now, before in pairs if now is not None and before is not None]
    if not both:
        return None
    return sum(now - before for now, before in both) / len(both)


def is_improving(trend: float | None, direction: str) -> bool | None:
    """Whether the change is for the better given the KPI's direction; None when flat."""
    if trend is None or abs(trend) < FLAT:
        return None
    return (trend > 0) == (direction == "higher")
