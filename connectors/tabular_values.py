"""Cells of tabular sources as model values: text, numbers, times, coordinates, cursors.

Cells come as text (CSV) or typed (Excel, SQL: int, float, Decimal, datetime, date, str).
Every parser raises ValueError, and only ValueError, for a cell it cannot read.
"""
from __future__ import annotations

import math
import re
import warnings
from datetime import date, datetime, timezone, tzinfo
from decimal import Decimal
from typing import Any

UTC = timezone.utc
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
INTEGER = re.compile(r"\+?\d{1,20}")
# Times outside what the store's epoch-second rollups (pandas, nanoseconds) can bucket.
EARLIEST, LATEST = 1900, 2200
MIN_DATE_DIGITS = 6  # a date needs year, month and day: refuse "now", "2020", "7"
INTEGER_CURSOR_WIDTH = 20  # zero-padded, so cursors compare as text


def is_blank(value: Any) -> bool:
    """Whether a cell holds nothing (None, empty text, NaN/NaT from pandas or Excel)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ == "NaTType"


def _short(value: Any) -> str:
    return repr(value if not isinstance(value, str) else value.strip()[:60])


def text(value: Any, limit: int | None = None) -> str:
    """A cell as stripped, NUL-free text (integral floats such as Excel ids lose ``.0``)."""
    if is_blank(value):
        return ""
    if isinstance(value, bool):
        result = str(value).lower()
    elif isinstance(value, float) and value.is_integer() and abs(value) < 1e18:
        result = str(int(value))
    elif isinstance(value, (datetime, date)):
        result = value.isoformat()
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raise ValueError("binary data where text was expected")
    else:
        result = str(value)
    result = result.replace("\x00", "").strip()
    return result[:limit] if limit is not None else result


def number(value: Any, field: str, decimal: str = ".", thousands: str | None = None) -> float:
    """A finite number; text uses ``decimal`` ("." or ",") and optional ``thousands`` marks."""
    if isinstance(value, bool):
        raise ValueError(f"{field}: not a number: {value!r}")
    if isinstance(value, (int, float, Decimal)):
        try:
            result = float(value)
        except (OverflowError, ValueError):
            raise ValueError(f"{field}: not a finite number: {_short(value)}") from None
    elif isinstance(value, str):
        cell = value.strip()
        if thousands:
            cell = cell.replace(thousands, "")
        if decimal == ",":
            if "." in cell:
                raise ValueError(f"{field}: {_short(value)} has a '.' but the decimal mark is ','")
            cell = cell.replace(",", ".")
        if not NUMBER.fullmatch(cell):
            raise ValueError(f"{field}: not a number: {_short(value)}")
        result = float(cell)
    else:
        raise ValueError(f"{field}: not a number: {type(value).__name__}")
    if not math.isfinite(result):
        raise ValueError(f"{field}: not a finite number: {_short(value)}")
    return result


def coordinate(value: Any, field: str, limit: float, decimal: str = ".") -> float | None:
    """A latitude (limit 90) or longitude (limit 180); None when the cell is empty."""
    if is_blank(value):
        return None
    result = number(value, field, decimal)
    if abs(result) > limit:
        raise ValueError(f"{field}: out of range: {_short(value)}")
    return result


def _parse_text_time(cell: str, fmt: str | None) -> datetime:
    if fmt:
        return datetime.strptime(cell, fmt)
    try:
        return datetime.fromisoformat(cell)
    except ValueError:
        pass
    if sum(c.isdigit() for c in cell) < MIN_DATE_DIGITS:
        raise ValueError("too few digits for a date")
    import pandas as pd  # the slow path: "05/27/2024 02:08:51 AM" and other export styles

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stamp = pd.Timestamp(cell)
            return stamp.to_pydatetime(warn=False)
    except Exception as error:  # noqa: BLE001 - pandas/dateutil raise many kinds
        raise ValueError(str(error)) from None


def time(value: Any, field: str, zone: tzinfo, fmt: str | None = None) -> datetime:
    """A cell as an aware UTC datetime; naive times (and dates) are local to ``zone``.

    Text is read with ``fmt`` (strptime) when given, else as ISO 8601, else by pandas.
    A local time skipped or repeated by a DST change takes the offset before the change.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        cell = value.strip()
        try:
            moment = _parse_text_time(cell, fmt)
        except (ValueError, OverflowError, TypeError):
            how = f"in the format {fmt!r}" if fmt else "a time"
            raise ValueError(f"{field}: not {how}: {_short(value)}") from None
    else:
        raise ValueError(f"{field}: not a time: {type(value).__name__} {_short(value)}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        moment = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"{field}: out of range: {_short(value)}") from None
    if not EARLIEST <= moment.year < LATEST:
        raise ValueError(f"{field}: outside {EARLIEST}-{LATEST}: {_short(value)}")
    return moment


def integer(value: Any, field: str) -> int:
    """A non-negative whole number (an integer cursor)."""
    if isinstance(value, bool):
        raise ValueError(f"{field}: not a whole number: {value!r}")
    if isinstance(value, int):
        result = value
    elif isinstance(value, (float, Decimal)) and math.isfinite(value) and value == int(value):
        result = int(value)
    elif isinstance(value, str) and INTEGER.fullmatch(value.strip()):
        result = int(value.strip())
    else:
        raise ValueError(f"{field}: not a whole number: {_short(value)}")
    if not 0 <= result < 10**INTEGER_CURSOR_WIDTH:
        raise ValueError(f"{field}: outside 0..10^{INTEGER_CURSOR_WIDTH}: {result}")
    return result


YES = frozenset({"yes", "true", "1", "sí", "si"})
NO = frozenset({"no", "false", "0"})


def flag(value: Any, field: str) -> bool | None:
    """A yes/no cell (yes/no, true/false, 1/0, sí/si, any case) as a bool; None when empty."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)) and value in (0, 1):
        return bool(value)
    cell = text(value).casefold()
    if cell in YES or cell in NO:
        return cell in YES
    raise ValueError(f"{field}: not yes or no: {_short(value)}")


def attribute(value: Any, decimal: str = ".", thousands: str | None = None) -> Any:
    """A JSON-safe attribute value: a number when the cell reads as one, else text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (str, int, float, Decimal)):
        try:
            result = number(value, "attribute", decimal, thousands)
        except ValueError:
            return text(value, 500)
        return int(result) if result.is_integer() and abs(result) < 2**53 else result
    return text(value, 500)


# --- cursors: text that sorts like the values it encodes -------------------------------

def time_cursor(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC: fixed width, so cursors compare as text."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def integer_cursor(value: int) -> str:
    return f"{value:0{INTEGER_CURSOR_WIDTH}d}"


def read_watermark(watermark: str | None, kind: str) -> datetime | int | None:
    """A stored watermark as a time (aware UTC) or an integer; None reads everything."""
    if not watermark:
        return None
    try:
        if kind == "integer":
            return integer(watermark, "watermark")
        moment = datetime.fromisoformat(watermark.strip())
    except ValueError:
        return None  # a watermark of another shape: read all again (upserts are idempotent)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def like_sample(after: datetime, sample: Any, zone: tzinfo) -> Any:
    """The watermark ``after`` in the shape the database gives its cursor column (``sample``),
    so that ``column > :after`` compares like with like. ValueError when it cannot."""
    if isinstance(sample, datetime):
        if sample.tzinfo is not None:
            return after
        return after.astimezone(zone).replace(tzinfo=None)
    if isinstance(sample, date):
        return after.astimezone(zone).date()
    if not isinstance(sample, str):
        raise ValueError(f"the cursor column holds {type(sample).__name__} values, not times; "
                         "use cursor_type: integer for a numeric cursor")
    shape = sample.strip()
    try:
        parsed = datetime.fromisoformat(shape)
    except ValueError:
        raise ValueError(f"the cursor column holds text that does not sort as a time "
                         f"({shape[:40]!r}); use an ISO 8601 or a timestamp column") from None
    if len(shape) <= 10:
        return after.astimezone(zone).date().isoformat()
    if parsed.tzinfo is not None:
        moment, suffix = after, ("Z" if shape.endswith("Z") else "+00:00")
    else:
        moment, suffix = after.astimezone(zone).replace(tzinfo=None), ""
    clock = shape[11:]
    match = re.match(r"\d{2}:\d{2}(:\d{2})?(\.\d+)?", clock)
    digits = len(match.group(2)) - 1 if match and match.group(2) else 0
    seconds = bool(match and match.group(1))
    formatted = moment.strftime(f"%Y-%m-%d{shape[10]}%H:%M" + (":%S" if seconds else ""))
    if digits:
        formatted += "." + f"{moment.microsecond:06d}"[:digits].ljust(digits, "0")
    return formatted + suffix
