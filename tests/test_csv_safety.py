"""One rule against spreadsheet formulas in every CSV: the pages' exports and the API."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from dashboard.csv_safety import csv_safe

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+34 942", "'+34 942"), ("-web", "'-web"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"), ("a=b", "a=b"), ("", ""),
    (-3.5, -3.5), (0, 0), (None, None),
])
def test_csv_safe(value: object, expected: object) -> None:
    assert csv_safe(value) == expected


def test_page_exports_neutralise_every_text_cell() -> None:
    from layouts.export import csv_file

    rows = [{"id": "-1", "description": '=HYPERLINK("http://evil")', "value": -3.5,
             "extra": {"a": 1}}]
    content = csv_file(rows, ["id", "description", "value", "extra"], "x.csv")["content"]
    row = next(csv.DictReader(io.StringIO(content)))
    assert row == {"id": "'-1", "description": '\'=HYPERLINK("http://evil")', "value": "-3.5",
                   "extra": '{"a": 1}'}


def test_one_copy_of_the_rule() -> None:
    sources = [p for folder in ("dashboard", "layouts", "callbacks", "connectors")
               for p in (ROOT / folder).rglob("*.py")]
    owners = [p.relative_to(ROOT).as_posix() for p in sources
              if "def csv_safe" in p.read_text(encoding="utf-8")]
    assert owners == ["dashboard/csv_safety.py"]
