"""File writers that take a dataset's rows chunk by chunk (Arrow record batches), so
memory stays flat whatever the table's size: Parquet, CSV (optionally gzip) and GeoJSON.

Each writes to a temporary name beside its target; ``Publication`` moves every file of one
export into place (``os.replace``) only once all of them are complete, and removes the
temporary files of an export that failed, so a reader never sees half a file and a killed
export leaves the previous files as they were.
"""
from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import shapely

GEOMETRY = "geometry"  # a batch's geometry column: WKB (EPSG:4326, lon/lat)
FORMULA_START = r"^[=+\-@\t\r]"  # dashboard.csv_safety's rule, vectorised


class Sink(Protocol):
    """Where one file of a dataset is written, batch by batch."""

    path: Path
    temporary: Path
    rows: int

    def write(self, batch: pa.RecordBatch) -> None: ...

    def close(self) -> None: ...


def temporary_name(path: Path) -> Path:
    """A name in ``path``'s folder for the file being written (dot-prefixed: never served)."""
    return path.with_name(f".{path.name}.{os.getpid()}.part")


def geoparquet_metadata() -> dict[bytes, bytes]:
    """GeoParquet 1.0 metadata for a WKB ``geometry`` column in lon/lat (OGC:CRS84)."""
    geo = {"version": "1.0.0", "primary_column": GEOMETRY,
           "columns": {GEOMETRY: {"encoding": "WKB", "geometry_types": []}}}
    return {b"geo": json.dumps(geo).encode()}


class ParquetSink:
    """A Parquet file (zstd); with a geometry column, GeoParquet metadata too."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path, self.temporary, self.rows = path, temporary_name(path), 0
        if GEOMETRY in schema.names:
            schema = schema.with_metadata(geoparquet_metadata())
        self._schema = schema
        self._writer = pq.ParquetWriter(self.temporary, schema, compression="zstd")

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch.replace_schema_metadata(self._schema.metadata))
        self.rows += batch.num_rows

    def close(self) -> None:
        self._writer.close()


def csv_columns(batch: pa.RecordBatch) -> pa.Table:
    """``batch`` as CSV cells: times ISO 8601 UTC (``2026-11-01T00:00:00Z``), geometry as
    WKT, and text a spreadsheet would run as a formula given a leading ``'``."""
    columns, names = [], []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if field.name == GEOMETRY:
            wkt = shapely.to_wkt(shapely.from_wkb(column.to_numpy(zero_copy_only=False)),
                                 rounding_precision=-1)
            column = pa.array(wkt, pa.string())
        elif pa.types.is_timestamp(field.type):
            column = pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ")
        elif pa.types.is_string(field.type):
            risky = pc.fill_null(pc.match_substring_regex(column, FORMULA_START), False)
            column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
        names.append(field.name)
    return pa.Table.from_arrays(columns, names=names)


class CsvSink:
    """A CSV file (UTF-8, a header row), gzip-compressed when its name ends in ``.gz``."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path, self.temporary, self.rows = path, temporary_name(path), 0
        raw: IO[bytes] = self.temporary.open("wb")
        self._raw = raw
        self._out: IO[bytes] = raw
        if path.name.endswith(".gz"):
            self._out = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0)  # type: ignore[assignment]
        self._writer: pacsv.CSVWriter | None = None
        self._schema = schema

    def write(self, batch: pa.RecordBatch) -> None:
        table = csv_columns(batch)
        if self._writer is None:
            self._writer = pacsv.CSVWriter(self._out, table.schema)
        self._writer.write_table(table)
        self.rows += batch.num_rows

    def close(self) -> None:
        if self._writer is None:  # no rows: the header alone
            pacsv.write_csv(csv_columns(pa.RecordBatch.from_pylist([], self._schema)),
                            self._out)
        else:
            self._writer.close()
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()


class GeoJsonSink:
    """A GeoJSON FeatureCollection, one Feature per row: the geometry from the WKB
    ``geometry`` column or a point from ``lon``/``lat``; the other columns as properties."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path, self.temporary, self.rows = path, temporary_name(path), 0
        self._out = io.TextIOWrapper(self.temporary.open("wb"), encoding="utf-8")
        self._out.write('{"type": "FeatureCollection", "features": [\n')

    def write(self, batch: pa.RecordBatch) -> None:
        for row in batch.to_pylist():
            self._out.write(("" if self.rows == 0 else ",\n") + json.dumps(
                feature(row), ensure_ascii=False, separators=(",", ":"), default=_json_value))
            self.rows += 1

    def close(self) -> None:
        self._out.write("\n]}\n")
        self._out.close()


def feature(row: dict[str, Any]) -> dict[str, Any]:
    """One row as a GeoJSON Feature (no geometry when it has no place)."""
    wkb = row.pop(GEOMETRY, None)
    geometry: dict[str, Any] | None = None
    if wkb is not None:
        geometry = shapely.geometry.mapping(shapely.from_wkb(wkb))
    elif row.get("lon") is not None and row.get("lat") is not None:
        geometry = {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
    return {"type": "Feature", "id": row.get("id"), "geometry": geometry, "properties": row}


def _json_value(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"not JSON: {type(value).__name__}")


class Publication:
    """The files of one export: made in their temporary names, moved into place together on
    success, removed on failure (the previous files stay)."""

    def __init__(self) -> None:
        self.sinks: list[Sink] = []

    def add(self, sink: Sink) -> Sink:
        self.sinks.append(sink)
        return sink

    def __enter__(self) -> Publication:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        closed = True
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:  # noqa: BLE001 - the export failed; the temporary goes
                closed = False
                if error is None:
                    raise
        if error is None and closed:
            for sink in self.sinks:
                os.replace(sink.temporary, sink.path)
            return
        for sink in self.sinks:
            sink.temporary.unlink(missing_ok=True)


def batches(rows: Iterator[list[tuple[Any, ...]]], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Chunks of row tuples (in ``schema``'s column order) as record batches."""
    for chunk in rows:
        columns = list(zip(*chunk, strict=True)) if chunk else [()] * len(schema)
        yield pa.RecordBatch.from_arrays(
            [pa.array(list(values), type=field.type) for values, field in zip(
                columns, schema, strict=True)], schema=schema)
