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


def relative_change(value: float | None, previous: float | None) -> float | None:
    """(value - previous) / |previous|, or None when it cannot be computed."""
    if value is None or previous is None or previous == 0:
        return None
    return (value - previous) / abs(previous)


def is_improving(trend: float | None, direction: str) -> bool | None:
    """Whether the change is for the better given the KPI's direction; None when flat."""
    if trend is None or abs(trend) < FLAT:
        return None
    return (trend > 0) == (direction == "higher")
