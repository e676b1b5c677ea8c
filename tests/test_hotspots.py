"""Hotspots on the service-requests page: places (H3 cells) with repeated requests in the
period, filtered like the page, told by their most common address, exported as CSV."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import h3
import pytest
from sqlalchemy import insert

from connectors.base import Mapped
from connectors.storing import store_batch
from dashboard.model import District
from dashboard.queries.hotspots import HOTSPOT_FIELDS, RESOLUTION, hotspots
from dashboard.queries.services import RequestScope
from dashboard.settings import Settings
from dashboard.store import get_engine

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
SQUARE = {"type": "Polygon", "coordinates": [[[-3.9, 43.4], [-3.7, 43.4], [-3.7, 43.5],
                                              [-3.9, 43.5], [-3.9, 43.4]]]}
MARKET = (43.4620, -3.8050)  # a spot with repeated potholes
SCHOOL = (43.4700, -3.7900)  # repeated litter, another department
QUIET = (43.4500, -3.8300)  # only two requests


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(var_dir=tmp_path_factory.mktemp("hotspots"), database_url="",
                        redis_url=None, now=NOW)
    rows = []

    def add(spot: tuple[float, float], code: str, dept: str, address: str, days: float,
            closed: bool = False, jitter: float = 0.0) -> None:
        n = len(rows)
        requested = NOW - timedelta(days=days)
        rows.append({"id": f"H-{n}", "service_code": code, "service_name": code.title(),
                     "department": dept, "status": "closed" if closed else "open",
                     "requested_at": requested,
                     "closed_at": requested + timedelta(hours=5) if closed else None,
                     "lat": spot[0] + jitter, "lon": spot[1], "address": address,
                     "district_id": "d1", "channel": "app"})

    for n, address in enumerate(["Plaza del Mercado 1", "Plaza del Mercado 1",
                                 "Plaza Mercado, 1", "Plaza del Mercado 1"]):
        add(MARKET, "pothole", "Obras", address, days=n + 1, closed=n == 0,
            jitter=n * 0.00005)
    for n in range(3):
        add(SCHOOL, "litter", "Limpieza", "", days=n + 2)
    add(QUIET, "pothole", "Obras", "Calle Tranquila 3", days=3)
    add(QUIET, "pothole", "Obras", "Calle Tranquila 3", days=4)
    add(MARKET, "pothole", "Obras", "Plaza del Mercado 1", days=200)  # outside 90 days
    with get_engine(settings.resolved_database_url).begin() as conn:
        conn.execute(insert(District), [{"id": "d1", "name": "Centro", "geometry": SQUARE}])
        stored, refused = store_batch(conn, settings, [({}, Mapped(service_requests=rows))],
                                      "test")  # as every connector stores: cells kept
    assert stored == 1 and not refused
    return settings


def test_places_with_three_or_more_requests_in_the_period(city: Settings) -> None:
    found = hotspots(city, RequestScope(), "30d")
    assert [(h["place"], h["requests"], h["open"]) for h in found] == [
        ("Plaza del Mercado 1", 4, 3),
        (f"around {h3.cell_to_latlng(h3.latlng_to_cell(*SCHOOL, RESOLUTION))[0]:.5f}, "
         f"{h3.cell_to_latlng(h3.latlng_to_cell(*SCHOOL, RESOLUTION))[1]:.5f}", 3, 3)]
    market = found[0]
    assert market["services"] == "Pothole (4)" and market["district_name"] == "Centro"
    assert market["cell"] == h3.latlng_to_cell(*MARKET, RESOLUTION)
    assert list(market) == list(HOTSPOT_FIELDS)


def test_hotspots_follow_the_page_filters(city: Settings) -> None:
    assert [h["services"] for h in hotspots(city, RequestScope(department="Limpieza"),
                                            "30d")] == ["Litter (3)"]
    assert hotspots(city, RequestScope(district="elsewhere"), "30d") == []
    assert [h["requests"] for h in hotspots(city, RequestScope(service="pothole"),
                                            "12m")] == [5]  # the old one counts in a year
    assert hotspots(city, RequestScope(), "24h") == []


def test_the_page_lists_and_exports_them(city: Settings, tiny_app: object) -> None:
    from flask import Flask

    from callbacks.services import export_file
    from layouts import SETTINGS_KEY
    from layouts.services import view_of
    from layouts.services_parts import hotspot_table
    from tests.tree import text_of

    table = text_of(hotspot_table(hotspots(city, RequestScope(), "30d")))
    assert "Plaza del Mercado 1" in table and "Litter (3)" in table
    server = Flask("hotspots-export")
    server.config[SETTINGS_KEY] = city
    with server.app_context():
        view = view_of(city, None, None, "30d", None, None, None)
        sent = export_file("hotspots", view)
    assert sent is not None and sent["filename"].endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(sent["content"])))
    assert [r["place"] for r in rows][0] == "Plaza del Mercado 1"
    assert list(rows[0]) == list(HOTSPOT_FIELDS) and rows[0]["requests"] == "4"


def test_no_place_is_a_note_not_an_empty_table() -> None:
    from layouts.services_parts import hotspot_table
    from tests.tree import text_of

    assert "No place has three or more requests" in text_of(hotspot_table([]))


def test_the_page_shows_the_busiest_and_says_the_csv_has_them_all() -> None:
    from layouts.services_parts import HOTSPOTS_SHOWN, hotspot_table
    from tests.tree import text_of, walk

    rows = [{"place": f"Calle {n}", "requests": 40 - n, "open": 1, "services": "Bache (3)",
             "district_id": "", "district_name": "No district", "cell": "x"}
            for n in range(HOTSPOTS_SHOWN + 5)]
    table = hotspot_table(rows)
    shown = [n for n in walk(table) if getattr(n, "scope", None) == "row"]
    assert len(shown) == HOTSPOTS_SHOWN
    assert f"The {HOTSPOTS_SHOWN} busiest of {HOTSPOTS_SHOWN + 5} places" in text_of(table)
