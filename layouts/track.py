"""Follow a report (``/track/<token>``, also ``/track/<number>``): where a resident's report
stands, in their language. Public: only what Open311 publishes (``dashboard.queries
.tracking``); the description, address and staff notes appear once staff approved them,
the photo too."""
from __future__ import annotations

from typing import Any

import dash
from dash import html

from dashboard.auth.access import EVERYONE
from dashboard.i18n import format_datetime, gettext_for
from dashboard.queries.tracking import tracked_request
from dashboard.settings import Settings
from layouts import clean_query, current_settings
from layouts.resident import named, resident_language, resident_page


def _row(term: str, value: Any) -> list[Any]:
    return [html.Dt(term), html.Dd(value)]


def status_line(found: dict[str, Any], lang: str, settings: Settings) -> html.P:
    """Open or closed, and since when."""
    _ = gettext_for(lang)
    tz = settings.timezone
    if found["status"] == "closed":
        text = _("Closed on {date}.").format(
            date=format_datetime(found["closed_at"] or found["updated_datetime"], lang, tz))
        kind = "closed"
    else:
        text = _("Open: the city is on it.")
        kind = "open"
    return html.P(text, className=f"track-status track-status--{kind}")


def details(found: dict[str, Any], lang: str, settings: Settings) -> html.Dl:
    """What the report is, where, and its dates."""
    _ = gettext_for(lang)
    tz = settings.timezone
    rows = [*_row(_("Number"), found["service_request_id"]),
            *_row(_("Problem"), named(found["service_names"], lang)),
            *_row(_("District"), found["district"] or _("not known")),
            *_row(_("Received"), format_datetime(found["requested_datetime"], lang, tz))]
    if found["expected_datetime"] and found["status"] != "closed":
        rows += _row(_("Expected by"), format_datetime(found["expected_datetime"], lang, tz))
    if found["updated_datetime"]:
        rows += _row(_("Last update"), format_datetime(found["updated_datetime"], lang, tz))
    return html.Dl(rows, className="track-details")


def words(found: dict[str, Any], lang: str) -> list[Any]:
    """The resident's words and the staff's notes once approved, else a note saying so."""
    _ = gettext_for(lang)
    if found["text_pending"]:
        return [html.P(_("The description and photo are shown here once city staff have "
                         "reviewed them."), className="report-hint")]
    parts: list[Any] = []
    if found["description"]:
        parts += [html.H2(_("Description")), html.P(found["description"],
                                                    className="track-text")]
    if found["status_notes"]:
        parts += [html.H2(_("From the city")), html.P(found["status_notes"],
                                                       className="track-text")]
    if found.get("media_url"):
        parts.append(html.Img(src=found["media_url"], alt=_("Photo sent with the report"),
                              className="track-photo"))
    return parts


def layout(token: str | None = None, lang: str | None = None, **_query: Any) -> html.Div:
    """The report of ``token`` (or number), or a page saying there is none."""
    settings = current_settings()
    lang = resident_language(clean_query(lang))
    _ = gettext_for(lang)
    found = tracked_request(settings, clean_query(token))
    path = f"/track/{token or ''}"
    if found is None:
        return resident_page(lang, path, {}, _("Report not found"), page_class="track",
                             children=[
            html.P(_("No report has this link. Check that it was copied whole.")),
            html.A(_("Report a problem"), href=f"/report?lang={lang}",
                   className="report-button report-button--quiet")])
    children: list[Any] = [status_line(found, lang, settings),
                           details(found, lang, settings), *words(found, lang)]
    if found["duplicate_of"]:
        children.append(html.P(_("Staff found it is the same problem as report {number}: "
                                 "that one is followed instead.").format(
                                     number=found["duplicate_of"])))
    children.append(html.A(_("Report another problem"), href=f"/report?lang={lang}",
                           className="report-button report-button--quiet"))
    return resident_page(lang, path, {}, _("Your report"), page_class="track",
                         children=children)


dash.register_page(__name__, path_template="/track/<token>", name="Follow a report",
                   title="CityLens · Follow a report", order=98, layout=layout, hidden=True,
                   roles=EVERYONE, callback_ids={})
