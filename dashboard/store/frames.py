"""Query rows to pandas without SQLAlchemy's per-row attribute probing, and their times as
epoch seconds."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd


def epoch_seconds(values: pd.Series) -> np.ndarray:
    """Times (datetimes or ISO text; naive = UTC) as float epoch seconds, NaN where unset."""
    stamps = pd.to_datetime(values, utc=True)
    seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype="float64", na_value=np.nan)


def rows_frame(rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A DataFrame of result rows (plain tuples first: pandas probes Row objects slowly)."""
    return pd.DataFrame([tuple(row) for row in rows], columns=list(columns))
