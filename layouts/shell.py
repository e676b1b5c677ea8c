"""Page chrome shared by every page: header with the CityLens name and nav, footer."""
from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html
from flask import has_request_context, request

from dashboard.auth import ADMIN, DEPARTMENT_HEAD, OFFICIAL
from dashboard.auth.access import allowed
from dashboard.auth.users import Principal
from dashboard.auth.web import csrf_token, current_principal
from dashboard.i18n import choose_language
from layouts import current_settings, ids
from layouts.resident import is_resident_path, resident_language

APP_NAME = "CityLens"
ROLE_LABELS = {OFFICIAL: "Official", DEPARTMENT_HEAD: "Department head", ADMIN: "Administrator"}
KIOSK_PATH = "/kiosk"
NOTIFICATIONS_PATH = "/notifications"  # its link carries the unread count
UNREAD_EVERY_MS = 60_000
LANGUAGE = "en"  # the language of the interface (WCAG 3.1.1: screen readers pick their voice)


@dash.hooks.index()
def _document_language(index: str) -> str:
    """Declare the page's language on ``<html>`` (Dash's index has no ``lang``): the
    kiosk's chosen language there, the resident's on their pages, English elsewhere."""
    lang = LANGUAGE
    if has_request_context() and request.path.rstrip("/") == KIOSK_PATH:
        lang = choose_language(request.args.get("lang"), None, current_settings().kiosk_language)
    elif has_request_context() and is_resident_path(request.path):
        lang = resident_language(request.args.get("lang"))
    return index.replace("<html>", f'<html lang="{lang}">', 1)


def _logo() -> html.Span:
    """A small lens mark drawn with CSS (no image files, works offline)."""
    return html.Span(html.Span(className="brand__lens-dot"), className="brand__lens",
                     **{"aria-hidden": "true"})


def nav_links(pages: list[dict[str, Any]] | None = None,
              who: Principal | None = None) -> list[Any]:
    """One link per registered page the user may open (in their ``order``), skipping hidden
    ones and pages whose path has variables (``/district/<id>``: reached from other pages)."""
    pages = list(dash.page_registry.values()) if pages is None else pages
    who = current_principal() if who is None else who
    links = []
    for page in sorted(pages, key=lambda p: (p.get("order") is None, p.get("order") or 0)):
        if (page.get("hidden") or page.get("path") is None or page.get("path_template")
                or "<" in page.get("path", "") or not allowed(who, page.get("roles") or ())):
            continue
        if page.get("path") == NOTIFICATIONS_PATH:  # the bell beside the account instead
            continue
        links.append(dcc.Link(page.get("name", page["path"]), href=page.get(
            "relative_path", page["path"]), className="nav__link"))
    return links


def _may_read_notifications(who: Principal, pages: list[dict[str, Any]] | None) -> bool:
    pages = list(dash.page_registry.values()) if pages is None else pages
    return any(page.get("path") == NOTIFICATIONS_PATH and allowed(who, page.get("roles") or ())
               for page in pages)


def inbox(who: Principal, pages: list[dict[str, Any]] | None = None) -> list[Any]:
    """The bell linking to ``/notifications``, its unread count beside it (named
    "Notifications, 3 unread"; filled and kept fresh by a callback), and the timer that
    has the count read again; nothing for whoever may not read notifications."""
    if not who.signed_in or not _may_read_notifications(who, pages):
        return []
    return [dcc.Link([html.Img(src="/assets/bell.svg", alt="", className="account__bell"),
                      html.Span(html.Span("Notifications", className="visually-hidden"),
                                id=ids.NOTIFICATIONS_UNREAD)],
                     href=NOTIFICATIONS_PATH, className="account__inbox"),
            dcc.Interval(id=ids.NOTIFICATIONS_UNREAD_TICK, interval=UNREAD_EVERY_MS)]


def account(who: Principal, pages: list[dict[str, Any]] | None = None) -> html.Div:
    """Who is signed in, in which role, their notifications' bell, and a sign-out button
    (a form posting to ``/logout`` with the session's anti-forgery token); "Sign in" for
    the public."""
    if not who.signed_in:
        return html.Div(html.A("Sign in", href="/login", className="account__signin"),
                        id=ids.SHELL_ACCOUNT, className="account")
    return html.Div(id=ids.SHELL_ACCOUNT, className="account", children=[
        *inbox(who, pages),
        html.Span([html.Span(who.username, className="account__name"),
                   html.Span(ROLE_LABELS.get(who.role, who.role), className="account__role")],
                  className="account__who"),
        html.Form(action="/logout", method="POST", className="account__form", children=[
            dcc.Input(type="hidden", name="csrf_token", value=csrf_token(),
                      id=ids.SHELL_CSRF),
            html.Button("Sign out", type="submit", className="account__signout"),
        ]),
    ])


def header(pages: list[dict[str, Any]] | None = None,
           who: Principal | None = None) -> html.Header:
    """The top bar: brand on the left, page navigation and the account on the right; on a
    phone both fold behind a "Menu" button (``assets/nav.js`` opens it)."""
    who = current_principal() if who is None else who
    return html.Header(id=ids.SHELL_HEADER, className="shell-header", children=[
        html.Div(className="shell-header__inner", children=[
            dcc.Link([_logo(), html.Span(APP_NAME, className="brand__name")], href="/",
                     className="brand", title=f"{APP_NAME} home"),
            html.Button([html.Span(className="menu-toggle__bars", **{"aria-hidden": "true"}),
                         "Menu"], id=ids.SHELL_MENU_TOGGLE, type="button",
                        className="menu-toggle", **{"aria-expanded": "false",
                                                    "aria-controls": ids.SHELL_MENU}),
            html.Div(id=ids.SHELL_MENU, className="shell-menu", children=[
                html.Nav(nav_links(pages, who), id=ids.SHELL_NAV, className="nav",
                         **{"aria-label": "Pages"}),
                account(who, pages),
            ]),
        ]),
    ])


def footer() -> html.Footer:
    """The bottom line: what this is and where the numbers come from."""
    return html.Footer(id=ids.SHELL_FOOTER, className="shell-footer", children=[
        html.Div(className="shell-footer__inner", children=[
            html.Span(f"{APP_NAME} · open-source city management dashboard"),
            html.Span("Scores follow the CityScore method: 1.00 means on target."),
        ]),
    ])


def shell(content: Any, pages: list[dict[str, Any]] | None = None,
          who: Principal | None = None) -> html.Div:
    """Header, the page content (``dash.page_container``), footer."""
    return html.Div(className="shell", children=[
        html.A("Skip to content", href="#main", className="skip-link"),
        header(pages, who),
        html.Main(content, id="main", className="shell-main"),
        footer(),
    ])
