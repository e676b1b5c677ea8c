"""The notifications page's callbacks, and the unread count of the staff navigation.

Each acts for the signed-in user only: the core functions they call take the principal
and touch that user's own rows (a forged id of another user's notification or
subscription changes nothing), and each checks the role again before doing anything.
"""
from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx, html
from dash.exceptions import PreventUpdate

from dashboard.auth.access import STAFF, allowed
from dashboard.auth.users import Principal
from dashboard.auth.web import current_principal
from dashboard.notify.inbox import mark_read
from dashboard.notify.subscriptions import (
    set_preferences,
    subscribe,
    subscriptions_of,
    unsubscribe,
)
from dashboard.queries.notifications import notifications_for, unread_count
from layouts import current_settings, ids
from layouts.notification_parts import (
    CHANNEL_WORDS,
    KIND_WORDS,
    choices,
    error_line,
    notification_list,
    pid,
    subscriptions_table,
    summary_words,
    target_names,
    unread_words,
)
from layouts.notifications import LANG

def staff() -> Principal:
    """The signed-in member of staff acting (PreventUpdate for anyone else)."""
    who = current_principal()
    if not allowed(who, STAFF):
        raise PreventUpdate
    return who


def clicked_value() -> Any:
    """The value of the input that triggered this call (a button's n_clicks)."""
    return ctx.triggered[0].get("value") if ctx.triggered else None


@dash.callback(
    Output(ids.NOTIFICATIONS_UNREAD, "children"),
    Input(ids.NOTIFICATIONS_UNREAD_TICK, "n_intervals"),
    Input("_pages_location", "pathname"),
)
def unread_in_navigation(_ticks: int | None, _path: str | None) -> list[Any]:
    """The navigation link's unread count: on load, on every page change, every minute."""
    return unread_words(unread_count(current_settings(), staff()))


@dash.callback(
    Output(pid("list"), "children"),
    Output(pid("summary"), "children"),
    Output(ids.NOTIFICATIONS_UNREAD, "children", allow_duplicate=True),
    Output(pid("url"), "search"),
    Input(pid("show"), "value"),
    Input(pid("mark-all"), "n_clicks"),
    Input(ids.notification_item(ALL, ALL), "n_clicks"),
    prevent_initial_call=True,
)
def update_list(show: str | None, _all: int | None, _items: list[int | None]
                ) -> tuple[Any, str, list[Any], str]:
    """Mark all, or the one clicked, read or unread (the user's own only: the core keeps
    to them), then list them again under the filter Unread/All."""
    settings, who = current_settings(), staff()
    show = "unread" if show == "unread" else "all"
    found = ctx.triggered_id
    if found == pid("mark-all"):
        if not clicked_value():
            raise PreventUpdate
        mark_read(settings, who, None)
    elif isinstance(found, dict) and found.get("type") == ids.NOTIFICATION_ITEM_TYPE:
        if not clicked_value():  # a button drawn by the last answer, not clicked
            raise PreventUpdate
        try:
            mark_read(settings, who, [int(found["id"])], read=found.get("to") != "unread")
        except (TypeError, ValueError):
            raise PreventUpdate from None
    listed = notifications_for(settings, who, LANG, unread_only=show == "unread")
    return (notification_list(listed, show), summary_words(listed),
            unread_words(listed["unread"]), "?show=unread" if show == "unread" else "")


@dash.callback(
    Output(pid("target"), "options"),
    Output(pid("target"), "value"),
    Output(pid("district-field"), "hidden"),
    Input(pid("kind"), "value"),
    prevent_initial_call=True,
)
def targets_of_kind(kind: str | None) -> tuple[list[dict[str, str]], str | None, bool]:
    """The things of that kind the user may subscribe to (no district for a district)."""
    offered = choices(current_settings(), staff()).get(kind or "", [])
    return offered, offered[0]["value"] if offered else None, kind == "district"


dash.clientside_callback(  # the address field only for a webhook
    "function (channel) { return channel !== 'webhook'; }",
    Output(pid("webhook-field"), "hidden"),
    Input(pid("channel"), "value"),
)


def _minutes(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        raise ValueError("the interval is a number of minutes") from None
    if minutes != int(minutes):
        raise ValueError("the interval is a whole number of minutes")
    return int(minutes)


@dash.callback(
    Output(pid("subscriptions"), "children"),
    Output(pid("result"), "children"),
    Input(pid("subscribe"), "n_clicks"),
    Input(ids.subscription_remove(ALL), "n_clicks"),
    State(pid("kind"), "value"),
    State(pid("target"), "value"),
    State(pid("district"), "value"),
    State(pid("channel"), "value"),
    State(pid("webhook"), "value"),
    State(pid("interval"), "value"),
    prevent_initial_call=True,
)
def change_subscriptions(_add: int | None, _removes: list[int | None], kind: str | None,
                         target: str | None, district: str | None, channel: str | None,
                         webhook: str | None, interval: Any) -> tuple[Any, Any]:
    """Add the form's subscription, or remove the one whose button was clicked (the
    user's own only); the table again, and what was done or why not in one line."""
    settings, who = current_settings(), staff()
    found = ctx.triggered_id
    if not clicked_value():
        raise PreventUpdate
    names = target_names(settings)
    new = None
    try:
        if isinstance(found, dict) and found.get("type") == ids.SUBSCRIPTION_REMOVE_TYPE:
            done = unsubscribe(settings, who, int(found["id"]))
            said: Any = "Removed." if done else error_line("No such subscription of yours.")
        else:
            if not target:
                raise ValueError("choose what to subscribe to")
            new = subscribe(settings, who, kind or "", target, district=district or "",
                            channel=channel or "in_app", webhook_url=webhook,
                            throttle_minutes=_minutes(interval))
            what = names.get(kind or "", {}).get(target, target)
            said = (f"Subscribed to {KIND_WORDS.get(kind or '', kind)} {what} "
                    f"({CHANNEL_WORDS.get(channel or 'in_app', channel)}).")
    except (ValueError, PermissionError) as error:
        said = error_line(error)
    return (subscriptions_table(subscriptions_of(settings, who), names, new),
            html.P(said) if isinstance(said, str) else said)


@dash.callback(
    Output(pid("saved"), "children"),
    Input(pid("save"), "n_clicks"),
    State(pid("email"), "value"),
    State(pid("language"), "value"),
    State(pid("briefing"), "value"),
    prevent_initial_call=True,
)
def save_preferences(clicks: int | None, email: str | None, language: str | None,
                     briefing: str | None) -> Any:
    """Save the user's own e-mail address, language and briefing frequency."""
    settings, who = current_settings(), staff()
    if not clicks:
        raise PreventUpdate
    try:
        set_preferences(settings, who, email=email or "", language=language,
                        briefing=briefing)
    except (ValueError, PermissionError) as error:
        return error_line(error)
    return html.P("Saved." + (" No e-mail will be sent: the address is empty."
                              if not (email or "").strip() else ""))
