"""Time presets every page shares (24 h, 7 d, 30 d, 90 d, 12 months, all) and comparisons.

A period ends with the current hour (``settings.current_time()`` rounded up), so cached
read models keyed by a period change once an hour, not on every request. Comparisons:
the previous period of the same length, or the same period one year before.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

PRESETS: dict[str, tuple[str, timedelta | None]] = {  # id -> (label, length; None = all)
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "90d": ("Last 90 days", timedelta(days=90)),
    "12m": ("Last 12 months", timedelta(days=365)),
    "all": ("All time", None),
}
SHORT_LABELS = {"24h": "24 h", "7d": "7 d", "30d": "30 d", "90d": "90 d", "12m": "12 m",
                "all": "All"}
DEFAULT_PRESET = "30d"
COMPARISONS: dict[str, str] = {"previous": "previous period", "year": "same period a year before"}
# The KPI engine's window that best matches each preset ("all" uses the longest, a year).
KPI_WINDOW = {"24h": "day", "7d": "week", "30d": "month", "90d": "quarter", "12m": "year",
              "all": "year"}
YEAR = timedelta(days=365)


@dataclass(frozen=True)
class Period:
    """A half-open span ``[start, end)`` of aware UTC datetimes; ``start`` None = since ever."""

    preset: str
    start: datetime | None
    end: datetime

    @property
    def label(self) -> str:
        return PRESETS.get(self.preset, (self.preset, None))[0]

    @property
    def length(self) -> timedelta | None:
        return None if self.start is None else self.end - self.start

    def previous(self) -> Period | None:
        """The span of the same length just before (None for "all")."""
        if self.start is None:
            return None
        return Period(self.preset, self.start - (self.end - self.start), self.start)

    def year_ago(self) -> Period | None:
        """The same span 365 days before (None for "all")."""
        if self.start is None:
            return None
        return Period(self.preset, self.start - YEAR, self.end - YEAR)

    def compared(self, comparison: str | None) -> Period | None:
        """The span to compare with: ``previous``, ``year``, or None."""
        if comparison == "previous":
            return self.previous()
        if comparison == "year":
            return self.year_ago()
        return None

    def as_params(self) -> dict[str, str | None]:
        """ISO bounds, for cache keys and API links."""
        return {"from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat()}


def period_end(now: datetime) -> datetime:
    """The end of the current hour (periods end there so they stay stable for an hour)."""
    floor = now.replace(minute=0, second=0, microsecond=0)
    return floor if floor == now else floor + timedelta(hours=1)


def period_for(preset: str, now: datetime) -> Period:
    """The period ``preset`` ending with the current hour; unknown presets raise ValueError."""
    if preset not in PRESETS:
        raise ValueError(f"unknown period {preset!r}; choose one of {', '.join(PRESETS)}")
    end = period_end(now)
    length = PRESETS[preset][1]
    return Period(preset, None if length is None else end - length, end)
