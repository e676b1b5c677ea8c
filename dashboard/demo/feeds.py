"""The demo city as the payloads a real city's systems hand over, one file per system.

The generator does not write the store itself: it writes what a city's departments would
export (a GeoJSON of districts, an Open311 service list in XML and its requests in JSON, an
NGSI v2 dump of the context broker's devices, CSV exports of the census, of procedures, of
participation and of the noticeboard, and CSV telemetry logs per sensor type), plus a
``sources.yaml`` naming them; the connectors then ingest that file. So every demo run goes
through the same code path as a real city's feeds.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ElementTree, SubElement, indent

from dashboard.demo.config import CityConfig

UTC = timezone.utc
ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "data" / "mappings" / "demo"
SOURCES_FILE = "sources.yaml"


def iso(moment: datetime | None) -> str:
    """An aware time as ISO 8601 in UTC (``Z``), or empty."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_districts(path: Path, rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The districts as the GIS department's GeoJSON; returns its source entry."""
    features = [{"type": "Feature", "geometry": row["geometry"],
                 "properties": {"id": row["id"], "name": row["name"],
                                "population": row["population"]}} for row in rows]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}),
                    encoding="utf-8")
    return {"id": "demo-districts", "kind": "districts", "location": str(path),
            "name_field": "name", "id_field": "id", "population_field": "population"}


def write_services(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """The Open311 service list in XML, GeoReport v2's mandatory format, with the
    department, domain and SLA as extension elements."""
    root = Element("services")
    for row in rows:
        service = SubElement(root, "service")
        for tag, value in (("service_code", row["service_code"]),
                           ("service_name", row["service_name"]),
                           ("description", row["description"]), ("metadata", "false"),
                           ("type", "realtime" if row["online"] else "batch"),
                           ("keywords", row["domain"]), ("group", row["group"]),
                           ("department", row["department"]), ("domain", row["domain"]),
                           ("sla_hours", row["sla_hours"])):
            SubElement(service, tag).text = str(value)
    indent(root)
    ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def open311_request(row: Mapping[str, Any]) -> dict[str, Any]:
    """A service request as GeoReport v2 JSON, with the CRM's extensions: the channel,
    the closing time and the citizen's ``account_id`` (as GeoReport's POST names it)."""
    record = {
        "service_request_id": row["id"], "status": row["status"],
        "status_notes": row["status_notes"], "service_name": row["service_name"],
        "service_code": row["service_code"], "description": row["description"],
        "agency_responsible": row["department"],
        "requested_datetime": iso(row["requested_at"]),
        "updated_datetime": iso(row["updated_at"]),
        "expected_datetime": iso(row["expected_at"]),
        "address": row["address"], "lat": row["lat"], "long": row["lon"],
        "channel": row["channel"],
    }
    if row["closed_at"] is not None:
        record["closed_datetime"] = iso(row["closed_at"])
    if row["citizen_id"] is not None:
        record["account_id"] = row["citizen_id"]
    return record


class JsonListWriter:
    """Writes a JSON array one item at a time (hundreds of thousands of requests)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = path.open("w", encoding="utf-8")
        self.handle.write("[")
        self.count = 0

    def write(self, items: Iterable[Mapping[str, Any]]) -> None:
        for item in items:
            self.handle.write(("," if self.count else "") + "\n" + json.dumps(item))
            self.count += 1

    def close(self) -> None:
        self.handle.write("\n]\n")
        self.handle.close()


class CsvExport:
    """A CSV export written row by row; cells are text, times ISO 8601 in UTC."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.handle = path.open("w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.handle)
        self.writer.writerow(columns)
        self.columns = columns
        self.count = 0

    def write(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.writer.writerow([_cell(row.get(c)) for c in self.columns])
            self.count += 1

    def close(self) -> None:
        self.handle.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return iso(value)
    return str(value)


def citizen_cells(rows: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Census rows with each consent flag in a column of its own."""
    for row in rows:
        flags = {f"consent_{name}": value for name, value in row["consent"].items()}
        yield {**{k: v for k, v in row.items() if k != "consent"}, **flags}


def notice_cells(rows: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Noticeboard rows with the title and body in a column per language."""
    for row in rows:
        cells = {k: v for k, v in row.items() if k not in ("title", "body")}
        for field in ("title", "body"):
            cells.update({f"{field}_{lang}": text for lang, text in row[field].items()})
        yield cells


def asset_entity(row: Mapping[str, Any]) -> dict[str, Any]:
    """An asset as an NGSI v2 entity in normalized form, as a context broker returns it."""
    entity: dict[str, Any] = {
        "id": row["id"], "type": row["type"],
        "name": {"type": "Text", "value": row["name"], "metadata": {}},
        "location": {"type": "geo:json", "metadata": {},
                     "value": {"type": "Point", "coordinates": [row["lon"], row["lat"]]}},
        "status": {"type": "Text", "value": row["status"], "metadata": {}},
    }
    for name, value in sorted(row["attributes"].items()):
        if name in entity:
            continue
        kind = ("Boolean" if isinstance(value, bool) else "Number"
                if isinstance(value, (int, float)) else "Text" if isinstance(value, str)
                else "StructuredValue")
        entity[name] = {"type": kind, "value": value, "metadata": {}}
    return entity


def mapping_path(name: str) -> str:
    """The shipped mapping of a demo export (``data/mappings/demo/<name>.yaml``)."""
    return str(MAPPINGS / f"{name}.yaml")


def domain_overrides(config: CityConfig) -> dict[str, str]:
    """Each demo asset type's domain, for the NGSI connector."""
    return {t.type: t.domain for t in config.asset_types.values()}


def export_columns(name: str) -> dict[str, str]:
    """Model field -> export column of a shipped demo mapping (its ``columns`` and, for
    citizens, ``consent_<flag>`` -> its column), so the writer and the mapping agree."""
    import yaml

    raw = yaml.safe_load(Path(mapping_path(name)).read_text(encoding="utf-8"))
    columns = dict(raw["columns"])
    columns.update({f"consent_{flag}": column for flag, column in raw.get("consent", {}).items()})
    return columns


def renamed(rows: Iterable[Mapping[str, Any]], columns: Mapping[str, str],
            values: Mapping[str, Mapping[Any, str]] | None = None) -> Iterator[dict[str, Any]]:
    """Rows keyed by export column instead of model field; ``values`` recodes fields
    (e.g. a case's status as the source system spells it)."""
    recode = values or {}
    for row in rows:
        yield {column: recode[field].get(row.get(field), row.get(field)) if field in recode
               else row.get(field) for field, column in columns.items()}


def _prerequisites(source_id: str, ids: set[str]) -> list[str]:
    """What a demo source refers to, so runs after: districts first; citizens, devices and
    the bus company's GTFS after them; telemetry after its devices (bus stops: the GTFS);
    requests, procedures and participation after the citizens; realtime after the GTFS."""
    if source_id == "demo-districts":
        wanted: list[str] = []
    elif source_id in ("demo-citizens", "demo-devices", "demo-gtfs", "demo-notices"):
        wanted = ["demo-districts"]
    elif source_id == "demo-telemetry-GtfsStop" or source_id.startswith("demo-gtfs-rt"):
        wanted = ["demo-gtfs"]
    elif source_id.startswith("demo-telemetry-"):
        wanted = ["demo-devices"]
    elif source_id in ("demo-open311", "demo-cases", "demo-participation"):
        wanted = ["demo-citizens"]
    else:
        wanted = []
    return [name for name in wanted if name in ids]


def in_run_order(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sources with ``after`` set to what each refers to, so that workers running them
    in parallel store what one process running them in file order stores."""
    ids = {e["id"] for e in entries}
    ordered = []
    for entry in entries:
        after = _prerequisites(entry["id"], ids)
        ordered.append({**entry, "after": after} if after else entry)
    return ordered
