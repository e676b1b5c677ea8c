"""Citizen 360 aggregates (``dashboard.queries.engagement``) against plain computations.

Hand-made stores (SQLite and PostgreSQL) hold a few rows with known counts, so every
number is checked against arithmetic done here; the tiny demo city checks the equity gap
against the KPI engine run directly, and that no result carries personal data.
"""
from __future__ import annotations

import json
import statistics
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, insert, text

from dashboard.kpis import Window, compute_kpi_table, load_kpis, window_for
from dashboard.model import Case, Citizen, District, Participation, ServiceRequest
from dashboard.queries import equity, kpi_table
from dashboard.queries.engagement import (
    DIGITAL_CHANNELS,
    digital_divide,
    interactions,
    repeat_contacts,
    resolution_times,
    satisfaction,
)
from dashboard.queries.equity import equity_gap
from dashboard.settings import Settings
from dashboard.store import bump_data_version, get_engine, unit_of_work
from dashboard.store.request_rollups import rebuild_request_rollups
from tests.conftest import PG_URL, TINY_NOW, service_missing

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=timezone.utc)
START = datetime(2026, 6, 1, tzinfo=timezone.utc)
END = datetime(2026, 7, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)
CITIZENS = [  # id, birth year (2026 ages: 36 -> 30-44, 76 -> 65+, 26 -> under 30, unknown)
    ("c1", 1990), ("c2", 1950), ("c3", 2000), ("c4", None)]


# ---- a hand-made store on SQLite and on PostgreSQL ---------------------------------------

def _pg_url(schema: str) -> str:
    joiner = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def city(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings of an empty store with districts North (1000) and South (2000) and four
    citizens; each test adds its own interactions."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'engagement.db'}"
        yield _seeded(Settings(var_dir=tmp_path, database_url=url, redis_url=None, now=NOW))
        return
    schema = f"citylens_eng_{uuid.uuid4().hex[:8]}"
    try:
        admin: Engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:  # noqa: BLE001 - any failure to reach the server
        service_missing("PostgreSQL at " + PG_URL, error)
    url = _pg_url(schema)
    try:
        yield _seeded(Settings(var_dir=tmp_path, database_url=url, redis_url=None, now=NOW))
    finally:
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _seeded(settings: Settings) -> Settings:
    with unit_of_work(get_engine(settings.resolved_database_url)) as conn:
        conn.execute(insert(District), [
            {"id": "d1", "name": "North", "geometry": {}, "population": 1000},
            {"id": "d2", "name": "South", "geometry": {}, "population": 2000}])
        conn.execute(insert(Citizen), [
            {"id": cid, "name": f"Person {cid.upper()}", "email": f"{cid}@mail.example",
             "phone": f"+34 600 000 00{cid[1]}", "birth_year": born, "district_id": "d1",
             "consent": {}} for cid, born in CITIZENS])
    return settings


def add(settings: Settings, requests: list[dict[str, Any]] | None = None,
        cases: list[dict[str, Any]] | None = None,
        participation: list[dict[str, Any]] | None = None) -> None:
    """Insert rows (filled with defaults) and bump the data version."""
    with unit_of_work(get_engine(settings.resolved_database_url)) as conn:
        if requests:
            conn.execute(insert(ServiceRequest), [request_row(i, r) for i, r in
                                                  enumerate(requests)])
        if cases:
            conn.execute(insert(Case), [
                {"id": uid("case", i), "kind": "permit", "department": "Permits", "status": "open",
                 "channel": "in_person", "district_id": None, "citizen_id": None,
                 "closed_at": None, **c} for i, c in enumerate(cases)])
        if participation:
            conn.execute(insert(Participation), [
                {"id": uid("p", i), "kind": "survey", "topic": "Parks", "channel": "web",
                 "district_id": None, "citizen_id": None, **p}
                for i, p in enumerate(participation)])
        if requests or cases:  # written straight to the tables, not by a connector
            rebuild_request_rollups(conn, settings.timezone)
        bump_data_version(conn)


def uid(kind: str, i: int) -> str:
    """A row id unique across calls of ``add``."""
    return f"{kind}-{i}-{uuid.uuid4().hex[:8]}"


def request_row(i: int, given: dict[str, Any]) -> dict[str, Any]:
    return {"id": uid("sr", i), "service_code": "pothole", "department": "Roads",
            "status": "closed" if given.get("closed_at") else "open", "channel": "web",
            "district_id": None, "citizen_id": None, "closed_at": None,
            "description": "private text", "address": "Calle Secreta 1", **given}


# ---- interactions ------------------------------------------------------------------------

def test_interactions_counts_per_1000_and_digital_shares(city: Settings) -> None:
    at = START + 3 * DAY
    add(city,
        requests=[{"district_id": "d1", "channel": "web", "requested_at": at},
                  {"district_id": "d1", "channel": "web", "requested_at": at},
                  {"district_id": "d1", "channel": "phone", "requested_at": at},
                  {"district_id": "d2", "channel": "app", "requested_at": at},
                  {"district_id": "d2", "channel": "kiosk", "requested_at": at,
                   "department": "Parks"},
                  {"district_id": "d2", "channel": "phone", "requested_at": at},
                  {"district_id": "d2", "channel": "phone", "requested_at": at},
                  {"district_id": None, "channel": "web", "requested_at": at},
                  {"district_id": "d1", "channel": "web", "requested_at": START - timedelta(
                      seconds=1)},
                  {"district_id": "d1", "channel": "web", "requested_at": END}],
        cases=[{"district_id": "d1", "channel": "in_person", "opened_at": at},
               {"district_id": "d2", "channel": "web", "opened_at": at},
               {"district_id": "d2", "channel": "web", "opened_at": END + DAY}],
        participation=[{"district_id": "d1", "channel": "app", "time": at},
                       {"district_id": "d2", "channel": "in_person", "time": at}])
    got = interactions(city, START, END)
    # North: web 2 + phone 1 + in_person 1 + app 1 = 5 (3 digital); South: app, kiosk,
    # phone 2, web, in_person = 6 (3 digital); one web request without district.
    by_district = {d["district_id"]: d for d in got["districts"]}
    assert by_district["d1"] == {"district_id": "d1", "district_name": "North",
                                 "population": 1000, "total": 5, "per_1000": 5.0,
                                 "digital_share": pytest.approx(0.6)}
    assert by_district["d2"]["total"] == 6 and by_district["d2"]["per_1000"] == 3.0
    assert by_district["d2"]["digital_share"] == pytest.approx(0.5)
    assert [d["district_id"] for d in got["districts"]] == ["d1", "d2"]  # per_1000 desc
    assert got["city"] == {"total": 12, "per_1000": 4.0, "digital_share": pytest.approx(7 / 12)}
    cells = {(r["district_id"], r["channel"]): (r["count"], r["per_1000"]) for r in got["rows"]}
    assert cells == {("d1", "web"): (2, 2.0), ("d1", "phone"): (1, 1.0),
                     ("d1", "in_person"): (1, 1.0), ("d1", "app"): (1, 1.0),
                     ("d2", "app"): (1, 0.5), ("d2", "kiosk"): (1, 0.5),
                     ("d2", "phone"): (2, 1.0), ("d2", "web"): (1, 0.5),
                     ("d2", "in_person"): (1, 0.5)}
    assert got["channels"] == ["app", "in_person", "kiosk", "phone", "web"]
    assert got["participation_included"] is True
    assert sum(r["count"] for r in got["rows"]) == got["city"]["total"] - 1  # no district: city


def test_department_scope_excludes_other_departments_and_participation(city: Settings) -> None:
    at = START + DAY
    add(city,
        requests=[{"district_id": "d1", "channel": "web", "requested_at": at,
                   "closed_at": at + 2 * DAY},
                  {"district_id": "d1", "channel": "app", "requested_at": at,
                   "department": "Parks", "closed_at": at + 9 * DAY},
                  {"district_id": "d1", "channel": "phone", "requested_at": at + DAY,
                   "citizen_id": "c1"},
                  {"district_id": "d1", "channel": "phone", "requested_at": at + 2 * DAY,
                   "citizen_id": "c1"},
                  {"district_id": "d1", "channel": "app", "requested_at": at + 3 * DAY,
                   "citizen_id": "c1", "department": "Parks"}],
        cases=[{"district_id": "d2", "channel": "web", "opened_at": at,
                "closed_at": at + 5 * DAY},
               {"district_id": "d2", "channel": "phone", "opened_at": at,
                "department": "Roads", "closed_at": at + 3 * DAY}],
        participation=[{"district_id": "d1", "channel": "web", "time": at}])
    scoped = interactions(city, START, END, departments=["Roads"])
    assert scoped["participation_included"] is False
    assert scoped["city"]["total"] == 4  # three Roads requests and the Roads case
    assert scoped["channels"] == ["phone", "web"]
    assert interactions(city, START, END)["city"]["total"] == 8
    divide = digital_divide(city, START, END, departments=["Roads"])
    assert divide["city"]["total"] == 4 and divide["participation_included"] is False
    repeats = repeat_contacts(city, START, END, departments=["Roads"])
    assert repeats["city"] == {"requests": 2, "repeats": 1, "share": 0.5}
    times = resolution_times(city, START, END, departments=["Roads"])
    assert times["requests"]["city"]["median_days"] == pytest.approx(2.0)
    assert times["cases"]["city"] == {"closed": 1, "median_days": pytest.approx(3.0),
                                      "p90_days": pytest.approx(3.0)}


# ---- digital divide ----------------------------------------------------------------------

def test_digital_divide_by_district_and_age_band(city: Settings) -> None:
    at = START + 2 * DAY
    add(city,
        requests=[{"district_id": "d1", "channel": "web", "requested_at": at, "citizen_id": "c1"},
                  {"district_id": "d2", "channel": "phone", "requested_at": at,
                   "citizen_id": "c2"},
                  {"district_id": "d2", "channel": "app", "requested_at": at, "citizen_id": "c2"},
                  {"district_id": "d1", "channel": "app", "requested_at": at, "citizen_id": "c3"},
                  {"district_id": "d1", "channel": "kiosk", "requested_at": at},
                  {"district_id": None, "channel": "web", "requested_at": at,
                   "citizen_id": "c4"}],
        cases=[{"district_id": "d1", "channel": "phone", "opened_at": at, "citizen_id": "c1"}],
        participation=[{"district_id": "d2", "channel": "in_person", "time": at,
                        "citizen_id": "c2"}])
    got = digital_divide(city, START, END)
    bands = {b["band"]: (b["digital"], b["assisted"]) for b in got["age_bands"]}
    assert bands == {"under 30": (1, 0), "30-44": (1, 1), "45-64": (0, 0), "65+": (1, 2),
                     "unknown": (2, 0)}
    shares = {b["band"]: b["digital_share"] for b in got["age_bands"]}
    assert shares["45-64"] is None and shares["65+"] == pytest.approx(1 / 3)
    by_district = {d["district_id"]: (d["digital"], d["assisted"]) for d in got["districts"]}
    assert by_district == {"d1": (3, 1), "d2": (1, 2)}
    assert got["city"] == {"total": 8, "digital": 5, "assisted": 3,
                           "digital_share": pytest.approx(5 / 8)}
    cells = {(c["district_id"], c["band"]): c["total"] for c in got["cells"]}
    assert cells == {("d1", "30-44"): 2, ("d1", "under 30"): 1, ("d1", "unknown"): 1,
                     ("d2", "65+"): 3}
    assert set(DIGITAL_CHANNELS) == {"web", "app", "kiosk", "email", "social"}


# ---- repeat contacts ---------------------------------------------------------------------

def test_repeat_contacts_within_days_same_citizen_same_service(city: Settings) -> None:
    end = START + 60 * DAY
    r2 = START + 5 * DAY
    r5 = START + DAY
    mine = [
        {"citizen_id": "c1", "district_id": "d1", "requested_at": START - 10 * DAY},  # before
        {"citizen_id": "c1", "district_id": "d1", "requested_at": r2},  # repeats the one before
        {"citizen_id": "c1", "district_id": "d1", "requested_at": r2 + 31 * DAY},  # 31 d: no
        {"citizen_id": "c1", "district_id": "d1", "requested_at": r2 + 33 * DAY,
         "service_code": "graffiti"},  # another service: no
        {"citizen_id": "c2", "district_id": "d2", "requested_at": r5},  # first: no
        {"citizen_id": "c2", "district_id": "d2", "requested_at": r5 + 30 * DAY},  # 30 d: yes
        {"district_id": "d1", "requested_at": START + 2 * DAY},  # anonymous: not counted
        {"district_id": "d1", "requested_at": START + 3 * DAY},
        {"citizen_id": "c1", "district_id": "d1", "requested_at": end + DAY},  # after the end
    ]
    add(city, requests=mine)
    got = repeat_contacts(city, START, end)
    rows = {d["district_id"]: (d["requests"], d["repeats"]) for d in got["districts"]}
    assert rows == {"d1": (3, 1), "d2": (2, 1)}
    assert got["city"] == {"requests": 5, "repeats": 2, "share": pytest.approx(0.4)}
    wider = repeat_contacts(city, START, end, days=31)
    assert {d["district_id"]: d["repeats"] for d in wider["districts"]} == {"d1": 2, "d2": 1}
    assert repeat_contacts(city, START, end, days=29)["city"]["repeats"] == 1


# ---- resolution times --------------------------------------------------------------------

def test_resolution_median_and_p90_equal_plain_statistics(city: Settings) -> None:
    durations = {"d1": [1.0, 2.0, 4.0, 10.0], "d2": [0.5, 3.0]}
    requests = [{"district_id": d, "requested_at": START + i * DAY,
                 "closed_at": START + i * DAY + timedelta(days=days)}
                for d, values in durations.items() for i, days in enumerate(values)]
    requests += [
        {"district_id": "d1", "requested_at": START - 20 * DAY,
         "closed_at": START - 19 * DAY},  # closed before the window
        {"district_id": "d1", "requested_at": START + DAY},  # still open
        {"district_id": "d2", "requested_at": START - 3 * DAY,
         "closed_at": START + 4 * DAY},  # made before, closed inside: 7 days
    ]
    durations["d2"].append(7.0)
    cases = [{"district_id": "d2", "opened_at": START + DAY, "closed_at": START + DAY + d * DAY}
             for d in (2, 6, 7)]
    add(city, requests=requests, cases=cases)
    got = resolution_times(city, START, END)
    for row in got["requests"]["districts"]:
        values = durations[row["district_id"]]
        assert row["closed"] == len(values)
        assert row["median_days"] == pytest.approx(statistics.median(values))
        assert row["p90_days"] == pytest.approx(p90(values))
    everything = [v for values in durations.values() for v in values]
    assert got["requests"]["city"]["median_days"] == pytest.approx(statistics.median(everything))
    assert got["requests"]["city"]["p90_days"] == pytest.approx(p90(everything))
    case_rows = {r["district_id"]: r for r in got["cases"]["districts"]}
    assert case_rows["d2"]["median_days"] == pytest.approx(6.0)
    assert case_rows["d1"] == {"district_id": "d1", "district_name": "North", "closed": 0,
                               "median_days": None, "p90_days": None}


def p90(values: list[float]) -> float:
    """90th percentile by linear interpolation (as percentile_cont and numpy)."""
    return statistics.quantiles(values, n=10, method="inclusive")[8]


# ---- satisfaction ------------------------------------------------------------------------

def test_satisfaction_unknown_until_a_column_exists(city: Settings) -> None:
    at = START + DAY
    add(city, requests=[{"district_id": "d1", "requested_at": at}])
    assert satisfaction(city, START, END) == {
        "known": False, "note": "No connected source reports satisfaction yet."}
    ratings = [("d1", 4.0), ("d1", 2.0), ("d2", 5.0), (None, 1.0)]
    add(city, requests=[{"id": f"rated-{i}", "district_id": d, "requested_at": at}
                        for i, (d, _) in enumerate(ratings)])
    with unit_of_work(get_engine(city.resolved_database_url)) as conn:
        conn.execute(text("ALTER TABLE service_requests ADD COLUMN satisfaction FLOAT"))
        for i, (_, score) in enumerate(ratings):
            conn.execute(text("UPDATE service_requests SET satisfaction = :s WHERE id = :i"),
                         {"s": score, "i": f"rated-{i}"})
        bump_data_version(conn)
    got = satisfaction(city, START, END)
    assert got["known"] is True
    means = {d["district_id"]: (d["responses"], d["mean"]) for d in got["districts"]}
    assert means == {"d1": (2, pytest.approx(3.0)), "d2": (1, pytest.approx(5.0))}
    assert got["city"] == {"responses": 4, "mean": pytest.approx(3.0)}


# ---- equity gap --------------------------------------------------------------------------

def district_values(settings: Settings, window: Window, now: datetime) -> dict[str, dict]:
    """KPI id -> district -> value, from the KPI engine run here."""
    with get_engine(settings.resolved_database_url).connect() as conn:
        table = compute_kpi_table(conn, load_kpis(settings.kpis_file), window, now)
    found: dict[str, dict[str, float]] = {}
    for district, values in table.places.items():
        for value in values:
            if district and value.value is not None:
                found.setdefault(value.id, {})[district] = value.value
    return found


def assert_point(point: dict[str, Any], values: dict[str, float], direction: str,
                 target: float) -> None:
    if not values:
        assert point["best"] is None and point["gap"] is None
        return
    best = max(values.values()) if direction == "higher" else min(values.values())
    worst = min(values.values()) if direction == "higher" else max(values.values())
    assert point["best"] == pytest.approx(best) and point["worst"] == pytest.approx(worst)
    assert values[point["best_district"]] == pytest.approx(best)
    assert values[point["worst_district"]] == pytest.approx(worst)
    assert point["gap"] == pytest.approx(abs(best - worst))
    assert point["relative_gap"] == pytest.approx(abs(best - worst) / abs(target))


def test_equity_gap_matches_the_kpi_engine(tiny_city: Settings) -> None:
    got = equity_gap(tiny_city, "month", 4)
    current = window_for("month", TINY_NOW, tiny_city.timezone)
    before = current.previous()
    assert got["window"] == "month" and len(got["points"]) == 4
    stamps = [datetime.fromisoformat(p) for p in got["points"]]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4  # oldest first
    assert got["points"][-1] == kpi_table(tiny_city, "month")["window_end"]
    assert stamps[-2] == before.end_dt() and stamps[-1] == current.end_dt()
    now_values = district_values(tiny_city, current, TINY_NOW)
    past_values = district_values(tiny_city, before, before.end_dt())
    catalogue = {k.id: k for k in load_kpis(tiny_city.kpis_file)}
    assert [k["id"] for k in got["kpis"]] == list(catalogue)
    checked = 0
    for kpi in got["kpis"]:
        assert kpi["name"] == catalogue[kpi["id"]].name and kpi["direction"] in {"higher",
                                                                                  "lower"}
        assert [p["end"] for p in kpi["series"]] == got["points"]
        assert_point(kpi["series"][-1], now_values.get(kpi["id"], {}), kpi["direction"],
                     kpi["target"])
        assert_point(kpi["series"][-2], past_values.get(kpi["id"], {}), kpi["direction"],
                     kpi["target"])
        assert kpi["latest_gap"] == kpi["series"][-1]["gap"]
        checked += len(now_values.get(kpi["id"], {})) > 1
        latest, before = kpi["series"][-1]["gap"], kpi["series"][-2]["gap"]
        assert kpi["compared_with"] == got["points"][-2]  # the same comparison on every row
        if latest is not None and before is not None:
            if kpi["unit"] == "%":
                assert kpi["change_unit"] == "pp"
                assert kpi["change"] == pytest.approx(latest - before)
            elif kpi["change_unit"] == "%":
                assert kpi["change"] == pytest.approx((latest - before) / before)
            assert kpi["narrowing"] is (latest < before)
        else:
            assert kpi["change"] is None and kpi["narrowing"] is None
    assert checked >= 5  # the tiny city has several KPIs with more than one district


def test_equity_gap_caches_finished_windows_across_ingests(
        city: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Window] = []

    def counting(conn: Any, kpis: Any, window: Window, now: datetime) -> Any:
        calls.append(window)
        return compute_kpi_table(conn, kpis, window, now)

    monkeypatch.setattr(equity, "compute_kpi_table", counting)
    month = window_for("month", NOW, city.timezone)
    add(city, requests=[{"district_id": "d1", "channel": "web", "requested_at": NOW - DAY},
                        {"district_id": "d2", "channel": "phone", "requested_at": NOW - DAY},
                        {"district_id": "d2", "channel": "phone",
                         "requested_at": month.previous().start_dt() + DAY}])
    first = equity_gap(city, "month", 3)
    assert len(calls) == 2 and all(w.end <= month.start for w in calls)  # past windows only
    digital = next(k for k in first["kpis"] if k["id"] == "digital_share")
    assert digital["direction"] == "higher"
    assert digital["series"][-1]["best_district"] == "d1"
    assert digital["series"][-1]["gap"] == pytest.approx(100.0)
    assert digital["series"][-2]["worst_district"] == "d2"
    assert digital["series"][-2]["gap"] == 0.0  # one district: best is worst
    # 0 -> 100 points: widening by 100 pp (a percentage of a zero gap would be meaningless)
    assert digital["change"] == pytest.approx(100.0) and digital["change_unit"] == "pp"
    assert digital["narrowing"] is False
    add(city, requests=[{"district_id": "d2", "channel": "web", "requested_at": NOW - DAY}])
    second = equity_gap(city, "month", 3)
    assert len(calls) == 2  # finished windows served from their cache after the ingest
    digital = next(k for k in second["kpis"] if k["id"] == "digital_share")
    assert digital["series"][-1]["gap"] == pytest.approx(50.0)  # the current window moved
    assert second["points"] == first["points"]


# ---- no personal data --------------------------------------------------------------------

def test_no_personal_data_in_any_result(tiny_city: Settings) -> None:
    start = TINY_NOW - timedelta(days=365)
    with get_engine(tiny_city.resolved_database_url).connect() as conn:
        people = conn.execute(text("SELECT id, name, email, phone FROM citizens")).all()
        departments = [d for (d,) in conn.execute(
            text("SELECT DISTINCT department FROM service_requests"))]
    assert len(people) > 100
    results = [f(tiny_city, start, TINY_NOW) for f in (
        interactions, digital_divide, repeat_contacts, resolution_times, satisfaction)]
    results += [f(tiny_city, start, TINY_NOW, departments[:2]) for f in (
        interactions, digital_divide, repeat_contacts, resolution_times)]
    results.append(equity_gap(tiny_city, "month", 3))
    dumps = [json.dumps(r, ensure_ascii=False) for r in results]
    assert json.loads(dumps[0])["city"]["total"] > 100  # the results are not empty
    for person in people:
        for value in person:
            if value:
                assert not any(value in dump for dump in dumps), "personal data leaked"
