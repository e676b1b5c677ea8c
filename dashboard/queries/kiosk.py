"""Read models of the public kiosk (town-hall lobby touch screen, anonymous, es/en).

Results are language neutral: numbers, ids, ISO UTC times and ``{"en", "es"}`` dicts
where the store has them; the page formats them per locale. Nothing personal and no free
text written by citizens ever leaves here (no citizen ids, names, contacts, request
descriptions, status notes or addresses). Car parks and transit: ``kiosk_transit``.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import Connection, case, func, or_, select

from dashboard.kpis.scoring import target_status
from dashboard.model import Asset, District, Notice, Service
from dashboard.model import ServiceRequest as SR
from dashboard.queries import overview
from dashboard.queries.base import cached, data_version_of
from dashboard.queries.kiosk_transit import (
    iso,
    latest_readings,
    minute_of,
    parking_now,
    transit_now,
)
from dashboard.queries.services import hours_to_close
from dashboard.settings import DATA_DIR, Settings
from dashboard.queries.places import in_place

__all__ = ["air_band", "air_now", "data_version_of", "headline", "kiosk_data", "load_kiosk",
           "names_of", "notices_now", "office_status", "parking_now",
           "requests_progress", "service_catalogue", "source_language", "transit_now"]

KIOSK_FILE = DATA_DIR / "kiosk.yaml"
AIR_TYPE = "AirQualityObserved"
AIR_WINDOW = timedelta(hours=3)
NOTICE_LIMIT = 12
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_S = 86400.0


@lru_cache(maxsize=4)
def load_kiosk(path: Path = KIOSK_FILE) -> dict[str, Any]:
    """The kiosk configuration (contact channels, office hours, air-quality bands)."""
    with open(path, encoding="utf-8") as handle:
        kiosk: dict[str, Any] = yaml.safe_load(handle)
    return kiosk


# ---- headline ----------------------------------------------------------------------------

def headline(settings: Settings, window: str = "week") -> dict[str, Any]:
    """The city score and every scored KPI (catalogue order), from ``queries.overview``."""
    view = overview(settings, None, window)
    score = view["city_score"]
    keys = ("id", "name", "domain", "unit", "decimals", "value", "target", "direction",
            "score", "trend", "improving")
    kpis = [{**{k: kpi[k] for k in keys}, "status": target_status(kpi["score"])}
            for kpi in view["kpis"] if kpi["score"] is not None]
    return {"window": window, "as_of": view["as_of"],
            "window_start": view["window_start"], "window_end": view["window_end"],
            "city_score": {"value": score["value"], "previous": score["previous"],
                           "status": target_status(score["value"])},
            "kpis": kpis}


# ---- air quality -------------------------------------------------------------------------

def air_band(pollutants: Mapping[str, float | None], config: dict[str, Any] | None = None
             ) -> str | None:
    """The European Air Quality Index band of some readings: the worst pollutant's band
    (a value equal to a bound belongs to the lower band); None without a known pollutant."""
    config = config or load_kiosk()["air_quality"]
    bands, limits = config["bands"], config["pollutants"]
    worst = None
    for name, value in pollutants.items():
        if value is None or name not in limits:
            continue
        rank = next((i for i, bound in enumerate(limits[name]) if value <= bound),
                    len(bands) - 1)
        worst = rank if worst is None else max(worst, rank)
    return bands[worst] if worst is not None else None


def air_now(settings: Settings) -> dict[str, Any]:
    """Air quality now per district: the mean of each station's newest reading of the last
    3 hours, per pollutant, and the EEA index band (None where no station reported).

    Shape: ``{"as_of", "bands", "city_band" (worst district), "districts": [{"district_id",
    "district_name", "band", "pollutants": {"no2": µg/m³, ...}, "stations"}]}``.
    """
    now = minute_of(settings)
    config = load_kiosk()["air_quality"]
    metrics = list(config["pollutants"])

    def compute(conn: Connection) -> dict[str, Any]:
        since = int((now - AIR_WINDOW).timestamp())
        joined, seen = latest_readings(metrics)
        fresh = {m: seen[m].c.time >= since for m in metrics}
        columns: list[Any] = [Asset.district_id, func.count()]
        for metric in metrics:
            reading = seen[metric]
            columns += [func.avg(case((fresh[metric], reading.c.value), else_=None)),
                        func.max(case((fresh[metric], reading.c.time), else_=None))]
        stmt = (select(*columns).select_from(joined)
                .where(Asset.type == AIR_TYPE, or_(*fresh.values()))
                .group_by(Asset.district_id))
        values: dict[str | None, dict[str, float]] = {}
        counts: dict[str | None, int] = {}
        newest = None
        for district, stations, *stats in conn.execute(stmt):
            counts[district] = int(stations)
            found = values.setdefault(district, {})
            for metric, mean, when in zip(metrics, stats[::2], stats[1::2], strict=True):
                if mean is not None:
                    found[metric] = round(float(mean), 1)
                    newest = max(newest or 0, int(when))
        rows = conn.execute(select(District.id, District.name).order_by(District.id))
        districts = []
        for district_id, name in rows:
            found = values.get(district_id, {})
            districts.append({"district_id": district_id, "district_name": name,
                              "band": air_band(found, config), "pollutants": found,
                              "stations": counts.get(district_id, 0)})
        bands = [d["band"] for d in districts if d["band"] is not None]
        worst = max(bands, key=config["bands"].index) if bands else None
        return {"as_of": iso(newest), "bands": list(config["bands"]), "city_band": worst,
                "districts": districts}

    return cached(settings, "kiosk_air", {"now": now.isoformat()}, compute)


# ---- notices -----------------------------------------------------------------------------

def notices_now(settings: Settings, district: str | None = None,
                days: int = 7) -> list[dict[str, Any]]:
    """News and events running now or starting within ``days`` (of one district plus the
    city-wide ones): events by start, then news newest first; at most 12."""
    now = minute_of(settings)
    horizon = now + timedelta(days=days)

    def compute(conn: Connection) -> list[dict[str, Any]]:
        is_event = Notice.kind == "event"
        stmt = (select(Notice.id, Notice.kind, Notice.title, Notice.body, Notice.starts_at,
                       Notice.ends_at, Notice.place, Notice.district_id, District.name)
                .outerjoin(District, District.id == Notice.district_id)
                .where(Notice.starts_at < horizon,
                       or_(Notice.ends_at.is_(None), Notice.ends_at >= now))
                .order_by(case((is_event, 0), else_=1),
                          case((is_event, Notice.starts_at), else_=None),
                          Notice.starts_at.desc(), Notice.id))
        if district:
            stmt = stmt.where(or_(in_place(Notice.district_id, district), Notice.district_id.is_(None)))
        stmt = stmt.limit(NOTICE_LIMIT)
        return [{"id": i, "kind": kind, "title": title, "body": body,
                 "starts_at": start.isoformat(), "ends_at": end.isoformat() if end else None,
                 "place": place, "district_id": did, "district_name": dname,
                 "happening_now": start <= now and (end is None or end >= now)}
                for i, kind, title, body, start, end, place, did, dname in conn.execute(stmt)]

    params = {"district": district, "days": days, "now": now.isoformat()}
    return cached(settings, "kiosk_notices", params, compute)


# ---- services and the citizen office -----------------------------------------------------

def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _intervals(office: dict[str, Any], day: date) -> list[tuple[time, time]]:
    if day.isoformat() in {str(d) for d in office.get("closed_on") or []}:
        return []
    spans = (office.get("hours") or {}).get(WEEKDAYS[day.weekday()]) or []
    return [(_clock(opens), _clock(closes)) for opens, closes in spans]


def office_status(office: dict[str, Any], now: datetime, tz: str) -> dict[str, Any]:
    """Whether the office is open at ``now`` (local hours in ``tz``): {"open_now",
    "closes_at" (when open), "next_open" (when closed, within two weeks)} in ISO UTC."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    for offset in range(15):
        day = local.date() + timedelta(days=offset)
        for opens, closes in _intervals(office, day):
            start = datetime.combine(day, opens, zone)
            end = datetime.combine(day, closes, zone)
            if start <= local < end:
                return {"open_now": True, "next_open": None,
                        "closes_at": end.astimezone(timezone.utc).isoformat()}
            if start > local:
                return {"open_now": False, "closes_at": None,
                        "next_open": start.astimezone(timezone.utc).isoformat()}
    return {"open_now": False, "closes_at": None, "next_open": None}


def source_language(settings: Settings) -> str:
    """The language the city's data is written in (``names.source_language`` of
    ``data/kiosk.yaml``, else the kiosk's own language)."""
    return str((load_kiosk().get("names") or {}).get("source_language")
               or settings.kiosk_language)


def names_of(kind: str, key: str, name: str, source: str) -> dict[str, str]:
    """A name as the store has it (in ``source``) and in every language the kiosk's
    catalogue gives for it (``names.<kind>.<key>`` of ``data/kiosk.yaml``)."""
    given = ((load_kiosk().get("names") or {}).get(kind) or {}).get(key) or {}
    return {source: name, **{lang: str(text) for lang, text in given.items() if text}}


def service_catalogue(settings: Settings) -> dict[str, Any]:
    """The services by group and how to reach the city (``data/kiosk.yaml``), with whether
    the citizen office is open now. Groups and services in the order of the store's names;
    the names of services, groups and departments per language (``names_of``)."""

    def compute(conn: Connection) -> list[dict[str, Any]]:
        stmt = select(Service.group, Service.service_code, Service.service_name,
                      Service.department, Service.online, Service.sla_hours)
        groups: dict[str, list[dict[str, Any]]] = {}
        for group, code, name, department, online, sla in conn.execute(stmt):
            groups.setdefault(group or "", []).append(
                {"code": code, "name": name, "department": department,
                 "online": bool(online), "sla_hours": sla})
        return [{"group": group, "services": sorted(items, key=lambda s: s["name"].casefold())}
                for group, items in sorted(groups.items(), key=lambda g: g[0].casefold())]

    source = source_language(settings)
    groups = [{"group": group["group"],
               "group_name": names_of("groups", group["group"], group["group"], source),
               "services": [{**service,
                             "name": names_of("services", service["code"], service["name"],
                                              source),
                             "department_name": names_of("departments", service["department"],
                                                         service["department"], source)}
                            for service in group["services"]]}
              for group in cached(settings, "kiosk_services", {}, compute)]
    contact = copy.deepcopy(load_kiosk()["contact"])
    status = office_status(contact["office"], settings.current_time(), settings.timezone)
    return {"groups": groups, "contact": contact, "timezone": settings.timezone, **status}


# ---- service requests, without any text --------------------------------------------------

def _median_days(hours: list[float]) -> float | None:
    return round(median(hours) / 24, 2) if hours else None


def requests_progress(settings: Settings) -> dict[str, Any]:
    """Public progress of service requests: fixed (closed) and opened in the last 7 days,
    median days to fix and share (0..1) closed within SLA over the last 30 days, and per
    district the fixed this week and median days. Counts only: no text, no ids."""
    now = minute_of(settings)
    week, month = now - timedelta(days=7), now - timedelta(days=30)

    def compute(conn: Connection) -> dict[str, Any]:
        in_week = case((SR.closed_at >= week, 1), else_=0)
        rows = conn.execute(select(SR.district_id, hours_to_close(conn), in_week)
                            .where(SR.closed_at >= month, SR.closed_at < now)).all()
        opened = conn.execute(select(func.count()).where(
            SR.requested_at >= week, SR.requested_at < now)).scalar_one()
        on_time = func.sum(case((SR.closed_at <= SR.expected_at, 1), else_=0))
        met, with_sla = conn.execute(select(on_time, func.count()).where(
            SR.closed_at >= month, SR.closed_at < now, SR.expected_at.is_not(None))).one()
        per: dict[str | None, dict[str, Any]] = {}
        for district, hours, recent in rows:
            tally = per.setdefault(district, {"fixed_week": 0, "hours": []})
            tally["fixed_week"] += int(recent)
            tally["hours"].append(float(hours))
        names = dict(conn.execute(select(District.id, District.name)).all())
        districts = [{"district_id": d, "district_name": names.get(d),
                      "fixed_week": per.get(d, {}).get("fixed_week", 0),
                      "median_days_to_fix": _median_days(per.get(d, {}).get("hours", []))}
                     for d in sorted(names)]
        return {"as_of": now.isoformat(),
                "fixed_week": sum(int(r[2]) for r in rows), "opened_week": int(opened),
                "median_days_to_fix": _median_days([float(r[1]) for r in rows]),
                "closed_30d": len(rows),
                "within_sla_share": round(int(met or 0) / with_sla, 4) if with_sla else None,
                "districts": districts}

    return cached(settings, "kiosk_requests", {"now": now.isoformat()}, compute)


# ---- everything at once ------------------------------------------------------------------

def kiosk_data(settings: Settings, window: str = "week",
               district: str | None = None) -> dict[str, Any]:
    """Everything the kiosk shows, read once per data version by the page; a kiosk placed
    in a district (``district``) shows that district's notices and commitments and the
    city-wide ones."""
    # imported here: the commitments' read model names departments with this module's names_of
    from dashboard.queries.commitments import kiosk_commitments

    return {"version": data_version_of(settings), "district": district,
            "generated_at": settings.current_time().isoformat(),
            "source_language": source_language(settings),
            "headline": headline(settings, window), "air": air_now(settings),
            "parking": parking_now(settings), "transit": transit_now(settings),
            "notices": notices_now(settings, district), "catalogue": service_catalogue(settings),
            "progress": requests_progress(settings),
            "commitments": kiosk_commitments(settings, district)}
