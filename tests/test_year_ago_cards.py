"""KPI cards compared with the same window a year before (overview and domain pages), and
the overview's map shaded by a department's KPIs only."""
from __future__ import annotations

from pathlib import Path

import pytest

from dashboard import queries
from dashboard.kpis.scoring import city_score
from dashboard.queries import district as dq
from dashboard.settings import Settings
from tests.test_district_page import yearton
from tests.tree import text_of, with_class


def test_with_year_ago_adds_the_value_a_year_before(tmp_path: Path) -> None:
    from layouts.components import kpi_card

    settings = yearton(tmp_path)
    kpis = queries.overview(settings, "yearton-01", "week")["kpis"]
    found = {k["id"]: k for k in dq.with_year_ago(settings, "week", "yearton-01", kpis)}
    waste = found["waste_fill"]
    assert waste["value"] == pytest.approx(30) and waste["year_ago"] == pytest.approx(50)
    # A KPI in % changes in percentage points: 50 % -> 30 % is 20 points down, not "40 %".
    assert waste["year_change"] == pytest.approx(-20) and waste["year_change_unit"] == "pp"
    assert waste["year_improving"] is True
    assert all(k["year_ago"] is None and k["year_change"] is None
               for key, k in found.items() if key != "waste_fill")
    words = text_of(kpi_card(waste, now=settings.current_time()))
    assert "A year before: 50 %" in words and "20 pp" in words and "improving" in words
    trend = with_class(kpi_card(waste, now=settings.current_time()), "trend")[0]
    assert trend.title == "Down vs the same window a year before"
    plain = next(k for k in kpis if k["id"] == "waste_fill")
    assert "A year before" not in text_of(kpi_card(plain, now=settings.current_time()))


def test_overview_cards_follow_the_comparison(in_app: None, tiny_city: Settings) -> None:
    from callbacks.overview import query_string, sync_url, update_numbers

    _, _, _, cards, _ = update_numbers("", "week", "", "year")
    before = {k["id"]: k["year_ago"] for k in dq.with_year_ago(
        tiny_city, "week", None, queries.overview(tiny_city, None, "week")["kpis"])}
    assert [card.id["kpi"] for card in cards] == list(before)
    for card in cards:
        known = before[card.id["kpi"]] is not None
        assert len(with_class(card, "kpi-card__year")) == known
        assert ("No data a year before" in text_of(card)) != known
    _, _, _, plain, _ = update_numbers("", "week", "", "")
    assert not any(with_class(card, "kpi-card__year") for card in plain)
    assert sync_url("", "week", "", "", "year") == "?period=7d&compare=year"
    assert query_string("", "month", "", "Aguas", "year").endswith("department=Aguas&compare=year")
    # the links onward keep the comparison (the district and domain pages accept it)
    hrefs = [c.href for card in cards for c in with_class(card, "kpi-card__domain")]
    assert hrefs and all("compare=year" in h for h in hrefs)


def test_domain_cards_compare_with_a_year_before(in_app: None) -> None:
    from callbacks.domain import update_numbers

    _, cards, _ = update_numbers("", "", "7d", "year", "environment")
    assert cards and all("a year before" in text_of(c) for c in cards)
    _, cards, _ = update_numbers("", "", "7d", "previous", "environment")
    assert cards and not any("a year before" in text_of(c) for c in cards)


def test_the_map_is_shaded_by_the_departments_kpis(in_app: None, tiny_city: Settings) -> None:
    from callbacks.overview import shade_districts

    department = "Residuos y Limpieza"
    table = queries.kpi_table(tiny_city, "month", department)
    shaded = queries.district_scores(tiny_city, "month", None, department)
    every = queries.district_scores(tiny_city, "month", None)
    differ = 0
    for feature, whole in zip(shaded["features"], every["features"], strict=True):
        place = table["places"][feature["id"]]
        want = city_score(k["score"] for k in place["kpis"])
        assert feature["properties"]["score"] == pytest.approx(want)
        differ += feature["properties"]["score"] != whole["properties"]["score"]
    assert differ  # a department's score is not the all-KPI score
    data, _ = shade_districts("month", "", department)
    assert [f["properties"]["score"] for f in data["features"]] == pytest.approx(
        [f["properties"]["score"] for f in shaded["features"]])
