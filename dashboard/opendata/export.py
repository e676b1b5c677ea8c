"""Exporting the open datasets into ``<var_dir>/opendata``: each dataset's files written
chunk by chunk and moved into place together, then its manifest.

A dataset is exported again only when a data version it reads has moved since its last
export (``datasets.fingerprint``), or with ``force``; observations go month by month
(``dashboard.opendata.monthly``).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import Connection, Engine

from dashboard.opendata.datasets import DATASETS, Dataset, batches_of, fingerprint
from dashboard.opendata.job import FOLDER, Exported, Job, city_bbox, make_sink, opendata_dir
from dashboard.opendata.manifest import (
    Extent,
    FileEntry,
    Manifest,
    file_entry,
    read_manifest,
    write_manifest,
)
from dashboard.opendata.monthly import write_monthly
from dashboard.opendata.sinks import Publication
from dashboard.settings import Settings

__all__ = ["Exported", "export_all", "export_dataset", "file_entries", "manifests",
           "opendata_dir"]


def _fresh(job: Job) -> bool:
    """Whether the last export was read at the same data versions and its files are there."""
    return (job.old is not None and job.old.fingerprint == job.fingerprint
            and all((job.folder / f.name).exists() for f in job.old.files))


def write_whole(conn: Connection, settings: Settings, job: Job) -> Manifest:
    """Write a dataset's files (one per format) in one pass over its rows."""
    dataset, extent = job.dataset, Extent(job.dataset.time_column)
    with Publication() as publication:
        sinks = [(fmt, publication.add(make_sink(job.folder / f"{dataset.name}.{fmt}", fmt,
                                                 dataset.schema)))
                 for fmt in dataset.formats]
        for batch in batches_of(dataset, conn, settings):
            extent.observe(batch)
            for _, sink in sinks:
                sink.write(batch)
    files = [file_entry(sink, fmt) for fmt, sink in sinks]
    start, end = extent.span()
    job.done.written, job.done.rows = [f.name for f in files], files[0].rows
    return job.manifest(rows=job.done.rows, start=start, end=end, files=files,
                        bbox=extent.bounds or city_bbox(conn))


def export_dataset(engine: Engine, settings: Settings, dataset: Dataset,
                   force: bool = False) -> Exported:
    """Export one dataset when its data changed (or ``force``); its manifest last."""
    folder = opendata_dir(settings)
    with engine.connect() as conn:
        job = Job(dataset, folder, read_manifest(folder, dataset.name),
                  fingerprint(conn, dataset, settings), force, Exported(dataset.name))
        if not force and _fresh(job):
            return job.done
        manifest = (write_monthly(conn, job) if dataset.monthly
                    else write_whole(conn, settings, job))
    write_manifest(folder, manifest)
    return job.done


def export_all(engine: Engine, settings: Settings, names: Iterable[str] | None = None,
               force: bool = False) -> list[Exported]:
    """Export the named datasets (default: all) that changed."""
    return [export_dataset(engine, settings, DATASETS[name], force)
            for name in (names or DATASETS)]


def manifests(settings: Settings) -> Iterator[tuple[Dataset, Manifest | None]]:
    """Every dataset with its last export's manifest (None: never exported)."""
    folder = settings.var_dir / FOLDER
    for dataset in DATASETS.values():
        yield dataset, read_manifest(folder, dataset.name)


def file_entries(settings: Settings) -> dict[str, FileEntry]:
    """Every published file by name."""
    return {f.name: f for _, m in manifests(settings) if m for f in m.files}
