"""Columnar mapping of large observation exports: a chunk of CSV rows mapped in one go.

A sensor log export has millions of rows that all look alike. Mapping them one by one
(``RowMapper.map``) costs tens of microseconds a row; here a chunk of rows is checked and
converted with pandas in a few vectorised steps. The row mapper stays the judge of
anything unusual: a row the fast rules do not accept as plainly good (an odd time
format, a DST-ambiguous local time, a bad number, a short row...) is handed back to be
mapped, and if need be quarantined, by the row mapper with its exact reason. So both paths
store the same rows with the same values (tests compare them on random input).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from connectors import tabular_values as cells
from connectors.base import MappedChunk, Plausible
from connectors.tabular import RowMapper
from dashboard.kpis.definitions import plausible_range

ISO_TIME = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?"
ISO_NAIVE = re.compile(ISO_TIME)
ISO_AWARE = re.compile(ISO_TIME + r"(?:Z|[+-]\d{2}:\d{2})")
NUMBER = cells.NUMBER.pattern
EPOCH = pd.Timestamp(0, tz="UTC")
EARLIEST = pd.Timestamp(f"{cells.EARLIEST}-01-01", tz="UTC")
LATEST = pd.Timestamp(f"{cells.LATEST}-01-01", tz="UTC")


def on_uniques(values: pd.Series, parse: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``parse`` applied to each distinct cell once (exports repeat ids, coordinates, times
    and readings a lot), spread back over the rows."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    parsed = parse(pd.Series(uniques, dtype=object))
    return pd.Series(parsed.to_numpy()[codes], index=values.index, dtype=parsed.dtype)


def is_blank(values: pd.Series) -> pd.Series:
    """Cells that hold nothing but white space."""
    return on_uniques(values, lambda u: u.str.strip() == "")


def parse_times(values: pd.Series, zone: str, fmt: str | None) -> pd.Series:
    """Text cells as UTC timestamps, NaT where the fast rules do not apply (see
    ``parse_distinct_times``)."""
    return on_uniques(values, lambda u: parse_distinct_times(u, zone, fmt))


def parse_numbers(values: pd.Series, decimal: str, thousands: str | None) -> pd.Series:
    """Text cells as floats, NaN where blank or not plainly a finite number."""
    return on_uniques(values, lambda u: parse_distinct_numbers(u, decimal, thousands))


def parse_distinct_times(values: pd.Series, zone: str, fmt: str | None) -> pd.Series:
    """Text cells as UTC timestamps, NaT where the fast rules do not apply: naive times are
    local to ``zone`` (NaT when a DST change makes them ambiguous or skipped)."""
    text = values.str.strip()
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    if fmt:
        if "%z" in fmt or "%Z" in fmt:
            return result  # offsets in a custom format: the row mapper reads those
        naive = pd.to_datetime(text, format=fmt, errors="coerce")
        aware = pd.Series(False, index=values.index)
    else:
        aware = text.str.fullmatch(ISO_AWARE.pattern)
        naive_rows = text.str.fullmatch(ISO_NAIVE.pattern) & ~aware
        if aware.any():
            parsed = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
            result[aware] = parsed.astype("datetime64[us, UTC]")
        naive = pd.to_datetime(text.where(naive_rows), format="ISO8601", errors="coerce")
    if naive.notna().any():
        local = naive.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        result[~aware] = local[~aware].dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    return result.where((result >= EARLIEST) & (result < LATEST))


def parse_distinct_numbers(values: pd.Series, decimal: str, thousands: str | None) -> pd.Series:
    """Text cells as floats, NaN where blank or not plainly a finite number."""
    text = values.str.strip()
    if thousands:
        text = text.str.replace(thousands, "", regex=False)
    plain = pd.Series(True, index=values.index)
    if decimal == ",":
        plain = ~text.str.contains(".", regex=False)
        text = text.str.replace(",", ".", regex=False)
    plain &= text.str.fullmatch(NUMBER)
    numbers = pd.to_numeric(text.where(plain), errors="coerce").astype(float)
    return numbers.where(np.isfinite(numbers))


class ChunkMapper:
    """Maps chunks of an observations export as ``RowMapper`` would, vectorised."""

    def __init__(self, mapper: RowMapper, plausible: Plausible | None = None) -> None:
        self.mapper = mapper
        self.mapping = mapper.mapping
        self.plausible = plausible  # rows it does not admit go to the row mapper
        if self.mapping.entity != "observations":
            raise ValueError("the chunk mapper maps observations")

    @staticmethod
    def applies(mapper: RowMapper) -> bool:
        """Whether a mapping can be read in chunks (observations with a time cursor)."""
        return mapper.mapping.entity == "observations" and mapper.mapping.cursor_type == "time"

    def _column(self, frame: pd.DataFrame, fieldname: str) -> pd.Series | None:
        column = self.mapping.columns.get(fieldname)
        if column is not None:
            return frame[column]
        constant = self.mapping.constants.get(fieldname)
        if constant is None:
            return None
        return pd.Series(cells.text(constant), index=frame.index, dtype=object)

    def _ids(self, frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
        """Asset URNs, and which rows have a plainly good id."""
        own = self._column(frame, "id")
        assert own is not None  # the mapping requires an id
        own = own.astype(str).str.replace("\x00", "", regex=False).str.strip()
        m = self.mapping
        prefix = f"urn:ngsi-ld:{m.type}:" + (f"{m.namespace}:" if m.namespace else "")
        urns = own.where(own.str.startswith("urn:"), prefix + own)
        good = (own != "") & (own.str.len() <= 200) & (urns.str.len() <= 200)
        return urns, good

    def _located_ok(self, frame: pd.DataFrame) -> pd.Series:
        """Rows whose coordinates are blank or plainly valid numbers in range."""
        ok = pd.Series(True, index=frame.index)
        for name, limit in (("lat", 90.0), ("lon", 180.0)):
            column = self._column(frame, name)
            if column is None:
                continue
            text = column.astype(str)
            blank = is_blank(text)
            numbers = parse_numbers(text, self.mapping.decimal, None)
            ok &= blank | (numbers.abs() <= limit)
        return ok

    def _cursor(self, frame: pd.DataFrame, times: pd.Series) -> pd.Series:
        column = self.mapper.cursor_column
        if column is None:
            return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
        if column == self.mapping.columns.get("time"):
            return times
        raw = frame[column]
        parsed = parse_times(raw, self.mapping.timezone, self.mapping.time_format)
        blank = is_blank(raw)
        return parsed.where(~blank, times)  # an empty cursor cell takes the row's time

    def map_chunk(self, header: Sequence[str], lines: Sequence[int],
                  rows: Sequence[list[str]], after: datetime | None) -> MappedChunk:
        """Map rows (cells under ``header``, with their line numbers) newer than ``after``."""
        width = len(header)
        whole = np.fromiter(
            (len(r) == width or (len(r) > width and not "".join(r[width:]).strip())
             for r in rows), dtype=bool, count=len(rows))
        needed = self.mapper.required_columns()
        where = {name: header.index(name) for name in needed}
        picked = [i for i in range(len(rows)) if whole[i]]
        frame = pd.DataFrame({name: [rows[i][at] for i in picked] for name, at in where.items()},
                             dtype=object)
        result = MappedChunk()
        leftovers = [i for i in range(len(rows)) if not whole[i]]
        if frame.empty:
            return self._with_leftovers(result, header, lines, rows, leftovers, after)
        times = parse_times(frame[self.mapping.columns["time"]], self.mapping.timezone,
                            self.mapping.time_format)
        cursor = self._cursor(frame, times)
        if after is not None:
            newer = ~(cursor <= pd.Timestamp(after))  # NaT cursors stay (to be quarantined)
            frame, times, cursor = frame[newer], times[newer], cursor[newer]
            picked = [i for i, keep in zip(picked, newer.to_numpy(), strict=True) if keep]
        urns, good = self._ids(frame)
        good &= times.notna() & cursor.notna() & self._located_ok(frame)
        good &= self._plausible_times(times)
        values = {}
        for spec in self.mapping.metrics:
            value, blank = self._reading(frame, spec.column)
            good &= value.notna() | blank  # a cell that is there must read as a number
            if spec.divide_by:
                divisor, divisor_blank = self._reading(frame, spec.divide_by)
                good &= divisor.notna() | divisor_blank
                good &= divisor != 0  # NaN != 0 holds: blank divisors are judged below
                blank |= divisor_blank
                value = value / divisor
            value = (value * spec.scale).where(lambda v: np.isfinite(v))
            good &= self._plausible_values(spec.metric, value)
            # A blank cell skips an optional metric; anything else unreadable is the row's end.
            good &= value.notna() | (blank if spec.optional else False)
            values[spec.metric] = value
        any_value = pd.concat([v.notna() for v in values.values()], axis=1).any(axis=1)
        good &= any_value
        good_mask = good.to_numpy()
        leftovers += [i for i, ok in zip(picked, good_mask, strict=True) if not ok]
        result.rows = int(good_mask.sum())
        if result.rows:
            result.observations = self._observations(urns[good], times[good], values, good)
            result.cursor = cells.time_cursor(cursor[good].max().to_pydatetime())
            result.assets = self._assets(header, lines, rows, urns[good],
                                         [i for i, ok in zip(picked, good_mask, strict=True) if ok])
        return self._with_leftovers(result, header, lines, rows, sorted(leftovers), after)

    def _plausible_times(self, times: pd.Series) -> pd.Series:
        """Rows dated within the plausible range (all when there is none)."""
        if self.plausible is None:
            return pd.Series(True, index=times.index)
        return times.between(pd.Timestamp(self.plausible.earliest),
                             pd.Timestamp(self.plausible.latest))

    def _plausible_values(self, metric: str, value: pd.Series) -> pd.Series:
        """Rows whose reading of ``metric`` is blank or within its plausible range."""
        if self.plausible is None:
            return pd.Series(True, index=value.index)
        low, high = (plausible_range(self.plausible.ranges, self.mapping.type, metric)
                     or (-self.plausible.max_value, self.plausible.max_value))
        low, high = max(low, -self.plausible.max_value), min(high, self.plausible.max_value)
        return value.isna() | value.between(low, high)

    def _reading(self, frame: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series]:
        """A value column as numbers (NaN when blank or unreadable) and its blank cells."""
        cells_ = frame[column]
        numbers = parse_numbers(cells_, self.mapping.decimal, self.mapping.thousands)
        return numbers, is_blank(cells_)

    def _observations(self, urns: pd.Series, times: pd.Series, values: dict[str, pd.Series],
                      good: pd.Series) -> pd.DataFrame:
        seconds = ((times - EPOCH) // pd.Timedelta(1, "s")).astype("int64")
        parts = []
        for spec in self.mapping.metrics:
            value = values[spec.metric][good]
            present = value.notna()
            parts.append(pd.DataFrame({
                "asset_id": urns[present].to_numpy(), "metric": spec.metric,
                "time": seconds[present].to_numpy(), "value": value[present].to_numpy(),
                "unit": spec.unit,
            }))
        return pd.concat(parts, ignore_index=True)

    def _assets(self, header: Sequence[str], lines: Sequence[int], rows: Sequence[list[str]],
                urns: pd.Series, good_rows: list[int]) -> list[dict[str, Any]]:
        """Each asset as the row mapper builds it from its last good row in the chunk."""
        last: dict[str, int] = dict(zip(urns.tolist(), good_rows, strict=True))
        return [self.mapper.asset(row_dict(header, lines[i], rows[i])) for i in last.values()]

    def _with_leftovers(self, result: MappedChunk, header: Sequence[str], lines: Sequence[int],
                        rows: Sequence[list[str]], leftovers: list[int],
                        after: datetime | None) -> MappedChunk:
        for i in leftovers:
            row = row_dict(header, lines[i], rows[i])
            if after is not None:
                try:
                    cursor = self.mapper.cursor_value(row)
                except ValueError:
                    cursor = None  # quarantined by the row mapper, with its reason
                if cursor is not None and cursor <= after:  # type: ignore[operator]
                    continue
            result.leftovers.append(row)
        return result


def row_dict(header: Sequence[str], line: int, cells_: Sequence[str]) -> dict[str, Any]:
    """One CSV row as the row mapper takes it: header -> cell, its line number, and any
    non-empty cells beyond the header (a row the mapper refuses)."""
    row: dict[str, Any] = {"#row": line}
    row.update(zip(header, cells_, strict=False))  # short rows: missing cells
    width = len(header)
    if len(cells_) > width and any(c.strip() for c in cells_[width:]):
        row["#extra"] = list(cells_[width:])
    return row
