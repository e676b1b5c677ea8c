"""The public kiosk's read models: hand-made stores (SQLite and PostgreSQL) with known
readings, numbers checked against plain Python, and the tiny demo city scanned for anything
personal in the kiosk's whole payload."""
from __future__ import annotations

import json
import random
import sqlite3
import statistics
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, insert, select, text

from dashboard.model import Asset, District, Notice, Service, ServiceRequest
from dashboard.queries import kpi_catalogue, overview
from dashboard.queries.kiosk import (
    air_band,
    air_now,
    data_version_of,
    headline,
    kiosk_data,
    load_kiosk,
    notices_now,
    office_status,
    parking_now,
    requests_progress,
    service_catalogue,
    transit_now,
)
from dashboard.settings import Settings
from dashboard.store import bump_data_version, get_engine, unit_of_work
from dashboard.store.observations import ingest_observations
from tests.conftest import PG_URL

NOW = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)  # a Monday, 21:00 in Madrid
H = timedelta(hours=1)
DAY = timedelta(days=1)
DISTRICTS = [("d1", "North"), ("d2", "South"), ("d3", "East"), ("d4", "West")]


# ---- a hand-made store --------------------------------------------------------------------

class Store:
    """Settings on a fresh store with four districts, and helpers that write and bump the
    data version (so cached read models see each change)."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.url = url
        self.settings = Settings(var_dir=tmp_path, database_url=url, redis_url=None, now=NOW)
        self.write(District, [{"id": i, "name": n, "geometry": {}, "population": 1000}
                              for i, n in DISTRICTS])

    def at(self, now: datetime) -> Settings:
        """The same store seen at another time."""
        return self.settings.model_copy(update={"now": now})

    def write(self, entity: Any, rows: list[dict[str, Any]]) -> None:
        with unit_of_work(get_engine(self.url)) as conn:
            conn.execute(insert(entity), rows)
            bump_data_version(conn)

    def asset(self, asset_id: str, asset_type: str, district: str | None = "d1",
              name: str = "", attributes: dict[str, Any] | None = None,
              readings: tuple[tuple[str, datetime, float], ...] | list[Any] = (),
              last_seen: datetime | None = None) -> None:
        """One asset and its readings (metric, time, value)."""
        self.write(Asset, [{"id": asset_id, "type": asset_type, "domain": "x", "name": name,
                            "district_id": district, "lat": 43.46, "lon": -3.8,
                            "attributes": attributes or {}, "last_seen": last_seen}])
        with get_engine(self.url).connect() as conn:
            pk = conn.execute(select(Asset.pk).where(Asset.id == asset_id)).scalar_one()
        if readings:
            with unit_of_work(get_engine(self.url)) as conn:
                ingest_observations(conn, pd.DataFrame(
                    [{"asset_pk": pk, "metric": m, "time": int(t.timestamp()), "value": v,
                      "unit": None} for m, t, v in readings]), self.settings.timezone)
                bump_data_version(conn)


@pytest.fixture
def store(fresh_engine: Engine, tmp_path: Path) -> Iterator[Store]:
    """A :class:`Store` on ``fresh_engine`` (SQLite file or a PostgreSQL schema)."""
    if fresh_engine.dialect.name == "sqlite":
        url = fresh_engine.url.render_as_string(hide_password=False)
    else:
        with fresh_engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    yield Store(url, tmp_path)
    get_engine(url).dispose()


# ---- air quality ----------------------------------------------------------------------------

@pytest.mark.parametrize(("readings", "band"), [
    ({"no2": 95, "pm10": 15}, "moderate"),  # the worst pollutant sets the band
    ({"no2": 125, "pm10": 15}, "poor"),
    ({"no2": 10, "pm10": 120}, "very_poor"),
    ({"no2": 40}, "good"),  # a bound belongs to the lower band
    ({"no2": 40.1}, "fair"),
    ({"no2": 340}, "very_poor"),
    ({"no2": 340.5}, "extremely_poor"),
    ({"pm10": 20, "pm25": 10, "o3": 50}, "good"),
    ({"pm25": 25.01}, "poor"),
    ({"o3": 380, "pm25": 0}, "very_poor"),
    ({"o3": 1000}, "extremely_poor"),
    ({"no2": None}, None),
    ({}, None),
])
def test_air_band_follows_the_eea_index(readings: dict[str, float | None],
                                        band: str | None) -> None:
    assert air_band(readings) == band


def test_air_now_means_the_fresh_latest_readings_per_district(store: Store) -> None:
    fresh, older = NOW - H, NOW - 5 * H
    store.asset("aq1", "AirQualityObserved", "d1", readings=[
        ("no2", older, 300.0), ("no2", fresh, 95.0), ("pm10", fresh, 15.0)])
    store.asset("aq2", "AirQualityObserved", "d2", readings=[
        ("no2", NOW - 2 * H, 30.0), ("pm10", NOW - 2 * H, 45.0)])
    store.asset("aq3", "AirQualityObserved", "d2", readings=[
        ("no2", NOW - 30 * timedelta(minutes=1), 50.0), ("pm10", fresh, 55.0),
        ("pm25", fresh, 8.0)])
    store.asset("aq4", "AirQualityObserved", "d3", readings=[("no2", NOW - 4 * H, 500.0)])
    store.asset("noise", "NoiseLevelObserved", "d4", readings=[("no2", fresh, 999.0)])

    air = air_now(store.settings)

    assert air["bands"] == ["good", "fair", "moderate", "poor", "very_poor", "extremely_poor"]
    by_id = {d["district_id"]: d for d in air["districts"]}
    assert list(by_id) == ["d1", "d2", "d3", "d4"]  # every district, to shade every polygon
    assert by_id["d1"] == {"district_id": "d1", "district_name": "North", "band": "moderate",
                           "pollutants": {"no2": 95.0, "pm10": 15.0}, "stations": 1}
    assert by_id["d2"]["pollutants"] == {"no2": 40.0, "pm10": 50.0, "pm25": 8.0}
    assert by_id["d2"]["band"] == "moderate" and by_id["d2"]["stations"] == 2
    assert by_id["d3"]["band"] is None and by_id["d3"]["stations"] == 0  # reading too old
    assert by_id["d4"] == {"district_id": "d4", "district_name": "West", "band": None,
                           "pollutants": {}, "stations": 0}
    assert air["city_band"] == "moderate"
    assert air["as_of"] == (NOW - 30 * timedelta(minutes=1)).isoformat()


# ---- car parks --------------------------------------------------------------------------------

def test_parking_now_latest_free_spaces_and_stale_sites(store: Store) -> None:
    store.asset("p1", "OffStreetParking", "d1", name="asset name",
                attributes={"name": "Plaza Mayor", "totalSpotNumber": 100},
                readings=[("availableSpotNumber", NOW - H, 5.0),
                          ("availableSpotNumber", NOW - 10 * timedelta(minutes=1), 30.0)])
    store.asset("p2", "OffStreetParking", "d2", name="Puerto",
                readings=[("availableSpotNumber", NOW - 5 * timedelta(minutes=1), 60.0),
                          ("occupancy", NOW - 5 * timedelta(minutes=1), 0.4)])
    store.asset("p3", "OffStreetParking", "d2", attributes={"totalSpotNumber": 90},
                readings=[("availableSpotNumber", NOW - 3 * H, 80.0)])
    store.asset("p4", "OffStreetParking", None, attributes={"totalSpotNumber": 50})

    parking = parking_now(store.settings)

    sites = parking["sites"]
    assert [s["id"] for s in sites] == ["p3", "p2", "p1", "p4"]  # most free first
    p3, p2, p1, p4 = sites
    assert p1 == {"id": "p1", "name": "Plaza Mayor", "district_id": "d1",
                  "district_name": "North", "lat": 43.46, "lon": -3.8, "free": 30,
                  "total": 100, "occupancy": 0.7,
                  "as_of": (NOW - 10 * timedelta(minutes=1)).isoformat(), "stale": False}
    assert (p2["name"], p2["free"], p2["total"], p2["occupancy"]) == ("Puerto", 60, 100, 0.4)
    assert (p3["name"], p3["free"], p3["stale"]) == ("p3", 80, True)  # older than 2 h
    assert (p4["free"], p4["as_of"], p4["stale"], p4["district_name"]) == (None, None, True,
                                                                            None)
    assert parking["totals"] == {"free": 90, "total": 200, "sites": 2}
    assert parking["as_of"] == (NOW - 5 * timedelta(minutes=1)).isoformat()
    # one minute short of two hours, the old site is still fresh
    later = parking_now(store.at(NOW - 61 * timedelta(minutes=1)))
    assert not next(s for s in later["sites"] if s["id"] == "p3")["stale"]


# ---- transit ----------------------------------------------------------------------------------

def test_transit_now_delay_per_route_longest_stops_and_vehicles(store: Store) -> None:
    minutes = timedelta(minutes=1)
    store.asset("s1", "GtfsStop", name="Stop One", attributes={"routes": ["L2", "L1"]},
                readings=[("delay", NOW - 50 * minutes, 600.0), ("delay", NOW - 10 * minutes,
                                                                  60.0)])
    store.asset("s2", "GtfsStop", name="Stop Two", attributes={"routes": ["L2"]},
                readings=[("delay", NOW - 20 * minutes, 180.0)])
    store.asset("s3", "GtfsStop", "d2", name="Stop Three", attributes={"routes": ["L10"]},
                readings=[("delay", NOW - 60 * minutes, 30.0)])
    store.asset("s4", "GtfsStop", "d2", name="Stop Four",
                readings=[("delay", NOW - 5 * minutes, 400.0)])
    store.asset("s5", "GtfsStop", name="Stop Five", attributes={"routes": ["L1"]},
                readings=[("delay", NOW - 2 * H, 900.0)])
    store.asset("v1", "Vehicle", last_seen=NOW - 5 * minutes)
    store.asset("v2", "Vehicle", readings=[("speed", NOW - 10 * minutes, 8.0)])
    store.asset("v3", "Vehicle", last_seen=NOW - H, readings=[("speed", NOW - H, 8.0)])

    transit = transit_now(store.settings)

    assert transit["available"] is True
    assert transit["routes"] == [
        {"route": "L1", "stops": 1, "mean_delay_s": 60.0, "max_delay_s": 60.0},
        {"route": "L2", "stops": 2, "mean_delay_s": 120.0, "max_delay_s": 180.0},
        {"route": "L10", "stops": 1, "mean_delay_s": 30.0, "max_delay_s": 30.0},
    ]
    assert [(s["name"], s["delay_s"]) for s in transit["longest"]] == [
        ("Stop Four", 400.0), ("Stop Two", 180.0), ("Stop One", 60.0), ("Stop Three", 30.0)]
    assert transit["longest"][2]["routes"] == ["L1", "L2"]
    assert transit["stops_reporting"] == 4
    assert transit["mean_delay_s"] == 167.5
    assert transit["vehicles_in_service"] == 2
    assert transit["as_of"] == (NOW - 5 * minutes).isoformat()


def test_transit_not_available_without_readings(store: Store) -> None:
    store.asset("s1", "GtfsStop", attributes={"routes": ["L1"]},
                readings=[("delay", NOW - 3 * H, 60.0)])
    transit = transit_now(store.settings)
    assert transit["available"] is False
    assert (transit["routes"], transit["longest"], transit["vehicles_in_service"]) == ([], [], 0)


# ---- notices ----------------------------------------------------------------------------------

def _notice(notice_id: str, kind: str, starts: datetime, ends: datetime | None,
            district: str | None) -> dict[str, Any]:
    return {"id": notice_id, "kind": kind, "title": {"es": f"t-{notice_id}", "en": notice_id},
            "body": {"es": "cuerpo", "en": "body"}, "starts_at": starts, "ends_at": ends,
            "place": "Plaza", "district_id": district}


def test_notices_now_window_order_and_district(store: Store) -> None:
    store.write(Notice, [
        _notice("old-news", "news", NOW - 20 * DAY, NOW - DAY, "d1"),
        _notice("news-d1", "news", NOW - 3 * DAY, NOW + 10 * DAY, "d1"),
        _notice("news-city", "news", NOW - DAY, None, None),
        _notice("event-now", "event", NOW - H, NOW + H, "d2"),
        _notice("event-soon", "event", NOW + 3 * DAY, NOW + 3 * DAY + 2 * H, "d1"),
        _notice("event-later", "event", NOW + 10 * DAY, NOW + 10 * DAY + H, None),
        _notice("event-over", "event", NOW - 3 * H, NOW - H, None),
    ])

    found = notices_now(store.settings)
    assert [n["id"] for n in found] == ["event-now", "event-soon", "news-city", "news-d1"]
    first = found[0]
    assert first == {"id": "event-now", "kind": "event",
                     "title": {"es": "t-event-now", "en": "event-now"},
                     "body": {"es": "cuerpo", "en": "body"},
                     "starts_at": (NOW - H).isoformat(), "ends_at": (NOW + H).isoformat(),
                     "place": "Plaza", "district_id": "d2", "district_name": "South",
                     "happening_now": True}
    assert [n["happening_now"] for n in found] == [True, False, True, True]
    assert found[2]["ends_at"] is None and found[2]["district_name"] is None

    in_d1 = notices_now(store.settings, district="d1")
    assert [n["id"] for n in in_d1] == ["event-soon", "news-city", "news-d1"]
    fortnight = notices_now(store.settings, days=14)
    assert "event-later" in [n["id"] for n in fortnight]


def test_notices_are_limited_to_twelve(store: Store) -> None:
    store.write(Notice, [_notice(f"e{i:02d}", "event", NOW + i * H, None, None)
                         for i in range(20)])
    found = notices_now(store.settings)
    assert [n["id"] for n in found] == [f"e{i:02d}" for i in range(12)]


# ---- services and the citizen office -------------------------------------------------------

def _madrid(text_time: str) -> datetime:
    from zoneinfo import ZoneInfo
    return datetime.fromisoformat(text_time).replace(tzinfo=ZoneInfo("Europe/Madrid"))


@pytest.mark.parametrize(("local", "open_now", "other"), [
    ("2026-11-23 09:00", True, "2026-11-23T13:30:00+00:00"),  # Monday morning; closes 14:30
    ("2026-11-23 08:30", True, "2026-11-23T13:30:00+00:00"),  # opening minute
    ("2026-11-23 14:30", False, "2026-11-24T07:30:00+00:00"),  # closing minute: closed
    ("2026-11-23 21:00", False, "2026-11-24T07:30:00+00:00"),  # Monday night
    ("2026-11-26 16:30", True, "2026-11-26T17:30:00+00:00"),  # Thursday afternoon
    ("2026-11-24 16:30", False, "2026-11-25T07:30:00+00:00"),  # Tuesday afternoon
    ("2026-11-28 14:00", False, "2026-11-30T07:30:00+00:00"),  # Saturday after closing
    ("2026-11-29 10:00", False, "2026-11-30T07:30:00+00:00"),  # Sunday
    ("2026-12-08 10:00", False, "2026-12-09T07:30:00+00:00"),  # holiday (Immaculate Conc.)
    ("2026-07-06 08:45", True, "2026-07-06T12:30:00+00:00"),  # summer time (UTC+2)
])
def test_office_hours(local: str, open_now: bool, other: str) -> None:
    office = load_kiosk()["contact"]["office"]
    status = office_status(office, _madrid(local).astimezone(timezone.utc), "Europe/Madrid")
    assert status["open_now"] is open_now
    assert status["closes_at" if open_now else "next_open"] == other
    assert status["next_open" if open_now else "closes_at"] is None


def test_service_catalogue_groups_services_and_says_if_the_office_is_open(store: Store) -> None:
    store.write(Service, [
        {"service_code": "pothole", "service_name": "Bache en la calzada", "description": "",
         "department": "Obras Públicas", "group": "Vía pública", "sla_hours": 120,
         "online": True},
        {"service_code": "kerb", "service_name": "Acera deteriorada", "description": "",
         "department": "Obras Públicas", "group": "Vía pública", "sla_hours": None,
         "online": False},
        {"service_code": "leak", "service_name": "Fuga de agua", "description": "",
         "department": "Aguas", "group": "Agua", "sla_hours": 8, "online": True},
    ])
    closed = service_catalogue(store.settings)  # Monday 21:00 in Madrid
    # names per language from data/kiosk.yaml (by service code, group and department name);
    # "leak" and "kerb" are not in it: only the store's (Spanish) name
    works = {"es": "Obras Públicas", "en": "Public Works"}
    assert closed["groups"] == [
        {"group": "Agua", "group_name": {"es": "Agua", "en": "Water"},
         "services": [{"code": "leak", "name": {"es": "Fuga de agua"}, "department": "Aguas",
                       "department_name": {"es": "Aguas", "en": "Water"}, "online": True,
                       "sla_hours": 8.0}]},
        {"group": "Vía pública", "group_name": {"es": "Vía pública",
                                                "en": "Streets and pavements"}, "services": [
            {"code": "kerb", "name": {"es": "Acera deteriorada"}, "department": "Obras Públicas",
             "department_name": works, "online": False, "sla_hours": None},
            {"code": "pothole", "name": {"es": "Bache en la calzada",
                                         "en": "Pothole in the road"},
             "department": "Obras Públicas", "department_name": works, "online": True,
             "sla_hours": 120.0}]},
    ]
    assert closed["open_now"] is False
    assert closed["next_open"] == "2026-11-24T07:30:00+00:00"
    contact = closed["contact"]
    assert contact["phone"] == "010 / 942 200 600" and contact["web"].startswith("https://")
    assert set(contact["office"]["name"]) == {"es", "en"}
    opened = service_catalogue(store.at(_madrid("2026-11-24 10:00")))
    assert opened["open_now"] is True and opened["next_open"] is None


def test_the_demo_citys_services_have_a_name_in_every_kiosk_language() -> None:
    from dashboard.demo.config import load_config
    from dashboard.i18n import available_languages

    config = load_config()
    names = load_kiosk()["names"]
    wanted = set(available_languages()) - {names["source_language"]}
    keys = {"services": {s.code for s in config.services},
            "groups": {s.group for s in config.services},
            "departments": {s.department for s in config.services}
            | {c.department for c in config.cases}}
    for kind, expected in keys.items():
        missing = [(key, lang) for key in sorted(expected) for lang in sorted(wanted)
                   if not (names[kind].get(key) or {}).get(lang)]
        assert not missing, (kind, missing)
        assert set(names[kind]) <= expected, kind  # nothing named that the city lacks


# ---- service requests -------------------------------------------------------------------------

def test_requests_progress_matches_plain_python(store: Store) -> None:
    gen = random.Random(11)
    rows = []
    for n in range(80):
        requested = NOW - timedelta(hours=gen.uniform(0, 60 * 24))
        closed = requested + timedelta(hours=gen.uniform(1, 20 * 24))
        sla = gen.choice([24, 72, None])
        rows.append({
            "id": f"r{n}", "service_code": "x", "department": "D", "status": "closed",
            "description": "secret text", "status_notes": "secret note",
            "requested_at": requested, "closed_at": closed if closed < NOW else None,
            "expected_at": requested + timedelta(hours=sla) if sla else None,
            "district_id": gen.choice(["d1", "d2", "d3", None])})
    for row in rows:
        row["status"] = "closed" if row["closed_at"] else "open"
    store.write(ServiceRequest, rows)

    got = requests_progress(store.settings)

    week, month = NOW - 7 * DAY, NOW - 30 * DAY
    closed_month = [r for r in rows if r["closed_at"] and month <= r["closed_at"] < NOW]

    def days(items: list[dict[str, Any]]) -> float | None:
        spans = [(r["closed_at"] - r["requested_at"]) / DAY for r in items]
        return statistics.median(spans) if spans else None

    with_sla = [r for r in closed_month if r["expected_at"]]
    assert got["fixed_week"] == sum(1 for r in closed_month if r["closed_at"] >= week)
    assert got["opened_week"] == sum(1 for r in rows if week <= r["requested_at"] < NOW)
    assert got["closed_30d"] == len(closed_month)
    assert got["median_days_to_fix"] == pytest.approx(days(closed_month), abs=0.006)
    share = sum(r["closed_at"] <= r["expected_at"] for r in with_sla) / len(with_sla)
    assert got["within_sla_share"] == pytest.approx(share, abs=1e-4)
    assert [d["district_id"] for d in got["districts"]] == ["d1", "d2", "d3", "d4"]
    for district in got["districts"]:
        own = [r for r in closed_month if r["district_id"] == district["district_id"]]
        assert district["fixed_week"] == sum(1 for r in own if r["closed_at"] >= week)
        want = days(own)
        assert district["median_days_to_fix"] == (
            None if want is None else pytest.approx(want, abs=0.006))
    assert got["fixed_week"] > 0 and got["districts"][3]["median_days_to_fix"] is None
    assert "secret" not in json.dumps(got) and "r1" not in json.dumps(got)


def test_data_version_follows_ingest(store: Store) -> None:
    before = data_version_of(store.settings)
    store.asset("a", "Device")
    assert int(data_version_of(store.settings)) > int(before)


# ---- the tiny demo city -------------------------------------------------------------------

@pytest.fixture(scope="module")
def personal(tiny_city: Settings) -> list[str]:
    """Every citizen name, e-mail and phone and every request's free text in the tiny city."""
    db = sqlite3.connect(tiny_city.resolved_database_url.removeprefix("sqlite:///"))
    found: set[str] = set()
    for name, email, phone in db.execute("SELECT name, email, phone FROM citizens"):
        found.update(v for v in (name, email, phone) if v)
        if phone:
            found.add(phone.replace(" ", "").removeprefix("+34"))
    for description, notes in db.execute(
            "SELECT description, status_notes FROM service_requests"):
        found.update(v for v in (description, notes) if v)
    db.close()
    assert len(found) > 400
    return sorted(found)


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def test_kiosk_data_of_the_tiny_city_is_json_and_anonymous(tiny_city: Settings,
                                                           personal: list[str]) -> None:
    data = kiosk_data(tiny_city)
    dumped = json.dumps(data, ensure_ascii=False)
    assert json.loads(dumped) == data
    assert set(data) == {"version", "district", "generated_at", "source_language", "headline",
                         "air", "parking", "transit", "notices", "catalogue", "progress",
                         "commitments"}
    assert data["source_language"] == "es"
    leaks = [value for value in personal if value in dumped]
    assert not leaks, f"the kiosk exposes {leaks[:3]}"
    assert not {"citizen_id", "description", "status_notes", "email"} & set(_keys(data))
    # the demo city has something to show everywhere
    assert data["air"]["districts"] and data["parking"]["sites"]
    assert data["transit"]["available"] and data["transit"]["routes"]
    assert data["notices"] and data["catalogue"]["groups"] and data["progress"]["closed_30d"]


def test_headline_reuses_the_overview(tiny_city: Settings) -> None:
    got = headline(tiny_city)
    view = overview(tiny_city, None, "week")
    assert got["city_score"]["value"] == view["city_score"]["value"]
    assert got["city_score"]["previous"] == view["city_score"]["previous"]
    order = [k["id"] for k in kpi_catalogue(tiny_city)]
    ids = [k["id"] for k in got["kpis"]]
    assert ids == [i for i in order if i in ids] and ids  # catalogue order

    def status(score: float) -> str:
        return "on" if score >= 1.0 else "near" if score >= 0.9 else "off"

    for kpi in got["kpis"]:
        assert set(kpi["name"]) >= {"en", "es"}
        assert kpi["status"] == status(kpi["score"])
    assert got["city_score"]["status"] == status(got["city_score"]["value"])
