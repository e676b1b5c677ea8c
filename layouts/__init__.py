"""Pages (one module each) and what they share: ids, component builders, the shell.

This package also holds what every page shares without being a component: which
settings apply to the current app, the visual vocabulary (windows, statuses, domain
colours, the score classes of maps), text in the user's language, number/time
formatting and map extents.
Page modules are imported by ``app.create_app`` after the Dash app exists (Dash Pages
requires that), never by this ``__init__``.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from dashboard.kpis.scoring import target_status
from dashboard.periods import KPI_PERIOD_WINDOW
from dashboard.settings import Settings, get_settings

SETTINGS_KEY = "CITYLENS_SETTINGS"
DEFAULT_LANG = "en"
# id -> (selector label, "vs previous ..." noun): the same words as every page's periods
# (dashboard.periods.SHORT_LABELS), whose preset each window is (WINDOW_PRESET).
WINDOWS: dict[str, tuple[str, str]] = {
    "day": ("24 h", "previous 24 hours"),
    "week": ("7 d", "previous 7 days"),
    "month": ("30 d", "previous 30 days"),
    "quarter": ("90 d", "previous 90 days"),
    "year": ("12 m", "previous 12 months"),
}
# The drill-down pages' period preset matching each overview window (dashboard.periods).
WINDOW_PRESET = {window: preset for preset, window in KPI_PERIOD_WINDOW.items()}
STATUS_LABELS = {"on": ("✓", "On target"), "near": ("!", "Near target"),
                 "off": ("✕", "Off target"), "none": ("–", "No data")}
STATUS_COLOURS = {"on": "#1a7f37", "near": "#b35900", "off": "#c62828", "none": "#6b7785"}
SEVERITY_LABELS = {"critical": ("‼", "Critical"), "warning": ("!", "Warning"),
                   "info": ("i", "Info")}
# Severity in charts (alerts per day, the asset chart): told apart also with deuteranopia
# and protanopia (tests/test_palettes.py), by lightness as much as hue: dark red, amber,
# blue. Text in these colours uses SEVERITY_TEXT_COLOURS (4.5:1 on white).
SEVERITY_COLOURS = {"critical": "#a31b17", "warning": "#b86e00", "info": "#1f5fa8"}
SEVERITY_TEXT_COLOURS = {"critical": "#a31b17", "warning": "#8a4700", "info": "#164f8c"}
DOMAIN_STYLE: dict[str, tuple[str, str]] = {  # domain -> (label, marker colour)
    "environment": ("Environment", "#2e7d32"), "mobility": ("Mobility", "#1f5fa8"),
    "parking": ("Parking", "#6a3d9a"), "waste": ("Waste", "#8c5a2b"),
    "water": ("Water", "#00838f"), "energy": ("Energy", "#d35400"),
    "lighting": ("Street lighting", "#b8860b"), "safety": ("Safety", "#b71c1c"),
    "services": ("Citizen services", "#ad1457"),
    "digital_inclusion": ("Digital inclusion", "#455a64"),
}
# Choropleth classes: (lower bound of score, fill colour, legend label), best first.
SCORE_CLASSES: list[tuple[float, str, str]] = [
    (1.25, "#17693a", "≥ 1.25"),
    (1.10, "#4a9f5e", "1.10–1.25"),
    (1.00, "#9ed39b", "1.00–1.10 on target"),
    (0.90, "#fdd262", "0.90–1.00 near target"),
    (0.80, "#f28c5b", "0.80–0.90 off target"),
    (float("-inf"), "#c8312b", "< 0.80"),
]
NO_DATA_COLOUR = "#c9cfd6"
SELECTED_MARGIN = 0.6  # a selected district is shown with this much of its span around it


def current_settings() -> Settings:
    """The settings of the app serving this request (``create_app``), else the process's."""
    try:
        from flask import current_app, has_app_context

        if has_app_context():
            found = current_app.config.get(SETTINGS_KEY)
            if isinstance(found, Settings):
                return found
    except ImportError:  # pragma: no cover - flask always comes with dash
        pass
    return get_settings()


def text(value: dict[str, str] | str | None, lang: str = DEFAULT_LANG) -> str:
    """A label in ``lang`` from a ``{"en": .., "es": ..}`` dict (falls back to any language)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.get(lang) or value.get(DEFAULT_LANG) or next(iter(value.values()), "")


def status_of(score: float | None) -> str:
    """``on`` / ``near`` / ``off`` target, or ``none`` without a score."""
    return target_status(score) or "none"


def format_number(value: float | None, decimals: int = 0) -> str:
    """``1,234.5``-style number, or an en dash for no value."""
    if value is None:
        return "–"
    return f"{value:,.{max(decimals, 0)}f}"


def format_percent(change: float | None) -> str:
    """A relative change (0.042) as ``4.2%`` (absolute; the arrow gives the sign)."""
    if change is None:
        return ""
    pct = abs(change) * 100
    return f"{pct:.0f}%" if pct >= 10 else f"{pct:.1f}%"


def format_change(change: float | None, unit: str | None = "%", decimals: int = 1) -> str:
    """The size of a KPI's change (``scoring.kpi_change``), without its sign (the arrow
    gives it): ``4.2%`` relative, ``3.1 pp`` in percentage points, ``57 s`` in the KPI's
    own unit when the base was near zero."""
    if change is None:
        return ""
    if unit in (None, "%"):
        return format_percent(change)
    return f"{format_number(abs(change), decimals)} {unit}"


def date_span(begin: datetime, last: datetime) -> str:
    """``24 Oct – 23 Nov 2026``; with the first year too when the span crosses a new year
    (``21 Nov 2025 – 20 Nov 2026``)."""
    first = f"{begin:%d %b %Y}" if begin.year != last.year else f"{begin:%d %b}"
    return f"{first} – {last:%d %b %Y}"


def parse_time(iso: str | None) -> datetime | None:
    """An ISO timestamp as an aware UTC datetime (None passes through)."""
    if not iso:
        return None
    parsed = datetime.fromisoformat(iso)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def time_ago(iso: str | None, now: datetime) -> str:
    """``12 min ago`` / ``3 h ago`` / ``2 days ago`` for an ISO time before ``now``."""
    when = parse_time(iso)
    if when is None:
        return "no data"
    seconds = max((now - when).total_seconds(), 0)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def exact_time(iso: str | None, tz: str) -> str:
    """An ISO time as ``2025-11-23 20:14 CET`` in the city's time zone."""
    when = parse_time(iso)
    if when is None:
        return ""
    try:
        local = when.astimezone(ZoneInfo(tz))
    except (KeyError, ValueError):
        local = when
    return local.strftime("%Y-%m-%d %H:%M %Z").strip()


def domain_label(domain: str) -> str:
    """Human name of a domain."""
    return DOMAIN_STYLE.get(domain, (domain.replace("_", " ").capitalize(), ""))[0]


def geo_bounds(features: list[dict[str, Any]], margin: float = 0.0) -> list[list[float]] | None:
    """``[[south, west], [north, east]]`` around the features (plus ``margin`` of the span)."""
    lons: list[float] = []
    lats: list[float] = []

    def walk(coords: Any) -> None:
        if coords and isinstance(coords[0], (int, float)):
            lons.append(coords[0])
            lats.append(coords[1])
        else:
            for part in coords or []:
                walk(part)

    for feature in features:
        walk((feature.get("geometry") or {}).get("coordinates"))
    if not lats:
        return None
    south, west, north, east = min(lats), min(lons), max(lats), max(lons)
    dlat, dlon = (north - south) * margin, (east - west) * margin
    return [[south - dlat, west - dlon], [north + dlat, east + dlon]]


def clean_query(value: Any, allowed: set[str] | None = None) -> str | None:
    """A query-string value as a non-empty string (or None), optionally from ``allowed``."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or value == "":
        return None
    value = str(value)
    if allowed is not None and value not in allowed:
        return None
    return value
