"""Service-requests read models against numbers computed here from the tiny city's raw rows.

Counts come from plain SQL; medians and 90th percentiles from ``statistics`` over the
raw rows, so the read models (GROUP BY + numpy) are checked by an independent path.
"""
from __future__ import annotations

import statistics
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text

from dashboard.queries.services import (
    RequestScope,
    breakdowns,
    headline,
    oldest_open,
    request_summary,
)
from dashboard.queries.services_trend_map import map_export, request_map, request_trend
from dashboard.settings import Settings
from dashboard.store import get_engine
from tests.conftest import TINY_NOW

PERSONAL = {"citizen_id", "address", "name", "email", "phone", "citizen"}


def sql(settings: Settings, query: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of a plain SQL query on the tiny city (read only)."""
    with get_engine(settings.resolved_database_url).connect() as conn:
        return [tuple(r) for r in conn.execute(text(query), params)]


def stamp(when: datetime) -> str:
    """How SQLite stores a UTC time (text compares in time order)."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def parse(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def raw(settings: Settings, where: str = "1=1", **params: Any) -> list[dict[str, Any]]:
    cols = ("id", "department", "district_id", "service_code", "channel", "status",
            "requested_at", "closed_at", "expected_at")
    rows = sql(settings, f"SELECT {', '.join(cols)} FROM service_requests WHERE {where}",
               **params)
    found = []
    for row in rows:
        item = dict(zip(cols, row, strict=True))
        for key in ("requested_at", "closed_at", "expected_at"):
            item[key] = parse(item[key]) if item[key] is not None else None
        found.append(item)
    return found


def expected_summary(rows: list[dict[str, Any]], start: datetime,
                     end: datetime) -> dict[str, Any]:
    """The headline numbers, the slow and obvious way."""
    hours = [(r["closed_at"] - r["requested_at"]).total_seconds() / 3600 for r in rows
             if r["closed_at"] is not None and start <= r["closed_at"] < end]
    deciles = statistics.quantiles(hours, n=10, method="inclusive") if len(hours) > 1 else None
    return {
        "open": sum(r["status"] == "open" for r in rows),
        "overdue": sum(r["status"] == "open" and r["expected_at"] is not None
                       and r["expected_at"] < TINY_NOW for r in rows),
        "received": sum(start <= r["requested_at"] < end for r in rows),
        "closed": len(hours),
        "median": statistics.median(hours) if hours else None,
        "p90": deciles[8] if deciles else None,
    }


def assert_summary(got: dict[str, Any], want: dict[str, Any]) -> None:
    for key in ("open", "overdue", "received", "closed"):
        assert got[key] == want[key], key
    for key, name in (("median_hours_to_close", "median"), ("p90_hours_to_close", "p90")):
        if want[name] is None:
            assert got[key] is None
        else:
            assert got[key] == pytest.approx(want[name], abs=1e-3), key


WEEK_START = TINY_NOW - timedelta(days=7)
MONTH_START = TINY_NOW - timedelta(days=30)


def test_city_summary_matches_raw_rows(tiny_city: Settings) -> None:
    rows = raw(tiny_city)
    assert_summary(request_summary(tiny_city), expected_summary(rows, MONTH_START, TINY_NOW))
    got = request_summary(tiny_city, period="7d")
    assert_summary(got, expected_summary(rows, WEEK_START, TINY_NOW))
    assert got["open"] > 0 and 0 < got["overdue"] < got["open"] and got["closed"] > 10


def test_summary_of_every_department_and_district(tiny_city: Settings) -> None:
    departments = [d for (d,) in sql(tiny_city, "SELECT DISTINCT department FROM service_requests")]
    districts = [d for (d,) in sql(tiny_city, "SELECT id FROM districts")]
    assert len(departments) > 3 and len(districts) > 3
    for department in departments:
        want = expected_summary(raw(tiny_city, "department = :d", d=department),
                                WEEK_START, TINY_NOW)
        assert_summary(request_summary(tiny_city, department=department, period="7d"), want)
    for district in districts:
        want = expected_summary(raw(tiny_city, "district_id = :d", d=district),
                                MONTH_START, TINY_NOW)
        assert_summary(request_summary(tiny_city, district=district), want)


def test_open_and_overdue_counts_by_plain_sql(tiny_city: Settings) -> None:
    counts = dict(sql(tiny_city, "SELECT department, count(*) FROM service_requests "
                                 "WHERE status = 'open' GROUP BY department"))
    late = dict(sql(tiny_city, "SELECT department, count(*) FROM service_requests WHERE "
                               "status = 'open' AND expected_at < :now GROUP BY department",
                    now=stamp(TINY_NOW)))
    rows = {r["id"]: r for r in breakdowns(tiny_city, RequestScope(), "30d")["department"]}
    for department, total in counts.items():
        assert rows[department]["open"] == total
        assert rows[department]["overdue"] == late.get(department, 0)
    assert sum(r["open"] for r in rows.values()) == request_summary(tiny_city)["open"]


def test_service_and_channel_filters_narrow_the_numbers(tiny_city: Settings) -> None:
    service, channel = sql(tiny_city, "SELECT service_code, channel FROM service_requests "
                                      "GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1")[0]
    want = expected_summary(raw(tiny_city, "service_code = :s AND channel = :c",
                                s=service, c=channel), MONTH_START, TINY_NOW)
    got = request_summary(tiny_city, service=service, channel=channel)
    assert_summary(got, want)
    assert got["received"] < request_summary(tiny_city)["received"]


def test_comparison_with_the_previous_period_and_a_year_before(tiny_city: Settings) -> None:
    rows = raw(tiny_city)
    data = headline(tiny_city, RequestScope(), "7d", "previous")
    assert data["compare"] == "previous"
    assert_summary(data["compared"], expected_summary(rows, WEEK_START - timedelta(days=7),
                                                      WEEK_START))
    assert data["compared"]["received"] != data["current"]["received"]
    year = headline(tiny_city, RequestScope(), "7d", "year")["compared"]
    assert (year["received"], year["closed"], year["median_hours_to_close"]) == (0, 0, None)
    assert headline(tiny_city, RequestScope(), "7d", None)["compared"] is None
    assert headline(tiny_city, RequestScope(), "all", "previous")["compared"] is None


def test_breakdowns_match_group_by_and_medians(tiny_city: Settings) -> None:
    found = breakdowns(tiny_city, RequestScope(), "7d")
    rows = raw(tiny_city)
    for dimension, column in (("district", "district_id"), ("channel", "channel"),
                              ("service", "service_code")):
        by_key = {r["id"]: r for r in found[dimension]}
        for key in {r[column] for r in rows}:
            mine = [r for r in rows if r[column] == key]
            want = expected_summary(mine, WEEK_START, TINY_NOW)
            got = by_key[key]
            assert (got["open"], got["overdue"], got["received"], got["closed"]) == (
                want["open"], want["overdue"], want["received"], want["closed"]), (dimension, key)
            if want["median"] is not None:
                assert got["median_hours_to_close"] == pytest.approx(want["median"], abs=0.01)
    district_names = dict(sql(tiny_city, "SELECT id, name FROM districts"))
    assert all(r["name"] == district_names[r["id"]] for r in found["district"])


def test_department_filter_keeps_only_its_requests(tiny_city: Settings) -> None:
    department = sql(
        tiny_city, "SELECT department FROM service_requests GROUP BY 1 "
                   "ORDER BY count(*) DESC LIMIT 1")[0][0]
    found = breakdowns(tiny_city, RequestScope(department=department), "30d")
    assert [r["id"] for r in found["department"]] == [department]
    codes = {c for (c,) in sql(tiny_city, "SELECT DISTINCT service_code FROM service_requests "
                                          "WHERE department = :d", d=department)}
    assert {r["id"] for r in found["service"]} == codes
    total = sql(tiny_city, "SELECT count(*) FROM service_requests WHERE department = :d "
                           "AND requested_at >= :s", d=department, s=stamp(MONTH_START))[0][0]
    assert sum(r["received"] for r in found["district"]) == total


def test_oldest_open_requests_in_order_without_personal_data(tiny_city: Settings) -> None:
    want = [i for (i,) in sql(tiny_city, "SELECT id FROM service_requests WHERE status = 'open' "
                                         "ORDER BY requested_at, id LIMIT 20")]
    found = oldest_open(tiny_city)
    assert [r["id"] for r in found] == want
    assert [r["age_days"] for r in found] == sorted((r["age_days"] for r in found), reverse=True)
    assert not PERSONAL & set().union(*(r.keys() for r in found))
    late = [r for r in found if r["overdue_hours"] and r["overdue_hours"] > 0]
    assert late and all(parse(r["expected_at"]) < TINY_NOW for r in late)
    district = found[0]["district_id"]
    mine = oldest_open(tiny_city, district=district, limit=5)
    assert mine and all(r["district_id"] == district for r in mine)


def test_trend_buckets_add_up_to_the_period(tiny_city: Settings) -> None:
    week = request_trend(tiny_city, RequestScope(), "7d")
    summary = request_summary(tiny_city, period="7d")
    assert week["grain"] == "day" and len(week["rows"]) in (7, 8)
    assert sum(r["received"] for r in week["rows"]) == summary["received"]
    assert sum(r["closed"] for r in week["rows"]) == summary["closed"]
    day = request_trend(tiny_city, RequestScope(), "24h")
    assert day["grain"] == "hour" and len(day["rows"]) == 24
    weeks = request_trend(tiny_city, RequestScope(), "all")
    assert weeks["grain"] == "week"
    assert all(datetime.fromisoformat(r["bucket"]).weekday() == 0 for r in weeks["rows"])
    total = sql(tiny_city, "SELECT count(*) FROM service_requests")[0][0]
    assert sum(r["received"] for r in weeks["rows"]) == total


def test_map_points_branch(tiny_city: Settings) -> None:
    result = request_map(tiny_city, RequestScope())
    located = sql(tiny_city, "SELECT count(*) FROM service_requests WHERE status = 'open' "
                             "AND lat IS NOT NULL AND lon IS NOT NULL")[0][0]
    assert result["mode"] == "points" and result["open"] == request_summary(tiny_city)["open"]
    features = result["points"]["features"]
    assert len(features) == located
    for feature in features:
        lon, lat = feature["geometry"]["coordinates"]
        assert round(lon, 4) == lon and round(lat, 4) == lat
        assert "description" not in feature["properties"]
        assert not PERSONAL & feature["properties"].keys()
    assert map_export(result) is result["points"]


def test_map_district_branch_above_the_limit(tiny_city: Settings) -> None:
    result = request_map(tiny_city, RequestScope(), limit=10)
    assert result["mode"] == "districts" and result["points"] is None
    want = dict(sql(tiny_city, "SELECT district_id, count(*) FROM service_requests "
                               "WHERE status = 'open' GROUP BY district_id"))
    got = {f["properties"]["id"]: f["properties"]["open"]
           for f in result["districts"]["features"]}
    assert got == {d: want.get(d, 0) for d in got}
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon")
               for f in result["districts"]["features"])
    assert map_export(result) is result["districts"]
