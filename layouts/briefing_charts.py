"""The briefing's charts (``plotly.graph_objects``, no Dash), drawn from the briefing's
content: the city score by window against the previous window, and the best and worst
KPIs' scores against the target (1.0). Every bar carries its number as text, and a
status mark besides its colour, so no figure needs colour to be read; the palette is
told apart with protanopia and deuteranopia (``tests/test_briefing_pdf.py``)."""
from __future__ import annotations

import textwrap
from typing import Any

import plotly.graph_objects as go

from dashboard.briefing.formats import score_text, status_words, window_name
from dashboard.i18n import format_number, gettext_for
from layouts import STATUS_COLOURS

WIDTH = 680  # CSS pixels: the width of the document's column
FONT = "Liberation Sans, Arial, Helvetica, sans-serif"
INK, GRID, TARGET = "#1f2933", "#d9dee4", "#3d4752"
NOW_COLOUR, BEFORE_COLOUR = "#1f5fa8", "#a9c1dd"  # this period / the previous one
NAME_WIDTH = 30  # characters of a KPI's name per line on the axis


def separators(lang: str) -> str:
    """Plotly's decimal and thousands separators for ``lang`` (es ``,.``, en ``.,``)."""
    decimal = format_number(0.5, lang, 1)[1]
    return decimal + ("." if decimal == "," else ",")


def _layout(lang: str, height: int, **more: Any) -> dict[str, Any]:
    return {"width": WIDTH, "height": height, "separators": separators(lang),
            "font": {"family": FONT, "size": 13, "color": INK},
            "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
            "margin": {"l": 12, "r": 24, "t": 36, "b": 36}, "showlegend": False, **more}


def score_windows_figure(briefing: dict[str, Any]) -> go.Figure:
    """The city score of each window (day, week, month, quarter) beside the previous one,
    with the target line at 1.0."""
    lang = briefing["language"]
    _ = gettext_for(lang)
    rows = briefing["windows"]
    names = [window_name(r["window"], lang) for r in rows]
    figure = go.Figure()
    for label, key, colour in ((_("Previous"), "previous", BEFORE_COLOUR),
                               (_("This period"), "score", NOW_COLOUR)):
        values = [r[key] for r in rows]
        figure.add_trace(go.Bar(
            name=label, x=names, y=values, marker={"color": colour, "line": {"color": INK,
                                                                            "width": 0.5}},
            text=[score_text(v, lang) if v is not None else "" for v in values],
            textposition="outside", cliponaxis=False, textfont={"size": 13, "color": INK}))
    top = max([1.0, *(r[k] for r in rows for k in ("score", "previous") if r[k] is not None)])
    # the target line, named in the legend (a label on the chart would meet the bars')
    figure.add_trace(go.Scatter(
        x=[names[0], names[-1]], y=[1.0, 1.0], mode="lines", hoverinfo="skip",
        name=_("Target {score}").format(score=score_text(1.0, lang)),
        line={"color": TARGET, "width": 1.5, "dash": "dash"}))
    figure.add_hline(y=1.0, line={"color": TARGET, "width": 1.5, "dash": "dash"})
    figure.update_layout(**_layout(
        lang, 300, barmode="group", bargap=0.3, showlegend=True,
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.14},
        yaxis={"range": [0, top * 1.22], "gridcolor": GRID, "zeroline": True,
               "zerolinecolor": TARGET, "tickformat": ".1f", "title": None},
        xaxis={"title": None}))
    return figure


def _wrapped(name: str) -> str:
    return "<br>".join(textwrap.wrap(name, NAME_WIDTH)) or name


def kpi_scores_figure(items: list[dict[str, Any]], lang: str) -> go.Figure:
    """Horizontal bars of some KPIs' scores (first on top), coloured and marked by their
    target status, with the target line at 1.0."""
    _ = gettext_for(lang)
    names = [_wrapped(k["name"]) for k in items]
    scores = [k["score"] for k in items]
    labels = []
    for kpi in items:
        mark, words = status_words(kpi["status"], lang)
        labels.append(f"{score_text(kpi['score'], lang)} {mark} {words}")
    colours = [STATUS_COLOURS.get(k["status"] or "none", STATUS_COLOURS["none"]) for k in items]
    figure = go.Figure(go.Bar(  # the label inside a bar long enough, in white, else beyond
        x=scores, y=names, orientation="h", marker={"color": colours},
        text=labels, textposition="auto", insidetextanchor="end", cliponaxis=False,
        insidetextfont={"size": 12, "color": "#ffffff"},
        outsidetextfont={"size": 12, "color": INK}))
    top = max([1.0, *(s for s in scores if s is not None)])
    figure.add_vline(x=1.0, line={"color": TARGET, "width": 1.5, "dash": "dash"},
                     annotation={"text": _("Target {score}").format(score=score_text(1.0, lang)),
                                 "font": {"size": 12, "color": INK}},
                     annotation_position="top")
    lines = sum(n.count("<br>") + 1 for n in names)
    figure.update_layout(**_layout(
        lang, 70 + 22 * lines + 14 * len(items), bargap=0.35,
        xaxis={"range": [0, top * 1.55], "gridcolor": GRID, "tickformat": ".1f",
               "title": None},
        yaxis={"autorange": "reversed", "automargin": True, "title": None}))
    return figure


def briefing_figures(briefing: dict[str, Any]) -> dict[str, go.Figure]:
    """The briefing's charts by name (``score-windows``, ``kpi-best``, ``kpi-worst``);
    a list with no KPI has no chart."""
    lang = briefing["language"]
    found = {"score-windows": score_windows_figure(briefing)}
    for name, key in (("kpi-best", "best"), ("kpi-worst", "worst")):
        if briefing[key]:
            found[name] = kpi_scores_figure(briefing[key], lang)
    return found
