"""Read models of the domain pages: each asset of a domain with its latest state.

Which metrics matter for an asset type comes from ``data/kpis.yaml``: the metrics of its
rollup KPIs and of its alert rules (``"<Type>.<attribute>"``), plus a few display hints
(a car park shows its free spots). Observations store the bare attribute as ``metric``.

Latest values are read WITHOUT scanning observations: per asset and metric, the newest row
is found through the primary key (asset_pk, metric, time) by a correlated ``MAX(time)``
subquery. On SQLite, ``EXPLAIN QUERY PLAN`` of ``latest_values`` reads::

    SEARCH a USING INDEX ix_assets_domain (domain=?)
    SEARCH o USING PRIMARY KEY (asset_pk=? AND metric=? AND time=?) LEFT-JOIN
    CORRELATED SCALAR SUBQUERY 1
      SEARCH o2 USING PRIMARY KEY (asset_pk=? AND metric=?)

i.e. index seeks only (``tests/test_domain_page.py`` checks it stays that way).

State of an asset, in order of precedence: ``alert`` (an open critical/warning alert on
it, or a fresh value beyond a critical/warning rule), ``fault`` (its status is not ok,
e.g. ``defectiveLamp``), ``no data`` (no observation within ``FRESH_FOR`` of now, or
never), ``ok``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, func, select, text

from dashboard.kpis import AlertRule, load_alert_rules, load_kpis
from dashboard.links import asset_href
from dashboard.model import Alert, Asset
from dashboard.queries import district_options
from dashboard.queries.base import cached
from dashboard.settings import Settings
from dashboard.units import metric_label, shown, words
from dashboard.queries.places import in_place

FRESH_FOR = timedelta(hours=24)
STATES = ("alert", "fault", "no data", "ok")  # most urgent first
STATE_WORDS = {"alert": "Alert", "fault": "Fault", "no data": "No data", "ok": "OK"}
ALERT_SEVERITIES = {"critical", "warning"}
HEALTHY_STATUSES = {"", "ok", "active", "working", "on"}
# Display hints (not rules): the attribute shown as an asset's "latest value" and its name.
DISPLAY_HINTS: dict[str, tuple[str, str]] = {
    "OffStreetParking": ("availableSpotNumber", "Free spots"),
    "WasteContainer": ("fillingLevel", "Fill"),
    "Device": ("batteryLevel", "Battery"),
    "AccessPoint": ("clientsConnected", "Connected users"),
}

LATEST_SQL = """
SELECT a.pk, o.time, o.value, o.unit
FROM assets a
LEFT JOIN latest_readings o ON o.asset_pk = a.pk AND o.metric = :metric
WHERE a.domain = :domain AND a.type = :type{district}
"""


@dataclass(frozen=True)
class Reading:
    """The newest observation of one metric of one asset."""

    time: int
    value: float
    unit: str | None


def type_metrics(settings: Settings) -> dict[str, list[str]]:
    """Attributes that matter per asset type: display hint, KPI metrics, alert-rule metrics."""
    found: dict[str, list[str]] = {}

    def add(metric: str | None) -> None:
        if metric and "." in metric:
            kind, attribute = metric.split(".", 1)
            if attribute not in found.setdefault(kind, []):
                found[kind].append(attribute)

    for kind, (attribute, _) in DISPLAY_HINTS.items():
        add(f"{kind}.{attribute}")
    for kpi in load_kpis(settings.kpis_file):
        if kpi.source == "rollups":
            add(kpi.metric)
    for rule in load_alert_rules(settings.kpis_file):
        add(rule.metric)
    return found


def latest_values(conn: Connection, domain: str, asset_type: str, attribute: str,
                  district: str | None = None) -> dict[int, Reading | None]:
    """Newest reading of ``attribute`` for every asset of a type in a domain (index seeks)."""
    sql = LATEST_SQL.format(district=" AND a.district_id = :district" if district else "")
    params = {"metric": attribute, "domain": domain, "type": asset_type, "district": district}
    return {pk: (Reading(int(t), float(v), u) if t is not None else None)
            for pk, t, v, u in conn.execute(text(sql), params)}


def beyond(rule: AlertRule, value: float) -> bool:
    """Whether ``value`` crosses the rule's threshold."""
    return value > rule.above if rule.above is not None else value < (rule.below or 0.0)


def asset_state(status: str | None, readings: dict[str, Reading | None],
                open_alerts: list[dict[str, Any]], rules: list[AlertRule],
                now: datetime, seen: int | None) -> tuple[str, list[str]]:
    """The state class of one asset and the reasons behind it (words for people).

    ``readings`` maps ``Type.attribute`` to the newest reading; ``rules`` are the alert
    rules of the asset's type; ``seen`` is the newest observation time (epoch seconds).
    """
    fresh = seen is not None and now.timestamp() - seen <= FRESH_FOR.total_seconds()
    reasons = [a["rule"] for a in open_alerts if a["severity"] in ALERT_SEVERITIES]
    notes: list[str] = []
    for rule in rules:
        reading = readings.get(rule.metric)
        if fresh and reading is not None and beyond(rule, reading.value):
            label = rule.rule.get("en") or rule.rule_id
            target = reasons if rule.severity in ALERT_SEVERITIES else notes
            if label not in reasons and label not in target:
                target.append(label)
    if reasons:
        return "alert", reasons
    if (status or "").strip().lower() not in HEALTHY_STATUSES:
        return "fault", [words(status or "")] + notes
    if not fresh:
        return "no data", ["No reading in the last 24 h" if seen else "Never reported"]
    return "ok", notes


def display(attribute: str | None, reading: Reading | None) -> tuple[float | None, str]:
    """A reading as shown: ratios as percent, other values rounded to two decimals."""
    if reading is None:
        return None, ""
    value, unit = shown(reading.value, reading.unit)
    assert value is not None  # a reading always has a value
    return round(value, 1 if unit == "%" else 2), unit


def _open_alerts(conn: Connection, domain: str, district: str | None,
                 rule_texts: dict[str, str]) -> dict[int, list[dict[str, Any]]]:
    stmt = (select(Alert.asset_pk, Alert.severity, Alert.rule)
            .join(Asset, Asset.pk == Alert.asset_pk)
            .where(Alert.cleared_at.is_(None), Asset.domain == domain))
    if district:
        stmt = stmt.where(in_place(Asset.district_id, district))
    found: dict[int, list[dict[str, Any]]] = {}
    for pk, severity, rule in conn.execute(stmt):
        found.setdefault(pk, []).append({"severity": severity,
                                         "rule": rule_texts.get(rule, rule)})
    return found


def _stamp(epoch: int | None) -> str | None:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat() if epoch else None


def domain_scopes(domain: str) -> tuple[str, ...]:
    """What a domain's asset states depend on (``dashboard.store.version`` scopes): its
    readings and last-seen times, its assets' alerts (``dashboard.ingest`` bumps
    ``alerts:<domain>`` with ``alerts``), asset records and districts."""
    return (f"domain:{domain}", f"alerts:{domain}", "assets", "districts")


def domain_assets(settings: Settings, domain: str, district: str | None) -> dict[str, Any]:
    """Every asset of ``domain`` (optionally one district) with its latest state.

    Shape: ``{"domain", "district", "total", "counts": {state: n}, "assets": [{"id",
    "href", "name", "type", "type_label", "district_id", "district", "lat", "lon",
    "status", "state", "state_label", "reasons", "measure", "value", "unit",
    "last_seen", "open_alerts", "readings": {metric: value}, "units": {metric: unit as
    stored}}]}`` (``last_seen`` ISO 8601 UTC, readings raw), most urgent first.
    Cached per data version and hour (freshness depends on the clock), and kept decoded
    in the process: callers read it, never change it.
    """
    now = settings.current_time()
    metrics = type_metrics(settings)
    rules = list(load_alert_rules(settings.kpis_file))
    names = {d["id"]: d["name"] for d in district_options(settings)}

    def compute(conn: Connection) -> dict[str, Any]:
        cols = (Asset.pk, Asset.id, Asset.name, Asset.type, Asset.district_id, Asset.lat,
                Asset.lon, Asset.status, Asset.last_seen)
        query = select(*cols).where(Asset.domain == domain)
        if district:
            query = query.where(in_place(Asset.district_id, district))
        found = conn.execute(query).all()
        readings: dict[int, dict[str, Reading | None]] = {}
        for kind in sorted({row.type for row in found}):
            for attribute in metrics.get(kind, []):
                for pk, reading in latest_values(conn, domain, kind, attribute,
                                                 district).items():
                    readings.setdefault(pk, {})[f"{kind}.{attribute}"] = reading
        alerts = _open_alerts(conn, domain, district,
                              {r.rule_id: r.rule.get("en", r.rule_id) for r in rules})
        rows = [_asset_row(row, readings.get(row.pk, {}), alerts.get(row.pk, []),
                           metrics, rules, now, names) for row in found]
        rows.sort(key=urgency)
        counts = {state: sum(1 for r in rows if r["state"] == state) for state in STATES}
        return {"domain": domain, "district": district, "total": len(rows),
                "counts": counts, "assets": rows}

    hour = int(now.timestamp()) // 3600
    return cached(settings, "domain_assets",
                  {"domain": domain, "district": district, "hour": hour}, compute,
                  domain_scopes(domain), shared=True)


def urgency(row: dict[str, Any]) -> tuple[Any, ...]:
    """Most urgent first: by state (alert, fault, no data, ok), then more open alerts, then
    the main reading furthest on its bad side (a fuller container before an emptier one;
    see ``worse``), then by name."""
    bad = row.get("worse")
    return (STATES.index(row["state"]), -row["open_alerts"], bad is None, -(bad or 0.0),
            row["name"].casefold())


def _worse(value: float | None, rules: list[AlertRule], metric: str | None) -> float | None:
    """``value`` signed so that bigger is worse, from the direction of ``metric``'s alert
    rules (``above``: high is bad; ``below``: low is bad); None without a rule or value."""
    if value is None or metric is None:
        return None
    for rule in rules:
        if rule.metric == metric:
            return value if rule.above is not None else -value
    return None


def _asset_row(row: Any, readings: dict[str, Reading | None], alerts: list[dict[str, Any]],
               metrics: dict[str, list[str]], rules: list[AlertRule], now: datetime,
               names: dict[str, str]) -> dict[str, Any]:
    kind = row.type
    attributes = metrics.get(kind, [])
    times = [r.time for r in readings.values() if r is not None]
    if attributes:
        seen = max(times) if times else None
    else:  # a type with no configured metric: the asset's own last-seen time
        seen = int(row.last_seen.timestamp()) if row.last_seen else None
    own_rules = [r for r in rules if r.metric.split(".", 1)[0] == kind]
    state, reasons = asset_state(row.status, readings, alerts, own_rules, now, seen)
    main = attributes[0] if attributes else None
    hint = DISPLAY_HINTS.get(kind)
    main_reading = readings.get(f"{kind}.{main}") if main else None
    value, unit = display(main, main_reading)
    return {
        "id": row.id, "href": asset_href(row.id), "name": row.name or row.id,
        "type": kind, "type_label": words(kind), "district_id": row.district_id,
        "district": names.get(row.district_id or "", "No district"),
        "lat": row.lat, "lon": row.lon, "status": row.status, "state": state,
        "state_label": STATE_WORDS[state], "reasons": reasons,
        "measure": hint[1] if hint else (metric_label(main) if main else ""),
        "value": value, "unit": unit, "last_seen": _stamp(seen),
        "open_alerts": len(alerts),
        "worse": _worse(main_reading.value if main_reading else None, own_rules,
                        f"{kind}.{main}" if main else None),
        "readings": {m: (r.value if r else None) for m, r in readings.items()},
        "units": {m: r.unit for m, r in readings.items() if r is not None},
    }


def asset_features(assets: list[dict[str, Any]], domain: str) -> dict[str, Any]:
    """The located assets as a GeoJSON FeatureCollection of points with their state."""
    keep = ("id", "name", "type_label", "district", "state", "state_label", "measure",
            "value", "unit", "last_seen", "open_alerts", "href")
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature",
         "geometry": {"type": "Point",
                      "coordinates": [round(a["lon"], 6), round(a["lat"], 6)]},
         "properties": {**{k: a[k] for k in keep}, "domain": domain}}
        for a in assets if a["lat"] is not None and a["lon"] is not None]}


def alerts_raised(settings: Settings, domain: str, district: str | None,
                  start: datetime | None, end: datetime) -> int:
    """How many alerts on the domain's assets were raised in ``[start, end)``."""

    def compute(conn: Connection) -> int:
        stmt = (select(func.count()).select_from(Alert)
                .join(Asset, Asset.pk == Alert.asset_pk)
                .where(Asset.domain == domain, Alert.raised_at < end))
        if start is not None:
            stmt = stmt.where(Alert.raised_at >= start)
        if district:
            stmt = stmt.where(in_place(Asset.district_id, district))
        return int(conn.execute(stmt).scalar_one())

    params = {"domain": domain, "district": district,
              "start": start.isoformat() if start else None, "end": end.isoformat()}
    return cached(settings, "domain_alerts_raised", params, compute)
