"""A service request's own page (``/request/<request_id>``): service, department, place,
the SLA and whether it is met, a timeline of what the store knows, and the asset it most
likely concerns. Link to it with ``dashboard.links.request_href``; every table and map
listing requests does.

Staff only, like ``/services``; a department head sees only the requests their
departments handle (anything else reads as "not found", saying nothing of it).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

import dash
from dash import dcc, html

from dashboard.auth import DEPARTMENT_HEAD
from dashboard.auth.access import STAFF
from dashboard.auth.web import current_principal
from dashboard.links import request_href
from dashboard.queries.duplicates import DUPLICATE_METRES, DUPLICATE_STATES
from dashboard.queries.moderation import state_label
from dashboard.queries.request_detail import NEAR_METRES, request_detail
from dashboard.queries.services import channel_options
from layouts import current_settings, domain_label, exact_time, ids
from layouts.filters import PageFilters
from layouts.services_parts import format_hours

PAGE = "request"
SLA_BADGES = {"met": ("on", "✓", "SLA met"), "missed": ("off", "✕", "SLA missed"),
              "on time": ("on", "✓", "Within SLA"), "overdue": ("off", "✕", "Overdue"),
              "no due time": ("none", "–", "No due time")}
EVENT_LABELS = {"requested": "Requested", "updated": "Last update", "due": "Due (SLA)",
                "closed": "Closed"}


def pid(name: str) -> str:
    """This page's component id ``request-<name>``."""
    return ids.page_id(PAGE, name)


def not_found(request_id: str | None) -> html.Div:
    """The page for an id no request (the user may see) has."""
    return html.Div(className="page request-page", children=[
        html.Div(className="card not-found", role="alert", children=[
            html.H1("Request not found", className="page-head__title"),
            html.P(f"No service request with id “{request_id or ''}” that you may see.",
                   id=pid("not-found")),
            dcc.Link("← All service requests", href="/services"),
        ]),
    ])


def _fact(label: str, value: Any) -> html.Div:
    return html.Div([html.Dt(label), html.Dd(value)], className="request-facts__item")


def sla_badge(sla: dict[str, Any]) -> html.Span:
    """``✕ Overdue by 3.2 days`` / ``✓ SLA met`` as a status badge."""
    tone, icon, words = SLA_BADGES[sla["state"]]
    late = sla.get("hours_late")
    if sla["state"] in ("overdue", "missed") and late is not None:
        words = f"{words} · {format_hours(late)} late"
    elif sla["state"] == "on time" and late is not None:
        words = f"{words} · due in {format_hours(-late)}"
    return html.Span([html.Span(icon, **{"aria-hidden": "true"}), f" {words}"],
                     className=f"status-badge status-badge--{tone}", id=pid("sla"))


def timeline(events: list[dict[str, Any]], tz: str) -> html.Ol:
    """The request's moments, oldest first; a due time still ahead is marked planned."""
    items = []
    for event in events:
        label = EVENT_LABELS.get(event["what"], event["what"])
        if event.get("planned"):
            label += " (ahead)"
        body: list[Any] = [html.Span(label, className="request-event__what"),
                           html.Time(exact_time(event["at"], tz), dateTime=event["at"],
                                     className="request-event__when")]
        if event.get("note"):
            body.append(html.P(event["note"], className="request-event__note"))
        items.append(html.Li(body, className=f"request-event request-event--{event['what']}"))
    return html.Ol(items, className="request-timeline", id=pid("timeline"))


def _services_link(detail: dict[str, Any]) -> str:
    """``/services`` narrowed to the request's service, department and district."""
    return "/services" + PageFilters(district=detail.get("district_id"),
                                     department=detail["department"]).query(
        service=detail["service_code"])


def _asset_part(detail: dict[str, Any]) -> Any:
    asset = detail.get("asset")
    if asset is None:
        domain = detail.get("domain") or ""
        if domain in ("", "services"):
            reason = "its service concerns no kind of city asset"
        elif detail.get("lat") is None:
            reason = "the request has no location"
        else:
            reason = f"no {domain_label(domain).lower()} asset within {NEAR_METRES:.0f} m of it"
        return html.P(f"No asset linked: {reason}.", className="section-hint",
                      id=pid("asset"))
    return html.P(["Nearest ", domain_label(detail["domain"]).lower(), " asset: ",
                   dcc.Link(asset["name"], href=asset["href"]),
                   f", {asset['metres']} m from the reported spot."], id=pid("asset"))


def decision_box(part: str, title: str, sentence: list[Any],
                 buttons: tuple[tuple[str, str], tuple[str, str]]) -> html.Div:
    """A box that says what staff decided (``sentence``, ending with the state) and the two
    buttons that decide it (``(id suffix, label)``: the first says yes); its note below."""
    (yes_id, yes), (no_id, no) = buttons
    return html.Div(className="request-publication", id=pid(part), children=[
        html.H3(title, className="request-publication__title"),
        html.P(sentence),
        html.Div(className="request-publication__actions", children=[
            html.Button(yes, id=pid(yes_id), n_clicks=0,
                        className="c360-button c360-button--small"),
            html.Button(no, id=pid(no_id), n_clicks=0,
                        className="c360-button c360-button--small request-publication__keep"),
        ]),
        html.Div(id=pid(f"{part}-note"), role="status", **{"aria-live": "polite"}),
    ])


def duplicate_part(detail: dict[str, Any]) -> Any:
    """The open request this one may repeat, and the buttons that settle it."""
    original = detail.get("duplicate_of")
    if not original:
        return None
    state = DUPLICATE_STATES.get(detail.get("duplicate_state") or "", "Possible duplicate")
    return decision_box("duplicate", "Possible duplicate", [
        "When it came in, request ", dcc.Link(original, href=request_href(original)),
        f" of the same service was open within {DUPLICATE_METRES:.0f} m: ",
        html.Strong(state, id=pid("duplicate-state"))],
        (("duplicate-confirm", "Same problem"), ("duplicate-reject", "Not a duplicate")))


def publication(detail: dict[str, Any]) -> Any:
    """Whether what the resident wrote is published, and the buttons that decide it (only
    when the request has such text)."""
    if not any(detail.get(k) for k in ("description", "address", "status_notes", "photo")):
        return None
    return decision_box("publication", "Open data", [
        "The description, address, notes and photo are published (Open311, open-data API, "
        "the resident's tracking page) only once a member of staff approves them: ",
        html.Strong(state_label(detail.get("moderation")), id=pid("moderation"))],
        (("approve", "Approve for publication"), ("reject", "Keep private")))


def photo_part(detail: dict[str, Any]) -> html.Figure | None:
    """The photo the resident sent (served to staff who may see this request)."""
    photo = detail.get("photo")
    if not photo:
        return None
    return html.Figure(className="request-photo", children=[
        html.Img(src=f"/staff/request-photo/{quote(detail['id'], safe='')}.jpg",
                 alt="Photo the resident sent with the request", width=photo["width"],
                 height=photo["height"], className="request-photo__img"),
        html.Figcaption("Sent with the request; its location and camera details were "
                        "removed when it arrived.")])


def request_view(detail: dict[str, Any], tz: str,
                 channels: dict[str, str] | None = None) -> html.Div:
    """The whole page for one request's ``request_detail`` (``channels``: id -> name)."""
    district: Any = detail.get("district_name") or "No district"
    if detail.get("district_id"):
        district = dcc.Link(district, href=f"/district/{detail['district_id']}")
    sla_rule = (f"{format_hours(detail['sla_hours'])} from the request"
                if detail.get("sla_hours") else "none in the catalogue")
    taken = format_hours(detail["sla"]["hours"])
    return html.Div(className="page request-page", id=pid("page"), children=[
        dcc.Store(id=pid("request-id"), data=detail["id"]),
        html.Div(className="page-head", children=[html.Div([
            html.Nav(dcc.Link("← Service requests", href=_services_link(detail)),
                     className="domain-back", **{"aria-label": "Breadcrumb"}),
            html.H1(["Request ", html.Code(detail["id"])], className="page-head__title"),
            html.P([html.Span("Open" if detail["open"] else "Closed",
                              className="request-state"), " · ", sla_badge(detail["sla"]),
                    " · ", ("open for " if detail["open"] else "closed after ") + taken],
                   className="page-head__subtitle"),
        ])]),
        html.Div(className="request-grid", children=[
            html.Section(className="card", **{"aria-label": "The request"}, children=[
                html.H2(detail["service_name"], className="card__title"),
                html.Dl(className="request-facts", children=[
                    _fact("Department", detail["department"]),
                    _fact("Group", detail.get("group") or "–"),
                    _fact("Channel", (channels or {}).get(detail.get("channel") or "",
                                                          detail.get("channel") or "–")),
                    _fact("District", district),
                    _fact("Address", detail.get("address") or "–"),
                    _fact("SLA", sla_rule),
                    _fact("Due", exact_time(detail.get("expected_at"), tz) or "no due time"),
                ]),
                html.Blockquote(detail["description"], className="request-description")
                if detail.get("description") else None,
                photo_part(detail),
                _asset_part(detail),
                duplicate_part(detail),
                publication(detail),
            ]),
            html.Section(className="card", **{"aria-label": "Timeline"}, children=[
                html.H2("Timeline", className="card__title"),
                timeline(detail["timeline"], tz),
                html.P("The store keeps each request's latest state: its request, last "
                       "update, due and closing times, not every intermediate status.",
                       className="section-hint"),
            ]),
        ]),
    ])


def layout(request_id: str | None = None, **_: Any) -> html.Div:
    """The page of ``request_id`` (URL-quoted in the path)."""
    settings = current_settings()
    wanted = unquote(request_id or "")
    who = current_principal()
    departments = who.departments if who.role == DEPARTMENT_HEAD else None
    detail = request_detail(settings, wanted, departments) if wanted else None
    if detail is None:
        return not_found(wanted)
    channels = {c["id"]: c["name"] for c in channel_options(settings)}
    return request_view(detail, settings.timezone, channels)


def page_title(request_id: str | None = None, **_: Any) -> str:
    """The browser tab's title: the request's id."""
    return f"CityLens · Request {unquote(request_id)}" if request_id else "CityLens · Request"


dash.register_page(__name__, path_template="/request/<request_id>", name="Request",
                   title=page_title, order=91, layout=layout, hidden=True,
                   roles=STAFF, callback_ids={"request-": STAFF})
