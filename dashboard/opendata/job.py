"""One dataset's export in progress: where it writes, what the last export left, what it
did; and the pieces every export shares (the folder, a file's writer, the city's box)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection

from dashboard.opendata.datasets import Dataset
from dashboard.opendata.manifest import Extent, Manifest
from dashboard.opendata.readers import district_batches
from dashboard.opendata.sinks import CsvSink, GeoJsonSink, ParquetSink, Sink
from dashboard.settings import Settings

FOLDER = "opendata"


def opendata_dir(settings: Settings) -> Path:
    """Where the files and manifests live (made when missing)."""
    folder = settings.var_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Exported:
    """What one dataset's export did."""

    dataset: str
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rows: int = 0

    def line(self) -> str:
        if not self.written and not self.removed:
            return f"{self.dataset}: unchanged"
        gone = f", {len(self.removed)} removed" if self.removed else ""
        return f"{self.dataset}: {len(self.written)} files, {self.rows:,} rows{gone}"


@dataclass
class Job:
    """An export of ``dataset`` into ``folder``, read at data versions ``fingerprint``."""

    dataset: Dataset
    folder: Path
    old: Manifest | None
    fingerprint: dict[str, Any]
    force: bool
    done: Exported

    def manifest(self, **fields: Any) -> Manifest:
        """The new manifest: ``fields`` plus what every manifest carries."""
        now = datetime.now(timezone.utc)
        return Manifest(dataset=self.dataset.name, issued=self.old.issued if self.old else now,
                        exported_at=now, fingerprint=self.fingerprint, **fields)


def make_sink(path: Path, fmt: str, schema: pa.Schema) -> Sink:
    """The writer of one file format."""
    if fmt == "parquet":
        return ParquetSink(path, schema)
    if fmt == "geojson":
        return GeoJsonSink(path, schema)
    return CsvSink(path, schema)


def city_bbox(conn: Connection) -> list[float] | None:
    """The districts' bounding box (for datasets whose rows carry no place)."""
    extent = Extent(None)
    for batch in district_batches(conn):
        extent.observe(batch)
    return extent.bounds
