"""The manifest of each export (``opendata/<dataset>.json``): every file's size, rows,
SHA-256 and time, the data's temporal and spatial coverage, and the data versions it was
made from (the next export is skipped while they have not moved). The catalogue reads it.
"""
from __future__ import annotations

import hashlib
import os
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pydantic import BaseModel, Field

from dashboard.opendata.sinks import GEOMETRY, Sink, temporary_name

MANIFEST_SUFFIX = ".manifest.json"


class FileEntry(BaseModel):
    """One published file."""

    name: str
    format: str  # csv | csv.gz | parquet | geojson
    size: int
    rows: int
    sha256: str
    modified: datetime
    part: str | None = None  # the month of a monthly file ("2026-11")
    start: str | None = None  # the part's temporal coverage
    end: str | None = None


class Manifest(BaseModel):
    """What one dataset's last export published."""

    dataset: str
    issued: datetime
    exported_at: datetime
    fingerprint: dict[str, Any]
    rows: int = 0
    start: str | None = None  # temporal coverage: ISO dates or times
    end: str | None = None
    bbox: list[float] | None = None  # min lon, min lat, max lon, max lat
    files: list[FileEntry] = Field(default_factory=list)
    parts: dict[str, Any] = Field(default_factory=dict)  # monthly parts' fingerprints


def manifest_path(folder: Path, dataset: str) -> Path:
    return folder / f"{dataset}{MANIFEST_SUFFIX}"


def read_manifest(folder: Path, dataset: str) -> Manifest | None:
    """The dataset's manifest, or None when it was never exported (or is unreadable)."""
    path = manifest_path(folder, dataset)
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return None


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Write ``manifest`` atomically (a temporary file moved into place)."""
    path = manifest_path(folder, manifest.dataset)
    temporary = temporary_name(path)
    temporary.write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    os.replace(temporary, path)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_entry(sink: Sink, fmt: str, part: str | None = None, start: str | None = None,
               end: str | None = None) -> FileEntry:
    """The entry of a file just published by ``sink``."""
    stat = sink.path.stat()
    return FileEntry(name=sink.path.name, format=fmt, size=stat.st_size, rows=sink.rows,
                     sha256=sha256_of(sink.path), part=part, start=start, end=end,
                     modified=datetime.fromtimestamp(stat.st_mtime, timezone.utc))


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class Extent:
    """The temporal and spatial coverage of the rows seen, batch by batch."""

    def __init__(self, time_column: str | None) -> None:
        self.time_column = time_column
        self.start: Any = None
        self.end: Any = None
        self.bounds: list[float] | None = None

    def observe(self, batch: pa.RecordBatch) -> None:
        if self.time_column and batch.num_rows:
            found = pc.min_max(batch.column(self.time_column)).as_py()
            if found["min"] is not None:
                self.start = found["min"] if self.start is None else min(self.start,
                                                                         found["min"])
                self.end = found["max"] if self.end is None else max(self.end, found["max"])
        names = batch.schema.names
        if GEOMETRY in names:
            geometries = shapely.from_wkb(batch.column(GEOMETRY).to_numpy(zero_copy_only=False))
            self._extend(list(shapely.total_bounds(geometries)))
        elif "lat" in names and "lon" in names:
            lon, lat = pc.min_max(batch.column("lon")).as_py(), pc.min_max(
                batch.column("lat")).as_py()
            if lon["min"] is not None and lat["min"] is not None:
                self._extend([lon["min"], lat["min"], lon["max"], lat["max"]])

    def _extend(self, box: list[float]) -> None:
        if any(v != v for v in box):  # NaN: nothing located
            return
        if self.bounds is None:
            self.bounds = box
            return
        self.bounds = [min(self.bounds[0], box[0]), min(self.bounds[1], box[1]),
                       max(self.bounds[2], box[2]), max(self.bounds[3], box[3])]

    def span(self) -> tuple[str | None, str | None]:
        """(start, end) as ISO text, None where no row had a time."""
        return (None if self.start is None else _iso(self.start),
                None if self.end is None else _iso(self.end))

