"""Have your say (``/participate``): the city's consultations in the resident's language,
those of a district (``?district=``) and the whole city's: open ones to answer, upcoming
ones, and closed ones with their results (``/participate/<id>``). Public; nothing personal."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
from dash import html

from dashboard.auth.access import EVERYONE
from dashboard.i18n import format_date, format_number, gettext_for
from dashboard.queries import district_options
from dashboard.queries.consultations import surveys_for
from dashboard.settings import Settings
from layouts import clean_query, current_settings
from layouts.resident import named, resident_language, resident_page

PAGE = "participate"


def when_line(found: dict[str, Any], lang: str, settings: Settings) -> str:
    """Until when it is open, when it opens, or when it closed."""
    _ = gettext_for(lang)
    tz = settings.timezone
    return {"open": _("Open until {date}"), "upcoming": _("Opens on {date}"),
            "closed": _("Closed on {date}")}[found["state"]].format(
        date=format_date(found["closes_at"] if found["state"] != "upcoming"
                         else found["opens_at"], lang, tz, style="long"))


def card(found: dict[str, Any], lang: str, settings: Settings, query: dict[str, str]
         ) -> html.Li:
    """One consultation: its title (a link), where, when, and how many answered."""
    _ = gettext_for(lang)
    place = found["district_name"] or _("Whole city")
    kept = {k: v for k, v in query.items() if v}
    href = f"/participate/{found['id']}?{urlencode({**kept, 'lang': lang})}"
    action = {"open": _("Answer"), "closed": _("See the results"),
              "upcoming": _("Read more")}[found["state"]]
    return html.Li(className=f"consult-card consult-card--{found['state']}", children=[
        html.H3(html.A(named(found["title"], lang), href=href), className="consult-card__title"),
        html.P(named(found["intro"], lang), className="consult-card__intro"),
        html.P([html.Span(place), " · ", html.Span(when_line(found, lang, settings)), " · ",
                html.Span(_("{n} answers").format(n=format_number(found["answers"], lang)))],
               className="consult-card__facts"),
        html.A(action, href=href, className="report-button report-button--quiet",
               **{"aria-label": f"{action}: {named(found['title'], lang).children}"}),
    ])


def section(title: str, items: list[dict[str, Any]], lang: str, settings: Settings,
            query: dict[str, str]) -> html.Section | None:
    """A heading and its consultations (nothing when there are none)."""
    if not items:
        return None
    return html.Section([html.H2(title, className="consult-section__title"),
                         html.Ul([card(f, lang, settings, query) for f in items],
                                 className="consult-cards")], className="consult-section")


def district_links(lang: str, chosen: str | None, settings: Settings) -> html.Nav:
    """The whole city and each district, as links (the chosen one marked)."""
    _ = gettext_for(lang)
    places = [(None, _("Whole city"))] + [(d["id"], d["name"])
                                         for d in district_options(settings)]
    return html.Nav(className="consult-places", **{"aria-label": _("District")}, children=[
        html.A(name, href="/participate?" + urlencode({"lang": lang,
                                                       **({"district": i} if i else {})}),
               className="consult-place" + (" is-current" if i == chosen else ""),
               **({"aria-current": "true"} if i == chosen else {}))
        for i, name in places])


def layout(lang: str | None = None, district: str | None = None, **query: Any) -> html.Div:
    """Open, upcoming and closed consultations of the district and the city."""
    settings = current_settings()
    lang = resident_language(clean_query(lang))
    _ = gettext_for(lang)
    district = clean_query(district, {d["id"] for d in district_options(settings)})
    keep = {"district": district or "",
            "from": "kiosk" if clean_query(query.get("from")) == "kiosk" else ""}
    found = surveys_for(settings, district)
    by_state = {state: [f for f in found if f["state"] == state]
                for state in ("open", "upcoming", "closed")}
    sections = [section(_("Open now"), by_state["open"], lang, settings, keep),
                section(_("Coming soon"), by_state["upcoming"], lang, settings, keep),
                section(_("Results"), by_state["closed"][:10], lang, settings, keep)]
    shown = [s for s in sections if s is not None] or [
        html.P(_("There are no consultations here yet."), className="report-hint")]
    return resident_page(lang, "/participate", keep, _("Have your say"),
                         page_class="participate", children=[
        html.P(_("The city asks residents before it decides. Answer anonymously: one answer "
                 "per phone or computer."), className="report-lead"),
        district_links(lang, district, settings), *shown])


dash.register_page(__name__, path="/participate", name="Have your say",
                   title="CityLens · Have your say", order=98, layout=layout, hidden=True,
                   roles=EVERYONE, callback_ids={})
