"""The KPIs as Smart Data Models ``KeyPerformanceIndicator`` entities (normalized), one per
KPI and place (the city, each municipality of a metropolitan deployment, and each
district), with the values ``citylens kpis --json`` gives for the week window
(``dashboard.queries.kpi_table``, cached by data version).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dashboard import queries
from dashboard.api.ngsi_ld_entities import UNIT_CODE_OF
from dashboard.kpis import load_kpis
from dashboard.kpis.definitions import KpiDefinition
from dashboard.settings import Settings

KPI_TYPE = "KeyPerformanceIndicator"
KPI_PREFIX = f"urn:ngsi-ld:{KPI_TYPE}:citylens:"
WINDOW = "week"
CITY = "city"
ORGANIZATION = "CityLens"


MUNICIPALITY = "municipality:"


def kpi_id(kpi: str, place: str | None) -> str:
    """The entity id of KPI ``kpi`` for a district id, ``municipality:<id>``, or the city
    (None)."""
    return f"{KPI_PREFIX}{kpi}:{place or CITY}"


def _property(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


def _local_date(moment: str, zone: ZoneInfo, back: timedelta = timedelta(0)) -> str:
    return (datetime.fromisoformat(moment) - back).astimezone(zone).date().isoformat()


def _place_entities(kpis: list[dict[str, Any]], place: str | None, area: str,
                    period: dict[str, str], definitions: dict[str, KpiDefinition]
                    ) -> list[dict[str, Any]]:
    """One place's KPIs (``queries.kpi_table`` dicts) as entities."""
    entities = []
    for kpi in kpis:
        definition = definitions.get(kpi["id"])
        entity: dict[str, Any] = {
            "id": kpi_id(kpi["id"], place), "type": KPI_TYPE,
            "name": _property(kpi["name"].get("en") or kpi["id"]),
            "category": _property(["quantitative"]),
            "calculationPeriod": _property(period),
            "calculationFrequency": _property("weekly"),
            "calculationMethod": _property("automatic"),
            "organization": _property(ORGANIZATION),
            "process": _property(kpi["domain"]),
            "area": _property(area),
            "businessTarget": _property(
                f"{'at most' if kpi['direction'] == 'lower' else 'at least'} "
                f"{kpi['target']:g} {kpi['unit']}".strip()),
        }
        if definition is not None and definition.description.get("en"):
            entity["description"] = _property(definition.description["en"])
        if definition is not None and definition.metric:
            kind, _, attribute = definition.metric.partition(".")
            entity["aggregatedData"] = _property([{"entityType": kind,
                                                   "attrs": [attribute]}])
        if kpi["value"] is not None:
            value: dict[str, Any] = _property(kpi["value"])
            if kpi["as_of"]:
                value["observedAt"] = kpi["as_of"]
            if kpi["unit"] in UNIT_CODE_OF:
                value["unitCode"] = UNIT_CODE_OF[kpi["unit"]]
            entity["kpiValue"] = value
        if kpi["as_of"]:
            entity["dateModified"] = _property(kpi["as_of"])
        entities.append(entity)
    return entities


def kpi_entities(settings: Settings) -> list[dict[str, Any]]:
    """Every KPI of every place as a normalized entity, ordered by id."""
    table = queries.kpi_table(settings, WINDOW)
    zone = ZoneInfo(settings.timezone)
    period = {"from": _local_date(table["window_start"], zone),
              "to": _local_date(table["window_end"], zone, timedelta(seconds=1))}
    definitions = {k.id: k for k in load_kpis(settings.kpis_file)}
    names = {d["id"]: d["name"] for d in queries.district_options(settings)}
    entities = []
    for place, found in table["places"].items():
        area = names.get(place, place) if place else CITY
        entities += _place_entities(found["kpis"], place or None, area, period, definitions)
    for municipality in queries.municipality_options(settings):
        whole = queries.kpi_table(settings, WINDOW, municipality=municipality["id"])
        entities += _place_entities(whole["places"][""]["kpis"],
                                    f"{MUNICIPALITY}{municipality['id']}",
                                    municipality["name"], period, definitions)
    return sorted(entities, key=lambda e: str(e["id"]))
