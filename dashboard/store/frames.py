"""Query rows to pandas without SQLAlchemy's per-row attribute probing."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd


def rows_frame(rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A DataFrame of result rows (plain tuples first: pandas probes Row objects slowly)."""
    return pd.DataFrame([tuple(row) for row in rows], columns=list(columns))
