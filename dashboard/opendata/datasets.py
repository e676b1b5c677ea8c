"""The open datasets CityLens publishes: what each is (titles and descriptions in English
and Spanish, keywords, EU themes, refresh), its files' formats, and the data versions
whose change makes it due for a new export."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
from sqlalchemy import Connection, select

from dashboard.model import Meta
from dashboard.opendata import kpi_rows, readers
from dashboard.settings import Settings
from dashboard.store.partitions import kept_from
from dashboard.store.version import SCOPE_PREFIX, data_version, scope_versions

Batches = Callable[[Connection, Settings], Iterator[pa.RecordBatch]]


@dataclass(frozen=True)
class Dataset:
    """One published dataset."""

    name: str
    title: dict[str, str]
    description: dict[str, str]
    keywords: dict[str, tuple[str, ...]]
    themes: tuple[str, ...]  # EU data-theme codes (ENVI, TRAN, REGI, GOVE, ...)
    frequency: str  # EU frequency code (HOURLY, DAILY, IRREG, ...)
    formats: tuple[str, ...]  # file extensions: geojson, csv, csv.gz, parquet
    schema: pa.Schema
    time_column: str | None = None
    scopes: tuple[str, ...] = ()  # data-version scopes it reads
    scope_prefixes: tuple[str, ...] = ()  # and every scope starting so
    monthly: bool = False  # one file per month and format


DISTRICTS = Dataset(
    name="districts",
    title={"en": "City districts", "es": "Distritos de la ciudad"},
    description={"en": "The city's districts: boundaries (WGS 84), population and area.",
                 "es": "Los distritos de la ciudad: límites (WGS 84), población y superficie."},
    keywords={"en": ("districts", "boundaries", "population"),
              "es": ("distritos", "límites", "población")},
    themes=("REGI", "SOCI"), frequency="IRREG", formats=("geojson", "csv", "parquet"),
    schema=readers.DISTRICTS, scopes=("districts",))
KPIS = Dataset(
    name="kpis",
    title={"en": "City indicators, daily", "es": "Indicadores de la ciudad, diarios"},
    description={
        "en": "The daily value of every city indicator (KPI) for the city and each "
              "district, with its unit, target and the share of the day its data covers.",
        "es": "El valor diario de cada indicador (KPI) de la ciudad y de cada distrito, con "
              "su unidad, su objetivo y la parte del día que cubren sus datos."},
    keywords={"en": ("indicators", "KPI", "city score"),
              "es": ("indicadores", "KPI", "índice de ciudad")},
    themes=("REGI", "GOVE"), frequency="DAILY", formats=("csv", "parquet"),
    schema=kpi_rows.KPIS, time_column="date")
ASSETS = Dataset(
    name="assets",
    title={"en": "City sensors and assets", "es": "Sensores y activos de la ciudad"},
    description={
        "en": "Every sensor and asset the city monitors (air quality stations, parking "
              "spots, containers, street lights, stops...): type, domain, place, district, "
              "status and latest readings.",
        "es": "Cada sensor y activo que la ciudad supervisa (estaciones de calidad del "
              "aire, plazas de aparcamiento, contenedores, farolas, paradas...): tipo, "
              "ámbito, lugar, distrito, estado y últimas lecturas."},
    keywords={"en": ("sensors", "IoT", "assets", "smart city"),
              "es": ("sensores", "IoT", "activos", "ciudad inteligente")},
    themes=("REGI", "ENVI", "TRAN", "ENER"), frequency="HOURLY",
    formats=("geojson", "csv", "parquet"), schema=readers.ASSETS, time_column="last_seen",
    scopes=("assets", "districts"), scope_prefixes=("domain:",))
OBSERVATIONS = Dataset(
    name="observations",
    title={"en": "Sensor readings", "es": "Lecturas de los sensores"},
    description={
        "en": "Every raw reading of the city's sensors (asset, metric, time in UTC, value, "
              "unit), one file per calendar month (UTC) and format, for the months the "
              "store still holds raw readings of.",
        "es": "Cada lectura de los sensores de la ciudad (activo, magnitud, hora UTC, "
              "valor, unidad), un fichero por mes natural (UTC) y formato, de los meses "
              "cuyas lecturas conserva el almacén."},
    keywords={"en": ("sensors", "readings", "time series", "air quality", "traffic"),
              "es": ("sensores", "lecturas", "series temporales", "calidad del aire",
                     "tráfico")},
    themes=("ENVI", "TRAN", "ENER"), frequency="HOURLY", formats=("parquet", "csv.gz"),
    schema=readers.OBSERVATIONS, time_column="time", scope_prefixes=("type:",),
    monthly=True)
SERVICE_REQUESTS = Dataset(
    name="service_requests",
    title={"en": "Service requests (Open311)", "es": "Avisos y solicitudes (Open311)"},
    description={
        "en": "Residents' service requests: service, department, status, channel, times "
              "and district, located to about 100 m. No personal data and no text "
              "written by residents.",
        "es": "Los avisos de los vecinos: servicio, departamento, estado, canal, fechas y "
              "distrito, situados con unos 100 m de precisión. Sin datos personales ni "
              "textos escritos por los vecinos."},
    keywords={"en": ("service requests", "311", "Open311", "incidents"),
              "es": ("avisos", "incidencias", "Open311", "atención ciudadana")},
    themes=("GOVE", "REGI"), frequency="HOURLY", formats=("csv", "parquet"),
    schema=readers.SERVICE_REQUESTS, time_column="requested_at",
    scopes=("requests", "districts"))

DATASETS: dict[str, Dataset] = {d.name: d for d in (DISTRICTS, KPIS, ASSETS, OBSERVATIONS,
                                                    SERVICE_REQUESTS)}


def batches_of(dataset: Dataset, conn: Connection, settings: Settings
               ) -> Iterator[pa.RecordBatch]:
    """A whole (not monthly) dataset's rows, chunk by chunk."""
    if dataset is DISTRICTS:
        return readers.district_batches(conn)
    if dataset is ASSETS:
        return readers.asset_batches(conn)
    if dataset is SERVICE_REQUESTS:
        return readers.request_batches(conn)
    if dataset is KPIS:
        return kpi_rows.kpi_batches(conn, settings)
    raise ValueError(f"{dataset.name} is exported month by month")


def fingerprint(conn: Connection, dataset: Dataset, settings: Settings) -> dict[str, Any]:
    """The data versions ``dataset`` was read at (equal: nothing it reads has changed)."""
    if dataset is KPIS:  # reads everything, and each day adds a row
        today = settings.current_time().astimezone(ZoneInfo(settings.timezone)).date()
        return {"data_version": data_version(conn), "today": today.isoformat(),
                "days": settings.opendata_kpi_days}
    found: dict[str, Any] = dict(scope_versions(conn, dataset.scopes))
    for prefix in dataset.scope_prefixes:
        rows = conn.execute(select(Meta.key, Meta.value).where(
            Meta.key.startswith(SCOPE_PREFIX + prefix)))
        found.update({key.removeprefix(SCOPE_PREFIX): int(value) for key, value in rows})
    if dataset.monthly:
        found["kept_from"] = kept_from(conn)
    return found
