"""The kiosk's civic slides: news and events, city services with the office's hours, and
what happened to residents' reports (numbers only, never their texts)."""
from __future__ import annotations

from typing import Any

from dash import html

from dashboard.i18n import (
    format_date,
    format_duration_days,
    format_number,
    format_percent,
    format_time,
    gettext_for,
    text_in,
)
from dashboard.settings import Settings
from layouts import parse_time
from layouts.kiosk_slides import Slide, fallback_note, in_language, slide_head


def _when(notice: dict[str, Any], lang: str, tz: str) -> str:
    _ = gettext_for(lang)
    start, end = parse_time(notice.get("starts_at")), parse_time(notice.get("ends_at"))
    if notice.get("happening_now"):
        return _("Now") + (" · " + _("until {date}").format(date=format_date(end, lang, tz))
                           if end else "")
    return format_date(start, lang, tz, style="weekday") + " · " + format_time(start, lang, tz)


def notices_slide(data: dict[str, Any], lang: str, settings: Settings) -> Slide | None:
    """News and events, now and in the coming days."""
    _ = gettext_for(lang)
    notices = data["notices"][:6]
    if not notices:
        return None
    source = data.get("source_language", settings.kiosk_language)
    titles = [in_language(n["title"], lang, source) for n in notices]
    cards = [html.Li(className=f"kiosk-notice kiosk-notice--{n['kind']}", children=[
        html.Span(_("Event") if n["kind"] == "event" else _("News"),
                  className="kiosk-notice__kind"),
        html.H3(title, className="kiosk-notice__title"),
        html.P(_when(n, lang, settings.timezone), className="kiosk-notice__when"),
        html.P(" · ".join(p for p in (n.get("place"), n.get("district_name")) if p),
               className="kiosk-notice__place"),
    ]) for n, (title, _shown) in zip(notices, titles, strict=True)]
    return _("What's on"), [*slide_head(_("What's on"), _("News and events this week")),
                            html.Ul(cards, className="kiosk-notices"),
                            fallback_note({shown for _title, shown in titles}, lang)]


def _names(services: list[dict[str, Any]], lang: str,
           source: str) -> tuple[list[Any], set[str | None]]:
    """A group's first four service names, comma separated, and the languages fallen back to."""
    shown = [in_language(s["name"], lang, source) for s in services[:4]]
    parts: list[Any] = []
    for n, (name, _lang) in enumerate(shown):
        parts += [", "] if n else []
        parts.append(name)
    return parts, {fallen for _name, fallen in shown}


def services_slide(data: dict[str, Any], lang: str, settings: Settings) -> Slide | None:
    """Which municipal services can be done online, and how to reach the city."""
    _ = gettext_for(lang)
    catalogue = data["catalogue"]
    contact = catalogue["contact"]
    office = contact["office"]
    status = catalogue
    if status.get("open_now"):
        state = _("Open now") + (" · " + _("until {time}").format(time=format_time(
            parse_time(status["closes_at"]), lang, settings.timezone))
            if status.get("closes_at") else "")
    else:
        reopen = parse_time(status.get("next_open"))
        state = _("Closed now") + (" · " + _("opens {day} at {time}").format(
            day=format_date(reopen, lang, settings.timezone, style="weekday"),
            time=format_time(reopen, lang, settings.timezone)) if reopen else "")
    source = data.get("source_language", settings.kiosk_language)
    groups, fallen = [], set()
    for group in catalogue["groups"][:8]:
        title, shown = in_language(group["group_name"], lang, source)
        names, shown_names = _names(group["services"], lang, source)
        fallen |= {shown, *shown_names}
        groups.append(html.Li(className="kiosk-group", children=[
            html.H3(title, className="kiosk-group__name"),
            html.P(names, className="kiosk-group__services"),
            html.Span(_("Online") if any(s["online"] for s in group["services"])
                      else _("At the office"), className="kiosk-group__online"),
        ]))
    return _("City services"), [
        *slide_head(_("City services"), _("Report a problem or start a procedure online, by "
                                     "phone or at the office")),
        html.Div(className="kiosk-split kiosk-split--services", children=[
            html.Ul(groups, className="kiosk-groups"),
            html.Div(className="kiosk-contact", children=[
                html.P([html.Span(_("Online"), className="kiosk-contact__label"),
                        contact["e_office"]]),
                html.P([html.Span(_("Phone"), className="kiosk-contact__label"),
                        contact["phone"]]),
                html.P([html.Span(text_in(office["name"], lang),
                                  className="kiosk-contact__label"), office["address"]]),
                html.P(state, className="kiosk-contact__state" +
                       (" is-open" if status.get("open_now") else "")),
            ]),
        ]),
        fallback_note(fallen, lang),
    ]


def progress_slide(data: dict[str, Any], lang: str, settings: Settings) -> Slide | None:
    """What happened to residents' reports: fixed this week and how fast (no texts)."""
    _ = gettext_for(lang)
    progress = data["progress"]
    figures = [
        (format_number(progress.get("fixed_week"), lang), _("problems fixed this week")),
        (format_number(progress.get("opened_week"), lang), _("new reports this week")),
        (format_duration_days(progress.get("median_days_to_fix"), lang),
         _("typical time to fix (last 30 days)")),
        (format_percent(progress.get("within_sla_share"), lang),
         _("fixed within the promised time")),
    ]
    return _("Your reports at work"), [
        *slide_head(_("Your reports at work"),
               _("Reports of residents about streets, lighting, waste, parks and more")),
        html.Ul([html.Li([html.Span(value, className="kiosk-figure__value"),
                          html.Span(label, className="kiosk-figure__label")],
                         className="kiosk-figure") for value, label in figures],
                className="kiosk-figures"),
        district_progress(progress.get("districts") or [], lang),
    ]


def district_progress(districts: list[dict[str, Any]], lang: str) -> html.Div:
    """Problems fixed this week in each district, as bars with their numbers."""
    _ = gettext_for(lang)
    most = max((d.get("fixed_week") or 0 for d in districts), default=0) or 1
    ordered = sorted(districts, key=lambda d: -(d.get("fixed_week") or 0))
    values = [_("{fixed} fixed · {days}").format(
        fixed=format_number(d.get("fixed_week"), lang),
        days=format_duration_days(d.get("median_days_to_fix"), lang)) for d in ordered]
    rows = [html.Li(className="kiosk-district", children=[
        html.Span(d["district_name"], className="kiosk-district__name"),
        html.Span(html.Span(className="kiosk-bar-fill", style={
            "width": f"{round(100 * (d.get('fixed_week') or 0) / most)}%"}),
            className="kiosk-district__bar", **{"aria-hidden": "true"}),
        html.Span(value, className="kiosk-district__value"),
    ]) for d, value in zip(ordered, values, strict=True)]
    # every row's value column as wide as the longest value, so every bar's track has the
    # same length and the bars share one scale (it was as wide as each row's own text)
    widest = max((len(v) for v in values), default=0)
    return html.Div([html.H3(_("Fixed this week, by district"), className="kiosk-subtitle"),
                     html.Ul(rows, className="kiosk-districts",
                             style={"--kiosk-value-width": f"{widest + 1}ch"})],
                    className="kiosk-by-district")
