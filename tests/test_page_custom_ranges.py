"""Custom ranges on the district and domain pages: a ``from=..&to=..`` link (or the range
picker) narrows their KPIs to those local days, as on the overview, the API and the CLI;
forged periods fall back to the default."""
from __future__ import annotations

from typing import Any

import pytest

from dashboard import queries
from dashboard.periods import kpi_window
from dashboard.queries import district as dq
from dashboard.settings import Settings
from tests.tree import by_id, text_of, walk

DAYS = ("2026-11-10", "2026-11-19")  # ten local days of the tiny city (it ends 23 Nov)


@pytest.fixture(scope="module")
def district(tiny_city: Settings) -> str:
    return queries.district_options(tiny_city)[0]["id"]


def _spec(settings: Settings) -> str:
    return kpi_window("/".join(DAYS), settings.current_time(), settings.timezone)


def _kpi_values(tree: Any) -> list[str]:
    return [text_of(c) for c in walk(tree)
            if "kpi-card__value" in (getattr(c, "className", None) or "").split()]


def test_a_district_link_with_a_range_shows_those_days(in_app: None, tiny_city: Settings,
                                                       district: str) -> None:
    from layouts.district import layout

    tree = layout(district_id=district, **{"from": "2026-11-09T23:00Z",
                                           "to": "2026-11-19T23:00Z"})
    assert by_id(tree, "district-period").value == _spec(tiny_city)
    subtitle = text_of(by_id(tree, "district-subtitle"))
    assert "chosen period" in subtitle and "10 Nov – 19 Nov 2026" in subtitle
    ranged = dq.kpi_comparison(tiny_city, district, _spec(tiny_city))
    month = dq.kpi_comparison(tiny_city, district, "month")
    assert ranged["rows"] != month["rows"]  # the range's own numbers, not the default's
    table = text_of(by_id(tree, "district-chart-table"))
    shown = [r for r in ranged["rows"] if r["value"] is not None]
    assert shown and all(r["name"]["en"] in table for r in shown)
    requests = text_of(by_id(tree, "district-requests"))
    assert "in 10 Nov – 19 Nov 2026 · median" in requests


def test_the_district_callbacks_follow_a_range_and_ignore_forged_periods(
        in_app: None, tiny_city: Settings, district: str) -> None:
    from callbacks.district import update_view

    ranged = update_view(None, _spec(tiny_city), None, district)
    assert "10 Nov – 19 Nov 2026" in ranged[0]
    default = update_view(None, "30d", None, district)
    for forged in ("forever", "2026-13-01T00:00Z/2026-13-02T00:00Z", "2027-01-01/2027-02-01"):
        assert update_view(None, forged, None, district)[0] == default[0]


def test_a_domain_link_with_a_range_shows_those_days(in_app: None, tiny_city: Settings) -> None:
    from callbacks.domain import update_numbers
    from layouts.domain import layout

    query = {"from": "2026-11-09T23:00Z", "to": "2026-11-19T23:00Z"}
    tree = layout(domain="environment", **query)
    assert by_id(tree, "domain-period").value == _spec(tiny_city)
    assert "10 Nov – 19 Nov 2026" in text_of(by_id(tree, "domain-subtitle"))
    ranged = [k for k in queries.overview(tiny_city, None, _spec(tiny_city))["kpis"]
              if k["domain"] == "environment"]
    month = [k for k in queries.overview(tiny_city, None, "month")["kpis"]
             if k["domain"] == "environment"]
    assert [k["value"] for k in ranged] != [k["value"] for k in month]
    # readings up to the range's end are fresh for it, however long ago it ended
    assert ranged and not any(k["stale"] for k in ranged)
    cards = _kpi_values(by_id(tree, "domain-kpis"))
    assert len(cards) == len(ranged)
    assert all(f"{k['value']:.{k['decimals']}f}" in card for k, card in zip(ranged, cards,
                                                                           strict=True))
    out = update_numbers(None, None, _spec(tiny_city), None, "environment")
    assert "10 Nov – 19 Nov 2026" in out[0]
    assert _kpi_values(out[1]) == cards
