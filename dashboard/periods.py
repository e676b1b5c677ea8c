"""Time presets every page shares (24 h, 7 d, 30 d, 90 d, 12 months, all), custom ranges
and comparisons.

"12m" and "a year before" are calendar years (365 or 366 days), as in the KPI engine
(``dashboard.kpis.windows``); 90 d is 90 days there too. A preset period ends with the
current hour (``settings.current_time()`` rounded up), so
cached read models keyed by a period change once an hour, not on every request. A custom
range (picked in a date picker or brushed on a chart) is an ISO 8601 interval of whole
UTC hours, ``2026-10-01T00:00Z/2026-10-15T00:00Z``, that ends at the latest with the
current hour. A *period spec* is either: a preset id or such an interval. Comparisons:
the previous period of the same length, or the same period one year before.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

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
# The KPI engine's window of each preset it has one for (the API's and CLI's ``period``).
KPI_PERIOD_WINDOW = {"24h": "day", "7d": "week", "30d": "month", "90d": "quarter",
                     "12m": "year"}
KPI_PERIODS = tuple(KPI_PERIOD_WINDOW)
# The window that best matches each preset ("all" uses the longest, a year).
KPI_WINDOW = {**KPI_PERIOD_WINDOW, "all": "year"}
TWELVE_MONTHS = "12m"
CUSTOM = "custom"
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)  # custom ranges start no earlier


@dataclass(frozen=True)
class Period:
    """A half-open span ``[start, end)`` of aware UTC datetimes; ``start`` None = since ever."""

    preset: str
    start: datetime | None
    end: datetime

    @property
    def label(self) -> str:
        """The preset's label (a custom range's is ``period_label`` of its spec)."""
        return PRESETS.get(self.preset, (self.preset, None))[0]

    @property
    def length(self) -> timedelta | None:
        return None if self.start is None else self.end - self.start

    def previous(self) -> Period | None:
        """The span of the same length just before (the year before, for 12 months; None for
        "all")."""
        if self.start is None:
            return None
        if self.preset == TWELVE_MONTHS:
            return Period(self.preset, a_year_before(self.start), self.start)
        return Period(self.preset, self.start - (self.end - self.start), self.start)

    def year_ago(self) -> Period | None:
        """The same span one calendar year before (None for "all")."""
        if self.start is None:
            return None
        return Period(self.preset, a_year_before(self.start), a_year_before(self.end))

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


def year_before(day: date) -> date:
    """The same date one year before (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def a_year_before(moment: datetime) -> datetime:
    """The same date and time (and zone) one calendar year before (``year_before``)."""
    day = year_before(moment.date())
    return moment.replace(year=day.year, month=day.month, day=day.day)


def period_end(now: datetime) -> datetime:
    """The end of the current hour (periods end there so they stay stable for an hour)."""
    floor = now.replace(minute=0, second=0, microsecond=0)
    return floor if floor == now else floor + timedelta(hours=1)


def _utc(text: str) -> datetime:
    """An ISO timestamp (``Z``/offset, or naive = UTC) as an aware UTC datetime."""
    stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    stamp = stamp.replace(tzinfo=timezone.utc) if stamp.tzinfo is None else stamp
    return stamp.astimezone(timezone.utc)


def _iso(stamp: datetime) -> str:
    return stamp.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def _custom_bounds(start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` with the start floored and the end rounded up to whole UTC hours,
    the end capped at the current hour's end. ValueError when nothing is left (the range
    is empty, reversed, wholly in the future or before 2000)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("a custom range needs time-zone-aware bounds")
    first = max(start.astimezone(timezone.utc), EARLIEST).replace(minute=0, second=0,
                                                                  microsecond=0)
    last = min(period_end(end.astimezone(timezone.utc)), period_end(now))
    if last <= first:
        raise ValueError("the range is empty: its start must be before its end and before now")
    return first, last


def custom_spec(start: datetime, end: datetime, now: datetime) -> str:
    """The canonical interval spec of ``[start, end)`` (bounds as ``_custom_bounds``)."""
    first, last = _custom_bounds(start, end, now)
    return f"{_iso(first)}/{_iso(last)}"


def local_days_spec(first: date, last: date, tz: str, now: datetime) -> str:
    """The spec of whole local days ``first`` to ``last`` (both included) in zone ``tz``."""
    zone = ZoneInfo(tz)
    start = datetime(first.year, first.month, first.day, tzinfo=zone)
    after = last + timedelta(days=1)
    return custom_spec(start, datetime(after.year, after.month, after.day, tzinfo=zone), now)


def is_custom(spec: str | None) -> bool:
    """Whether ``spec`` is an interval (``START/END``) rather than a preset id."""
    return bool(spec) and "/" in str(spec)


def period_for(spec: str, now: datetime) -> Period:
    """The period of a preset id (ending with the current hour) or of an interval spec.

    Unknown presets and malformed or empty intervals raise ValueError.
    """
    if is_custom(spec):
        head, _, tail = spec.partition("/")
        try:
            first, last = _custom_bounds(_utc(head), _utc(tail), now)
        except ValueError as error:
            raise ValueError(f"bad custom period {spec!r}: {error}") from None
        return Period(CUSTOM, first, last)
    if spec not in PRESETS:
        raise ValueError(f"unknown period {spec!r}; choose one of {', '.join(PRESETS)}")
    end = period_end(now)
    if spec == TWELVE_MONTHS:
        return Period(spec, a_year_before(end), end)
    length = PRESETS[spec][1]
    return Period(spec, None if length is None else end - length, end)


def clean_spec(value: object, now: datetime) -> str | None:
    """``value`` as a canonical period spec, or None when it is neither a preset nor a
    valid interval (so URL and control values can be cleaned without raising)."""
    if not isinstance(value, str) or not value:
        return None
    if value in PRESETS:
        return value
    if not is_custom(value):
        return None
    try:
        period = period_for(value, now)
    except ValueError:
        return None
    assert period.start is not None
    return f"{_iso(period.start)}/{_iso(period.end)}"


def period_label(spec: str, tz: str) -> str:
    """A preset's label, or a custom range in local time: ``3 Oct 14:00 – 5 Oct 2026 09:00``
    (times only when the bounds are not local midnights)."""
    if not is_custom(spec):
        return PRESETS.get(spec, (spec, None))[0]
    head, _, tail = spec.partition("/")
    zone = ZoneInfo(tz)
    start = _utc(head).astimezone(zone)
    end = _utc(tail).astimezone(zone)
    if start.hour == 0 and end.hour == 0:
        last = end - timedelta(days=1)
        if last.date() == start.date():
            return f"{start:%-d %b %Y}"
        return f"{start:%-d %b} – {last:%-d %b %Y}"
    return f"{start:%-d %b %H:%M} – {end:%-d %b %Y %H:%M}"


def kpi_window(period: str, now: datetime, tz: str) -> str:
    """The KPI engine's window for a period: a preset's window name (``KPI_WINDOW``), or a
    custom range's canonical interval spec. A range may be ISO times
    (``2026-10-01T00:00Z/2026-11-01T00:00Z``) or local dates, both days included
    (``2026-10-01/2026-10-31``). ValueError, in one line, for anything else."""
    if period in KPI_WINDOW:
        return KPI_WINDOW[period]
    spec: str | None = None
    if is_custom(period):
        head, _, tail = period.partition("/")
        try:
            if len(head.strip()) == 10 and len(tail.strip()) == 10:  # two local dates
                spec = local_days_spec(date.fromisoformat(head.strip()),
                                       date.fromisoformat(tail.strip()), tz, now)
            else:
                spec = clean_spec(period, now)
        except ValueError:
            spec = None
    if spec is None:
        raise ValueError(f"unknown period {period!r}; choose one of {', '.join(KPI_WINDOW)} "
                         "or a range START/END (local dates 2026-10-01/2026-10-31, or ISO "
                         "times), ending by now")
    return spec

