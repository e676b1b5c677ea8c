"""Query-parameter parsing for the open-data API: every bad value is an ``ApiError``.

An ``ApiError`` names the parameter and says why; the blueprint turns it into
``{"error": {"parameter": ..., "message": ...}}`` with its HTTP status (400 by default).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timezone
from typing import Any, overload

from werkzeug.datastructures import MultiDict

MAX_PAGE_SIZE = 1000
FORMATS_JSON_CSV = ("json", "csv")


class ApiError(Exception):
    """A client error about one parameter (or ``None`` for the resource itself)."""

    def __init__(self, parameter: str | None, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message
        self.status = status

    def as_dict(self) -> dict[str, Any]:
        """The JSON error body."""
        return {"error": {"parameter": self.parameter, "message": self.message}}


class Params:
    """The query string of one request, read parameter by parameter with checks."""

    def __init__(self, args: MultiDict[str, str], allowed: Iterable[str]) -> None:
        self.args = args
        allowed = tuple(allowed)
        for name in args:
            if name not in allowed:
                raise ApiError(name, f"unknown parameter; allowed: {', '.join(allowed)}")
            if len(args.getlist(name)) > 1:
                raise ApiError(name, "given more than once")
            if "\x00" in args[name]:
                raise ApiError(name, "contains a NUL character")

    def text(self, name: str) -> str | None:
        """The raw value, or None when absent or empty."""
        value = self.args.get(name)
        return value if value not in (None, "") else None

    def required(self, name: str) -> str:
        """A value that must be present."""
        value = self.text(name)
        if value is None:
            raise ApiError(name, "required")
        return value

    @overload
    def choice(self, name: str, choices: Iterable[str], default: str) -> str: ...
    @overload
    def choice(self, name: str, choices: Iterable[str], default: None = None) -> str | None: ...

    def choice(self, name: str, choices: Iterable[str], default: str | None = None) -> str | None:
        """One of ``choices`` (or ``default`` when absent)."""
        value = self.text(name)
        if value is None:
            return default
        options = tuple(choices)
        if value not in options:
            raise ApiError(name, f"unknown value {value!r}; choose one of {', '.join(options)}")
        return value

    def member(self, name: str, known: Mapping[str, Any] | Iterable[str], what: str) -> str | None:
        """A value that must be one of the ids in ``known`` (districts, services...)."""
        value = self.text(name)
        if value is not None and value not in set(known):
            raise ApiError(name, f"unknown {what} {value!r}")
        return value

    def integer(self, name: str, default: int, minimum: int, maximum: int) -> int:
        """An integer within [minimum, maximum]."""
        value = self.text(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ApiError(name, f"not an integer: {value!r}") from None
        if not minimum <= number <= maximum:
            raise ApiError(name, f"must be between {minimum} and {maximum}, got {number}")
        return number

    def timestamp(self, name: str) -> datetime | None:
        """An ISO 8601 date or date-time (UTC when it has no offset), aware UTC."""
        value = self.text(name)
        if value is None:
            return None
        return parse_timestamp(name, value)

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        """``from`` and ``to``; ``from`` must not be after ``to``."""
        start, end = self.timestamp("from"), self.timestamp("to")
        if start is not None and end is not None and start > end:
            raise ApiError("from", f"is after 'to' ({start.isoformat()} > {end.isoformat()})")
        return start, end


def parse_timestamp(name: str, value: str) -> datetime:
    """Parse ``YYYY-MM-DD`` or an RFC 3339 date-time into an aware UTC datetime."""
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), time())
        else:
            parsed = datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise ApiError(
            name, f"not an ISO 8601 date or date-time: {value!r} (e.g. 2026-03-01T00:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise ApiError(name, f"out of range: {value!r}") from None
