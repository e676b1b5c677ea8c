"""District drill-down page (/district/<id>): read models against plain SQL and the KPI
table, the layout as a component tree, callbacks and exports as plain functions."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from dash import dcc, html, no_update
from sqlalchemy import insert, select
from sqlalchemy import text as sql

from dashboard import queries
from dashboard.kpis import Window, compute_kpi_table, load_kpis, window_for
from dashboard.kpis.scoring import city_score
from dashboard.model import District, Rollup, ServiceRequest
from dashboard.queries import district as dq
from dashboard.queries.departments import department_options
from dashboard.settings import Settings
from dashboard.store import get_engine, unit_of_work
from layouts import format_number
from layouts.filters import PageFilters
from tests.tree import by_id, text_of, walk

WINDOW = "month"  # the KPI window of the default period (30 d)


# ---- helpers ------------------------------------------------------------------------------
def body_rows(table: Any) -> list[Any]:
    body = next(c for c in walk(table) if isinstance(c, html.Tbody))
    return list(body.children)


def independent_ranks(scores: dict[str, float | None]) -> dict[str, int]:
    """1 + how many places score strictly higher (places without a score left out)."""
    present = {k: v for k, v in scores.items() if v is not None}
    return {k: 1 + sum(1 for o in present.values() if o > v + 1e-12)
            for k, v in present.items()}


def sql_rows(settings: Settings, query: str, **params: Any) -> list[Any]:
    with get_engine(settings.resolved_database_url).connect() as conn:
        return conn.execute(sql(query), params).all()


@pytest.fixture(scope="module")
def districts(tiny_city: Settings) -> list[str]:
    return [d["id"] for d in queries.district_options(tiny_city)]


@pytest.fixture(scope="module")
def department(tiny_city: Settings) -> dict[str, Any]:
    """A department responsible for some domains, not all (the smallest such)."""
    options = [d for d in department_options(tiny_city) if d["domains"]]
    return min(options, key=lambda d: (len(d["domains"]), d["id"]))


# ---- ranking ------------------------------------------------------------------------------
def test_rank_places_ties_share_a_rank_and_missing_values_are_not_ranked() -> None:
    scores = {"a": 1.2, "b": 0.9, "c": 1.2, "d": None, "e": 0.5, "f": 0.9}
    assert dq.rank_places(scores) == {"a": 1, "c": 1, "b": 3, "f": 3, "e": 5}
    assert dq.rank_places({"x": None}) == {}
    assert dq.rank_places({}) == {}


def test_rank_places_treats_float_noise_as_a_tie() -> None:
    assert dq.rank_places({"a": 0.1 + 0.2, "b": 0.3, "c": 0.31}) == {"c": 1, "a": 2, "b": 2}


def test_ordinal_and_rank_text() -> None:
    from layouts.district_sections import ordinal, rank_text

    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]
    assert rank_text(2, 9) == "rank 2 of 9"
    assert rank_text(None, 9) == "not ranked"


# ---- read models against the KPI table and plain SQL --------------------------------------
def test_kpi_ranks_match_an_independent_ranking_of_the_kpi_table(
        tiny_city: Settings, districts: list[str]) -> None:
    places = queries.kpi_table(tiny_city, WINDOW)["places"]
    score_of = {d: {k["id"]: k["score"] for k in places[d]["kpis"]} for d in districts}
    for district in districts:
        data = dq.kpi_comparison(tiny_city, district, WINDOW)
        for row in data["rows"]:
            ranks = independent_ranks({d: score_of[d][row["id"]] for d in districts})
            assert row["rank"] == ranks.get(district), (district, row["id"])
            assert row["ranked"] == len(ranks)
        overall = independent_ranks({d: places[d]["score"] for d in districts})
        assert data["score_rank"] == overall.get(district)
        assert data["score_ranked"] == len(overall)
        assert data["districts"] == len(districts)
    # Across districts, each KPI's ranks run from 1 and the best district is ranked 1.
    first = dq.kpi_comparison(tiny_city, districts[0], WINDOW)["rows"]
    ranked = [r for r in first if r["ranked"]]
    assert ranked, "the tiny city should have KPIs with district values"


def test_district_and_city_values_equal_the_kpi_table(
        tiny_city: Settings, districts: list[str]) -> None:
    places = queries.kpi_table(tiny_city, WINDOW)["places"]
    district = districts[2]
    data = dq.kpi_comparison(tiny_city, district, WINDOW)
    own = {k["id"]: k for k in places[district]["kpis"]}
    city = {k["id"]: k for k in places[""]["kpis"]}
    assert sorted(r["id"] for r in data["rows"]) == sorted(own)  # in worst-first order
    for row in data["rows"]:
        assert (row["value"], row["score"], row["trend"], row["target"]) == (
            own[row["id"]]["value"], own[row["id"]]["score"], own[row["id"]]["trend"],
            own[row["id"]]["target"])
        assert (row["city_value"], row["city_score"]) == (
            city[row["id"]]["value"], city[row["id"]]["score"])
    assert data["score"] == places[district]["score"]
    assert data["city_score"] == places[""]["score"]
    assert any(r["value"] is not None for r in data["rows"])


def test_kpis_come_worst_first_with_their_gap_to_the_city(
        in_app: None, tiny_city: Settings, districts: list[str]) -> None:
    """Every district's KPI rows (table, chart, CSV) run by score, lowest first, those
    without a score last (ties in catalogue order); each row's gap is its value minus the
    city's from the same KPI table, better or worse by the KPI's direction."""
    from layouts.district_sections import kpi_csv_rows, kpi_table, score_figure

    places = queries.kpi_table(tiny_city, WINDOW)["places"]
    catalogue = [k["id"] for k in places[""]["kpis"]]
    city = {k["id"]: k for k in places[""]["kpis"]}
    seen = {"better": 0, "worse": 0}
    for district in districts:
        own = {k["id"]: k for k in places[district]["kpis"]}
        rows = dq.kpi_comparison(tiny_city, district, WINDOW)["rows"]
        expected = sorted(own, key=lambda k: (own[k]["score"] is None, own[k]["score"] or 0,
                                              catalogue.index(k)))
        assert [r["id"] for r in rows] == expected
        scores = [r["score"] for r in rows if r["score"] is not None]
        assert scores == sorted(scores) and all(r["score"] is None for r in rows[len(scores):])
        for row in rows:
            mine, theirs = own[row["id"]]["value"], city[row["id"]]["value"]
            if mine is None or theirs is None:
                assert row["city_gap"] is None and row["city_gap_better"] is None
                continue
            assert row["city_gap"] == pytest.approx(mine - theirs)
            assert row["city_gap_unit"] == ("pp" if row["unit"] == "%" else row["unit"])
            level = abs(mine - theirs) < 0.5 * 10 ** -row["decimals"]
            if not level:
                better = (mine > theirs) == (row["direction"] == "higher")
                assert row["city_gap_better"] is better, (district, row["id"])
                seen["better" if better else "worse"] += 1
        shown = body_rows(kpi_table("t", rows, "X", year_ago=False))
        for row, tr in zip(rows, shown, strict=True):
            assert text_of(tr.children[0]).startswith(row["name"]["en"])
            gap = text_of(tr.children[3])
            if row["city_gap_better"] is not None:
                assert gap.endswith("better" if row["city_gap_better"] else "worse")
        assert [c["kpi_id"] for c in kpi_csv_rows(rows)] == expected
        bars = score_figure(rows, "X")["layout"]["yaxis"]["categoryarray"]
        assert bars[-1].startswith(rows[0]["name"]["en"])  # the worst KPI on top
    assert seen["better"] and seen["worse"]


def test_the_gap_cell_says_better_or_worse_by_the_kpis_direction() -> None:
    from layouts.district_sections import gap_cell

    lower = {"decimals": 1, "unit": "days", "direction": "lower"}
    faster = gap_cell({**lower, **dq.city_gap({**lower, "value": 0.9}, 1.2)})
    assert " ".join(text_of(faster).split()) == "−0.3 days vs city better"
    assert "trend--improving" in faster.className
    higher = {"decimals": 0, "unit": "%", "direction": "higher"}
    late = gap_cell({**higher, **dq.city_gap({**higher, "value": 72.0}, 80.0)})
    assert " ".join(text_of(late).split()) == "−8 pp vs city worse"
    assert "trend--worsening" in late.className
    level = gap_cell({**higher, **dq.city_gap({**higher, "value": 80.2}, 80.0)})
    assert "level with the city" in text_of(level) and "trend--flat" in level.className
    assert text_of(gap_cell({**higher, **dq.city_gap({**higher, "value": None}, 80.0)})) == "–"


def test_unknown_district_is_refused(tiny_city: Settings) -> None:
    with pytest.raises(ValueError, match="unknown district"):
        dq.kpi_comparison(tiny_city, "nowhere-99", WINDOW)
    with pytest.raises(ValueError):
        dq.kpi_comparison(tiny_city, "", WINDOW)  # "" is the city, not a district
    assert dq.district_profile(tiny_city, "nowhere-99") is None


def test_assets_by_domain_equal_plain_sql_counts(tiny_city: Settings,
                                                 districts: list[str]) -> None:
    for district in districts[:4]:
        expected = {domain: (n, bad) for domain, n, bad in sql_rows(
            tiny_city, "SELECT domain, COUNT(*), SUM(CASE WHEN status <> 'ok' THEN 1 ELSE 0 END)"
            " FROM assets WHERE district_id = :d GROUP BY domain", d=district)}
        alerts = dict(sql_rows(
            tiny_city, "SELECT a.domain, COUNT(*) FROM alerts al JOIN assets a ON a.pk = "
            "al.asset_pk WHERE al.cleared_at IS NULL AND al.district_id = :d GROUP BY a.domain",
            d=district))
        rows = dq.assets_by_domain(tiny_city, district)
        assert {r["domain"]: (r["assets"], r["not_ok"]) for r in rows if r["assets"]} == expected
        assert {r["domain"]: r["open_alerts"] for r in rows if r["open_alerts"]} == alerts
    assert sum(r["assets"] for d in districts for r in dq.assets_by_domain(tiny_city, d)) == (
        sql_rows(tiny_city, "SELECT COUNT(*) FROM assets WHERE district_id IS NOT NULL")[0][0])


def test_department_narrows_kpis_domains_and_alerts(
        tiny_city: Settings, districts: list[str], department: dict[str, Any]) -> None:
    """A department sees its domains' KPIs and the request KPIs tied to no domain, those
    counting the requests it handles only; its score is of those KPIs."""
    domains = set(department["domains"])
    district = districts[0]
    rows = dq.kpi_comparison(tiny_city, district, WINDOW)["rows"]
    found = dq.kpi_comparison(tiny_city, district, WINDOW, department=department["id"])
    narrowed = found["rows"]
    # (the tiny city's Aguas handles requests, no case, no safety request)
    kpis = {k.id: k for k in load_kpis(tiny_city.kpis_file)}
    wide = {i for i, k in kpis.items()
            if k.source == "service_requests" and not k.filter.get("domain")}
    assert wide and narrowed and len(narrowed) < len(rows)
    assert sorted(r["id"] for r in narrowed) == sorted(  # each list worst first
        r["id"] for r in rows if r["id"] in wide
        or r["domain"] in domains and kpis[r["id"]].source == "rollups")
    assert found["score"] == pytest.approx(city_score(r["score"] for r in narrowed))
    digital = next(r for r in narrowed if r["id"] == "digital_share")
    start, end = (datetime.fromisoformat(found[k]) for k in ("window_start", "window_end"))
    with get_engine(tiny_city.resolved_database_url).connect() as conn:
        channels = conn.execute(select(ServiceRequest.channel).where(
            ServiceRequest.department == department["id"],
            ServiceRequest.requested_at >= start, ServiceRequest.requested_at < end)).scalars()
        made = [c in ("web", "app") for c in channels]
    assert made, "the tiny city's department has requests in the window"
    assert digital["city_value"] == pytest.approx(100 * sum(made) / len(made))
    city_wide = next(r for r in rows if r["id"] == "digital_share")
    assert digital["city_value"] != city_wide["city_value"]
    all_assets = dq.assets_by_domain(tiny_city, district)
    assets = dq.assets_by_domain(tiny_city, district, domains)
    assert assets == [r for r in all_assets if r["domain"] in domains]
    for d in districts:
        assert all(a["domain"] in domains for a in dq.district_alerts(tiny_city, d, domains))


def test_request_rows_are_the_service_request_kpis(tiny_city: Settings,
                                                   districts: list[str]) -> None:
    ids = {k.id for k in load_kpis(tiny_city.kpis_file) if k.source == "service_requests"}
    rows = dq.request_rows(dq.kpi_comparison(tiny_city, districts[0], WINDOW)["rows"])
    assert {r["id"] for r in rows} == ids and ids


def yearton(tmp_path: Path) -> Settings:
    """A store of its own: one district, a container level now (30 %) and a year ago (50 %)
    in the ``week`` window, read from its first hour on (``now`` is not the tiny city's)."""
    now = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)
    settings = Settings(var_dir=tmp_path / "var", database_url="", redis_url=None, now=now)
    span = window_for("week", now, settings.timezone)
    bucket = span.end - 5 * 3600
    metric = "WasteContainer.fillingLevel"
    with unit_of_work(get_engine(settings.resolved_database_url)) as conn:
        conn.execute(insert(District), [{"id": "yearton-01", "name": "Yearton", "geometry": {
            "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
            "population": 1000, "area_km2": 1.0}])
        conn.execute(insert(Rollup), [
            {"metric": metric, "grain": "hour", "bucket": b, "district_id": "yearton-01",
             "count": 2, "sum": total, "min": 0.0, "max": 1.0}
            for year_ago in (0, 365 * 86400)
            for b, total in ((span.start - year_ago, 0.6 + 0.4 * bool(year_ago)),
                             (bucket - year_ago, 0.6 + 0.4 * bool(year_ago)))])
    return settings


def test_year_ago_comparison_reads_the_window_a_year_earlier(tmp_path: Path) -> None:
    settings = yearton(tmp_path)
    data = dq.kpi_comparison(settings, "yearton-01", "week", year_ago=True)
    waste = next(r for r in data["rows"] if r["id"] == "waste_fill")
    assert waste["value"] == pytest.approx(30) and waste["year_ago"] == pytest.approx(50)
    assert waste["year_change"] == pytest.approx(-20) and waste["year_change_unit"] == "pp"
    assert all(r["year_ago"] is None for r in data["rows"] if r["id"] != "waste_fill")
    without = dq.kpi_comparison(settings, "yearton-01", "week")
    assert all(r["year_ago"] is None and r["year_change"] is None for r in without["rows"])
    from layouts.district_sections import kpi_table

    table = kpi_table("t", [waste], "Yearton", year_ago=True)
    assert "▼ 20 pp improving" in " ".join(text_of(table).split())
    assert "was 50 %" in text_of(table)


def test_year_ago_values_are_the_engine_on_the_window_a_year_earlier(
        tiny_city: Settings, districts: list[str]) -> None:
    now = tiny_city.current_time()
    span = window_for("week", now, tiny_city.timezone)
    year = 365 * 86400
    shifted = Window("week", span.start - year, span.end - year, span.grain, span.tz)
    with get_engine(tiny_city.resolved_database_url).connect() as conn:
        table = compute_kpi_table(conn, load_kpis(tiny_city.kpis_file), shifted, now)
    data = dq.kpi_comparison(tiny_city, districts[1], "week", year_ago=True)
    expected = {v.id: v.value for v in table.places[districts[1]]}
    assert {r["id"]: r["year_ago"] for r in data["rows"]} == expected
    assert data["year_ago"] is True


# ---- layout ------------------------------------------------------------------------------
def test_layout_renders_header_filters_and_sections(in_app: None, tiny_city: Settings,
                                                    districts: list[str]) -> None:
    from layouts.district import layout

    district = districts[2]
    profile = dq.district_profile(tiny_city, district)
    data = dq.kpi_comparison(tiny_city, district, WINDOW)
    tree = layout(district_id=district)
    assert text_of(by_id(tree, "district-title")) == profile["name"]
    facts = text_of(by_id(tree, "district-facts"))
    assert format_number(profile["population"]) in facts
    assert f"{format_number(profile['area_km2'], 2)} km²" in facts
    assert "KPIs over the last 30 days" in text_of(by_id(tree, "district-subtitle"))
    score = text_of(by_id(tree, "district-score"))
    assert format_number(data["score"], 2) in score
    assert format_number(data["city_score"], 2) in score
    assert f"of {data['score_ranked']} districts by score" in text_of(by_id(tree, "district-rank"))
    assert by_id(tree, "district-switch").value == district
    for name in ("department", "period", "compare", "kpis", "assets", "requests", "alerts",
                 "download", "url", "nav", "map"):
        by_id(tree, f"district-{name}")
    assert not [c for c in walk(tree) if getattr(c, "id", None) == "district-district"]
    table = by_id(tree, "district-chart-table")
    assert len(body_rows(table)) == len(data["rows"])
    assert by_id(tree, "district-chart").figure["data"]
    link = by_id(tree, "district-requests-link")
    assert link.href == f"/services?district={district}"
    assert profile["name"] in text_of(link)
    domain_links = [c.href for c in walk(by_id(tree, "district-assets"))
                    if isinstance(c, dcc.Link)]
    assert domain_links == [f"/domain/{r['domain']}?district={district}"
                            for r in dq.assets_by_domain(tiny_city, district)]


def test_layout_follows_the_query(in_app: None, tiny_city: Settings, districts: list[str],
                                  department: dict[str, Any]) -> None:
    from layouts.district import layout

    district = districts[0]
    tree = layout(district_id=district, department=department["id"], period="7d",
                  compare="year")
    assert by_id(tree, "district-period").value == "7d"
    assert by_id(tree, "district-department").value == department["id"]
    subtitle = text_of(by_id(tree, "district-subtitle"))
    assert "last 7 days" in subtitle and "a year before" in subtitle
    # the score is of the department's KPIs (kpi_table), and says so
    assert f"{department['id']} KPIs · 1.00 = on target" in text_of(by_id(tree, "district-score"))
    rows = dq.kpi_comparison(tiny_city, district, "week", department=department["id"])["rows"]
    table = by_id(tree, "district-chart-table")
    assert len(body_rows(table)) == len(rows)
    assert "vs a year ago" in text_of(table)
    link = by_id(tree, "district-requests-link")
    assert "period=7d" in link.href and f"district={district}" in link.href
    assert "department=" in link.href


def test_layout_of_an_unknown_district_says_so(in_app: None) -> None:
    from layouts.district import layout

    tree = layout(district_id="nowhere-99", period="7d")
    assert "No district with id “nowhere-99”" in text_of(tree)
    assert [c.href for c in walk(tree) if isinstance(c, dcc.Link)] == ["/"]


def test_page_is_registered_out_of_the_nav_with_the_district_in_its_title(
        in_app: None, districts: list[str], tiny_city: Settings) -> None:
    import dash

    from layouts.district import page_title
    from layouts.shell import nav_links

    page = dash.page_registry["layouts.district"]
    assert (page["path_template"], page["name"], page["order"]) == (
        "/district/<district_id>", "District", 91)
    assert not [link for link in nav_links() if link.href.startswith("/district")]
    name = dq.district_profile(tiny_city, districts[0])["name"]
    assert page_title(district_id=districts[0]) == f"CityLens · {name}"
    assert page_title(district_id="nowhere-99") == "CityLens · District"


def test_alerts_link_their_asset(in_app: None) -> None:
    from layouts.components import alerts_list
    from tests.conftest import TINY_NOW

    alert = {"id": 1, "asset_id": "urn:ngsi-ld:WasteContainer:x/1 a", "asset_name": "Bin <1>",
             "domain": "waste", "metric": "WasteContainer.fillingLevel", "rule": "full",
             "severity": "warning", "raised_at": TINY_NOW.isoformat(), "value": 0.97,
             "rule_text": {"en": "Container full"}}
    items = alerts_list([alert], now=TINY_NOW, tz="UTC", where="domain")
    link = next(c for c in walk(items) if isinstance(c, dcc.Link))
    assert link.href == "/asset/urn:ngsi-ld:WasteContainer:x%2F1%20a"
    assert text_of(link) == "Bin <1>"
    assert "Warning" in text_of(items)


# ---- callbacks and exports -------------------------------------------------------------------
def test_filter_change_returns_new_children(in_app: None, tiny_city: Settings,
                                            districts: list[str],
                                            department: dict[str, Any]) -> None:
    from callbacks.district import update_view

    district = districts[1]
    out = update_view(department["id"], "7d", None, district)
    assert len(out) == 6
    subtitle, _score, kpis, assets, requests, _alerts = out
    assert "last 7 days" in subtitle
    expected = dq.kpi_comparison(tiny_city, district, "week",
                                 department=department["id"])["rows"]
    table = next(c for c in walk(kpis) if getattr(c, "id", None) == "district-chart-table")
    assert len(body_rows(table)) == len(expected)
    shown = {text_of(c) for c in walk(assets) if isinstance(c, dcc.Link)}
    assert len(shown) == len(dq.assets_by_domain(tiny_city, district, set(department["domains"])))
    assert update_view(None, "30d", None, None) == (no_update,) * 6
    assert "last 30 days" in update_view(None, "30d", None, district)[0]


def test_switcher_keeps_the_query(districts: list[str]) -> None:
    from callbacks.district import neighbour_clicked, switch_district

    assert switch_district(districts[1], districts[0], "?period=7d&compare=year") == (
        f"/district/{districts[1]}?period=7d&compare=year")
    assert switch_district(districts[1], districts[0], "") == f"/district/{districts[1]}"
    assert switch_district(districts[0], districts[0], "?period=7d") is no_update
    assert neighbour_clicked({"properties": {"id": districts[3]}}) == districts[3]
    assert neighbour_clicked(None) is no_update


def test_kpi_csv_rows_equal_the_table(in_app: None, tiny_city: Settings,
                                      districts: list[str]) -> None:
    from callbacks.district import export_file
    from layouts.district_sections import kpi_table

    district = districts[3]
    payload = export_file("kpis", district, PageFilters(period="30d"))
    assert payload["filename"].endswith("-kpis.csv")
    rows = list(csv.DictReader(io.StringIO(payload["content"])))
    data = dq.kpi_comparison(tiny_city, district, WINDOW)
    table = kpi_table("t", data["rows"], "X", year_ago=False)
    shown = body_rows(table)
    assert len(rows) == len(shown) == len(data["rows"])
    for csv_row, tr, row in zip(rows, shown, data["rows"], strict=True):
        assert csv_row["kpi"] in text_of(tr.children[0])
        assert csv_row["kpi_id"] == row["id"]
        assert csv_row["rank"] == ("" if row["rank"] is None else str(row["rank"]))
        value = csv_row["district_value"]
        assert (float(value) if value else None) == (
            None if row["value"] is None else pytest.approx(row["value"]))
        if row["value"] is not None:
            assert format_number(float(value), row["decimals"]) in text_of(tr.children[1])


def test_a_district_without_a_station_says_so_in_the_table_chart_and_csv(
        in_app: None, tiny_city: Settings, districts: list[str]) -> None:
    """Where plain SQL finds no air-quality station in a district, its air KPIs say "No
    air-quality station in this district" (table, chart, CSV), never stale; where one
    exists they keep their status."""
    from layouts.district_sections import kpi_csv_rows, kpi_table, score_figure

    located = {d for (d,) in sql_rows(tiny_city, "SELECT DISTINCT district_id FROM assets "
                                                 "WHERE type = 'AirQualityObserved'")}
    assert set(districts) - located and set(districts) & located
    for district in districts:
        rows = dq.kpi_comparison(tiny_city, district, WINDOW)["rows"]
        air = next(r for r in rows if r["id"] == "air_no2")
        missing = district not in located
        assert air["no_source"] is missing and not (missing and air["stale"])
        row = next(tr for tr in body_rows(kpi_table("t", rows, "X", year_ago=False))
                   if "Nitrogen dioxide" in text_of(tr.children[0]))
        said = "No air-quality station in this district" in text_of(row.children[6])
        assert said is missing
        csv_row = next(c for c in kpi_csv_rows(rows) if c["kpi_id"] == "air_no2")
        assert (csv_row["status"] == "No air-quality station in this district") is missing
        names = [n for trace in score_figure(rows, "X")["data"] for n in trace["y"]]
        assert any("(no air-quality station here)" in n for n in names) is missing


def test_asset_csv_and_geojson_exports(in_app: None, tiny_city: Settings,
                                       districts: list[str]) -> None:
    from callbacks.district import export_file

    district = districts[0]
    assets = export_file("assets", district, PageFilters(period="7d"))
    rows = list(csv.DictReader(io.StringIO(assets["content"])))
    expected = dict(sql_rows(tiny_city, "SELECT domain, COUNT(*) FROM assets WHERE "
                                        "district_id = :d GROUP BY domain", d=district))
    assert {r["domain"]: int(r["assets"]) for r in rows if int(r["assets"])} == expected
    shape = json.loads(export_file("geojson", district, PageFilters(period="7d"))["content"])
    feature = shape["features"][0]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert feature["properties"]["id"] == district
    assert feature["properties"]["score"] == (
        queries.kpi_table(tiny_city, "week")["places"][district]["score"])
    with pytest.raises(ValueError):
        export_file("pdf", district, PageFilters())


def test_requests_section_counts_the_districts_requests(in_app: None, tiny_city: Settings,
                                                        districts: list[str]) -> None:
    from layouts.district import layout

    district = districts[0]
    open_now = sql_rows(tiny_city, "SELECT COUNT(*) FROM service_requests "
                                   "WHERE status = 'open' AND district_id = :d", d=district)
    page = layout(district_id=district, period="30d")
    summary = text_of(by_id(page, "district-requests-summary"))
    assert f"Open now {format_number(open_now[0][0])}" in summary
    oldest = sql_rows(tiny_city, "SELECT id FROM service_requests WHERE status = 'open' "
                                 "AND district_id = :d ORDER BY requested_at, id LIMIT 5",
                      d=district)
    shown = text_of(by_id(page, "district-requests-body"))
    assert oldest and all(row[0] in shown for row in oldest)


def _score_panel(score: float | None, city: float | None, previous: float | None,
                 compare: str | None) -> str:
    from dash import html

    from layouts.district import score_children

    change = None if score is None or previous is None else score - previous
    kpis = {"score": score, "city_score": city, "previous_score": previous,
            "score_change": change, "score_rank": 3, "score_ranked": 10, "districts": 10}
    return text_of(html.Div(score_children(kpis, compare)))


def test_the_score_panel_says_how_far_from_the_city_and_compares_only_when_asked() -> None:
    """A district at 0.83 against a city at 0.91 is 0.08 below it (not "at or below"); the
    change is in score points, and only when the previous period is chosen."""
    below = _score_panel(0.83, 0.91, 0.87, None)
    assert "0.08 below the city" in below
    assert "worsening" not in below and "improving" not in below  # "No comparison"
    assert "0.04 above the city" in _score_panel(0.95, 0.91, None, None)
    assert "level with the city" in _score_panel(0.912, 0.91, None, None)
    compared = _score_panel(0.83, 0.91, 0.87, "previous")
    assert "0.04 worsening vs the previous period" in compared and "%" not in compared
    assert "no earlier data" in _score_panel(0.83, 0.91, None, "previous")
    assert "worsening" not in _score_panel(0.83, 0.91, 0.87, "year")
