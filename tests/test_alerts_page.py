"""The alerts page: read models against plain SQL on the tiny city, layout and callbacks."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dash import dcc
from sqlalchemy import text

from dashboard.periods import period_for
from dashboard.settings import Settings
from dashboard.store import get_engine
from tests.tree import by_id, walk


def sql_alerts(settings: Settings, where: str, **params: Any) -> list[tuple[Any, ...]]:
    stmt = text("SELECT a.id, a.severity, s.domain, a.district_id FROM alerts a "
                f"JOIN assets s ON s.pk = a.asset_pk WHERE {where}")
    with get_engine(settings.resolved_database_url).connect() as conn:
        return [tuple(r) for r in conn.execute(stmt, params)]


def test_active_and_raised_alerts_equal_plain_sql(tiny_city: Settings) -> None:
    from dashboard.queries.alerts import alert_counts, alert_rows

    period = period_for("30d", tiny_city.current_time())
    active = sql_alerts(tiny_city, "a.cleared_at IS NULL")
    raised = sql_alerts(tiny_city, "a.raised_at >= :s AND a.raised_at < :e",
                        s=period.start, e=period.end)
    assert raised, "the tiny city raises alerts within 30 days"
    got = alert_rows(tiny_city, period, state="active")
    assert {r["id"] for r in got["rows"]} == {a[0] for a in active}
    assert all(r["active"] and r["cleared_at"] is None for r in got["rows"])
    got = alert_rows(tiny_city, period, state="raised")
    assert {r["id"] for r in got["rows"]} == {a[0] for a in raised}
    assert got["total"] == len(raised) and not got["truncated"]
    both = alert_rows(tiny_city, period, state="all")
    assert {r["id"] for r in both["rows"]} == {a[0] for a in active} | {a[0] for a in raised}
    counts = alert_counts(tiny_city, period)
    assert counts["raised"] == {**{"critical": 0, "warning": 0, "info": 0},
                                **Counter(a[1] for a in raised)}
    assert sum(d["critical"] + d["warning"] + d["info"] for d in counts["daily"]) == len(raised)


def test_rows_come_most_severe_first_and_respect_the_limit(tiny_city: Settings) -> None:
    from dashboard.queries.alerts import alert_rows

    period = period_for("90d", tiny_city.current_time())
    rows = alert_rows(tiny_city, period, state="raised")["rows"]
    active_first = [not r["active"] for r in rows]
    assert active_first == sorted(active_first)
    capped = alert_rows(tiny_city, period, state="raised", limit=3)
    assert len(capped["rows"]) == 3 and capped["truncated"] and capped["total"] == len(rows)


def test_filters_narrow_by_district_domain_and_severity(tiny_city: Settings) -> None:
    from dashboard.queries.alerts import alert_rows

    period = period_for("90d", tiny_city.current_time())
    raised = sql_alerts(tiny_city, "a.raised_at >= :s AND a.raised_at < :e",
                        s=period.start, e=period.end)
    district = Counter(a[3] for a in raised).most_common(1)[0][0]
    got = alert_rows(tiny_city, period, state="raised", district=district)["rows"]
    assert len(got) == sum(1 for a in raised if a[3] == district)
    got = alert_rows(tiny_city, period, state="raised", domains={"waste"})["rows"]
    assert len(got) == sum(1 for a in raised if a[2] == "waste")
    got = alert_rows(tiny_city, period, state="raised", severity="warning")["rows"]
    assert len(got) == sum(1 for a in raised if a[1] == "warning")
    assert alert_rows(tiny_city, period, state="raised", domains=set())["rows"] == []
    with pytest.raises(ValueError, match="unknown state"):
        alert_rows(tiny_city, period, state="sleeping")


def test_comparison_counts_the_previous_period(tiny_city: Settings) -> None:
    from dashboard.queries.alerts import alert_counts

    period = period_for("7d", tiny_city.current_time())
    before = period.previous()
    assert before is not None
    rows = sql_alerts(tiny_city, "a.raised_at >= :s AND a.raised_at < :e",
                      s=before.start, e=before.end)
    counts = alert_counts(tiny_city, period, before)
    assert sum(counts["raised_before"].values()) == len(rows)


def test_layout_restores_the_url_state(in_app: None, tiny_city: Settings) -> None:
    from layouts.alerts import layout

    page = layout(district="santander-01", department="Residuos y Limpieza", period="90d",
                  state="raised", severity="warning", domain="nowhere")
    assert by_id(page, "alerts-district").value == "santander-01"
    assert by_id(page, "alerts-department").value == "Residuos y Limpieza"
    assert by_id(page, "alerts-period").value == "90d"
    assert by_id(page, "alerts-state").value == "raised"
    assert by_id(page, "alerts-severity").value == "warning"
    assert by_id(page, "alerts-domain").value == ""  # unknown domain dropped
    grid = by_id(page, "alerts-grid")
    assert all(r["domain_label"] == "Waste" and r["severity"] == "warning"
               for r in grid.rowData)
    assert all(r["href"].startswith("/asset/urn:ngsi-ld:") for r in grid.rowData)


def test_callbacks_update_body_and_url(in_app: None, tiny_city: Settings) -> None:
    from callbacks.alerts import update_alerts
    from dashboard.queries.alerts import alert_rows

    body, subtitle = update_alerts("", "", "7d", "previous", "all", "", "")
    grid = by_id(body, "alerts-grid")
    period = period_for("7d", tiny_city.current_time())
    assert len(grid.rowData) == len(alert_rows(tiny_city, period, state="all")["rows"])
    assert "vs" in " ".join(str(getattr(c, "children", "")) for c in walk(body))
    assert subtitle.startswith("Whole city · all departments")
    assert isinstance(by_id(body, "alerts-daily"), dcc.Graph)


def test_grid_rows_link_assets_and_show_local_times(tiny_city: Settings) -> None:
    from layouts.alerts import grid_rows

    row = {"id": 1, "severity": "critical", "asset_id": "urn:ngsi-ld:X:1", "asset_name": "",
           "domain": "water", "district_name": None, "rule_text": {"en": "pH low"},
           "metric": "m", "value": 5.1, "raised_at": "2026-11-23T10:00:00+00:00",
           "cleared_at": None}
    shaped = grid_rows([row], "Europe/Madrid")[0]
    assert shaped["href"] == "/asset/urn:ngsi-ld:X:1" and shaped["asset"] == "urn:ngsi-ld:X:1"
    assert shaped["raised"] == "2026-11-23 11:00 CET" and shaped["cleared"] == "active"
    assert shaped["district_name"] == "No district" and shaped["what"] == "pH low"


def test_every_column_is_named_and_long_names_are_readable_whole(in_app: None) -> None:
    """No blank header; names, rules, districts and times wrap instead of being cut, and
    every text cell shows its whole value on hover; each rule's unit is shown."""
    from callbacks.alerts import update_alerts
    from layouts.alerts import GRID_COLUMNS

    body, _ = update_alerts("", "", "7d", "previous", "all", "", "")
    grid = by_id(body, "alerts-grid")
    columns = {c["field"]: c for c in grid.columnDefs if not c.get("hide")}
    assert all(c["headerName"].strip() for c in columns.values())
    for field in ("asset", "what", "district_name", "raised", "cleared"):
        assert columns[field]["wrapText"] and columns[field]["autoHeight"], field
    assert all(c.get("tooltipField") == f for f, c in columns.items() if f != "value")
    assert grid.dashGridOptions["tooltipShowDelay"] > 0
    units = {r["what"]: r["unit"] for r in grid.rowData}
    assert units and all(units.values()), units  # µg/m³, NTU, dB(A), %: none blank
    shown = [c for c in grid.columnDefs if not c.get("hide")]
    assert [c["field"] for c in shown] == [f for f, _ in GRID_COLUMNS]


def test_the_csv_holds_raw_values_units_and_utc_times(in_app: None,
                                                       tiny_city: Settings) -> None:
    """The grid's CSV (AG Grid exports ``columnKeys``, hidden ones too): stored values,
    the stored unit in its own column, ISO 8601 UTC times, like every other export."""
    from callbacks.alerts import update_alerts
    from layouts.alerts import EXPORT_COLUMNS

    body, _ = update_alerts("", "", "90d", "", "all", "", "")
    grid = by_id(body, "alerts-grid")
    keys = grid.csvExportParams["columnKeys"]
    assert keys == [k for k, _ in EXPORT_COLUMNS]
    hidden = [c["field"] for c in grid.columnDefs if c.get("hide")]
    assert hidden == keys  # their own columns, none a shown one's
    stored = {r[0]: r for r in sql_alerts_full(tiny_city)}
    assert grid.rowData
    for row in grid.rowData:
        alert_id, value, raised, cleared = stored[int(row["id"])]
        assert row["stored_value"] == value
        assert row["raised_at"].endswith("+00:00") and "CET" not in row["raised_at"]
        assert row["raised_at"][:16] == str(raised).replace(" ", "T")[:16]
        assert (row["cleared_at"] == "") is (cleared is None)
    ratio = [r for r in grid.rowData if r["stored_unit"] == "ratio"]
    assert all(r["unit"] == "%" and r["stored_value"] <= 1.5 for r in ratio)


def sql_alerts_full(settings: Settings) -> list[tuple[Any, ...]]:
    with get_engine(settings.resolved_database_url).connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT id, value, raised_at, cleared_at FROM alerts"))]



@pytest.fixture(scope="module")
def spread_city(tiny_city: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A copy of the tiny city with one more active alert on a waste asset in each of two
    districts (the tiny city's own active alerts are all in one district)."""
    import sqlite3

    from sqlalchemy import insert, select

    from dashboard.model import Alert, Asset
    from dashboard.store import bump_data_version

    var_dir = tmp_path_factory.mktemp("spread-city")
    source = Path(tiny_city.resolved_database_url.removeprefix("sqlite:///"))
    settings = Settings(var_dir=var_dir, database_url="", redis_url=None, now=tiny_city.now)
    with sqlite3.connect(source) as original, sqlite3.connect(
            settings.resolved_database_url.removeprefix("sqlite:///")) as copy:
        original.backup(copy)  # with what the tiny city's open engine holds in its WAL
    engine = get_engine(settings.resolved_database_url)
    with engine.begin() as conn:
        waste = conn.execute(select(Asset.pk, Asset.district_id)
                             .where(Asset.domain == "waste", Asset.district_id.is_not(None))
                             .order_by(Asset.district_id.desc(), Asset.pk)).all()
        picked = [next(w for w in waste if w[1] == d)
                  for d in sorted({w[1] for w in waste}, reverse=True)[:2]]
        for hours, (pk, district) in enumerate(picked, start=1):
            conn.execute(insert(Alert).values(
                asset_pk=pk, metric="WasteContainer.fillingLevel", rule="test_full",
                severity="warning", raised_at=tiny_city.current_time() - timedelta(hours=hours),
                cleared_at=None, value=0.97, district_id=district))
        bump_data_version(conn)
    return settings

def _active_by_district(settings: Settings, domains: set[str] | None = None) -> Counter[str]:
    """Active alerts per district (of ``domains``, else of every domain), in plain SQL."""
    return Counter(a[3] for a in sql_alerts(settings, "a.cleared_at IS NULL")
                   if (domains is None or a[2] in domains) and a[3] is not None)


def test_active_elsewhere_counts_the_other_districts_like_plain_sql(
        spread_city: Settings) -> None:
    from dashboard.queries.alerts import active_elsewhere

    every = _active_by_district(spread_city)
    assert len(every) >= 3
    here = every.most_common()[-1][0]
    got = active_elsewhere(spread_city, here)
    assert {e["district_id"]: e["count"] for e in got} == {
        d: n for d, n in every.items() if d != here}
    assert [e["count"] for e in got] == sorted((e["count"] for e in got), reverse=True)
    assert active_elsewhere(spread_city, here, severity="no-such") == []
    waste = active_elsewhere(spread_city, here, domains={"waste"})
    assert {e["district_id"]: e["count"] for e in waste} == {
        d: n for d, n in _active_by_district(spread_city, {"waste"}).items() if d != here}


def test_a_department_head_on_a_calm_district_sees_where_their_alerts_are(
        spread_city: Settings) -> None:
    """waste.head opens on their home district; when the department's active alerts are
    elsewhere, the overview and the alerts page name those districts and link there."""
    from dashboard.auth import DEPARTMENT_HEAD
    from dashboard.queries.departments import department_domains
    from app import create_app
    from layouts import alerts, overview
    from tests.conftest import acting_as

    department = "Residuos y Limpieza"
    waste = _active_by_district(spread_city, department_domains(spread_city, department) or set())
    assert len(waste) >= 2
    calm = next(d for d in _district_ids(spread_city) if d not in waste)
    app = create_app(spread_city)
    with app.server.app_context(), acting_as(DEPARTMENT_HEAD, (department,), (calm,)):
        for page, path in ((overview.layout(), "/"), (alerts.layout(), "/alerts")):
            notes = [n for n in walk(page) if getattr(n, "className", "") == "alerts-elsewhere"]
            assert len(notes) == 1, path
            links = {n.href: n.children for n in walk(notes[0]) if hasattr(n, "href")}
            assert len(links) == len(waste)
            for district, count in waste.items():
                href = next(h for h in links if f"district={district}" in h)
                assert href.startswith(path + "?") and links[href].endswith(f"({count})")
                assert "department=Residuos" in href
    busy = waste.most_common()[0][0]
    with app.server.app_context(), acting_as(DEPARTMENT_HEAD, (department,), (busy,)):
        page = alerts.layout()
        notes = [n for n in walk(page) if getattr(n, "className", "") == "alerts-elsewhere"]
        assert len(notes) == 1 and f"district={busy}" not in str(notes[0])
        assert "more active alerts" in str(notes[0]) or "more active alert " in str(notes[0])


def _district_ids(settings: Settings) -> list[str]:
    with get_engine(settings.resolved_database_url).connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT id FROM districts ORDER BY id"))]


def test_the_grid_sort_is_kept_in_the_link_and_across_filter_changes(
        in_app: None, tiny_city: Settings) -> None:
    from callbacks.alerts import update_alerts
    from layouts.alerts import layout

    def sorts(tree: Any) -> dict[str, str]:
        return {c["field"]: c["sort"] for c in by_id(tree, "alerts-grid").columnDefs
                if c.get("sort")}

    assert sorts(layout(sort="-value", period="90d")) == {"value": "desc"}
    assert sorts(layout(period="90d")) == {}  # most urgent first, as the server sends them
    state = [{"colId": "raised", "sort": "asc", "sortIndex": 0}, {"colId": "asset"}]
    body, _ = update_alerts("", "", "30d", "", "all", "", "", None, state)
    assert sorts(body) == {"raised": "asc"}
