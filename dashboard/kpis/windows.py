"""Time windows (day, week, month, quarter, year, or a custom range) and their previous
windows.

One vocabulary with ``dashboard.periods``: day = 24 hours, week = 7 days, month = 30 days,
quarter = 90 days, year = 12 months (from the same local date a year before: 365 or 366
days). A year before is a calendar year before, everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dashboard.periods import a_year_before, is_custom, period_for, year_before

# Days of each window; a year is a calendar year (``YEAR_WINDOW``), whose days vary.
WINDOWS: dict[str, int] = {"day": 1, "week": 7, "month": 30, "quarter": 90, "year": 365}
YEAR_WINDOW = "year"
CUSTOM_WINDOW = "custom"  # a custom range's window (``custom_window``)
HOUR = 3600


def local_midnight(day: date, zone: ZoneInfo) -> int:
    """The epoch second of ``day``'s local midnight in ``zone``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


@dataclass(frozen=True)
class Window:
    """A half-open window [start, end) in epoch seconds, with its rollup grain."""

    name: str
    start: int
    end: int
    grain: str  # rollup grain used for it: hour | day
    tz: str = "UTC"  # the city's zone: day-grain windows span whole local days of it

    @property
    def length(self) -> int:
        return self.end - self.start

    def previous(self) -> Window:
        """The window just before this one: as many hours, as many whole local days, or
        (a year) the calendar year before."""
        if self.grain == "hour":
            return Window(self.name, self.start - self.length, self.start, self.grain, self.tz)
        zone = ZoneInfo(self.tz)
        first = datetime.fromtimestamp(self.start, zone).date()
        days = WINDOWS.get(self.name) or (datetime.fromtimestamp(self.end, zone).date()
                                          - first).days  # a custom range: its local days
        before = (year_before(first) if self.name == YEAR_WINDOW
                  else first - timedelta(days=days))
        return Window(self.name, local_midnight(before, zone), self.start, self.grain, self.tz)

    def year_ago(self) -> Window:
        """The same window one calendar year before (same local dates and hours)."""
        zone = ZoneInfo(self.tz)

        def shift(epoch: int) -> int:
            return int(a_year_before(datetime.fromtimestamp(epoch, zone)).timestamp())

        return Window(self.name, shift(self.start), shift(self.end), self.grain, self.tz)

    @property
    def days(self) -> float:
        return self.length / 86400

    def start_dt(self) -> datetime:
        return datetime.fromtimestamp(self.start, timezone.utc)

    def end_dt(self) -> datetime:
        return datetime.fromtimestamp(self.end, timezone.utc)


def _is_local_midnight(epoch: int, zone: ZoneInfo) -> bool:
    local = datetime.fromtimestamp(epoch, zone)
    return local.hour == 0 and local.minute == 0 and local.second == 0


def custom_window(spec: str, now: datetime, tz: str) -> Window:
    """The window of a custom range (``dashboard.periods`` interval spec, whole UTC hours):
    day grain when both ends are local midnights, hour grain otherwise."""
    period = period_for(spec, now)
    assert period.start is not None  # an interval always has a start
    start, end = int(period.start.timestamp()), int(period.end.timestamp())
    zone = ZoneInfo(tz)
    whole_days = _is_local_midnight(start, zone) and _is_local_midnight(end, zone)
    return Window(CUSTOM_WINDOW, start, end, "day" if whole_days else "hour", tz)


def window_for(name: str, now: datetime, tz: str) -> Window:
    """The window ``name`` ending with the current hour (day/week) or local day (month,
    quarter, year); or the window of a custom range's spec (``custom_window``)."""
    if is_custom(name):
        return custom_window(name, now, tz)
    if name not in WINDOWS:
        raise ValueError(f"unknown window {name!r}; choose one of {', '.join(WINDOWS)}")
    days = WINDOWS[name]
    epoch = int(now.timestamp())
    if days <= 7:
        end = epoch - epoch % HOUR + HOUR
        return Window(name, end - days * 86400, end, "hour", tz)
    zone = ZoneInfo(tz)
    last = now.astimezone(zone).date()
    after = last + timedelta(days=1)
    # Whole local days across DST changes; a year starts on the same date a year before.
    first = year_before(after) if name == YEAR_WINDOW else after - timedelta(days=days)
    return Window(name, local_midnight(first, zone), local_midnight(after, zone), "day", tz)
