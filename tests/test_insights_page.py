"""The Citizen insights page on the tiny city: the numbers shown equal the read models', a
department head stays in their department whatever is asked, small groups are hidden and
no personal data reaches the page."""
from __future__ import annotations

import json
from typing import Any

import dash
import plotly
import pytest
from sqlalchemy import text

from dashboard.auth import DEPARTMENT_HEAD, OFFICIAL
from dashboard.periods import period_for
from dashboard.queries.engagement import (
    AGE_BANDS,
    digital_divide,
    interactions,
    repeat_contacts,
)
from dashboard.queries.equity import equity_gap
from dashboard.settings import Settings
from dashboard.store import get_engine
from layouts import format_number
from tests.conftest import acting_as
from tests.tree import by_id, text_of, walk, with_class

WASTE = "Residuos y Limpieza"
WASTE_DOMAINS = {"services", "waste"}


def window(settings: Settings, spec: str) -> tuple[Any, Any]:
    period = period_for(spec, settings.current_time())
    return period.start, period.end


def tile_value(tree: Any, name: str) -> str:
    tile = by_id(tree, f"insights-tile-{name}")
    return text_of(with_class(tile, "insights-tile__value")[0])


def table_rows(tree: Any, caption: str) -> list[list[str]]:
    """The body rows (cell texts) of the table with ``caption``."""
    for node in walk(tree):
        kids = getattr(node, "children", None)
        if type(node).__name__ == "Table" and isinstance(kids, list) \
                and text_of(kids[0]) == caption:
            body = kids[2]
            return [[text_of(cell) for cell in row.children] for row in body.children]
    raise AssertionError(f"no table captioned {caption!r}")


def all_strings(tree: Any) -> str:
    """Every prop of every component (figures included) as one JSON text."""
    parts = []
    for node in walk(tree):
        props = {name: getattr(node, name, None) for name in node._prop_names
                 if name != "children" or isinstance(getattr(node, name, None), str)}
        parts.append(json.dumps(props, cls=plotly.utils.PlotlyJSONEncoder,
                                ensure_ascii=False))
    return "\n".join(parts)


def test_page_is_registered_for_staff(tiny_app: Any) -> None:
    page = next(p for p in dash.page_registry.values() if p["path"] == "/insights")
    assert page["name"] == "Citizen insights" and page["order"] == 5
    assert set(page["roles"]) == {"department_head", "official", "admin"}
    assert set(page["callback_ids"]) == {"insights-"}


def test_layout_shows_the_read_models_numbers(in_app: None, tiny_city: Settings) -> None:
    from layouts.insights import in_unit, layout

    with acting_as(OFFICIAL):
        page = layout()
    start, end = window(tiny_city, "30d")
    found = interactions(tiny_city, start, end)
    assert tile_value(page, "per1000") == format_number(found["city"]["per_1000"], 1)
    district = found["districts"][3]
    rows = table_rows(page, "Interactions per 1,000 residents by district and channel")
    row = next(r for r in rows if r[0] == district["district_name"])
    assert row[2] == format_number(district["total"])
    assert row[3] == format_number(district["per_1000"], 2)
    channels = by_id(page, "insights-channels").figure
    shown = sum(t["x"][t["y"].index(district["district_name"])] for t in channels["data"])
    assert shown == pytest.approx(district["per_1000"])

    repeats = repeat_contacts(tiny_city, start, end)
    mine = next(d for d in repeats["districts"] if d["district_id"] == district["district_id"])
    rows = table_rows(page, "Repeat contacts and days to resolve, by district")
    row = next(r for r in rows if r[0] == district["district_name"])
    assert row[1] == format_number(mine["requests"])
    assert row[2] == (f"{mine['share'] * 100:.1f}%" if mine["requests"] >= 5 else "<5")

    kpi = next(k for k in equity_gap(tiny_city)["kpis"] if k["id"] == "waste_fill")
    assert kpi["latest_gap"] is not None
    cells = [text_of(c) for c in by_id(page, "insights-gap-waste_fill").children]
    names = equity_gap(tiny_city)["district_names"]
    latest = kpi["series"][-1]
    assert cells[1].startswith(names[latest["best_district"]])
    assert cells[2].startswith(names[latest["worst_district"]])
    assert cells[3] == in_unit(kpi["latest_gap"], kpi)
    assert any(word in cells[5] for word in ("Narrowing", "Widening", "Unchanged",
                                              "Not enough history"))
    assert by_id(page, "insights-department").value == ""


def test_equity_rows_come_largest_relative_gap_first(in_app: None, tiny_city: Settings) -> None:
    from layouts.insights import relative_gap

    with acting_as(OFFICIAL):
        from layouts.insights import layout

        page = layout(period="7d")
    table = by_id(page, "insights-equity")
    shown = [row.id.removeprefix("insights-gap-") for row in table.children[2].children]
    kpis = {k["id"]: k for k in equity_gap(tiny_city)["kpis"]}
    assert set(shown) == set(kpis)
    gaps = [relative_gap(kpis[k]) for k in shown]
    known = [g for g in gaps if g is not None]
    assert known == sorted(known, reverse=True) and gaps[:len(known)] == known


def test_department_head_cannot_forge_another_department(in_app: None,
                                                         tiny_city: Settings) -> None:
    from callbacks.insights import update_insights
    from layouts.insights import layout

    start, end = window(tiny_city, "30d")
    mine = interactions(tiny_city, start, end, departments=[WASTE])
    everyone = interactions(tiny_city, start, end)
    assert mine["city"]["total"] != everyone["city"]["total"]
    with acting_as(DEPARTMENT_HEAD, departments=(WASTE,)):
        page = layout(department="Movilidad")
        body, subtitle = update_insights("Movilidad", "30d")
        body_all, _ = update_insights("", "30d")
    assert by_id(page, "insights-department").value == WASTE
    assert subtitle.startswith(WASTE)
    for tree in (page, body, body_all):
        assert tile_value(tree, "per1000") == format_number(mine["city"]["per_1000"], 1)
        total = text_of(with_class(by_id(tree, "insights-tile-per1000"),
                                   "insights-tile__note")[0])
        assert total.startswith(format_number(mine["city"]["total"]))
        assert "left out" in text_of(by_id(tree, "insights-scope-note"))
        table = by_id(tree, "insights-equity")
        shown = {row.id.removeprefix("insights-gap-") for row in table.children[2].children}
        domains = {k["id"]: k["domain"] for k in equity_gap(tiny_city)["kpis"]}
        assert shown and {domains[k] for k in shown} <= WASTE_DOMAINS
        assert shown == {k for k, d in domains.items() if d in WASTE_DOMAINS}


def test_changing_the_period_returns_its_numbers(in_app: None, tiny_city: Settings) -> None:
    from callbacks.insights import update_insights

    with acting_as(OFFICIAL):
        week, week_title = update_insights("", "7d")
        quarter, _ = update_insights("", "90d")
    for tree, spec in ((week, "7d"), (quarter, "90d")):
        found = interactions(tiny_city, *window(tiny_city, spec))
        assert tile_value(tree, "per1000") == format_number(found["city"]["per_1000"], 1)
    assert tile_value(week, "per1000") != tile_value(quarter, "per1000")
    assert "last 7 days" in week_title


def test_groups_under_five_show_as_small(in_app: None, tiny_city: Settings) -> None:
    from layouts.insights import layout

    with acting_as(OFFICIAL):
        page = layout()
    found = digital_divide(tiny_city, *window(tiny_city, "30d"))
    names = {d["district_id"]: d["district_name"] for d in found["districts"]}
    small = [c for c in found["cells"] if c["total"] < 5]
    assert small, "the tiny city has age groups of fewer than 5 interactions"
    rows = {r[0]: r[1:] for r in table_rows(page, "Digital share by district and age band")}
    for cell in found["cells"]:
        shown = rows[names[cell["district_id"]]][AGE_BANDS.index(cell["band"])]
        if cell["total"] < 5:
            assert shown == "<5"
        else:
            assert shown == f"{cell['digital_share'] * 100:.0f}%"


def test_small_groups_are_hidden_in_tables_too() -> None:
    from layouts.insights_parts import divide_rows

    groups = [{"band": "65+", "total": 3, "digital": 1, "assisted": 2, "digital_share": 1 / 3},
              {"band": "30-44", "total": 5, "digital": 5, "assisted": 0, "digital_share": 1.0}]
    _, rows = divide_rows(groups, "band", "Age band")
    assert rows[0] == {"band": "65+", "total": "<5", "digital": "<5", "assisted": "<5",
                       "share": "<5"}
    assert rows[1]["share"] == "100%" and rows[1]["total"] == "5"


def test_no_personal_data_anywhere(in_app: None, tiny_city: Settings) -> None:
    from layouts.insights import layout

    with get_engine(tiny_city.resolved_database_url).connect() as conn:
        people = conn.execute(text("SELECT name, email, phone FROM citizens")).all()
    assert people
    with acting_as(OFFICIAL):
        pages = [layout(period=p) for p in ("30d", "all")]
    with acting_as(DEPARTMENT_HEAD, departments=(WASTE,)):
        pages.append(layout())
    for page in pages:
        blob = all_strings(page)
        assert "Castilla-Hermida" in blob or "Centro" in blob  # the walk reaches the data
        for person in people:
            for value in person:
                if value and len(value) > 3:
                    assert value not in blob, "personal data on the insights page"


def test_ids_and_headings(in_app: None) -> None:
    from layouts.insights import layout

    with acting_as(OFFICIAL):
        page = layout()
    named = [c.id for c in walk(page) if getattr(c, "id", None)]
    assert named and all(isinstance(i, str) and i.startswith("insights-") for i in named)
    levels = [int(type(c).__name__[1]) for c in walk(page)
              if type(c).__name__ in ("H1", "H2", "H3")]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False))
    graphs = [c for c in walk(page) if type(c).__name__ == "Graph"]
    assert graphs and all(c.figure["layout"].get("height") for c in graphs)


def _kpi(gaps: list[float | None]) -> dict[str, Any]:
    ends = [f"2026-{m:02d}-01T00:00:00+02:00" for m in range(6, 6 + len(gaps))]
    series = [{"end": e, "gap": g, "relative_gap": None if g is None else g / 60,
               "best_district": "d1", "best": 70.0, "worst_district": "d2",
               "worst": 70.0 - (g or 0)} for e, g in zip(ends, gaps, strict=True)]
    before = gaps[-2] if len(gaps) > 1 else None
    latest = gaps[-1]
    change = None if before is None or latest is None else latest - before  # points
    return {"id": "digital_share", "name": {"en": "Requests made online"},
            "domain": "digital_inclusion", "unit": "%", "decimals": 0, "series": series,
            "latest_gap": latest, "change": change, "change_unit": "pp",
            "compared_with": ends[-2] if len(ends) > 1 else None,
            "narrowing": None if change is None else latest < before}


def test_trend_says_narrowing_or_widening_in_words_with_a_sparkline() -> None:
    from layouts.insights import equity_row, trend_of

    tz = "Europe/Madrid"
    # Every row compares with the previous window, in points for a KPI in %.
    assert trend_of(_kpi([None, 20.0, 15.0]), tz) == (
        "▼", "Narrowing: 5 pp smaller than in the 30 days to 30 Jun", "improving")
    assert trend_of(_kpi([10.0, 12.0, 15.0]), tz)[:2] == (
        "▲", "Widening: 3 pp larger than in the 30 days to 30 Jun")
    assert trend_of(_kpi([10.0, None, 15.0]), tz)[1] == "Not enough history yet"
    assert trend_of(_kpi([None, None, 15.0]), tz)[1] == "Not enough history yet"
    assert trend_of(_kpi([12.0, 12.0]), tz)[0] == "●"
    assert trend_of(_kpi([None, None]), tz)[1] == "No district data"
    row = equity_row(_kpi([20.0, 18.0, 15.0]), {"d1": "North", "d2": "South"}, tz)
    assert row.id == "insights-gap-digital_share"
    cells = [text_of(c) for c in row.children]
    assert cells[1:4] == ["North (70%)", "South (55%)", "15 pp"]
    assert "▼" in cells[5] and "Narrowing" in cells[5]
    spark = by_id(row, "insights-gap-spark-digital_share")
    assert spark.figure["data"][0]["y"] == [20.0, 18.0, 15.0]
    empty = equity_row(_kpi([None, None]), {}, tz)
    assert "No district data" in text_of(empty)


def test_repeat_share_of_few_requests_is_hidden() -> None:
    from layouts.insights_parts import resolution_rows

    stats = {"closed": 2, "median_days": 1.0, "p90_days": 2.0}
    data = {"repeats": {"districts": [{"district_id": "d1", "district_name": "North",
                                       "requests": 4, "repeats": 1, "share": 0.25}],
                        "city": {"requests": 40, "repeats": 4, "share": 0.1}},
            "resolution": {k: {"districts": [{"district_id": "d1", **stats}], "city": stats}
                           for k in ("requests", "cases")}}
    north, city = resolution_rows(data)
    assert north["repeat"] == "<5" and north["r_median"] == "1.0 d"
    assert city["district"] == "Whole city" and city["repeat"] == "10.0%"
