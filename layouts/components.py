"""Shared builders: KPI card, city score badge, filter bar, sparkline, alerts (the city map
is in ``layouts.city_map``).

Pure functions of plain dicts (the shapes ``dashboard.queries`` returns) that return
Dash components; they hold no data and never query anything.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from dash import dcc, html

from dashboard.kpis.coverage import partial_label
from dashboard.links import asset_href
from dashboard.periods import is_custom
from layouts import (
    SEVERITY_LABELS,
    STATUS_COLOURS,
    STATUS_LABELS,
    WINDOWS,
    domain_label,
    exact_time,
    format_change,
    format_number,
    ids,
    status_of,
    text,
    time_ago,
)
from layouts.filters import folding

SPARK_CONFIG = {"staticPlot": True, "displayModeBar": False, "responsive": True}
YEAR_BEFORE = "the same window a year before"


# What a KPI's source asset is called, by the FIWARE type its metric reads (``sources``:
# "observations:<Type>.<attribute>"), for "No air-quality station in this district".
SOURCE_NOUNS = {
    "AirQualityObserved": "air-quality station", "NoiseLevelObserved": "noise sensor",
    "TrafficFlowObserved": "traffic sensor", "GtfsStop": "bus stop",
    "OffStreetParking": "monitored car park", "WasteContainer": "container with a sensor",
    "WaterConsumptionObserved": "water meter", "WaterQualityObserved": "water-quality station",
    "ThreePhaseAcMeasurement": "metered public building", "Streetlight": "metered street light",
}


def source_noun(kpi: dict[str, Any]) -> str:
    """What the asset a KPI reads is called (``sensor`` for a type not named here)."""
    for source in kpi.get("sources") or []:
        if source.startswith("observations:"):
            return SOURCE_NOUNS.get(source.split(":", 1)[1].split(".", 1)[0], "sensor")
    return "sensor"


def no_source_tag(kpi: dict[str, Any], place: str = "this district") -> html.Span:
    """``No air-quality station in this district``: said instead of "Stale" where the place
    has no asset of the kind the KPI reads (``no_source``), so no data is coming."""
    return html.Span(f"No {source_noun(kpi)} in {place}", className="tag tag--no-source",
                     title="Nothing of the kind this KPI reads is located here, so it has "
                           "no value (not a feed that stopped)")


def js(name: str) -> dict[str, str]:
    """A reference to a function of ``assets/map.js`` for dash-leaflet props."""
    return {"variable": f"dashExtensions.default.{name}"}


def status_badge(status: str) -> html.Span:
    """Icon + words for on/near/off target, so colour is never the only cue."""
    icon, label = STATUS_LABELS.get(status, STATUS_LABELS["none"])
    return html.Span([html.Span(icon, className="status-badge__icon", **{"aria-hidden": "true"}),
                      html.Span(label)], className=f"status-badge status-badge--{status}")


def _versus(window: str) -> str:
    """What a window is compared with: ``previous week``; for a custom range, the days
    just before it."""
    if is_custom(window):
        return "the days just before"
    return WINDOWS.get(window, ("", f"previous {window}"))[1]


def _smart(value: float | None, decimals: int) -> str:
    """A number with ``decimals``, but whole targets without trailing zeros."""
    if value is not None and float(value).is_integer():
        return format_number(value, 0)
    return format_number(value, decimals)


def trend_span(change: float | None, improving: bool | None, versus: str,
               missing: str = "No earlier data", *, unit: str | None = "%",
               decimals: int = 1) -> html.Span:
    """▲/▼ with the size of the change (``layouts.format_change``: relative, percentage
    points or the KPI's unit) and whether that is good news; ``missing`` when there is
    nothing to compare with."""
    if change is None:
        return html.Span(missing, className="trend trend--none", title=versus)
    if improving is None and (abs(change) < 0.0005 or unit not in (None, "%")):
        return html.Span("● steady", className="trend trend--flat", title=versus)
    arrow = "▲" if change > 0 else "▼"
    word = "improving" if improving else ("worsening" if improving is False else "steady")
    cls = {"improving": "improving", "worsening": "worsening"}.get(word, "flat")
    return html.Span(
        [html.Span(arrow, **{"aria-hidden": "true"}),
         f" {format_change(change, unit, decimals)} ",
         html.Span(word, className="trend__word")],
        className=f"trend trend--{cls}", title=f"{'Up' if change > 0 else 'Down'} vs {versus}",
    )


def coverage_tag(coverage: dict[str, Any] | None) -> html.Span | None:
    """``partial: 90 of 365 days`` when a KPI's data covers too little of its window."""
    label = partial_label(coverage)
    if not label:
        return None
    return html.Span(label, className="tag tag--partial",
                     title="The value is computed over the time its data covers, not the "
                           "whole window")


def sparkline_figure(spark: list[dict[str, Any]], status: str = "none") -> dict[str, Any]:
    """A tiny line (no axes, no hover) of a KPI's recent values, as a plain figure dict."""
    colour = STATUS_COLOURS.get(status, STATUS_COLOURS["none"])
    xs = [p["t"] for p in spark]
    ys = [p["v"] for p in spark]
    data: list[dict[str, Any]] = [{
        "type": "scatter", "mode": "lines", "x": xs, "y": ys, "hoverinfo": "skip",
        "line": {"color": colour, "width": 2}, "fill": "none",
    }]
    if xs:
        data.append({"type": "scatter", "mode": "markers", "x": xs[-1:], "y": ys[-1:],
                     "marker": {"color": colour, "size": 5}, "hoverinfo": "skip"})
    axis = {"visible": False, "fixedrange": True}
    return {"data": data, "layout": {
        "height": 44, "margin": {"l": 2, "r": 4, "t": 4, "b": 4}, "showlegend": False,
        "xaxis": axis, "yaxis": axis,
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
    }}


def freshness(iso: str | None, now: datetime, tz: str, prefix: str = "as of") -> html.Span:
    """``as of 12 min ago`` with the exact local time as its tooltip."""
    if not iso:
        return html.Span("no data yet", className="freshness")
    return html.Span(f"{prefix} {time_ago(iso, now)}", title=exact_time(iso, tz),
                     className="freshness")


def kpi_card(kpi: dict[str, Any], lang: str = "en", *, window: str = "week",
             now: datetime | None = None, tz: str = "UTC",
             domain_href: str | None = None, place: str = "the city",
             notify: Any = None) -> html.Div:
    """One KPI: value and unit, target, trend, sparkline, freshness; coloured by status.

    The trend compares with the previous window or, when the KPI carries ``year_ago``
    (``queries.district.with_year_ago``), with the same window a year before.
    With ``domain_href`` the domain label links to that (domain page) URL. A KPI with
    nothing to read in its ``place`` ("this district", "the city") says so (``no_source``)
    instead of a freshness and "Stale". ``notify`` (a "Notify me" button) ends its foot."""
    now = now or datetime.now(timezone.utc)
    status = status_of(kpi.get("score"))
    decimals = int(kpi.get("decimals", 1))
    name, unit = text(kpi["name"], lang), kpi.get("unit", "")
    comparator = "≤" if kpi.get("direction") == "lower" else "≥"
    spark = kpi.get("spark") or []
    foot: list[Any] = ([no_source_tag(kpi, place)] if kpi.get("no_source")
                       else [freshness(kpi.get("as_of"), now, tz)])
    partial = coverage_tag(kpi.get("coverage"))
    if partial is not None:
        foot.append(partial)
    if kpi.get("stale"):
        foot.append(html.Span("Stale", className="tag tag--stale",
                              title="Newest data is older than expected for this KPI"))
    if notify is not None:
        foot.append(notify)
    return html.Div(
        id=ids.kpi_card(kpi["id"]),
        className=f"kpi-card kpi-card--{status}",
        children=[
            html.Div([dcc.Link(domain_label(kpi.get("domain", "")), href=domain_href,
                               className="kpi-card__domain")
                      if domain_href else
                      html.Span(domain_label(kpi.get("domain", "")), className="kpi-card__domain"),
                      status_badge(status)], className="kpi-card__head"),
            html.H3(name, className="kpi-card__name", title=name),
            html.Div([
                html.Span([html.Span(format_number(kpi.get("value"), decimals),
                                     className="kpi-card__value"),
                           html.Span(unit if kpi.get("value") is not None else "",
                                     className="kpi-card__unit")]),
                trend_span(kpi.get("year_change"), kpi.get("year_improving"), YEAR_BEFORE,
                           "No data a year before" if kpi.get("year_ago") is None
                           else "No change to measure",
                           unit=kpi.get("year_change_unit"), decimals=decimals)
                if "year_ago" in kpi else
                trend_span(kpi.get("change"), kpi.get("improving"), _versus(window),
                           unit=kpi.get("change_unit"), decimals=decimals),
            ], className="kpi-card__value-row"),
            html.Div(f"Target {comparator} {_smart(kpi.get('target'), decimals)} {unit}".strip(),
                     className="kpi-card__target"),
            html.Div(f"A year before: {format_number(kpi['year_ago'], decimals)} {unit}".strip(),
                     className="kpi-card__year") if kpi.get("year_ago") is not None else None,
            dcc.Graph(id=ids.kpi_spark(kpi["id"]), figure=sparkline_figure(spark, status),
                      config=SPARK_CONFIG, className="kpi-card__spark", responsive=True,
                      style={"height": "44px"})
            if spark else html.Div("No recent series",
                                   className="kpi-card__spark kpi-card__spark--empty"),
            html.Div(foot, className="kpi-card__foot"),
        ],
    )


def city_score_badge(score: dict[str, Any], *, place: str = "City", window: str = "week",
                     as_of: str | None = None, kpi_count: int | None = None,
                     now: datetime | None = None, tz: str = "UTC") -> html.Div:
    """The city (or district) score, 1.00 = on target, with its change and a meter."""
    now = now or datetime.now(timezone.utc)
    value, delta = score.get("value"), score.get("trend")
    status = status_of(value)
    if value is not None and delta is not None:
        arrow = "▲" if delta > 0.0005 else ("▼" if delta < -0.0005 else "●")
        word = "improving" if delta > 0.0005 else ("worsening" if delta < -0.0005 else "steady")
        trend = html.Div([html.Span(arrow, **{"aria-hidden": "true"}),
                          f" {abs(delta):.2f} {word} vs {_versus(window)}"],
                         className=f"trend trend--{word if word != 'steady' else 'flat'}")
    else:
        trend = html.Div("No earlier window to compare", className="trend trend--none")
    scored = score.get("kpis_scored", 0)
    meta = f"{scored} of {kpi_count} KPIs scored" if kpi_count else f"{scored} KPIs scored"
    if score.get("kpis_partial"):
        meta += f" ({score['kpis_partial']} on partial data)"
    fill = 0 if value is None else max(0.0, min(value / 1.5, 1.0)) * 100
    return html.Div(id=ids.CITY_SCORE, className=f"score-card score-card--{status}", children=[
        html.Div(f"{place} score", className="score-card__label"),
        html.Div([html.Span(format_number(value, 2), className="score-card__value"),
                  status_badge(status)], className="score-card__main"),
        html.Div(html.Div(className="score-meter__fill", style={"width": f"{fill:.0f}%"}),
                 className="score-meter", title="1.00 means every KPI on target",
                 role="img", **{"aria-label": f"Score {format_number(value, 2)}, target 1.00"}),
        trend,
        html.Div([meta, " · 1.00 = on target"], className="score-card__meta"),
        html.Div(freshness(as_of, now, tz, prefix="Data as of"), className="score-card__meta"),
    ])


def filter_bar(districts: list[dict[str, Any]], district: str | None, window: str,
               departments: list[dict[str, str]] | None = None,
               department: str | None = None, compare: str | None = None,
               range_picker: Any = None, places: list[dict[str, str]] | None = None
               ) -> html.Div:
    """District selector (``district-filter``; "" = whole city; ``places``: its options
    when given, municipalities among them), the department selector
    (when its options ``departments`` are given), ``window-filter`` (and, when given, a
    custom range picker after it) and what the KPI cards compare with
    (``overview-compare``: "" = the previous window, "year" = a year before)."""
    chosen_department = [] if departments is None else [html.Div([
        html.Label("Department", htmlFor=ids.OVERVIEW_DEPARTMENT, className="filter-bar__label"),
        dcc.Dropdown(id=ids.OVERVIEW_DEPARTMENT, value=department or "", clearable=False,
                     className="filter-bar__department", maxHeight=360,
                     options=departments),
    ], className="filter-bar__field filter-bar__field--district")]
    return folding(html.Div(id=ids.OVERVIEW_FILTERS, className="filter-bar", role="search",
                            children=[
        html.Div([
            html.Label("District" if places is None else "Place", htmlFor=ids.DISTRICT_FILTER,
                       className="filter-bar__label"),
            dcc.Dropdown(id=ids.DISTRICT_FILTER, value=district or "", clearable=False,
                         className="filter-bar__district", maxHeight=360,
                         options=places if places is not None else
                         [{"label": "Whole city", "value": ""}]
                         + [{"label": d["name"], "value": d["id"]} for d in districts]),
        ], className="filter-bar__field filter-bar__field--district"),
        *chosen_department,
        html.Div([
            html.Span("Period", id=f"{ids.WINDOW_FILTER}-label", className="filter-bar__label"),
            dcc.RadioItems(id=ids.WINDOW_FILTER, value=window, inline=True,
                           className="segmented", inputClassName="segmented__input",
                           labelClassName="segmented__option",
                           options=[{"label": label, "value": key}
                                    for key, (label, _) in WINDOWS.items()]),
        ], className="filter-bar__field", role="group",
            **{"aria-labelledby": f"{ids.WINDOW_FILTER}-label"}),
        *([range_picker] if range_picker is not None else []),
        html.Div([
            html.Label("Compare with", htmlFor=ids.OVERVIEW_COMPARE,
                       className="filter-bar__label"),
            dcc.Dropdown(id=ids.OVERVIEW_COMPARE, value=compare or "", clearable=False,
                         searchable=False, className="filter-bar__compare",
                         options=[{"label": "Previous window", "value": ""},
                                  {"label": "Same window a year before", "value": "year"}]),
        ], className="filter-bar__field"),
    ]))


def alerts_elsewhere(elsewhere: list[dict[str, Any]]) -> html.P | None:
    """"2 more active alerts in other districts: General Dávila (1) · Cueto (1)", each a
    link (its ``href``) to the same view there; nothing when there are none."""
    total = sum(e["count"] for e in elsewhere)
    if not total:
        return None
    links: list[Any] = []
    for entry in elsewhere:
        if links:
            links.append(" · ")
        links.append(dcc.Link(f"{entry['district_name']} ({entry['count']})",
                              href=entry["href"]))
    noun = "alert" if total == 1 else "alerts"
    return html.P([f"{total} more active {noun} in other districts: ", *links],
                  className="alerts-elsewhere")


def alerts_list(alerts: list[dict[str, Any]], *, now: datetime | None = None,
                lang: str = "en", tz: str = "UTC", where: str = "district") -> html.Div:
    """The active alerts, most severe first, or a calm empty state. Each names (and links)
    its asset and says ``where`` it is: its district, or its domain (within a district)."""
    now = now or datetime.now(timezone.utc)
    if not alerts:
        return html.Div([html.Span("✓", **{"aria-hidden": "true"}), " No active alerts"],
                        className="alerts-empty")
    items = []
    for alert in alerts:
        severity = alert.get("severity", "info")
        icon, label = SEVERITY_LABELS.get(severity, SEVERITY_LABELS["info"])
        what = text(alert.get("rule_text"), lang) or alert.get("metric", "")
        place = (domain_label(alert.get("domain", "")) if where == "domain"
                 else alert.get("district_name") or "No district")
        items.append(html.Li(className=f"alert alert--{severity}", children=[
            html.Span([html.Span(icon, **{"aria-hidden": "true"}), f" {label}"],
                      className=f"severity severity--{severity}"),
            html.Div([
                dcc.Link(alert.get("asset_name") or alert.get("asset_id"),
                         href=asset_href(alert.get("asset_id", "")), className="alert__asset"),
                html.Div(f"{what} · value "
                         f"{format_number(alert.get('display_value', alert.get('value')), 1)}"
                         f" {alert.get('display_unit', '')}".rstrip(),
                         className="alert__what"),
                html.Div([place, " · ", html.Span(time_ago(alert.get("raised_at"), now),
                                                 title=exact_time(alert.get("raised_at"), tz))],
                         className="alert__where"),
            ], className="alert__body"),
        ]))
    return html.Ul(items, className="alerts-list")
