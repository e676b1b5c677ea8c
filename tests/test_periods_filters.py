"""Time presets, comparisons, departments and the shared filter state of the pages."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from dashboard.kpis.scoring import relative_change
from dashboard.periods import PRESETS, period_end, period_for
from dashboard.settings import Settings

NOW = datetime(2026, 11, 23, 20, 17, tzinfo=timezone.utc)


def test_periods_end_with_the_current_hour_and_have_their_length() -> None:
    assert period_end(NOW) == datetime(2026, 11, 23, 21, 0, tzinfo=timezone.utc)
    assert period_end(NOW.replace(minute=0)) == NOW.replace(minute=0)
    week = period_for("7d", NOW)
    assert (week.end - week.start) == timedelta(days=7) and week.label == "Last 7 days"
    assert period_for("all", NOW).start is None
    assert set(PRESETS) == {"24h", "7d", "30d", "90d", "12m", "all"}
    with pytest.raises(ValueError, match="unknown period 'decade'"):
        period_for("decade", NOW)


def test_comparisons_previous_period_and_a_year_before() -> None:
    month = period_for("30d", NOW)
    before = month.compared("previous")
    assert before is not None and before.end == month.start
    assert before.end - before.start == timedelta(days=30)
    year = month.compared("year")
    assert year is not None and month.start - year.start == timedelta(days=365)
    assert period_for("all", NOW).previous() is None and month.compared(None) is None
    assert relative_change(110, 100) == pytest.approx(0.1) and relative_change(5, 0) is None


def test_departments_come_from_the_service_catalogue(tiny_city: Settings) -> None:
    from dashboard.queries.departments import department_domains, department_options

    departments = {d["id"]: d for d in department_options(tiny_city)}
    assert "waste" in departments["Residuos y Limpieza"]["domains"]
    assert department_domains(tiny_city, "Alumbrado Público") == {"lighting"}
    assert department_domains(tiny_city, None) is None
    with pytest.raises(ValueError, match="unknown department"):
        department_domains(tiny_city, "Nope")


def test_filters_read_from_the_url_drop_unknown_values(tiny_city: Settings) -> None:
    from layouts.filters import PageFilters, read_filters

    got = read_filters(tiny_city, {"district": "nowhere", "department": "Aguas",
                                   "period": "7d", "compare": "year"})
    assert got == PageFilters(None, "Aguas", "7d", "year")
    assert read_filters(tiny_city, {"period": "decade"}).period == "30d"
    assert got.query() == "?department=Aguas&period=7d&compare=year"
    assert PageFilters().query() == "?"
    assert got.with_(department="", compare="").query() == "?period=7d"


def test_filter_bar_has_every_control_with_page_ids(in_app: None, tiny_city: Settings) -> None:
    from layouts.filters import PageFilters, filter_bar

    bar = filter_bar("demo", tiny_city, PageFilters(department="Aguas"))
    found: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if getattr(node, "id", None):
            found[node.id] = node
        children = getattr(node, "children", None)
        for child in children if isinstance(children, list) else [children]:
            if child is not None and not isinstance(child, str):
                walk(child)

    walk(bar)
    assert {"demo-district", "demo-department", "demo-period", "demo-compare"} <= set(found)
    assert found["demo-department"].value == "Aguas"
    assert [o["value"] for o in found["demo-period"].options] == list(PRESETS)


def test_export_files_are_csv_and_geojson() -> None:
    from layouts.export import csv_file, geojson_file, safe_name

    out = csv_file([{"a": 1, "b": None, "c": {"x": 1}}], ["a", "b", "c"], "x.csv")
    assert out["content"] == 'a,b,c\n1,,"{""x"": 1}"\n' and out["type"] == "text/csv"
    assert geojson_file({"type": "FeatureCollection", "features": []}, "m.geojson")["content"] \
        == '{"type":"FeatureCollection","features":[]}'
    assert safe_name("services", "Residuos y Limpieza", None, "30d") == \
        "services-residuos-y-limpieza-30d"
