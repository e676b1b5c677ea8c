"""Domain pages: latest states, filters, the index, layouts and callbacks (no browser)."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import geobuf
import pandas as pd
import pytest
from dash import no_update
from sqlalchemy import insert, text

from dashboard.model import Asset, District
from dashboard.queries.domain import (
    LATEST_SQL,
    asset_features,
    domain_assets,
    latest_values,
    type_metrics,
)
from dashboard.queries.domain_index import domain_counts, domain_index
from dashboard.settings import Settings
from dashboard.store import get_engine, init_store
from dashboard.store.observations import ingest_observations
from dashboard.store.version import VERSION_KEY, set_meta
from tests.conftest import TINY_NOW
from tests.tree import by_id, walk

# ---- helpers ---------------------------------------------------------------------------


def texts(node: Any) -> str:
    """All text of a tree, joined."""
    found: list[str] = []

    def collect(item: Any) -> None:
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, (list, tuple)):
            for child in item:
                collect(child)
        elif item is not None and not isinstance(item, (int, float)):
            collect(getattr(item, "children", None))

    collect(node)
    return " ".join(found)


def decode(data: Any) -> dict[str, Any]:
    """A map layer's data (geobuf base64, plain GeoJSON or None) as GeoJSON."""
    if data is None:
        return {"type": "FeatureCollection", "features": []}
    if isinstance(data, str):
        return geobuf.decode(base64.b64decode(data))
    return data


def sql(settings: Settings, query: str, **params: Any) -> list[Any]:
    with get_engine(settings.resolved_database_url).connect() as conn:
        return conn.execute(text(query), params).all()


def busiest_district(settings: Settings, domain: str) -> str:
    return sql(settings, "SELECT district_id FROM assets WHERE domain = :d AND district_id "
               "IS NOT NULL GROUP BY district_id ORDER BY COUNT(*) DESC, district_id LIMIT 1",
               d=domain)[0][0]


# ---- read models -----------------------------------------------------------------------


def test_metrics_per_type_come_from_kpis_and_alert_rules(tiny_city: Settings) -> None:
    metrics = type_metrics(tiny_city)
    assert metrics["WasteContainer"] == ["fillingLevel"]
    assert set(metrics["OffStreetParking"]) == {"availableSpotNumber", "occupancy"}
    assert "powerConsumption" in metrics["Streetlight"]
    assert {"no2", "pm10"} <= set(metrics["AirQualityObserved"])


@pytest.mark.parametrize("domain", ["waste", "parking", "lighting"])
def test_latest_values_are_the_newest_observations(tiny_city: Settings, domain: str) -> None:
    data = domain_assets(tiny_city, domain, None)
    assert data["total"] > 0
    for asset in data["assets"][:6]:
        for metric, value in asset["readings"].items():
            attribute = metric.split(".", 1)[1]
            newest = sql(tiny_city, "SELECT o.value, o.time FROM observations o JOIN assets a "
                         "ON a.pk = o.asset_pk WHERE a.id = :id AND o.metric = :m "
                         "ORDER BY o.time DESC LIMIT 1", id=asset["id"], m=attribute)
            assert newest and value == pytest.approx(newest[0][0])
        times = sql(tiny_city, "SELECT MAX(o.time) FROM observations o JOIN assets a ON "
                    "a.pk = o.asset_pk WHERE a.id = :id AND o.metric IN ({})".format(
                        ",".join(f"'{m.split('.', 1)[1]}'" for m in asset["readings"])),
                    id=asset["id"])[0][0]
        assert asset["last_seen"] == datetime.fromtimestamp(times, timezone.utc).isoformat()


def test_waste_shows_fill_percent_and_parking_free_spots(tiny_city: Settings) -> None:
    waste = domain_assets(tiny_city, "waste", None)["assets"][0]
    assert (waste["measure"], waste["unit"]) == ("Fill", "%")
    assert waste["value"] == pytest.approx(waste["readings"]["WasteContainer.fillingLevel"]
                                           * 100, abs=0.06)
    car_park = domain_assets(tiny_city, "parking", None)["assets"][0]
    assert car_park["measure"] == "Free spots"
    assert car_park["value"] == car_park["readings"]["OffStreetParking.availableSpotNumber"]


def test_latest_value_query_uses_index_seeks_only(tiny_city: Settings) -> None:
    plan = sql(tiny_city, "EXPLAIN QUERY PLAN " + LATEST_SQL.format(district=""),
               metric="fillingLevel", domain="waste", type="WasteContainer")
    details = [row[-1] for row in plan]
    assert any("USING PRIMARY KEY (asset_pk=? AND metric=?)" in d for d in details)
    assert not any(d.startswith("SCAN") and ("o2" in d or " o" in d) for d in details), details


def test_defective_lamp_is_a_fault(tiny_city: Settings) -> None:
    (lamp_id,) = sql(tiny_city, "SELECT id FROM assets WHERE status = 'defectiveLamp'")[0]
    lamp = next(a for a in domain_assets(tiny_city, "lighting", None)["assets"]
                if a["id"] == lamp_id)
    assert (lamp["state"], lamp["state_label"]) == ("fault", "Fault")
    assert "Defective lamp" in lamp["reasons"]


def test_open_alert_makes_an_alert_and_is_counted(tiny_city: Settings) -> None:
    open_alerts = dict(sql(tiny_city, "SELECT a.id, COUNT(*) FROM alerts al JOIN assets a ON "
                           "a.pk = al.asset_pk WHERE al.cleared_at IS NULL AND a.domain = "
                           "'waste' GROUP BY a.id"))
    assert open_alerts
    data = domain_assets(tiny_city, "waste", None)
    for asset in data["assets"]:
        assert asset["open_alerts"] == open_alerts.get(asset["id"], 0)
        if asset["id"] in open_alerts:
            assert asset["state"] == "alert"
    assert data["assets"][0]["state"] == "alert"  # most urgent first
    assert sum(data["counts"].values()) == data["total"]


@pytest.fixture
def own_store(tmp_path: Path) -> Settings:
    """A tiny store of our own: a value beyond a rule, stale and silent assets."""
    now = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
    settings = Settings(var_dir=tmp_path / "var", database_url="", redis_url=None, now=now)
    engine = get_engine(settings.resolved_database_url)
    init_store(engine)
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    hour = int(now.timestamp()) - 3600
    with engine.begin() as conn:
        set_meta(conn, VERSION_KEY, "731905")  # caches are keyed by version: keep ours apart
        conn.execute(insert(District), [{"id": "d1", "name": "One", "geometry": square}])
        conn.execute(insert(Asset), [
            {"pk": 1, "id": "urn:ngsi-ld:WasteContainer:t:1", "type": "WasteContainer",
             "domain": "waste", "name": "Full bin", "lat": 0.5, "lon": 0.5,
             "district_id": "d1", "status": "ok"},
            {"pk": 2, "id": "urn:ngsi-ld:WasteContainer:t:2", "type": "WasteContainer",
             "domain": "waste", "name": "Stale bin", "lat": 0.4, "lon": 0.4,
             "district_id": "d1", "status": "ok"},
            {"pk": 3, "id": "urn:ngsi-ld:WasteContainer:t:3", "type": "WasteContainer",
             "domain": "waste", "name": "Silent bin", "lat": None, "lon": None,
             "district_id": None, "status": "ok"},
            {"pk": 4, "id": "urn:ngsi-ld:OffStreetParking:t:4", "type": "OffStreetParking",
             "domain": "parking", "name": "Full car park", "lat": 0.6, "lon": 0.6,
             "district_id": "d1", "status": "ok"},
        ])
        ingest_observations(conn, pd.DataFrame([
            {"asset_pk": 1, "metric": "fillingLevel", "time": hour - 7200, "value": 0.2,
             "unit": "ratio"},
            {"asset_pk": 1, "metric": "fillingLevel", "time": hour, "value": 0.99,
             "unit": "ratio"},
            {"asset_pk": 2, "metric": "fillingLevel", "time": hour - 30 * 3600, "value": 0.99,
             "unit": "ratio"},
            {"asset_pk": 4, "metric": "occupancy", "time": hour, "value": 0.99, "unit": "ratio"},
            {"asset_pk": 4, "metric": "availableSpotNumber", "time": hour, "value": 3,
             "unit": "spots"},
        ]), settings.timezone)
    return settings


def test_states_from_rule_thresholds_and_freshness(own_store: Settings) -> None:
    with get_engine(own_store.resolved_database_url).connect() as conn:
        latest = latest_values(conn, "waste", "WasteContainer", "fillingLevel")
    assert latest[1] is not None and latest[1].value == 0.99 and latest[3] is None
    states = {a["name"]: a for a in domain_assets(own_store, "waste", None)["assets"]}
    assert states["Full bin"]["state"] == "alert"
    assert states["Full bin"]["reasons"] == ["Container full"]
    assert (states["Full bin"]["value"], states["Full bin"]["unit"]) == (99.0, "%")
    assert states["Stale bin"]["state"] == "no data"  # beyond the rule, but 30 h old
    assert states["Silent bin"]["state"] == "no data"
    assert states["Silent bin"]["reasons"] == ["Never reported"]
    car_park = domain_assets(own_store, "parking", None)["assets"][0]
    assert car_park["state"] == "ok"  # an "info" rule is a note, not an alert
    assert car_park["reasons"] == ["Car park full"] and car_park["value"] == 3


def test_map_features_hold_located_assets_with_state(own_store: Settings) -> None:
    data = domain_assets(own_store, "waste", None)
    collection = asset_features(data["assets"], "waste")
    assert [f["properties"]["name"] for f in collection["features"]] == ["Full bin",
                                                                          "Stale bin"]
    first = collection["features"][0]
    assert first["geometry"]["coordinates"] == [0.5, 0.5]
    assert first["properties"]["state_label"] == "Alert"


def test_district_filter_keeps_only_that_district(tiny_city: Settings) -> None:
    district = busiest_district(tiny_city, "waste")
    expected = {r[0] for r in sql(tiny_city, "SELECT id FROM assets WHERE domain = 'waste' "
                                  "AND district_id = :d", d=district)}
    data = domain_assets(tiny_city, "waste", district)
    assert {a["id"] for a in data["assets"]} == expected
    assert {a["district_id"] for a in data["assets"]} == {district}


def test_index_counts_assets_and_open_alerts(tiny_city: Settings) -> None:
    counts = domain_counts(tiny_city, None)
    for domain, n in sql(tiny_city, "SELECT domain, COUNT(*) FROM assets GROUP BY domain"):
        assert counts[domain]["assets"] == n
    alerts = dict(sql(tiny_city, "SELECT a.domain, COUNT(*) FROM alerts al JOIN assets a ON "
                      "a.pk = al.asset_pk WHERE al.cleared_at IS NULL GROUP BY a.domain"))
    assert {d: c["open_alerts"] for d, c in counts.items() if c["open_alerts"]} == alerts
    assert counts["services"]["assets"] == 0


def test_index_shows_only_the_departments_domains(tiny_city: Settings) -> None:
    entries = domain_index(tiny_city, None, "Movilidad", "month")
    assert [e["domain"] for e in entries] == ["mobility", "parking"]
    assert all(k["domain"] == "parking" for k in entries[1]["kpis"])
    assert len(domain_index(tiny_city, None, None, "month")) == 10


# ---- layouts ---------------------------------------------------------------------------


def test_layout_renders_filters_kpis_map_and_grid(tiny_city: Settings, in_app: None) -> None:
    from layouts import ids
    from layouts.domain import layout

    district = busiest_district(tiny_city, "waste")
    page = layout(domain="waste", district=district, period="7d", compare="previous")
    assert by_id(page, "domain-district").value == district
    assert by_id(page, "domain-period").value == "7d"
    assert by_id(page, "domain-compare").value == "previous"
    assert by_id(page, ids.kpi_card("waste_fill")) is not None
    assert by_id(page, "domain-map") is not None
    grid = by_id(page, "domain-grid")
    (count,) = sql(tiny_city, "SELECT COUNT(*) FROM assets WHERE domain = 'waste' AND "
                   "district_id = :d", d=district)[0]
    assert grid.rowModelType == "infinite" and not hasattr(grid, "rowData")  # paged
    points = decode(by_id(page, "domain-points").data)
    assert len(points["features"]) == count
    assert "Alerts raised" in texts(by_id(page, "domain-summary"))


def test_department_without_the_domain_sees_only_a_note(tiny_city: Settings,
                                                        in_app: None) -> None:
    from layouts.domain import layout

    page = layout(domain="waste", department="Movilidad")
    note = texts(by_id(page, "domain-scope"))
    assert "Waste is not a domain of Movilidad" in note
    assert "domain-parked" in by_id(page, "domain-content").className
    assert by_id(page, "domain-kpis").children == []
    hrefs = [getattr(c, "href", None) for c in walk(by_id(page, "domain-scope"))]
    assert "/domain/parking?department=Movilidad" in hrefs


def test_unknown_domain_says_so_with_links(in_app: None) -> None:
    from layouts.domain import layout

    page = layout(domain="volcanoes")
    assert "Domain not found" in texts(page) and "volcanoes" in texts(page)
    hrefs = {getattr(c, "href", None) for c in walk(page)}
    assert {"/domain/waste", "/domain/digital_inclusion"} <= hrefs


def test_services_domain_links_to_requests_instead_of_a_map(in_app: None) -> None:
    from layouts.domain import layout

    page = layout(domain="services")
    assert "No assets in this domain yet" in texts(page)
    hrefs = {getattr(c, "href", None) for c in walk(page)}
    assert any(h and h.startswith("/services?department=") for h in hrefs)
    map_card = next(c for c in walk(page) if "domain-map-card" in
                    (getattr(c, "className", "") or ""))
    assert "domain-parked" in map_card.className


def test_index_page_cards_link_with_filters(tiny_city: Settings, in_app: None) -> None:
    from layouts.domains import layout

    page = layout(department="Residuos y Limpieza", period="7d")
    links = [c.href for c in walk(by_id(page, "domains-cards")) if getattr(c, "href", None)]
    assert links == ["/domain/waste?department=Residuos+y+Limpieza&period=7d",
                     "/domain/services?department=Residuos+y+Limpieza&period=7d"]
    (waste_assets,) = sql(tiny_city, "SELECT COUNT(*) FROM assets WHERE domain='waste'")[0]
    assert str(waste_assets) in texts(by_id(page, "domains-cards"))


# ---- callbacks -------------------------------------------------------------------------


def test_asset_callback_filters_map_and_grid_by_district(tiny_city: Settings,
                                                         in_app: None) -> None:
    from callbacks.domain import grid_block_rows, update_assets, update_map_view

    district = busiest_district(tiny_city, "lighting")
    _, outline, viewport, _ = update_assets(district, "", "lighting")
    assert [f["properties"]["id"] for f in outline["features"]] == [district]
    (count,) = sql(tiny_city, "SELECT COUNT(*) FROM assets WHERE domain = 'lighting' AND "
                   "district_id = :d", d=district)[0]
    view = update_map_view(viewport["bounds"], 15, district, "", "lighting")
    assert view["bounds"] == viewport["bounds"] and view["zoom"] == 15  # the view it is for
    located = decode(view["data"])["features"]
    shown = sum(f["properties"].get("point_count", 1) for f in located)
    rows = grid_block_rows({"startRow": 0, "endRow": 10_000}, "", district, "", "lighting")
    assert shown == len(rows["rowData"]) == rows["rowCount"] == count
    names = {d: n for d, n in sql(tiny_city, "SELECT id, name FROM districts")}
    assert {r["district"] for r in rows["rowData"]} == {names[district]}
    assert viewport["bounds"]
    blocked = update_map_view(None, None, None, "Movilidad", "lighting")
    assert decode(blocked["data"])["features"] == [] and blocked["note"] == ""
    assert grid_block_rows({"startRow": 0, "endRow": 100}, "", None, "Movilidad",
                           "lighting") == {"rowData": [], "rowCount": 0}


def _points(n: int, lon: float = -3.8, lat: float = 43.46, spread: float = 0.02
            ) -> list[dict[str, Any]]:
    """``n`` assets as ``domain_assets`` gives them, spread over a few streets."""
    states = ["ok", "ok", "no data", "fault", "alert"]
    return [{"id": f"a{i}", "name": f"Asset {i}", "type_label": "Streetlight", "district": "",
             "state": states[i % len(states)], "state_label": states[i % len(states)],
             "measure": "", "value": None, "unit": "", "last_seen": None, "open_alerts": 0,
             "href": f"/asset/a{i}", "lon": lon + spread * ((i * 7919) % 1000) / 1000,
             "lat": lat + spread * ((i * 104729) % 997) / 997} for i in range(n)]


def test_the_map_is_clustered_on_the_server_for_the_view() -> None:
    from dashboard.queries.domain_map import POINTS_UP_TO, clustered

    few = clustered(_points(POINTS_UP_TO), "lighting", None, 3)
    assert len(few["features"]) == POINTS_UP_TO  # every asset as itself
    assert few["features"][-1]["properties"]["state"] == "alert"  # drawn on top
    assert few["features"][0]["properties"]["href"].startswith("/asset/")
    many = _points(15_000)
    city = clustered(many, "lighting", None, 12)
    groups = [f for f in city["features"] if f["properties"].get("cluster")]
    assert groups and len(city["features"]) < 300  # a few hundred features, not 15,000
    assert sum(f["properties"].get("point_count", 1) for f in city["features"]) == 15_000
    counted = {s: 0 for s in ("alert", "fault", "no data", "ok")}
    for feature in city["features"]:
        for state, n in feature["properties"].get(
                "states", {feature["properties"]["state"]: 1}).items():
            counted[state] += n
    given = {s: sum(1 for a in many if a["state"] == s) for s in counted}
    assert counted == given  # every asset's state is in its cluster's counts
    for group in groups:
        (south, west), (north, east) = group["properties"]["bounds"]
        lon, lat = group["geometry"]["coordinates"]
        assert south <= lat <= north and west <= lon <= east
        worst = group["properties"]["state"]
        assert group["properties"]["states"][worst] > 0
    closer = clustered(many, "lighting", None, 16)
    assert len(closer["features"]) > len(city["features"])  # zooming in splits clusters
    corner = [[43.46, -3.8], [43.462, -3.798]]  # a view holding a few assets only
    inside = clustered(many, "lighting", corner, 18)
    assert 0 < len(inside["features"]) <= POINTS_UP_TO
    assert not any(f["properties"].get("cluster") for f in inside["features"])
    stacked = [{**a, "lon": -3.8, "lat": 43.46} for a in many[:POINTS_UP_TO + 5]]
    assert any(f["properties"].get("cluster")
               for f in clustered(stacked, "lighting", None, 16)["features"])
    street = clustered(stacked, "lighting", None, 17)  # a street: each asset, even on a spot
    assert len(street["features"]) == POINTS_UP_TO + 5
    unplaced = [{**a, "lat": None} for a in many[:3]]
    assert clustered(unplaced, "lighting", None, 12)["features"] == []


def test_the_grid_is_paged_searched_and_sorted_on_the_server(tiny_city: Settings,
                                                             in_app: None) -> None:
    from callbacks.domain import export_assets, grid_block_rows
    from dashboard.queries.domain_grid import BLOCK_LIMIT

    (total,) = sql(tiny_city, "SELECT COUNT(*) FROM assets WHERE domain = 'lighting'")[0]
    first = grid_block_rows({"startRow": 0, "endRow": 20}, None, None, "", "lighting")
    assert len(first["rowData"]) == min(20, total) and first["rowCount"] == total
    states = [r["state_label"] for r in first["rowData"]]
    order = ["Alert", "Fault", "No data", "OK"]
    assert states == sorted(states, key=order.index)  # unsorted: most urgent first
    by_name = grid_block_rows({"startRow": 0, "endRow": 10_000,
                               "sortModel": [{"colId": "name", "sort": "desc"}]},
                              None, None, "", "lighting")
    assert len(by_name["rowData"]) == min(total, BLOCK_LIMIT)  # one answer never holds more
    names = [r["name"].casefold() for r in by_name["rowData"]]
    assert names == sorted(names, reverse=True)
    second = grid_block_rows({"startRow": 5, "endRow": 10,
                              "sortModel": [{"colId": "name", "sort": "desc"}]},
                             None, None, "", "lighting")
    assert second["rowData"] == by_name["rowData"][5:10]
    word = first["rowData"][0]["name"].split()[-1]
    found = grid_block_rows({"startRow": 0, "endRow": 100}, f"  {word.upper()} ", None, "",
                            "lighting")
    assert 1 <= found["rowCount"] < total
    assert all(word.casefold() in " ".join(str(v) for v in r.values()).casefold()
               for r in found["rowData"])
    download = export_assets(None, 1, None, "", word, {"sortModel": []}, "lighting")
    lines = download["content"].splitlines()
    assert download["filename"] == "assets-lighting.csv"
    assert len(lines) == found["rowCount"] + 1 and lines[0].startswith("id,name,")


def test_numbers_and_scope_callbacks(in_app: None) -> None:
    from callbacks.domain import update_numbers, update_scope
    from layouts import ids

    title, cards, tiles = update_numbers("", "", "90d", "year", "parking")
    assert title == "Whole city · Last 90 days"
    assert by_id(cards, ids.kpi_card("parking_occupancy")) is not None
    assert "same period a year before" in texts(tiles)
    note, classes, _ = update_scope("Movilidad", "parking")
    assert note == [] and "domain-parked" not in classes
    note, classes, _ = update_scope("Aguas", "parking")
    assert "not a domain of Aguas" in texts(note) and "domain-parked" in classes


def test_click_on_an_asset_opens_its_page_and_on_a_cluster_zooms_in(in_app: None) -> None:
    from callbacks.domain import asset_clicked

    feature = {"properties": {"id": "urn:ngsi-ld:Streetlight:santander:0007"}}
    assert asset_clicked(feature) == ("/asset/urn:ngsi-ld:Streetlight:santander:0007",
                                      no_update)
    box = [[43.4, -3.9], [43.5, -3.7]]
    href, viewport = asset_clicked({"properties": {"cluster": True, "bounds": box}})
    assert href is no_update and viewport == {"bounds": box, "transition": "flyToBounds"}
    assert asset_clicked({"properties": {"cluster": True, "bounds": "x"}}) == (no_update,
                                                                                 no_update)
    spot = [[43.46, -3.8], [43.46, -3.8]]  # assets sharing one spot: zoom to the street
    _, viewport = asset_clicked({"properties": {"cluster": True, "bounds": spot}})
    assert viewport["center"] == [43.46, -3.8] and viewport["zoom"] >= 17


def test_geojson_export_holds_the_filtered_assets(tiny_city: Settings, in_app: None) -> None:
    from callbacks.domain import export_assets

    district = busiest_district(tiny_city, "waste")
    payload = export_assets(1, 0, district, "", None, None, "waste")
    assert payload["filename"].endswith(".geojson") and district in payload["filename"]
    collection = json.loads(payload["content"])
    expected = {r[0] for r in sql(tiny_city, "SELECT id FROM assets WHERE domain = 'waste' "
                                  "AND district_id = :d AND lat IS NOT NULL", d=district)}
    assert {f["properties"]["id"] for f in collection["features"]} == expected
    assert {f["properties"]["state"] for f in collection["features"]} <= {
        "alert", "fault", "no data", "ok"}
    assert export_assets(1, 0, None, "Movilidad", None, None, "waste") is no_update
    assert export_assets(0, 1, None, "Movilidad", None, None, "waste") is no_update


def test_the_csv_export_holds_raw_readings_with_units_in_the_header_and_utc_times(
        tiny_city: Settings, in_app: None) -> None:
    """The domain's CSV, parsed: a column per reading named with its unit, each value the
    newest stored observation as it is (a fill level as a ratio, unrounded), states as
    codes and last-seen times in ISO 8601 UTC (no local "CET" strings)."""
    import csv
    import io

    from callbacks.domain import export_assets

    payload = export_assets(None, 1, None, "", None, {"sortModel": []}, "waste")
    assert "CET" not in payload["content"] and "CEST" not in payload["content"]
    reader = csv.DictReader(io.StringIO(payload["content"]))
    header = reader.fieldnames or []
    assert header[:8] == ["id", "name", "type", "district_id", "district", "state",
                          "open_alerts", "last_seen"]
    assert "fillingLevel (ratio)" in header
    rows = list(reader)
    newest = dict(sql(tiny_city, """
        SELECT a.id, o.value FROM assets a JOIN observations o ON o.asset_pk = a.pk
        WHERE a.domain = 'waste' AND o.metric = 'fillingLevel'
          AND o.time = (SELECT MAX(time) FROM observations
                        WHERE asset_pk = a.pk AND metric = 'fillingLevel')"""))
    assert newest and len(rows) == len(sql(tiny_city, "SELECT id FROM assets "
                                                      "WHERE domain = 'waste'"))
    for row in rows:
        assert row["state"] in {"alert", "fault", "no data", "ok"}
        fill = row["fillingLevel (ratio)"]
        assert (float(fill) if fill else None) == newest.get(row["id"])
        if row["last_seen"]:
            seen = datetime.fromisoformat(row["last_seen"])
            assert seen.utcoffset() == timedelta(0)
    assert max(float(r["fillingLevel (ratio)"]) for r in rows
               if r["fillingLevel (ratio)"]) <= 1.0  # a ratio, not a percentage


def test_index_callback_follows_the_department(in_app: None) -> None:
    from callbacks.domain import update_index

    cards, subtitle = update_index("", "Aguas", "24h")
    assert subtitle.endswith("Last 24 hours")
    assert [c.href for c in walk(cards) if getattr(c, "href", None)] == [
        "/domain/water?department=Aguas&period=24h"]


def test_now_is_the_tiny_city_clock(tiny_city: Settings) -> None:
    """Freshness is judged against the store's clock, so the tiny city is all fresh."""
    data = domain_assets(tiny_city, "waste", None)
    assert tiny_city.current_time() == TINY_NOW
    assert data["counts"]["no data"] == 0
    newest = max(a["last_seen"] for a in data["assets"])
    assert datetime.fromisoformat(newest) > TINY_NOW - timedelta(hours=24)


def test_map_views_are_encoded_once_per_data_version(own_store: Settings,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached domain map view is served without re-encoding its points."""
    from dashboard.queries import domain_map

    calls: list[int] = []
    real = domain_map.encode
    monkeypatch.setattr(domain_map, "encode", lambda c: calls.append(1) or real(c))
    first = domain_map.domain_map_view(own_store, "waste", None, None, 12)
    encoded = len(calls)
    assert encoded and first["data"]
    assert domain_map.domain_map_view(own_store, "waste", None, None, 12.4) == first  # same cell
    assert len(calls) == encoded  # served from the cache as encoded
    data = domain_assets(own_store, "waste", None)
    located = asset_features(data["assets"], "waste")["features"]
    assert first["total"] == first["shown"] == len(located)
    assert domain_map.domain_total(own_store, "waste") == data["total"]


def test_measures_and_units_are_spelled_one_way(tiny_city: Settings, in_app: None) -> None:
    """The environment grid says NO₂ and Noise (LAeq) in µg/m³ and dB(A), as the KPI cards
    and the asset page do, never 'No2', 'Laeq' or 'µg/m3' as the feeds spell them."""
    from callbacks.domain import grid_block_rows
    from dashboard.units import metric_label, shown, unit_label

    rows = grid_block_rows({"startRow": 0, "endRow": 500}, None, None, "",
                           "environment")["rowData"]
    measures = {r["measure"] for r in rows} - {""}
    units = {r["unit"] for r in rows} - {""}
    assert measures and not measures & {"No2", "Laeq", "Pm10", "O3"}, measures
    assert "µg/m3" not in units and units & {"µg/m³", "dB(A)"}, units
    assert [metric_label(m) for m in ("no2", "NO2", "LAeq", "laeq", "fillingLevel")] == [
        "NO₂", "NO₂", "Noise (LAeq)", "Noise (LAeq)", "Filling level"]
    assert unit_label("ug/m3") == unit_label("µg/m3") == "µg/m³"
    assert shown(0.5, "ratio") == (50.0, "%") and shown(3.0, "Cel") == (3.0, "°C")


def test_unsorted_the_most_urgent_come_first(tiny_city: Settings) -> None:
    """By state, then more open alerts, then the main reading furthest on its bad side:
    within a state, the fullest container first (fill alerts fire *above* a level)."""
    from dashboard.queries.domain import STATES

    assets = domain_assets(tiny_city, "waste", None)["assets"]
    assert [STATES.index(a["state"]) for a in assets] == sorted(
        STATES.index(a["state"]) for a in assets)
    for state in STATES:
        same = [a for a in assets if a["state"] == state and a["open_alerts"] == 0]
        fills = [a["readings"]["WasteContainer.fillingLevel"] for a in same
                 if a["readings"].get("WasteContainer.fillingLevel") is not None]
        assert fills == sorted(fills, reverse=True), state
    ok = [a for a in assets if a["state"] == "ok"]
    assert len(ok) >= 2 and ok[0]["value"] >= ok[-1]["value"]


def test_a_chosen_sort_is_kept_in_the_link(tiny_city: Settings, in_app: None) -> None:
    """The grid's sort goes to the URL (``sort=field`` / ``sort=-field``) and a link with
    it opens the grid sorted so; anything else leaves the most urgent first."""
    from callbacks.common import filters_from
    from dashboard.queries.domain_grid import SORT_KEYS
    from layouts.domain import layout
    from layouts.tables import sort_param, sorted_by

    request = {"startRow": 0, "endRow": 100,
               "sortModel": [{"colId": "value", "sort": "desc", "type": "default"}]}
    assert sort_param(request, tuple(SORT_KEYS)) == "-value"
    assert sort_param([{"colId": "name", "sort": "asc", "sortIndex": 1},
                       {"colId": "value", "sort": None},
                       {"colId": "district", "sort": "desc", "sortIndex": 0}],
                      tuple(SORT_KEYS)) == "-district"  # the first sort wins
    assert sort_param({"sortModel": [{"colId": "evil", "sort": "asc"}]}, ("name",)) is None
    assert sort_param("nonsense", ("name",)) is None
    assert filters_from({}).query("30d", sort="-value") == "?sort=-value"

    def sorts(page: Any) -> dict[str, str]:
        grid = by_id(page, "domain-grid")
        return {c["field"]: c["sort"] for c in grid.columnDefs if c.get("sort")}

    assert sorts(layout("waste", sort="-value")) == {"value": "desc"}
    assert sorts(layout("waste", sort="name")) == {"name": "asc"}
    assert sorts(layout("waste", sort="<script>")) == {}
    assert sorts(layout("waste")) == {}
    assert sorted_by([{"field": "a"}], None) == [{"field": "a"}]
