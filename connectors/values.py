"""Values every connector parses alike: ISO-8601 times (aware UTC), cursor text and
watermarks, latitudes and longitudes. No I/O, no source format."""
from __future__ import annotations

import math
from datetime import datetime, timezone, tzinfo
from typing import Any


def parse_time(value: Any, field: str, zone: tzinfo | None = None) -> datetime | None:
    """An ISO-8601 time as an aware UTC datetime (naive times are in ``zone``, else UTC)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field} is not a time: {value!r}")
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field} is not an ISO-8601 time: {text[:60]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone or timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"{field} is out of range: {text[:60]!r}") from None


def cursor_text(moment: datetime) -> str:
    """A UTC cursor value, ``YYYY-MM-DDTHH:MM:SSZ``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalise_watermark(watermark: str) -> str:
    """The watermark as cursor text (unchanged when it is not a parseable time)."""
    try:
        moment = parse_time(watermark, "watermark")
    except ValueError:
        return watermark
    return cursor_text(moment) if moment else watermark


def coordinate(value: Any, field: str, limit: float) -> float | None:
    """A latitude or longitude in [-limit, limit]; None when missing."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{field} is not a number: {value!r}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{field} is not a number: {str(value)[:40]!r}") from None
    if not math.isfinite(number) or abs(number) > limit:
        raise ValueError(f"{field} out of range: {str(value)[:40]!r}")
    return number
