"""How a briefing writes its numbers, dates and words, in its language: one place shared
by the plain text (``dashboard.briefing.text``) and the HTML document and charts
(``layouts.briefing_*``), so the e-mail, the PDF and the text read the same figures."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import dates as babel_dates

from dashboard.i18n import (
    DASH,
    N_,
    format_duration_days,
    format_number,
    format_percent,
    gettext_for,
)
from dashboard.i18n.formats import locale_of

# English briefings write dates day first ("30 Nov – 6 Dec 2026"), as the staff pages do.
DATE_LOCALES = {"en": "en_GB"}
WINDOW_NAMES = {"day": N_("Day"), "week": N_("Week"), "month": N_("Month"),
                "quarter": N_("Quarter")}
FREQUENCY_TITLES = {"daily": N_("Daily briefing"), "weekly": N_("Weekly briefing"),
                    "monthly": N_("Monthly briefing")}
STATUS_WORDS = {"on": ("✓", N_("On target")), "near": ("!", N_("Near target")),
                "off": ("✕", N_("Off target"))}
SEVERITY_NAMES = {"critical": N_("Critical"), "warning": N_("Warning"), "info": N_("Info")}
DOMAIN_NAMES = {"environment": N_("Environment"), "mobility": N_("Mobility"),
                "parking": N_("Parking"), "waste": N_("Waste"), "water": N_("Water"),
                "energy": N_("Energy"), "lighting": N_("Street lighting"),
                "safety": N_("Safety"), "services": N_("Citizen services"),
                "digital_inclusion": N_("Digital inclusion")}
FEED_STATUS = {"ok": N_("ok"), "partial": N_("partly stored"), "failed": N_("failed"),
               "interrupted": N_("interrupted"), "running": N_("running"),
               "never run": N_("never run"), "reset": N_("reset")}
# Units of the KPI catalogue that are words (the others are symbols, the same everywhere).
UNIT_WORDS = {"L/day": N_("L/day"), "days": N_("days"), "/1,000": N_("per 1,000")}


def date_locale(lang: str) -> str:
    """The locale a briefing's dates are written in."""
    return DATE_LOCALES.get(lang, lang)


def day_span(first: date, last: date, lang: str) -> str:
    """``16 – 22 Nov 2026`` / ``16–22 nov 2026``; one day is ``22 Nov 2026``."""
    where = locale_of(date_locale(lang))
    if first == last:
        return str(babel_dates.format_skeleton("yMMMd", first, locale=where))
    span = str(babel_dates.format_interval(first, last, "yMMMd", locale=where))
    return span.replace("\u2009", " ")  # CLDR's thin spaces around the dash: plain ones


def day_text(day: date, lang: str, style: str = "full") -> str:
    """A day: ``full`` ``Sunday, 22 November 2026``; ``month`` ``November 2026``."""
    where = locale_of(date_locale(lang))
    if style == "month":
        return str(babel_dates.format_skeleton("yMMMM", day, locale=where))
    return str(babel_dates.format_date(day, style, locale=where))


def moment_text(iso: str | None, lang: str, tz: str) -> str:
    """A moment in the city's time: ``22 Nov 2026, 14:05``."""
    if not iso:
        return DASH
    local = datetime.fromisoformat(iso).astimezone(ZoneInfo(tz))
    where = locale_of(date_locale(lang))
    day = babel_dates.format_skeleton("yMMMd", local.date(), locale=where)
    return f"{day}, {local:%H:%M}"


def score_text(score: float | None, lang: str) -> str:
    """A score with two decimals: ``1.05`` / ``1,05``."""
    return format_number(score, lang, 2)


def signed(text: str, value: float) -> str:
    """``text`` (a magnitude) with the sign of ``value``: ``+0.03``, ``−1.2%``."""
    if value > 0:
        return f"+{text}"
    return f"−{text}" if value < 0 else text


def score_change_text(change: float | None, lang: str) -> str:
    """A score's change: ``+0.03`` / ``−0,05``; a dash without one."""
    if change is None:
        return DASH
    return signed(format_number(abs(change), lang, 2), round(change, 2))


def kpi_value_text(value: float | None, unit: str, decimals: int, lang: str) -> str:
    """A KPI value with its unit: ``42%``, ``12.5 µg/m³``, ``3 days`` (es ``42 %``)."""
    if value is None:
        return DASH
    if unit == "%":
        return format_percent(value / 100, lang, decimals)
    _ = gettext_for(lang)
    shown = _(UNIT_WORDS[unit]) if unit in UNIT_WORDS else unit
    return f"{format_number(value, lang, decimals)} {shown}".strip()


def target_text(kpi: dict[str, Any], lang: str) -> str:
    """A KPI's target as a value (whole targets without decimals)."""
    target = kpi["target"]
    decimals = 0 if float(target).is_integer() else kpi["decimals"]
    return kpi_value_text(target, kpi["unit"], decimals, lang)


def change_text(kpi: dict[str, Any], lang: str) -> str:
    """How a KPI moved (``scoring.kpi_change``), signed: relative ``+4.2%``, percentage
    points ``−3.1 pp``, or in its unit ``+57 s`` from a near-zero base; a dash without."""
    change, unit = kpi.get("change"), kpi.get("change_unit")
    if change is None:
        return DASH
    _ = gettext_for(lang)
    if unit == "%":
        return signed(format_percent(abs(change), lang, 1), change)
    if unit == "pp":
        return signed(_("{number} pp").format(number=format_number(abs(change), lang, 1)),
                      change)
    return signed(kpi_value_text(abs(change), unit or "", kpi["decimals"], lang), change)


def direction_words(kpi: dict[str, Any], lang: str) -> tuple[str, str]:
    """(arrow, words) of a KPI's change: ``▲ improving``, ``▼ worsening``, ``● steady``."""
    _ = gettext_for(lang)
    change, improving = kpi.get("change"), kpi.get("improving")
    if change is None:
        return "", _("no earlier data")
    if improving is None:
        return "●", _("steady")
    arrow = "▲" if change > 0 else "▼"
    return arrow, _("improving") if improving else _("worsening")


def status_words(status: str | None, lang: str) -> tuple[str, str]:
    """(mark, words) of a target status: ``✓ On target``; ``– No data`` without one."""
    _ = gettext_for(lang)
    mark, words = STATUS_WORDS.get(status or "", (DASH, N_("No data")))
    return mark, _(words)


def window_name(window: str, lang: str) -> str:
    return gettext_for(lang)(WINDOW_NAMES[window]) if window in WINDOW_NAMES else window


def severity_name(severity: str, lang: str) -> str:
    _ = gettext_for(lang)
    return _(SEVERITY_NAMES[severity]) if severity in SEVERITY_NAMES else severity


def domain_name(domain: str, lang: str) -> str:
    _ = gettext_for(lang)
    return _(DOMAIN_NAMES[domain]) if domain in DOMAIN_NAMES else domain.replace("_", " ")


def feed_status_name(status: str, lang: str) -> str:
    _ = gettext_for(lang)
    return _(FEED_STATUS[status]) if status in FEED_STATUS else status


def share_text(share: float | None, lang: str) -> str:
    """A share (0.42) as a percentage: ``42%`` / ``42 %``."""
    return format_percent(share, lang)


def lag_text(seconds: float | None, lang: str) -> str:
    """How far a feed is behind: ``5 h`` under two days, else ``3 days``."""
    if seconds is None:
        return DASH
    hours = max(0.0, seconds) / 3600
    if hours < 48:
        return gettext_for(lang)("{hours} h").format(hours=format_number(hours, lang))
    return format_duration_days(hours / 24, lang, 0)


def absolute(public_url: str, link: str) -> str:
    """A briefing's relative ``link`` under the dashboard's public URL."""
    return public_url.rstrip("/") + link
