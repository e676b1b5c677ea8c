"""Regressions for the numbers a live, partial city got wrong (issue 15): a year of a city
with weeks of data, comparisons without data behind them, changes of percentages."""
from __future__ import annotations

import pytest

from dashboard import queries
from dashboard.kpis.scoring import change_improving, kpi_change, score_change
from dashboard.settings import Settings
from layouts.components import city_score_badge, kpi_card
from tests.tree import text_of

RATES = ("water_per_resident", "safety_reports")  # per day / per 30 days: divide by time


def _by_id(settings: Settings, window: str) -> dict[str, dict]:
    return {k["id"]: k for k in queries.overview(settings, None, window)["kpis"]}


def test_a_year_of_a_city_with_weeks_of_data_is_partial_not_spread(tiny_city: Settings) -> None:
    """The tiny city has about two weeks of data. Over "12 months" its rates are those of the
    days it covers (as over the month), not spread over 365 days, and say they are partial."""
    month, year = _by_id(tiny_city, "month"), _by_id(tiny_city, "year")
    for kpi_id in RATES:
        assert year[kpi_id]["value"] == pytest.approx(month[kpi_id]["value"]), kpi_id
        assert year[kpi_id]["score"] == pytest.approx(month[kpi_id]["score"]), kpi_id
    for kpi in year.values():
        coverage = kpi["coverage"]
        assert coverage["unit"] == "day" and coverage["total"] == 365, kpi["id"]
        assert coverage["partial"] and 0 < coverage["covered"] <= 30, kpi["id"]
        assert coverage["covered"] == month[kpi["id"]]["coverage"]["covered"], kpi["id"]
    card = text_of(kpi_card(year["water_per_resident"], window="year"))
    covered = year["water_per_resident"]["coverage"]["covered"]
    assert f"partial: {covered} of 365 days" in card


def test_without_earlier_data_there_is_no_previous_score_trend_or_change(
        tiny_city: Settings) -> None:
    data = queries.overview(tiny_city, None, "year")
    score = data["city_score"]
    assert score["value"] is not None
    assert score["previous"] is None and score["trend"] is None
    assert score["kpis_scored"] == score["kpis_partial"] == len(data["kpis"])
    assert all(k["previous"] is None and k["change"] is None and k["trend"] is None
               for k in data["kpis"])
    badge = text_of(city_score_badge(score, window="year", kpi_count=len(data["kpis"])))
    assert "No earlier window to compare" in badge and "worsening" not in badge
    assert f"({len(data['kpis'])} on partial data)" in badge


def test_a_week_with_a_covered_previous_week_is_compared(tiny_city: Settings) -> None:
    week = queries.overview(tiny_city, None, "week")
    assert week["city_score"]["trend"] is not None
    assert any(k["previous"] is not None for k in week["kpis"])
    assert not any(k["coverage"]["partial"] for k in week["kpis"])


def test_percentages_change_in_points_and_near_zero_bases_in_units() -> None:
    # 81.7 % -> 74.3 % is 7.4 points down, not "9 %".
    assert kpi_change(74.3, 81.7, "%", 80) == (pytest.approx(-7.4), "pp")
    # 3 s -> 60 s of bus delay (target 120 s): "1,900 %" would mislead; 57 s does not.
    assert kpi_change(60, 3, "s", 120) == (57, "s")
    assert kpi_change(60, 50, "s", 120) == (pytest.approx(0.2), "%")
    assert kpi_change(None, 50, "s", 120) == (None, None)
    assert change_improving(-7.4, "pp", "higher", 1) is False
    assert change_improving(0.04, "pp", "higher", 1) is None  # rounds to 0.0 points
    assert change_improving(57, "s", "lower", 0) is False


def test_the_score_change_is_like_for_like() -> None:
    """A KPI that only has a value now does not move the comparison."""
    assert score_change([(1.2, 1.0), (0.8, None), (None, 0.5)]) == pytest.approx(0.2)
    assert score_change([(1.0, None)]) is None


def test_kpi_cards_show_points_for_percentages(tiny_city: Settings) -> None:
    week = _by_id(tiny_city, "week")
    kpi = week["sr_within_sla"]
    assert kpi["change_unit"] == "pp"
    words = " ".join(text_of(kpi_card(kpi, window="week")).split())
    arrow = "▲" if kpi["change"] > 0 else "▼"
    assert f"{arrow} {abs(kpi['change']):.{kpi['decimals']}f} pp" in words


def test_a_span_across_a_new_year_names_both_years(in_app: None) -> None:
    from layouts.overview import period_text

    text = period_text("year", "2025-11-20T23:00:00+00:00", "2026-11-20T23:00:00+00:00",
                       "Europe/Madrid")
    assert text == "Last 12 months · 21 Nov 2025 – 20 Nov 2026"
    week = period_text("week", "2026-11-13T23:00:00+00:00", "2026-11-20T23:00:00+00:00",
                       "Europe/Madrid")
    assert week == "Last 7 days · 14 Nov – 20 Nov 2026"


def test_one_vocabulary_of_periods_in_the_engine_and_the_pages() -> None:
    """90 days is 90 days and 12 months is a calendar year, in the KPI engine and in the
    pages' periods alike; "a year before" is the same date a year earlier."""
    from datetime import datetime, timezone

    from dashboard.kpis import window_for
    from dashboard.periods import KPI_WINDOW, period_for

    now = datetime(2028, 3, 10, 15, 20, tzinfo=timezone.utc)  # 2028 is a leap year
    quarter = window_for("quarter", now, "Europe/Madrid")
    assert round(quarter.days) == 90 == round(period_for("90d", now).length.days)
    assert KPI_WINDOW["90d"] == "quarter" and KPI_WINDOW["12m"] == "year"
    year = window_for("year", now, "Europe/Madrid")
    assert round(year.days) == 366  # 11 Mar 2027 to 10 Mar 2028, both whole local days
    twelve = period_for("12m", now)
    assert twelve.start == datetime(2027, 3, 10, 16, tzinfo=timezone.utc)
    assert twelve.year_ago().end == twelve.start  # a calendar year before, not 365 days
    assert year.year_ago().end == year.start
    assert year.previous().end == year.start and round(year.previous().days) == 365


def test_a_fill_level_reads_in_percent_on_alerts_and_the_asset_page(
        tiny_city: Settings, in_app: None) -> None:
    """One unit per metric: a container's fill level is stored as a ratio and read in %
    on the alert card, the alerts page and the asset page (it was "value 1.0", "0.963" and
    "1 ratio"); an asset with an active alert is not shown as plainly OK."""
    from dashboard.periods import period_for
    from dashboard.queries.alerts import alert_rows
    from dashboard.units import shown
    from layouts.asset import status_pill
    from layouts.components import alerts_list

    rows = alert_rows(tiny_city, period_for("12m", tiny_city.current_time()))["rows"]
    full = [r for r in rows if r["rule"].startswith("WasteContainer.fillingLevel")]
    assert full, "the tiny city has a full container"
    alert = full[0]
    assert alert["display_unit"] == "%"
    assert alert["display_value"] == pytest.approx(alert["value"] * 100)
    card = " ".join(text_of(alerts_list([alert], now=tiny_city.current_time())).split())
    assert f"value {alert['value'] * 100:.1f} %" in card
    assert shown(0.5, "ratio") == (50.0, "%") and shown(12.0, "µg/m³") == (12.0, "µg/m³")
    assert "OK" in text_of(status_pill("ok")) and "✓" in text_of(status_pill("ok"))
    flagged = text_of(status_pill("ok", 1))
    assert "✓" not in flagged and "1 active alert" in flagged
