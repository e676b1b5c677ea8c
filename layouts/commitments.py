"""What the city is doing (``/commitments``): the city's projects and pledges, in the
resident's language, for one district (``?district=``, with the city-wide ones) or all:
each with its status, % complete, budget, dates, next milestone, whether it is behind
schedule, the KPIs it should move and its progress over time (a list that is also a
chart). Public: read from ``dashboard.queries.commitments``, nothing personal."""
from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

import dash
from dash import html

from dashboard.auth.access import EVERYONE
from dashboard.i18n import (
    format_date,
    format_percent,
    gettext_for,
    ngettext_for,
    text_in,
)
from dashboard.queries import district_options
from dashboard.queries.commitments import commitments_for
from dashboard.queries.kiosk import source_language
from dashboard.settings import Settings
from layouts import clean_query, current_settings
from layouts.commitment_parts import euros, late_flag, progress_bar, status_badge
from layouts.kiosk_slides import fallback_note, in_language, kpi_value, status_words
from layouts.resident import resident_language, resident_page

PATH = "/commitments"


def district_links(districts: list[dict[str, Any]], current: str | None,
                   lang: str) -> html.Nav:
    """One link per district and one for all of them, the current one marked."""
    _ = gettext_for(lang)
    choices = [(None, _("All districts"))] + [(d["id"], d["name"]) for d in districts]
    links = []
    for district, name in choices:
        query = {"lang": lang, **({"district": district} if district else {})}
        here = district == current
        links.append(html.A(name, href=f"{PATH}?{urlencode(query)}",
                            className="commitments-place" + (" is-current" if here else ""),
                            **({"aria-current": "page"} if here else {})))
    return html.Nav([html.Span(_("District"), className="commitments-places__title"),
                     html.Div(links, className="commitments-places__links")],
                    className="commitments-places", **{"aria-label": _("District")})


def _day(iso: str, lang: str, tz: str) -> str:
    return format_date(date.fromisoformat(iso[:10]), lang, tz)


def _fact(term: str, value: str, wide: bool = False) -> html.Div:
    return html.Div([html.Dt(term), html.Dd(value)],
                    className="commitment-fact" + (" commitment-fact--wide" if wide else ""))


def facts(item: dict[str, Any], lang: str, settings: Settings) -> html.Dl:
    """Budget, spent, dates and the next milestone."""
    _ = gettext_for(lang)
    tz = settings.timezone
    rows = [_fact(_("Budget"), euros(item["budget_eur"], lang))]
    if item["spent_eur"] is not None:
        rows.append(_fact(_("Spent so far"), euros(item["spent_eur"], lang)))
    rows.append(_fact(_("Planned dates"), f"{_day(item['starts_on'], lang, tz)} – "
                                          f"{_day(item['ends_on'], lang, tz)}", wide=True))
    milestone = item.get("next_milestone")
    if milestone:
        rows.append(_fact(_("Next milestone"), _("{milestone}, by {date}").format(
            milestone=text_in(milestone["title"], lang),
            date=_day(milestone["due"], lang, tz)), wide=True))
    return html.Dl(rows, className="commitment-facts")


def kpi_list(item: dict[str, Any], lang: str) -> html.Div | None:
    """The KPIs the commitment should move, with their value now and target status."""
    _ = gettext_for(lang)
    kpis = item.get("kpi_values") or []
    if not kpis:
        return None
    rows = []
    for kpi in kpis:
        mark, words = status_words(kpi["status"], lang)
        where = _("in the district") if kpi["place"] == "district" else _("city-wide")
        rows.append(html.Li([
            html.Span(text_in(kpi["name"], lang), className="commitment-kpi__name"),
            html.Span(f"{kpi_value(kpi['value'], kpi['unit'], kpi['decimals'], lang)} "
                      f"({where})", className="commitment-kpi__value"),
            html.Span([html.Span(mark, **{"aria-hidden": "true"}), " ", words],
                      className=f"commitment-kpi__status is-{kpi['status'] or 'none'}"),
        ], className="commitment-kpi"))
    return html.Div([html.H3(_("What it should improve (last 30 days)")),
                     html.Ul(rows, className="commitment-kpis")])


def history(item: dict[str, Any], lang: str, settings: Settings, source: str
            ) -> html.Details | None:
    """% complete at each update, oldest first: a bar per update with its date, number
    and note (a chart that reads as a list)."""
    _ = gettext_for(lang)
    ngettext = ngettext_for(lang)
    updates = item.get("history") or []
    if not updates:
        return None
    rows = [html.Li([
        html.Span(format_date(u["at"], lang, settings.timezone),
                  className="commitment-step__when"),
        html.Span(html.Span(className="commitment-step__fill",
                            style={"width": f"{min(100.0, u['percent_complete']):.0f}%"}),
                  className="commitment-step__bar", **{"aria-hidden": "true"}),
        html.Span(format_percent(u["percent_complete"] / 100, lang),
                  className="commitment-step__value"),
        *([html.Span(u["note"], lang=source, className="commitment-step__note")]
          if u.get("note") else []),
    ], className="commitment-step") for u in updates]
    return html.Details([
        html.Summary(ngettext("Progress over time ({count} update)",
                              "Progress over time ({count} updates)",
                              len(updates)).format(count=len(updates))),
        html.Ol(rows, className="commitment-history")], className="commitment-more")


def card(item: dict[str, Any], lang: str, settings: Settings,
         source: str) -> tuple[html.Article, str | None]:
    """One commitment, and the language its title fell back to (None when none)."""
    _ = gettext_for(lang)
    title, fallen = in_language(item["title"], lang, source)
    place = item["district_name"] or _("Whole city")
    summary = text_in(item["summary"], lang) if item["summary"] else ""
    badges = [status_badge(item["status"], lang), late_flag(item, lang)]
    return html.Article(className="commitment-card", children=[
        html.H2(title, className="commitment-card__title"),
        html.P(f"{text_in(item['department_name'], lang)} · {place}",
               className="commitment-card__who"),
        html.P([b for b in badges if b is not None], className="commitment-card__badges"),
        progress_bar(item["percent_complete"], lang),
        *([html.P(summary, className="commitment-card__summary")] if summary else []),
        facts(item, lang, settings),
        kpi_list(item, lang),
        history(item, lang, settings, source),
    ]), fallen


def layout(district: str | None = None, lang: str | None = None, **_query: Any) -> html.Div:
    """The commitments of ``?district=`` and the whole city (all without one)."""
    settings = current_settings()
    lang = resident_language(clean_query(lang))
    _ = gettext_for(lang)
    ngettext = ngettext_for(lang)
    districts = district_options(settings)
    district = clean_query(district, {d["id"] for d in districts})
    items = commitments_for(settings, district)
    source = source_language(settings)
    built = [card(item, lang, settings, source) for item in items]
    late = sum(1 for item in items if item["late"])
    count = ngettext("{count} commitment", "{count} commitments", len(items)).format(
        count=len(items))
    if late:
        count += " · " + ngettext("{late} behind schedule", "{late} behind schedule",
                                  late).format(late=late)
    children: list[Any] = [
        html.P(_("The city's projects and pledges: how far along they are, what they cost "
                 "and what they should improve."), className="commitments-lead"),
        district_links(districts, district, lang),
        html.P(count, className="commitments-count"),
        html.Div([article for article, _fallen in built], className="commitments-list")
        if built else html.P(_("No commitments here yet."), className="commitments-empty"),
        fallback_note({fallen for _article, fallen in built}, lang),
        html.A(_("Report a problem"), href=f"/report?{urlencode({'lang': lang})}",
               className="report-button report-button--quiet commitments-report"),
    ]
    return resident_page(lang, PATH, {"district": district or ""},
                         _("What the city is doing"), children, page_class="commitments")


dash.register_page(__name__, path=PATH, name="Commitments", title="CityLens · Commitments",
                   order=97, layout=layout, hidden=True, roles=EVERYONE, callback_ids={})
