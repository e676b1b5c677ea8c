"""Time windows (day, week, month, quarter, year) and their previous windows."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

WINDOWS: dict[str, int] = {"day": 1, "week": 7, "month": 30, "quarter": 91, "year": 365}
HOUR = 3600


@dataclass(frozen=True)
class Window:
    """A half-open window [start, end) in epoch seconds, with its rollup grain."""

    name: str
    start: int
    end: int
    grain: str  # rollup grain used for it: hour | day
    tz: str = "UTC"  # day-grain windows span whole local days of this zone

    @property
    def length(self) -> int:
        return self.end - self.start

    def previous(self) -> Window:
        """The window just before this one: as many hours, or as many whole local days."""
        if self.grain == "hour":
            return Window(self.name, self.start - self.length, self.start, self.grain, self.tz)
        zone = ZoneInfo(self.tz)
        first = datetime.fromtimestamp(self.start, zone).date() - timedelta(days=WINDOWS[self.name])
        start = datetime(first.year, first.month, first.day, tzinfo=zone)
        return Window(self.name, int(start.timestamp()), self.start, self.grain, self.tz)

    @property
    def days(self) -> float:
        return self.length / 86400

    def start_dt(self) -> datetime:
        return datetime.fromtimestamp(self.start, timezone.utc)

    def end_dt(self) -> datetime:
        return datetime.fromtimestamp(self.end, timezone.utc)


def window_for(name: str, now: datetime, tz: str) -> Window:
    """The window ``name`` ending with the current hour (day/week) or local day (month/quarter)."""
    if name not in WINDOWS:
        raise ValueError(f"unknown window {name!r}; choose one of {', '.join(WINDOWS)}")
    days = WINDOWS[name]
    epoch = int(now.timestamp())
    if days <= 7:
        end = epoch - epoch % HOUR + HOUR
        return Window(name, end - days * 86400, end, "hour")
    local = now.astimezone(ZoneInfo(tz))
    next_midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    start_local = next_midnight - timedelta(days=days)
    # Re-localise so the window spans whole local days across DST changes.
    zone = ZoneInfo(tz)
    start_at = datetime(start_local.year, start_local.month, start_local.day, tzinfo=zone)
    end_at = datetime(next_midnight.year, next_midnight.month, next_midnight.day, tzinfo=zone)
    return Window(name, int(start_at.timestamp()), int(end_at.timestamp()), "day", tz)
