"""The chrome of the pages residents use without signing in (``/report``, ``/track/...``):
a bar with the city's name, the pages residents may open, and one link per language. These
pages speak the resident's language (``?lang=``, else the browser's, else the city's) and
hide the staff header and footer (``assets/resident.css``)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from dash import html
from flask import has_request_context, request

from dashboard.i18n import (
    available_languages,
    choose_language,
    gettext_for,
    language_name,
    text_and_language,
)
from layouts import current_settings

# A path here or under it is a resident's page.
RESIDENT_PATHS = ("/report", "/track", "/participate", "/commitments")
STAFF_PATHS = ("/commitments/manage",)  # staff pages (in English) under a resident's path


def is_resident_path(path: str) -> bool:
    """Whether ``path`` opens a resident's page (it speaks the resident's language)."""
    path = "/" + path.strip("/")
    if path in STAFF_PATHS:
        return False
    return any(path == p or path.startswith(p + "/") for p in RESIDENT_PATHS)


def resident_language(requested: str | None = None) -> str:
    """``?lang=``, else the best of the browser's languages, else the city's (the kiosk's)."""
    accept = request.headers.get("Accept-Language") if has_request_context() else None
    return choose_language(requested, accept, current_settings().kiosk_language)


def named(value: dict[str, str] | str, lang: str) -> html.Span:
    """A text kept in several languages, in ``lang`` when it has it, marked with its own
    language when it is another (screen readers switch voice)."""
    text, in_lang = text_and_language(value, lang)
    return html.Span(text, **({"lang": in_lang} if in_lang and in_lang != lang else {}))


def language_links(lang: str, path: str, query: dict[str, str]) -> html.Nav:
    """One link per language to this page in it (a full load: ``<html lang>`` follows)."""
    _ = gettext_for(lang)
    links = []
    for code in available_languages():
        here = code == lang
        links.append(html.A(language_name(code), lang=code, hrefLang=code,
                            href=f"{path}?{urlencode({**query, 'lang': code})}",
                            className="resident-lang" + (" is-current" if here else ""),
                            **({"aria-current": "true"} if here else {})))
    return html.Nav(links, className="resident-langs", **{"aria-label": _("Language")})


def resident_page(lang: str, path: str, query: dict[str, str], title: Any,
                  children: list[Any], page_class: str) -> html.Div:
    """A resident's page: the bar, the page's ``<h1>`` and its content, in ``lang``."""
    _ = gettext_for(lang)
    keep = {k: v for k, v in query.items() if k != "lang" and v}
    return html.Div(className=f"resident {page_class}", lang=lang, children=[
        html.Header(className="resident-bar", children=[
            html.A([html.Span(html.Span(className="brand__lens-dot"),
                              className="brand__lens", **{"aria-hidden": "true"}),
                    html.Span("CityLens", className="resident-bar__name")],
                   href=f"/report?{urlencode({'lang': lang})}", className="resident-bar__brand",
                   title=_("Report a problem")),
            language_links(lang, path, keep),
        ]),
        html.H1(title, className="resident-title"),
        *children,
    ])
