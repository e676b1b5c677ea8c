"""The public kiosk (``/kiosk``): a touch screen in the town hall lobby that nobody operates.

Slides rotate on their own (``assets/kiosk.js``) and pause while touched; every text goes
through the message catalogues (``dashboard.i18n``), numbers and dates per locale;
``?lang=`` and a visible toggle choose the language. The page asks for new data only when
the store's data version changed, and keeps showing the last data (with its time) while
the server or the network is away. Anonymous: nothing personal is read or sent.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import dash
from dash import dcc, html

from dashboard.auth.access import EVERYONE
from dashboard.i18n import available_languages, choose_language, gettext_for, language_name
from dashboard.queries import district_options
from dashboard.queries.kiosk import kiosk_data
from dashboard.settings import Settings
from layouts import clean_query, current_settings, ids
from layouts.kiosk_civic import notices_slide, progress_slide, services_slide
from layouts.kiosk_commitments import commitments_slide
from layouts.kiosk_participate import participate_slide
from layouts.kiosk_report import report_slide
from layouts.kiosk_slides import (
    Slide,
    air_slide,
    city_slide,
    parking_slide,
    transit_slide,
    updated_line,
)

PAGE = "kiosk"
UNAVAILABLE = "unavailable"  # the version shown when the data could not be read
log = logging.getLogger(__name__)
# The slides in the order they rotate.
SLIDES: list[Callable[[dict[str, Any], str, Settings], Slide | None]] = [
    city_slide, air_slide, parking_slide, transit_slide, notices_slide, services_slide,
    report_slide, participate_slide, progress_slide, commitments_slide,
]


def pid(name: str) -> str:
    """A component id of the kiosk."""
    return ids.page_id(PAGE, name)


def kiosk_language(requested: str | None, settings: Settings) -> str:
    """``?lang=``, else the kiosk's own language (a shared screen does not follow the
    browser's languages: the lobby's machine may be set up in any)."""
    return choose_language(requested, None, settings.kiosk_language)


def language_toggle(lang: str, district: str | None = None) -> html.Nav:
    """One big link per language (the current one marked), keeping the kiosk's district."""
    _ = gettext_for(lang)
    place = {"district": district} if district else {}
    return html.Nav(className="kiosk-langs", **{"aria-label": _("Language")}, children=[
        html.A(language_name(code), href=f"/kiosk?{urlencode({'lang': code, **place})}",
               lang=code,
                 className="kiosk-lang" + (" is-current" if code == lang else ""),
                 **({"aria-current": "true"} if code == lang else {}))
        for code in available_languages()])


def controls(count: int, titles: list[str], lang: str) -> html.Div:
    """Previous / pause / next and one dot per slide: touch targets of at least 44 px."""
    _ = gettext_for(lang)
    dots = [html.Button(html.Span(str(i + 1), className="kiosk-dot__n"), type="button",
                        className="kiosk-dot", **{"data-kiosk-goto": str(i),
                                                  "aria-label": f"{i + 1}. {title}"})
            for i, title in enumerate(titles)]
    return html.Div(className="kiosk-controls", children=[
        html.Button("‹", type="button", className="kiosk-step", title=_("Previous"),
                    **{"data-kiosk-step": "-1", "aria-label": _("Previous")}),
        html.Div(dots, className="kiosk-dots", role="group",
                 **{"aria-label": _("Slides ({count})").format(count=count)}),
        html.Button([html.Span(["❚❚ ", _("Pause")], className="kiosk-toggle__pause"),
                     html.Span(["▶ ", _("Play")], className="kiosk-toggle__play")],
                    type="button", className="kiosk-toggle", **{"data-kiosk-toggle": "1",
                                                               "aria-pressed": "false"}),
        html.Button("›", type="button", className="kiosk-step", title=_("Next"),
                    **{"data-kiosk-step": "1", "aria-label": _("Next")}),
    ])


def note_slide(lead: str, lang: str) -> Slide:
    """A slide that only says something (no data yet, or none available right now)."""
    _ = gettext_for(lang)
    return _("City information"), [html.H2(_("City information"), className="kiosk-title"),
                                   html.P(lead, className="kiosk-lead")]


def slides(data: dict[str, Any] | None, lang: str,
           settings: Settings) -> tuple[list[str], list[html.Section]]:
    """Every slide's title, and the slides as ``role=group`` sections of the carousel (the
    first one shown until the script takes over). ``data`` None: the store could not be
    read; a note says the screen will come back by itself."""
    _ = gettext_for(lang)
    if data is None:
        built = [note_slide(_("The city's information is not available right now. This "
                              "screen will update by itself."), lang)]
    else:
        built = [slide for make in SLIDES if (slide := make(data, lang, settings)) is not None]
    if not built:  # nothing to show yet: say so rather than an empty screen
        built = [note_slide(_("The city's information will appear here as soon as its data "
                              "arrives."), lang)]
    sections = [html.Section(body, className="kiosk-slide" + (" is-active" if i == 0 else ""),
                             id=pid(f"slide-{i}"), role="group",
                             **{"aria-roledescription": _("slide"),
                                "aria-label": _("{n} of {count}: {title}").format(
                                    n=i + 1, count=len(built), title=title)})
                for i, (title, body) in enumerate(built)]
    return [title for title, _body in built], sections


def stage(data: dict[str, Any] | None, lang: str, settings: Settings) -> list[Any]:
    """The part redrawn on a new data version: slides, controls and the data's time."""
    titles, drawn = slides(data, lang, settings)
    version = data["version"] if data else UNAVAILABLE
    return [html.Div(drawn, className="kiosk-slides"), controls(len(drawn), titles, lang),
            updated_line(data, lang, settings) if data else html.P(className="kiosk-updated"),
            html.Span(hidden=True, **{"data-kiosk-version": version})]


def kiosk_district(requested: str | None, settings: Settings) -> str | None:
    """``?district=`` when it names a district (a kiosk placed in a district's civic
    centre shows that district's notices), else None (the whole city)."""
    return clean_query(requested, {d["id"] for d in district_options(settings)})


def readable_data(settings: Settings, district: str | None = None) -> dict[str, Any] | None:
    """The kiosk's data (for ``district`` when it names one), or None when the store cannot
    be read (the page still opens and its script redraws it once the data version can be
    read again)."""
    try:
        return kiosk_data(settings, district=kiosk_district(district, settings))
    except Exception:  # noqa: BLE001 - a lobby screen shows a note, never an error
        log.exception("the kiosk could not read its data")
        return None


def layout(lang: str | None = None, district: str | None = None,
           **_query: Any) -> html.Div:
    """The kiosk in ``?lang=`` (es by default), for the city or ``?district=``."""
    settings = current_settings()
    lang = kiosk_language(lang, settings)
    _ = gettext_for(lang)
    data = readable_data(settings, district)
    district = data["district"] if data else None
    version = data["version"] if data else UNAVAILABLE
    return html.Div(
        className="kiosk", id=pid("root"), lang=lang,
        **{"data-lang": lang, "data-tz": settings.timezone, "data-version": version,
           "data-slide-ms": str(settings.kiosk_slide_seconds * 1000),
           "data-pause-ms": str(settings.kiosk_pause_seconds * 1000),
           "data-poll-ms": str(settings.kiosk_poll_seconds * 1000)},
        children=[
            dcc.Store(id=pid("version"), data=version),
            dcc.Store(id=pid("lang"), data=lang),
            dcc.Store(id=pid("district"), data=district),
            html.Header(className="kiosk-bar", children=[
                html.Div([html.Span(className="brand__lens kiosk-logo",
                                    **{"aria-hidden": "true"}, children=html.Span(
                                        className="brand__lens-dot")),
                          html.Span(_("City information"), className="kiosk-bar__title")],
                         className="kiosk-bar__brand"),
                html.Span(className="kiosk-clock", **{"aria-hidden": "true"}),
                language_toggle(lang, district),
            ]),
            html.Div(stage(data, lang, settings), id=pid("stage"), className="kiosk-stage",
                     role="region",
                     **{"aria-roledescription": _("carousel"),
                        "aria-label": _("City information")}),
        ])


dash.register_page(__name__, path="/kiosk", name="Public kiosk", title="CityLens · Kiosk",
                   order=99, layout=layout, hidden=True, roles=EVERYONE,
                   callback_ids={"kiosk-": EVERYONE})
