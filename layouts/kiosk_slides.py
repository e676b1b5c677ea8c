"""The kiosk's live-city slides (city score, air, parking, buses) and what every slide
shares. Each builder takes the kiosk data (``dashboard.queries.kiosk``), the language and
the settings, and returns (title, body) or None when it has nothing to show (e.g. no
transit data); ``layouts.kiosk_civic`` has the others. Text through the catalogues;
numbers and dates per locale; every colour comes with a word or a mark; nothing here needs
hovering."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import html

from dashboard.i18n import (
    N_,
    format_number,
    format_percent,
    format_time,
    gettext_for,
    language_name,
    ngettext_for,
    text_and_language,
    text_in,
)
from dashboard.queries import district_outlines
from dashboard.settings import Settings
from layouts import parse_time
from layouts.kiosk_map import air_map

Slide = tuple[str, list[Any]]


def status_words(status: str | None, lang: str) -> tuple[str, str]:
    """(mark, words) of a target status, in plain words."""
    _ = gettext_for(lang)
    return {"on": ("✓", _("On target")), "near": ("!", _("Close to target")),
            "off": ("✕", _("Needs work"))}.get(status or "", ("–", _("No data")))


# Units of the KPI catalogue that are words (the others are symbols, the same everywhere).
UNIT_WORDS = {"L/day": N_("L/day"), "days": N_("days"), "/1,000": N_("per 1,000")}


def kpi_value(value: float | None, unit: str, decimals: int, lang: str) -> str:
    if value is None:
        return "–"
    if unit == "%":
        return format_percent(value / 100, lang, decimals)
    _ = gettext_for(lang)
    unit = _(UNIT_WORDS[unit]) if unit in UNIT_WORDS else unit
    return f"{format_number(value, lang, decimals)} {unit}".strip()


def in_language(value: Any, lang: str, source: str) -> tuple[Any, str | None]:
    """A name or title of the city's data in the visitor's language when it has one; else
    as the city wrote it (``source``, the city's own language; else English, else any),
    marked with a small tag of its language ("Agua (es)") in a span that says its ``lang``.
    Returns the text or marked span, and the language fallen back to (None when none)."""
    text, shown = text_and_language(value, lang, (source,))
    if shown is None or shown == lang:
        return text, None
    return html.Span([text, " ", html.Span(f"({shown})", className="kiosk-lang-tag")],
                     lang=shown), shown


def fallback_note(languages: set[str | None], lang: str) -> html.P | None:
    """The note that explains the language tags of a slide's untranslated names."""
    _ = gettext_for(lang)
    codes = sorted(code for code in languages if code)
    notes = [_("({code}) not translated yet: shown in {language}").format(
        code=code, language=language_name(code, lang)) for code in codes]
    return html.P(" · ".join(notes), className="kiosk-fallback") if notes else None


def slide_head(title: str, lead: str | None = None) -> list[Any]:
    return [html.H2(title, className="kiosk-title")] + (
        [html.P(lead, className="kiosk-lead")] if lead else [])


def city_slide(data: dict[str, Any], lang: str, settings: Settings) -> Slide | None:
    """The city score and the headline KPIs, in plain words."""
    _ = gettext_for(lang)
    head = data["headline"]
    score = head["city_score"]
    if score["value"] is None and not head["kpis"]:
        return None  # a city whose data has not arrived yet
    mark, words = status_words(score["status"], lang)
    tiles = []
    for kpi in head["kpis"][:10]:  # landscape shows the first 8 (assets/kiosk.css)
        kmark, kwords = status_words(kpi["status"], lang)
        target = kpi_value(kpi["target"], kpi["unit"], kpi["decimals"], lang)
        tiles.append(html.Li(className=f"kiosk-kpi kiosk-kpi--{kpi['status'] or 'none'}",
                             children=[
            html.Span(text_in(kpi["name"], lang), className="kiosk-kpi__name"),
            html.Span(kpi_value(kpi["value"], kpi["unit"], kpi["decimals"], lang),
                      className="kiosk-kpi__value"),
            html.Span([html.Span(kmark, className="kiosk-mark", **{"aria-hidden": "true"}),
                       f" {kwords} · " + _("target {target}").format(target=target)],
                      className="kiosk-kpi__status"),
        ]))
    value = "–" if score["value"] is None else format_number(score["value"], lang, 2)
    return _("How is the city doing?"), [
        *slide_head(_("How is the city doing?"),
               _("This week's results against the city's targets. "
                 "A score of 1.00 means the city is on target.")),
        html.Div(className="kiosk-city", children=[
            html.Div(className=f"kiosk-score kiosk-score--{score['status'] or 'none'}",
                     children=[html.Span(_("City score"), className="kiosk-score__label"),
                               html.Span(value, className="kiosk-score__value"),
                               html.Span([html.Span(mark, **{"aria-hidden": "true"}),
                                          f" {words}"], className="kiosk-score__status")]),
            html.Ul(tiles, className="kiosk-kpis"),
        ]),
    ]


BAND_NAMES = {"good": N_("Good"), "fair": N_("Fair"), "moderate": N_("Moderate"),
              "poor": N_("Poor"), "very_poor": N_("Very poor"),
              "extremely_poor": N_("Extremely poor")}


def band_name(band: str | None, lang: str) -> str:
    """The index band in words (the catalogue translates them)."""
    _ = gettext_for(lang)
    return _(BAND_NAMES[band]) if band in BAND_NAMES else _("No station")


def air_slide(data: dict[str, Any], lang: str, settings: Settings) -> Slide | None:
    """Air quality now by district: map and list, with the European index's words."""
    _ = gettext_for(lang)
    air = data["air"]
    rows = [html.Li(className=f"kiosk-air kiosk-band--{d['band'] or 'none'}", children=[
        html.Span(d["district_name"], className="kiosk-air__place"),
        html.Span(band_name(d["band"], lang), className="kiosk-air__band"),
    ]) for d in air["districts"]]
    when = parse_time(air.get("as_of"))
    lead = _("European Air Quality Index, measured in the last hours") + (
        " · " + _("as of {time}").format(time=format_time(when, lang, settings.timezone))
        if when else "")
    legend = html.Ul([html.Li(band_name(b, lang), className=f"kiosk-band--{b}")
                      for b in air["bands"]], className="kiosk-legend",
                     **{"aria-label": _("Index bands, best to worst")})
    return _("Air quality now"), [
        *slide_head(_("Air quality now"), lead),
        html.Div(className="kiosk-split", children=[
            air_map(district_outlines(settings), air["districts"], lang),
            html.Div([html.Ul(rows, className="kiosk-air-list"), legend],
                     className="kiosk-split__side"),
        ]),
    ]


def parking_slide(data: dict[str, Any], lang: str, settings: Settings) -> Slide | None:
    """Car parks with their free spaces now."""
    _ = gettext_for(lang)
    parking = data["parking"]
    if not parking.get("sites"):
        return None
    cards = []
    for site in parking["sites"][:8]:
        share = site.get("occupancy")
        cards.append(html.Li(className="kiosk-park" + (" is-stale" if site.get("stale") else ""),
                             children=[
            html.Span(site["name"], className="kiosk-park__name"),
            html.Span(format_number(site.get("free"), lang), className="kiosk-park__free"),
            html.Span(_("free spaces") + (
                " · " + _("of {total}").format(total=format_number(site["total"], lang))
                if site.get("total") else ""), className="kiosk-park__label"),
            html.Span(html.Span(className="kiosk-bar-fill",
                                style={"width": f"{round((share or 0) * 100)}%"}),
                      className="kiosk-park__bar", **{"aria-hidden": "true"}),
            html.Span(_("Not updated recently"), className="kiosk-park__stale")
            if site.get("stale") else None,
        ]))
    totals = parking.get("totals") or {}
    lead = _("{free} free spaces in {count} car parks right now").format(
        free=format_number(totals.get("free"), lang), count=len(parking["sites"]))
    return _("Where to park"), [*slide_head(_("Where to park"), lead),
                                html.Ul(cards, className="kiosk-parks")]


def _delay_words(seconds: float | None, lang: str) -> str:
    _ = gettext_for(lang)
    if seconds is None:
        return "–"
    if abs(seconds) < 60:
        return _("on time")
    minutes = round(seconds / 60)
    return _("{minutes} min late").format(minutes=minutes) if minutes > 0 else \
        _("{minutes} min early").format(minutes=-minutes)


def transit_slide(data: dict[str, Any], lang: str, settings: Settings) -> Slide | None:
    """Buses now: how late each line runs, where transit data exists."""
    _ = gettext_for(lang)
    transit = data["transit"]
    if not transit.get("available") or not transit.get("routes"):
        return None
    ngettext = ngettext_for(lang)
    lines = [html.Li(className="kiosk-line", children=[
        html.Span(route["route"], className="kiosk-line__name"),
        html.Span(_delay_words(route.get("mean_delay_s"), lang), className="kiosk-line__delay"),
        html.Span(ngettext("{n} stop", "{n} stops", route["stops"]).format(n=route["stops"]),
                  className="kiosk-line__stops"),
    ]) for route in transit["routes"][:12]]
    lead = _("Average delay of the buses at their stops in the last hour")
    vehicles = transit.get("vehicles_in_service")
    if vehicles:
        lead += " · " + ngettext("{n} bus in service", "{n} buses in service", vehicles).format(
            n=format_number(vehicles, lang))
    return _("Buses now"), [*slide_head(_("Buses now"), lead),
                            html.Ul(lines, className="kiosk-lines")]


def updated_line(data: dict[str, Any], lang: str, settings: Settings) -> html.P:
    """When the data on screen is from; while offline the script shows the second part."""
    _ = gettext_for(lang)
    when = parse_time(data.get("generated_at")) or datetime.now().astimezone()
    stamp = format_time(when, lang, settings.timezone)
    return html.P(className="kiosk-updated", role="status", children=[
        html.Span(_("Updated at {time}").format(time=stamp), className="kiosk-updated__ok"),
        html.Span(_("No connection: showing the data of {time}. Retrying…").format(time=stamp),
                  className="kiosk-updated__offline"),
        html.Span(_("Paused: the slides go on by themselves in a minute"),
                  className="kiosk-updated__paused"),
    ])
