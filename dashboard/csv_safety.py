"""CSV cells a spreadsheet will not run as formulas (CSV injection, CWE-1236).

One rule for every CSV the city hands out (the pages' exports and the open-data API): a
text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
leading ``'``. Only text changes; numbers (``-3.5``), dates and empty cells stay as they are.
"""
from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A cell that a spreadsheet will not run as a formula (``=``, ``+``, ``-``, ``@``)."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value
