"""The asset page's time-series chart, its table alternative, alert list and CSV rows.

Pure functions of the shapes ``dashboard.queries.asset`` / ``asset_series`` return: a
resampled series (mean line, min-max band), the compared period (dotted), thresholds
(dashed lines with severity and value), alerts (markers and shaded spans).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from dash import html

from dashboard.units import metric_label
from layouts import (
    SEVERITY_COLOURS,
    SEVERITY_LABELS,
    SEVERITY_TEXT_COLOURS,
    exact_time,
    format_number,
    text,
    time_ago,
)
from layouts.tables import table_alternative

TABLE_ROWS = 500  # rows the table alternative shows; the CSV has every point
CSV_FIELDS = ("time", "mean", "min", "max", "count", "grain")
LINE = "#0c2d57"  # navy: darker than the info blue, so an info threshold is not the series
BAND = "rgba(12, 45, 87, 0.18)"
COMPARE = "#535e6b"
SEVERITY_FILLS = {"critical": "rgba(163, 27, 23, 0.10)", "warning": "rgba(184, 110, 0, 0.14)",
                  "info": "rgba(31, 95, 168, 0.10)"}
# Each severity's threshold line and alert marker also differ in dash and shape, so they
# are told apart in greyscale and by colour-blind readers (the label says it in words).
SEVERITY_DASH = {"critical": "dash", "warning": "dashdot", "info": "longdash"}
SEVERITY_SYMBOL = {"critical": "triangle-up", "warning": "diamond", "info": "circle"}
def decimals_for(values: list[float]) -> int:
    """Decimals that show a series' values sensibly (3 for ratios, 1 for big numbers)."""
    if all(float(v).is_integer() for v in values):
        return 0
    biggest = max(abs(v) for v in values)
    return 3 if biggest < 1 else 2 if biggest < 10 else 1


def local_time(epoch: int, tz: str) -> str:
    """Epoch seconds as ``2026-11-23 20:00`` in the city's time zone (Plotly reads it)."""
    return datetime.fromtimestamp(epoch, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _local_iso(iso: str, tz: str) -> str:
    moment = datetime.fromisoformat(iso)
    return local_time(int(moment.timestamp()), tz)


def _threshold_shape(rule: dict[str, Any]) -> dict[str, Any]:
    label = SEVERITY_LABELS.get(rule["severity"], ("", rule["severity"]))[1]
    severity = rule["severity"]
    return {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y",
            "y0": rule["threshold"], "y1": rule["threshold"],
            "line": {"color": SEVERITY_COLOURS.get(severity, COMPARE), "width": 1.5,
                     "dash": SEVERITY_DASH.get(severity, "dash")},
            "label": {"text": f"{label} {rule['operator']} {rule['threshold']:g}",
                      "textposition": "end", "yanchor": "bottom",
                      "font": {"color": SEVERITY_TEXT_COLOURS.get(severity, COMPARE),
                               "size": 11}}}


def value_range(series: dict[str, Any], rules: list[dict[str, Any]],
                alerts: list[dict[str, Any]]) -> list[float] | None:
    """A y range holding the values, thresholds and alerts with room for the labels."""
    values = [v for p in series["points"] + series.get("compared", [])
              for v in (p["min"], p["max"])]
    values += [r["threshold"] for r in rules] + [a["value"] for a in alerts]
    if not values:
        return None
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or abs(high) * 0.1 or 1.0
    return [low - pad, high + pad]


def series_figure(series: dict[str, Any], *, label: str, unit: str,
                  rules: list[dict[str, Any]], alerts: list[dict[str, Any]],
                  tz: str) -> dict[str, Any]:
    """The chart: mean line, min-max band when resampled, compared period dotted,
    thresholds dashed, this metric's alerts as markers and (when cleared) shaded spans."""
    points = series["points"]
    xs = [local_time(p["time"], tz) for p in points]
    resampled = series["width"] > 0
    data: list[dict[str, Any]] = []
    if resampled:
        data.append({"type": "scatter", "mode": "lines", "x": xs, "y": [p["min"] for p in points],
                     "line": {"width": 0, "color": LINE}, "hoverinfo": "skip",
                     "showlegend": False, "name": "minimum"})
        data.append({"type": "scatter", "mode": "lines", "x": xs, "y": [p["max"] for p in points],
                     "line": {"width": 0, "color": LINE}, "fill": "tonexty", "fillcolor": BAND,
                     "hoverinfo": "skip", "name": "range (min–max)"})
    data.append({"type": "scatter", "mode": "lines", "x": xs, "y": [p["mean"] for p in points],
                 "name": f"mean per {series['grain']}" if resampled else "reading",
                 "line": {"color": LINE, "width": 2},
                 "hovertemplate": f"%{{y:.{decimals_for([p['mean'] for p in points])}f}}"
                                  f" {unit}"})
    if series.get("compared"):
        compared = series["compared"]
        data.append({"type": "scatter", "mode": "lines", "name": series["compare_label"],
                     "x": [local_time(p["time"], tz) for p in compared],
                     "y": [p["mean"] for p in compared],
                     "line": {"color": COMPARE, "width": 1.6, "dash": "dot"},
                     "hoverinfo": "skip"})
    shapes = [_threshold_shape(rule) for rule in rules]
    if alerts:
        data.append({
            "type": "scatter", "mode": "markers", "name": "alert raised",
            "x": [_local_iso(a["raised_at"], tz) for a in alerts],
            "y": [a["value"] for a in alerts],
            "text": [f"{SEVERITY_LABELS.get(a['severity'], ('', a['severity']))[1]}: "
                     f"{text(a['rule_text'])}" for a in alerts],
            "hovertemplate": "%{text}, peak %{y}",
            "marker": {"symbol": [SEVERITY_SYMBOL.get(a["severity"], "triangle-up")
                                  for a in alerts], "size": 12,
                       "color": [SEVERITY_COLOURS.get(a["severity"], COMPARE) for a in alerts],
                       "line": {"color": "#ffffff", "width": 1}}})
        shapes += [{"type": "rect", "xref": "x", "yref": "paper", "y0": 0, "y1": 1,
                    "x0": _local_iso(a["raised_at"], tz), "x1": _local_iso(a["cleared_at"], tz),
                    "fillcolor": SEVERITY_FILLS.get(a["severity"], BAND), "line": {"width": 0},
                    "layer": "below"} for a in alerts if a.get("cleared_at")]
    axis_title = f"{label} ({unit})" if unit else label
    yaxis: dict[str, Any] = {"title": {"text": axis_title}, "gridcolor": "#edf0f3",
                             "zeroline": False, "linecolor": "#8c97a5", "fixedrange": True}
    y_range = value_range(series, rules, alerts)
    if y_range:
        yaxis["range"] = y_range
    return {"data": data, "layout": {
        "height": 400, "margin": {"l": 64, "r": 24, "t": 48, "b": 40},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "#ffffff",
        "font": {"family": "Inter, Segoe UI, system-ui, sans-serif", "size": 12,
                 "color": "#17212d"},
        "hovermode": "x unified", "shapes": shapes,
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02,
                   "yanchor": "bottom"},
        "xaxis": {"type": "date", "range": [local_time(series["start"], tz),
                                            local_time(series["end"], tz)],
                  "gridcolor": "#edf0f3", "linecolor": "#8c97a5",
                  "rangeselector": {"x": 0, "y": 1.02, "yanchor": "bottom",
                                    "bgcolor": "#eef2f7", "activecolor": "#c9d8ea",
                                    "buttons": [
                                        {"count": 1, "label": "1 d", "step": "day",
                                         "stepmode": "backward"},
                                        {"count": 7, "label": "7 d", "step": "day",
                                         "stepmode": "backward"},
                                        {"count": 1, "label": "1 m", "step": "month",
                                         "stepmode": "backward"},
                                        {"step": "all", "label": "whole period"}]}},
        "yaxis": yaxis, "showlegend": True,
    }}


def series_rows(series: dict[str, Any], tz: str) -> list[dict[str, Any]]:
    """The points as table rows: local time, mean, min, max, count."""
    return [{"time": local_time(p["time"], tz), "mean": p["mean"], "min": p["min"],
             "max": p["max"], "count": p["count"]} for p in series["points"]]


def series_table(series: dict[str, Any], label: str, unit: str, tz: str) -> list[Any]:
    """The table alternative of the chart (the latest ``TABLE_ROWS`` points, with a note)."""
    rows = series_rows(series, tz)
    shown = rows[-TABLE_ROWS:]
    caption = f"{label} ({unit}), {series['grain']} values, times in {tz}" if unit else label
    columns = [("time", "Time"), ("mean", "Mean"), ("min", "Minimum"), ("max", "Maximum"),
               ("count", "Readings")]
    parts: list[Any] = [table_alternative(caption, columns, shown,
                                          decimals=decimals_for([p["mean"] for p in shown]))]
    if len(rows) > len(shown):
        parts.append(html.P(f"The table shows the latest {len(shown)} of {len(rows)} points; "
                            "the CSV download has all of them.", className="asset-note"))
    return parts


def csv_rows(series: dict[str, Any]) -> list[dict[str, Any]]:
    """Exactly the points the chart shows: UTC time, mean, min, max, count and the grain."""
    return [{"time": datetime.fromtimestamp(p["time"], timezone.utc).isoformat(),
             "mean": p["mean"], "min": p["min"], "max": p["max"], "count": p["count"],
             "grain": series["grain"]} for p in series["points"]]


def alerts_block(alerts: list[dict[str, Any]], *, now: datetime, tz: str,
                 labels: dict[str, str]) -> html.Div:
    """The asset's alerts in the period: severity in words, rule, value, raised, cleared."""
    if not alerts:
        return html.Div([html.Span("✓", **{"aria-hidden": "true"}),
                         " No alerts in this period"], className="alerts-empty")
    items = []
    for alert in alerts:
        severity = alert["severity"]
        icon, words = SEVERITY_LABELS.get(severity, SEVERITY_LABELS["info"])
        metric = alert["metric"].split(".", 1)[-1]
        cleared: Any = html.Span([html.Span("●", **{"aria-hidden": "true"}), " active"],
                                 className="asset-alert__active")
        if alert.get("cleared_at"):
            cleared = html.Span(f"cleared {exact_time(alert['cleared_at'], tz)}")
        items.append(html.Li(className=f"alert alert--{severity}", children=[
            html.Span([html.Span(icon, **{"aria-hidden": "true"}), f" {words}"],
                      className=f"severity severity--{severity}"),
            html.Div(className="alert__body", children=[
                html.Div(text(alert["rule_text"]), className="alert__asset"),
                html.Div(f"{labels.get(metric, metric_label(metric))} · peak value "
                         f"{format_number(alert['value'], decimals_for([alert['value']]))}",
                         className="alert__what"),
                html.Div([html.Span(f"raised {exact_time(alert['raised_at'], tz)}",
                                    title=time_ago(alert["raised_at"], now)), " · ", cleared],
                         className="alert__where"),
            ]),
        ]))
    return html.Ul(items, className="alerts-list asset-alerts")
