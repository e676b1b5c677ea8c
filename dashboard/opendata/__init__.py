"""Open data: bulk downloads of CityLens's public datasets (GeoJSON, CSV, Parquet), kept
fresh by a scheduled export, and their DCAT-AP 3 catalogue (docs/opendata.md)."""
from __future__ import annotations

from dashboard.opendata.cycle import ExportRound, export_once
from dashboard.opendata.datasets import DATASETS, Dataset
from dashboard.opendata.export import export_all, export_dataset, opendata_dir

__all__ = ["DATASETS", "Dataset", "ExportRound", "export_all", "export_dataset",
           "export_once", "opendata_dir"]
