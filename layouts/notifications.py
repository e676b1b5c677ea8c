"""Notifications (``/notifications``, every member of staff): what CityLens told you, what
you follow, and how it reaches you.

Three sections: the in-app list (newest first, unread ones flagged in words; mark one or
all read), your subscriptions in words with a form to add one (only what your pages show
you is offered; the core refuses the rest), and your e-mail address, language and
briefing frequency. ``?show=unread`` lists only unread ones; ``?subscription=ID`` marks
one subscription as just added (where a "Notify me" button links). Every change goes
through ``dashboard.notify`` for the signed-in user only (``callbacks/notifications.py``).
"""
from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from dashboard.auth.access import STAFF
from dashboard.auth.web import current_principal
from dashboard.notify.subscriptions import preferences, subscriptions_of
from dashboard.queries import district_options
from dashboard.queries.notifications import notifications_for
from dashboard.settings import Settings
from layouts import clean_query, current_settings
from layouts.notification_parts import (
    BRIEFING_WORDS,
    CHANNEL_WORDS,
    KIND_WORDS,
    LANGUAGE_WORDS,
    PAGE,
    PATH,
    SHOW_WORDS,
    WHOLE_CITY,
    choices,
    notification_list,
    pid,
    subscriptions_table,
    summary_words,
    target_names,
)

LANG = "en"  # the staff pages are in English
DEFAULT_KIND = "district"


def _field(label: str, cid: str, control: Any, hint: str = "", **div: Any) -> html.Div:
    div.setdefault("className", "notify-form__field")
    return html.Div([html.Label(label, htmlFor=cid, className="filter-bar__label"), control,
                     html.Span(hint, className="notify-form__hint") if hint else None], **div)


def _choice(legend: str, cid: str, value: str, words: dict[str, str]) -> html.Fieldset:
    return html.Fieldset([html.Legend(legend, className="filter-bar__label"),
                          dcc.RadioItems(id=cid, value=value, inline=True,
                                         className="segmented", inputClassName="segmented__input",
                                         labelClassName="segmented__option",
                                         options=[{"label": w, "value": k}
                                                  for k, w in words.items()])],
                         className="notify-form__field notify-form__choice")


def notifications_section(settings: Settings, show: str) -> html.Section:
    """The in-app list with its filter and "Mark all read"."""
    listed = notifications_for(settings, current_principal(), LANG,
                               unread_only=show == "unread")
    return html.Section(className="card notify-section", **{"aria-labelledby": pid("h-list")},
                        children=[
        html.Div(className="card-head notify-section__head", children=[
            html.H2("Notifications", id=pid("h-list"), className="card__title"),
            html.Span(summary_words(listed), id=pid("summary"), className="count-pill",
                      role="status"),
        ]),
        html.Div(className="notify-toolbar", children=[
            html.Div([html.Span("Show", id=pid("show-label"), className="filter-bar__label"),
                      dcc.RadioItems(id=pid("show"), value=show, inline=True,
                                     className="segmented", inputClassName="segmented__input",
                                     labelClassName="segmented__option",
                                     options=[{"label": w, "value": k}
                                              for k, w in SHOW_WORDS.items()])],
                     role="group", className="notify-toolbar__show",
                     **{"aria-labelledby": pid("show-label")}),
            html.Button("Mark all read", id=pid("mark-all"), n_clicks=0, type="button",
                        className="c360-button c360-button--small"),
        ]),
        html.Div(notification_list(listed, show), id=pid("list")),
    ])


def subscribe_form(settings: Settings, offered: dict[str, list[dict[str, str]]]) -> html.Div:
    """Add a subscription: about what, where, by which channel, how often."""
    first = offered[DEFAULT_KIND]
    districts = [{"label": WHOLE_CITY, "value": ""}] + [
        {"label": d["name"], "value": d["id"]} for d in district_options(settings)]
    return html.Div(className="notify-form", children=[
        html.H3("Add a subscription", className="notify-form__title"),
        html.Div(className="notify-form__grid", children=[
            _field("About", pid("kind"), dcc.Dropdown(
                id=pid("kind"), value=DEFAULT_KIND, clearable=False, searchable=False,
                options=[{"label": w, "value": k} for k, w in KIND_WORDS.items()])),
            _field("What", pid("target"), dcc.Dropdown(
                id=pid("target"), options=first, clearable=False, maxHeight=320,
                value=first[0]["value"] if first else None),
                className="notify-form__field notify-form__field--wide"),
            _field("Where", pid("district"), dcc.Dropdown(
                id=pid("district"), options=districts, value="", clearable=False,
                maxHeight=320), hidden=DEFAULT_KIND == "district", id=pid("district-field")),
            _choice("Channel", pid("channel"), "in_app", CHANNEL_WORDS),
            _field("Webhook address", pid("webhook"), dcc.Input(
                id=pid("webhook"), type="url", placeholder="https://", value="",
                maxLength=500, className="c360-input", autoComplete="off"),
                "https:// only. Kept private: only its host is shown here.",
                hidden=True, id=pid("webhook-field"),
                className="notify-form__field notify-form__field--wide"),
            _field("Interval (minutes)", pid("interval"), dcc.Input(
                id=pid("interval"), type="number", min=0, max=7 * 24 * 60, step=1,
                value=settings.notify_throttle_minutes, className="c360-input"),
                "E-mail and webhook: at most one message per interval; what happens "
                "in between comes together in it."),
        ]),
        html.Button("Subscribe", id=pid("subscribe"), n_clicks=0, type="button",
                    className="c360-button"),
    ])


def subscriptions_section(settings: Settings, new: int | None) -> html.Section:
    """The user's subscriptions in words, each removable, and the form to add one."""
    who = current_principal()
    return html.Section(className="card notify-section",
                        **{"aria-labelledby": pid("h-subscriptions")}, children=[
        html.H2("Your subscriptions", id=pid("h-subscriptions"), className="card__title"),
        html.P("What CityLens tells you about. In the app, it comes to the list above; by "
               "e-mail or webhook, also as a message.", className="section-hint"),
        html.Div(subscriptions_table(subscriptions_of(settings, who), target_names(settings),
                                     new), id=pid("subscriptions")),
        subscribe_form(settings, choices(settings, who)),
        html.Div(id=pid("result"), className="notify-result", **{"aria-live": "polite"}),
    ])


def preferences_section(settings: Settings) -> html.Section:
    """E-mail address, language of messages, and how often the briefing comes."""
    prefs = preferences(settings, current_principal())
    return html.Section(className="card notify-section",
                        **{"aria-labelledby": pid("h-preferences")}, children=[
        html.H2("Briefing and e-mail", id=pid("h-preferences"), className="card__title"),
        html.Div(className="notify-form__grid", children=[
            _field("E-mail address", pid("email"), dcc.Input(
                id=pid("email"), type="email", value=prefs["email"], maxLength=320,
                autoComplete="email", className="c360-input"),
                "Where e-mail subscriptions and briefings go. Empty: no e-mail.",
                className="notify-form__field notify-form__field--wide"),
            _choice("Language of messages", pid("language"), prefs["language"],
                    LANGUAGE_WORDS),
            _choice("Briefing", pid("briefing"), prefs["briefing"], BRIEFING_WORDS),
        ]),
        html.Button("Save", id=pid("save"), n_clicks=0, type="button", className="c360-button"),
        html.Div(id=pid("saved"), className="notify-result", **{"aria-live": "polite"}),
    ])


def layout(show: str | None = None, subscription: str | None = None, **_: Any) -> html.Div:
    """The notifications page of the signed-in member of staff."""
    settings = current_settings()
    show = clean_query(show, set(SHOW_WORDS)) or "all"
    new = clean_query(subscription)
    return html.Div(className="page notify-page", children=[
        dcc.Location(id=pid("url"), refresh=False),
        html.Div(className="page-head", children=[html.Div([
            html.H1("Notifications", className="page-head__title"),
            html.P("Alerts raised and cleared, KPIs crossing their targets and requests "
                   "past their due time, for what you follow.",
                   className="page-head__subtitle"),
        ])]),
        notifications_section(settings, show),
        subscriptions_section(settings, int(new) if new and new.isdigit() else None),
        preferences_section(settings),
    ])


dash.register_page(__name__, path=PATH, name="Notifications", title="CityLens · Notifications",
                   order=9, layout=layout, roles=STAFF, callback_ids={f"{PAGE}-": STAFF})
