"""Small helpers every connector shares: where a location points, one-line errors, checks."""
from __future__ import annotations

from pathlib import Path

from connectors.base import CheckResult


def is_url(location: str) -> bool:
    """Whether ``location`` is an http(s) URL rather than a file path."""
    return location.lower().startswith(("http://", "https://"))


def one_line(error: object) -> str:
    """An error (or any text) on one line, at most 300 characters."""
    return " ".join(str(error).split())[:300]


def file_check(location: str) -> CheckResult:
    """The ``check()`` answer for a file location: whether the file exists."""
    found = Path(location).is_file()
    return CheckResult(found, f"{location}: {'file found' if found else 'no such file'}")
