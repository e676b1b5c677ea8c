"""One resident's profile as Citizen 360 shows it: who they are, their consent, and one
timeline of requests, procedures and participation (open items first)."""
from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashboard.links import request_href
from layouts import exact_time

KIND_LABELS = {"request": "Service request", "case": "Procedure", "participation": "Participation"}
CHANNEL_LABELS = {"web": "Web", "app": "App", "phone": "Phone", "in_person": "In person",
                  "kiosk": "Kiosk", "email": "E-mail", "social": "Social media"}


def _fact(label: str, value: Any) -> html.Div:
    return html.Div([html.Dt(label), html.Dd(value if value not in (None, "") else "–")],
                    className="c360-fact")


def consent_chips(consent: dict[str, bool]) -> html.Ul:
    """One chip per consent flag, with a word and a mark (not colour alone)."""
    if not consent:
        return html.Ul(html.Li("No consent recorded", className="c360-chip"),
                       className="c360-chips")
    return html.Ul([html.Li(f"{'✓' if given else '✕'} {name.capitalize()}: "
                            f"{'given' if given else 'not given'}",
                            className=f"c360-chip c360-chip--{'yes' if given else 'no'}")
                    for name, given in sorted(consent.items())], className="c360-chips")


def person_card(data: dict[str, Any]) -> html.Div:
    """Name, pseudonymous id, district, contact, birth year and consent."""
    person = data["citizen"]
    return html.Div(className="card c360-person", children=[
        html.H2(person["name"], className="c360-person__name"),
        html.Dl(className="c360-facts", children=[
            _fact("Pseudonymous id", person["id"]),
            _fact("District", person.get("district_name")),
            _fact("E-mail", person.get("email")),
            _fact("Phone", person.get("phone")),
            _fact("Born", person.get("birth_year")),
        ]),
        html.H3("Consent", className="c360-subtitle"),
        consent_chips(person.get("consent") or {}),
    ])


def counts_line(data: dict[str, Any]) -> html.P:
    """``3 open of 12 · 8 requests · 3 procedures · 1 participation``."""
    c = data["counts"]
    text = (f"{c['open']} open of {c['total']} · {c['requests']} service requests · "
            f"{c['cases']} procedures · {c['participation']} participation")
    return html.P(text, className="c360-counts")


def _when(item: dict[str, Any], tz: str) -> str:
    started = exact_time(item.get("started"), tz)
    if item["kind"] == "participation":
        return started
    if item.get("ended"):
        days = item.get("days_open")
        took = f" · {days:.0f} days" if days is not None else ""
        return f"{started} → {exact_time(item['ended'], tz)}{took}"
    return f"since {started}"


def timeline_item(item: dict[str, Any], tz: str) -> html.Li:
    """One interaction: kind, title, status and outcome, department, channel, dates."""
    status = item.get("status") or ""
    state = "open" if item.get("open") else "done"
    details: list[Any] = [d for d in (item.get("department"), CHANNEL_LABELS.get(
        item.get("channel") or "", item.get("channel"))) if d]
    if item.get("id"):
        details.append(dcc.Link(item["id"], href=request_href(item["id"]))
                       if item["kind"] == "request" else item["id"])
    body: list[Any] = [
        html.Div([html.Span(KIND_LABELS.get(item["kind"], item["kind"]),
                            className=f"c360-kind c360-kind--{item['kind']}"),
                  html.Span(status.replace("_", " ").capitalize(),
                            className=f"c360-status c360-status--{state}")],
                 className="c360-item__tags"),
        html.H3(item.get("title") or "", className="c360-item__title"),
        html.P([part for i, d in enumerate(details) for part in ((" · ", d) if i else (d,))],
               className="c360-item__meta"),
        html.P(_when(item, tz), className="c360-item__when"),
    ]
    if item.get("outcome"):
        body.append(html.P(["Outcome: ", item["outcome"]], className="c360-item__outcome"))
    if item.get("description"):
        body.append(html.Blockquote(item["description"], className="c360-item__quote"))
    return html.Li(body, className=f"c360-item c360-item--{state}")


def scope_note(data: dict[str, Any]) -> html.P | None:
    """What a department head does not see of this resident."""
    if data.get("scope") == "all":
        return None
    hidden = " Participation is not shown (it belongs to no department)." \
        if data.get("participation_hidden") else ""
    return html.P(f"Only records of {', '.join(data.get('scope') or [])} are shown.{hidden}",
                  className="section-hint")


def profile_view(data: dict[str, Any], tz: str) -> html.Div:
    """The whole profile: person card, counts and the timeline."""
    timeline = data["timeline"]
    items = [timeline_item(i, tz) for i in timeline] or [
        html.Li("No interactions on record.", className="empty-note")]
    return html.Div(className="c360-profile", children=[
        person_card(data),
        html.Div(className="card c360-timeline", children=[
            html.H2("Timeline", className="card__title"),
            counts_line(data),
            scope_note(data),
            html.Ol(items, className="c360-items"),
        ]),
    ])
