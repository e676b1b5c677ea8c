"""How much of a window a KPI's data really covers, and what follows from it.

A city is partial: feeds start on different dates, sensors fall silent, some districts
have no station. A KPI value therefore carries the span its data covers:

- sensor KPIs (rollups) cover the window from the place's first reading to its newest
  one (or now, while it keeps reporting): a feed that began late or fell silent covers
  less (a sensor that reports once a day covers its days, not one hour of each);
- request and case KPIs cover the window from the time their feed began (a quiet day after
  that is a real zero, a day before it is unknown), up to now.

Rates divide by the covered time, never by the nominal window. A window covered below
``PARTIAL_BELOW`` is shown as partial ("partial: 90 of 365 days"); a previous or year-ago
window covered below ``COMPARABLE_FROM`` is not compared with (no trend from a few days).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PARTIAL_BELOW = 0.9
COMPARABLE_FROM = 0.5
UNIT_SECONDS = {"hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Coverage:
    """``covered`` of a window's ``total`` buckets (hours or days) hold data."""

    covered: int
    total: int
    unit: str  # hour | day

    @property
    def share(self) -> float:
        return self.covered / self.total if self.total else 0.0

    @property
    def partial(self) -> bool:
        return self.share < PARTIAL_BELOW

    @property
    def comparable(self) -> bool:
        """Whether a value over this coverage may serve as a comparison base."""
        return self.share >= COMPARABLE_FROM

    def as_dict(self) -> dict[str, Any]:
        return {"covered": self.covered, "total": self.total, "unit": self.unit,
                "share": round(self.share, 4), "partial": self.partial}


def partial_label(coverage: Mapping[str, Any] | None) -> str:
    """``partial: 90 of 365 days`` for a KPI value's coverage (``Coverage.as_dict``) that
    is partial; empty otherwise."""
    if not coverage or not coverage.get("partial"):
        return ""
    unit = coverage["unit"] + ("" if coverage["total"] == 1 else "s")
    return f"partial: {coverage['covered']} of {coverage['total']} {unit}"


def window_buckets(start: int, end: int, unit: str) -> int:
    """How many hour or (local) day buckets a window ``[start, end)`` spans (a local day of
    23 or 25 hours counts as one day)."""
    return max(1, round((end - start) / UNIT_SECONDS[unit]))


def span_coverage(first: float | None, last: float, start: int, end: int,
                  unit: str) -> tuple[float, Coverage]:
    """The seconds of ``[start, end)`` that data from ``first`` to ``last`` covers, and that
    as a coverage in hours or days (a started bucket counts). ``first`` None: no data."""
    total = window_buckets(start, end, unit)
    if first is None or not math.isfinite(first):
        return 0.0, Coverage(0, total, unit)
    seconds = max(0.0, min(float(end), last) - max(float(start), first))
    covered = math.ceil(seconds / UNIT_SECONDS[unit] - 1e-9) if seconds else 0
    return seconds, Coverage(min(total, covered), total, unit)
