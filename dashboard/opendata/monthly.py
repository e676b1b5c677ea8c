"""Observations, month by month: one file per calendar month (UTC) and format.

Only the months whose hour rollups changed (their count and sum of readings, kept at
ingest, corrections included) are written again, in one pass per run of consecutive
months; the files of months whose raw readings the retention dropped are removed.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
from sqlalchemy import Connection, func, select

from dashboard.model import Rollup
from dashboard.opendata.job import Job, city_bbox, make_sink
from dashboard.opendata.manifest import Extent, FileEntry, Manifest, file_entry
from dashboard.opendata.readers import CHUNK, observation_batches
from dashboard.opendata.sinks import Publication, Sink
from dashboard.store.partitions import kept_from


def month_key(epoch: int) -> str:
    return str(np.datetime64(int(epoch), "s").astype("datetime64[M]"))


def month_span(key: str) -> tuple[int, int]:
    """[start, end) epoch seconds of a month key ("2026-11")."""
    start = np.datetime64(key, "M")
    return (int(start.astype("datetime64[s]").astype(np.int64)),
            int((start + 1).astype("datetime64[s]").astype(np.int64)))


def month_prints(conn: Connection) -> dict[str, str]:
    """Each month that still has raw readings, with the count and sum of its readings from
    the hour rollups: a cheap fingerprint of its raw rows."""
    rows = conn.execute(
        select(Rollup.bucket, func.sum(Rollup.count), func.sum(Rollup.sum))
        .where(Rollup.grain == "hour", Rollup.bucket >= kept_from(conn))
        .group_by(Rollup.bucket))
    months: dict[str, list[float]] = {}
    for bucket, count, total in rows:
        seen = months.setdefault(month_key(int(bucket)), [0, 0.0])
        seen[0] += int(count or 0)
        seen[1] += float(total or 0.0)
    return {key: f"{int(c)}:{s:.9g}" for key, (c, s) in sorted(months.items()) if c}


def runs(keys: Iterable[str]) -> list[list[str]]:
    """Months in runs of consecutive ones ("2026-01", "2026-02" | "2026-05")."""
    found: list[list[str]] = []
    for key in sorted(keys):
        if found and month_span(found[-1][-1])[1] == month_span(key)[0]:
            found[-1].append(key)
        else:
            found.append([key])
    return found


class MonthRouter:
    """Rows of several months to their months' files, buffered up to a chunk per month (a
    chunk read in key order spans months; row groups stay chunk-sized)."""

    def __init__(self, sinks: dict[str, list[Sink]], extents: dict[str, Extent]) -> None:
        self.sinks, self.extents = sinks, extents
        self.buffers: dict[str, list[pa.RecordBatch]] = {key: [] for key in sinks}

    def add(self, batch: pa.RecordBatch) -> None:
        months = (batch.column("time").cast(pa.int64()).to_numpy()
                  .astype("datetime64[s]").astype("datetime64[M]"))
        for month in np.unique(months):
            key = str(month)
            if key not in self.sinks:
                continue
            self.buffers[key].append(batch.filter(pa.array(months == month)))
            if sum(b.num_rows for b in self.buffers[key]) >= CHUNK:
                self._flush(key)

    def _flush(self, key: str) -> None:
        if not self.buffers[key]:
            return
        batch = pa.Table.from_batches(self.buffers[key]).combine_chunks().to_batches()[0]
        self.buffers[key] = []
        self.extents[key].observe(batch)
        for sink in self.sinks[key]:
            sink.write(batch)

    def close(self) -> None:
        for key in self.sinks:
            self._flush(key)


def _month_files(job: Job, key: str) -> list[tuple[str, Path]]:
    return [(fmt, job.folder / f"{job.dataset.name}-{key}.{fmt}")
            for fmt in job.dataset.formats]


def _due(job: Job, months: dict[str, str]) -> list[str]:
    """The months to write: changed, new, or with a file missing (all, when forced)."""
    before = job.old.parts if job.old else {}
    return [key for key, mark in months.items()
            if job.force or before.get(key) != mark
            or not all(path.exists() for _, path in _month_files(job, key))]


def write_monthly(conn: Connection, job: Job) -> Manifest:
    """Write the due months' files; the manifest of every month's files."""
    months = month_prints(conn)
    due = _due(job, months)
    written: dict[str, list[tuple[str, Sink]]] = {}
    extents = {key: Extent(job.dataset.time_column) for key in due}
    with Publication() as publication:
        for key in due:
            written[key] = [(fmt, publication.add(make_sink(path, fmt, job.dataset.schema)))
                            for fmt, path in _month_files(job, key)]
        for run in runs(due):
            router = MonthRouter({k: [s for _, s in written[k]] for k in run}, extents)
            for batch in observation_batches(conn, month_span(run[0])[0],
                                             month_span(run[-1])[1]):
                router.add(batch)
            router.close()
    old_files = job.old.files if job.old else []
    files = [f for f in old_files if f.part in months and f.part not in due]
    for key in due:
        first, last = extents[key].span()
        files.extend(file_entry(sink, fmt, key, first, last) for fmt, sink in written[key])
    job.done.written = [f.name for f in files if f.part in due]
    job.done.removed = _remove_gone(job, old_files, set(months))
    files.sort(key=lambda f: f.name)
    firsts = [f for f in files if f.format == job.dataset.formats[0]]
    job.done.rows = sum(f.rows for f in firsts if f.part in due)
    return job.manifest(
        rows=sum(f.rows for f in firsts), bbox=city_bbox(conn), files=files,
        start=min((f.start for f in firsts if f.start), default=None),
        end=max((f.end for f in firsts if f.end), default=None),
        parts={k: v for k, v in months.items() if any(f.part == k for f in files)})


def _remove_gone(job: Job, old_files: list[FileEntry], months: set[str]) -> list[str]:
    """Delete the files of months no longer held raw; their names."""
    gone = [f for f in old_files if f.part and f.part not in months]
    for entry in gone:
        (job.folder / entry.name).unlink(missing_ok=True)
    return [f.name for f in gone]
