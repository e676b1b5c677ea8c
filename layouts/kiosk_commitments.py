"""The kiosk's "What the city is doing in your district" slide: up to four of the city's
commitments, of the kiosk's district and the whole city, each with its status and a
progress bar with its number (``kiosk_data``'s ``commitments``: no names, no history)."""
from __future__ import annotations

from datetime import date
from typing import Any

from dash import html
from flask import has_request_context, request

from dashboard.i18n import format_date, gettext_for, text_in
from dashboard.settings import Settings
from layouts.commitment_parts import late_flag, progress_bar, status_badge
from layouts.kiosk_slides import Slide, fallback_note, in_language, slide_head

PREFIX = "kiosk-commitment"


def _card(item: dict[str, Any], lang: str, settings: Settings,
          source: str) -> tuple[html.Li, str | None]:
    _ = gettext_for(lang)
    title, fallen = in_language(item["title"], lang, source)
    tz = settings.timezone
    when = _("Planned end: {date}").format(
        date=format_date(date.fromisoformat(item["ends_on"][:10]), lang, tz))
    milestone = item.get("next_milestone")
    if milestone:
        when += " · " + _("Next: {milestone}").format(milestone=text_in(milestone["title"],
                                                                         lang))
    badges = [b for b in (status_badge(item["status"], lang, PREFIX),
                          late_flag(item, lang, PREFIX)) if b is not None]
    return html.Li(className=PREFIX, children=[
        html.H3(title, className=f"{PREFIX}__title"),
        html.P(f"{text_in(item['department_name'], lang)} · "
               f"{item['district_name'] or _('Whole city')}", className=f"{PREFIX}__who"),
        html.P(badges, className=f"{PREFIX}__badges"),
        progress_bar(item["percent_complete"], lang, PREFIX),
        html.P(when, className=f"{PREFIX}__when"),
    ]), fallen


def commitments_slide(data: dict[str, Any], lang: str, settings: Settings) -> Slide | None:
    """The city's commitments in the kiosk's district and city-wide, with their progress."""
    _ = gettext_for(lang)
    items = (data.get("commitments") or [])[:4]
    if not items:
        return None
    source = data.get("source_language", settings.kiosk_language)
    if data.get("district"):
        title = _("What the city is doing in your district")
        lead = _("Projects in this district and for the whole city, and how far along they "
                 "are")
    else:
        title, lead = _("What the city is doing"), _("The city's projects and how far along "
                                                     "they are")
    built = [_card(item, lang, settings, source) for item in items]
    site = request.host_url.rstrip("/") if has_request_context() else ""
    return title, [
        *slide_head(title, lead),
        html.Ul([card for card, _fallen in built], className=f"{PREFIX}s"),
        html.P(_("Every commitment, with its budget and progress: {address}").format(
            address=f"{site}/commitments"), className=f"{PREFIX}s__more"),
        fallback_note({fallen for _card, fallen in built}, lang),
    ]
