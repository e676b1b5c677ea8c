"""Locale-aware formatting with Babel's CLDR data: numbers, percents, durations, dates
and times in a language (and a time zone). Every formatter shows ``DASH`` for no value."""
from __future__ import annotations

import copy
import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel import units as babel_units

FALLBACK_LANG = "en"  # the source language of the catalogues
DASH = "–"  # what every formatter shows for no value
DateStyle = Literal["short", "medium", "long", "full", "weekday"]

@cache
def locale_of(lang: str) -> Locale:
    """Babel's locale for ``lang`` (English for anything it does not know)."""
    try:
        return Locale.parse(lang or FALLBACK_LANG)
    except (ValueError, TypeError, UnknownLocaleError):
        return Locale.parse(FALLBACK_LANG)


def _pattern(base: babel_numbers.NumberPattern, least: int,
             most: int) -> babel_numbers.NumberPattern:
    """The locale's pattern with ``least``..``most`` fraction digits."""
    pattern = copy.copy(base)
    pattern.frac_prec = (max(least, 0), max(most, least, 0))
    return pattern


def format_number(value: float | Decimal | None, lang: str, decimals: int = 0) -> str:
    """A number with the locale's separators and ``decimals`` digits: es ``1.234,5``."""
    if value is None:
        return DASH
    locale = locale_of(lang)
    pattern = _pattern(locale.decimal_formats[None], decimals, decimals)
    text: str = pattern.apply(value, locale)  # Babel leaves apply() unannotated
    return text


def format_percent(share: float | Decimal | None, lang: str, decimals: int = 0) -> str:
    """A share (0.42) as the locale writes percentages: es ``42 %``, en ``42%``."""
    if share is None:
        return DASH
    locale = locale_of(lang)
    pattern = _pattern(locale.percent_formats[None], decimals, decimals)
    text: str = pattern.apply(share, locale)  # Babel leaves apply() unannotated
    return text


def format_duration_days(days: float | Decimal | None, lang: str, decimals: int = 1) -> str:
    """A number of days with its unit, up to ``decimals`` digits: es ``1,5 días``."""
    if days is None:
        return DASH
    step = Decimal(1).scaleb(-max(decimals, 0))
    rounded = Decimal(str(days)).quantize(step, rounding=ROUND_HALF_EVEN)
    # An integral value is passed as an int so that the plural form is 1 day, not 1 days.
    value: Decimal | int = int(rounded) if rounded == rounded.to_integral_value() else (
        rounded.normalize())
    locale = locale_of(lang)
    pattern = _pattern(locale.decimal_formats[None], 0, decimals)
    return babel_units.format_unit(value, "duration-day", length="long",
                                   format=pattern, locale=locale)  # type: ignore[arg-type]


def format_relative(delta_seconds: float | timedelta | None, lang: str) -> str:
    """An offset from now as words: -300 -> ``hace 5 minutos`` / ``5 minutes ago``.

    ``delta_seconds`` is the moment minus now: negative in the past, positive ahead.
    """
    if delta_seconds is None:
        return DASH
    delta = (delta_seconds if isinstance(delta_seconds, timedelta)
             else timedelta(seconds=delta_seconds))
    return babel_dates.format_timedelta(delta, add_direction=True, format="long",
                                        locale=locale_of(lang))


def _zone(tz: str | tzinfo | None) -> tzinfo:
    """A time zone from its name (UTC when missing or unknown)."""
    if isinstance(tz, tzinfo):
        return tz
    if tz:
        try:
            return ZoneInfo(tz)
        except (KeyError, ValueError):
            pass
    return timezone.utc


def _local(value: datetime | str, tz: str | tzinfo | None) -> datetime:
    """``value`` (aware, naive meaning UTC, or ISO text) in the time zone ``tz``."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(_zone(tz))


_WIDEN = re.compile(r"E+|c+|(?<![ML])(?:MMM|LLL)(?![ML])")


def _weekday_pattern(locale: Locale) -> str:
    """Weekday, day and month in full, no year: es ``EEEE, d 'de' MMMM``."""
    skeletons = locale.datetime_skeletons
    skeleton = babel_dates.match_skeleton("MMMMEEEEd", list(skeletons.keys())) or "MMMEd"
    pattern = str(skeletons.get(skeleton, "EEEE, d MMMM"))
    parts = pattern.split("'")  # even parts are pattern letters, odd ones quoted text
    for index in range(0, len(parts), 2):
        parts[index] = _WIDEN.sub(lambda m: m.group(0)[0] * 4, parts[index])
    return "'".join(parts)


def format_date(value: datetime | date | str | None, lang: str, tz: str | tzinfo | None,
                style: DateStyle = "medium") -> str:
    """The date in ``tz``: ``medium`` es ``24 nov 2025``, ``weekday`` es ``lunes, 24 de
    noviembre`` (also ``short``, ``long``, ``full``)."""
    if value is None:
        return DASH
    if isinstance(value, datetime | str):
        day = _local(value, tz).date()
    else:
        day = value
    locale = locale_of(lang)
    if style == "weekday":
        return babel_dates.format_date(day, _weekday_pattern(locale), locale=locale)
    return babel_dates.format_date(day, style, locale=locale)


def format_time(value: datetime | str | None, lang: str, tz: str | tzinfo | None) -> str:
    """The short time in ``tz``: es ``14:05``, en ``2:05 PM`` (with a narrow space)."""
    if value is None:
        return DASH
    locale = locale_of(lang)
    return babel_dates.format_time(_local(value, tz), "short", locale=locale)


def format_datetime(value: datetime | str | None, lang: str, tz: str | tzinfo | None) -> str:
    """Medium date and short time in ``tz``: es ``24 nov 2025, 14:05``."""
    if value is None:
        return DASH
    locale = locale_of(lang)
    local = _local(value, tz)
    day = babel_dates.format_date(local.date(), "medium", locale=locale)
    time = babel_dates.format_time(local, "short", locale=locale)
    joined = str(babel_dates.get_datetime_format("medium", locale=locale)).replace("'", "")
    return joined.replace("{0}", time).replace("{1}", day)
