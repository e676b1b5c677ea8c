"""The briefing as one self-contained HTML document: the e-mail's body (charts as
``cid:`` images) and, with the charts as data URIs, the page Chromium prints to PDF.

Built for e-mail clients and A4 paper alike: layout tables and inline styles, no script,
no external stylesheet, font or image; every table has header cells with their scope,
every text is escaped, every item links to the staff page behind it, and every colour
comes with a word or a mark. Figures are written by ``dashboard.briefing.formats``, as
in the plain text.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dashboard.briefing.formats import (
    FREQUENCY_TITLES,
    absolute,
    change_text,
    direction_words,
    domain_name,
    kpi_value_text,
    moment_text,
    score_change_text,
    score_text,
    share_text,
    target_text,
    window_name,
)
from dashboard.briefing.text import briefing_subject, scope_line, score_title, window_days
from dashboard.i18n import format_number, gettext_for
from layouts import STATUS_COLOURS
from layouts.briefing_parts import (
    BRAND,
    FONT,
    INK,
    LINE,
    MUTED,
    alerts_part,
    chart_img,
    esc,
    feeds_part,
    link,
    requests_part,
    row,
    score_cell,
    section,
    status_mark,
    table,
)

PRINT_CSS = (
    "@page{size:A4;margin:12mm 11mm 16mm}"
    "@media print{body{background:#ffffff !important}.outer{padding:0 !important}"
    ".sheet{width:100% !important;max-width:none !important}}"
    "table{border-collapse:collapse}"
    "table[role=table] tr,img,table.keep{page-break-inside:avoid;break-inside:avoid}"
    "thead{display:table-header-group}"
    "h2{page-break-after:avoid;break-after:avoid}a{color:#1f5fa8}"
)


def _tile(url: str, number: str, label: str, detail: str) -> str:
    """One figure at a glance: a big number, what it counts, a detail; a link."""
    return (f'<td style="width:33%;padding:10px 12px;border:1px solid {LINE};'
            'vertical-align:top">'
            f'<div style="font-size:26px;font-weight:bold;color:{INK}">'
            f"{link(url, number, 'text-decoration:none;color:' + INK)}</div>"
            f'<div style="font-size:13px;font-weight:bold;color:{INK}">{esc(label)}</div>'
            f'<div style="font-size:12px;color:{MUTED}">{esc(detail)}</div></td>')


def _glance(briefing: dict[str, Any], url: str) -> str:
    """Alerts raised, requests overdue and feeds in trouble, side by side."""
    lang = briefing["language"]
    _ = gettext_for(lang)
    alerts, requests, feeds = briefing["alerts"], briefing["requests"], briefing["feeds"]
    tiles = [
        _tile(absolute(url, alerts["link"]), format_number(alerts["raised_total"], lang),
              _("Alerts raised"),
              _("Active now: {count}").format(
                  count=format_number(alerts["active_total"], lang))),
        _tile(absolute(url, requests["link"]), format_number(requests["overdue"], lang),
              _("Requests overdue"),
              _("of {open} open ({share})").format(open=format_number(requests["open"], lang),
                                                   share=share_text(requests["share"], lang))),
        _tile(absolute(url, feeds["link"]), format_number(len(feeds["problems"]), lang),
              _("Feeds stale or failing"),
              _("of {total} feeds").format(total=format_number(feeds["total"], lang)))]
    return ('<tr><td style="padding:12px 28px 0"><table role="presentation" width="100%" '
            f'cellpadding="0" cellspacing="0"><tr>{"".join(tiles)}</tr></table></td></tr>')


def _header(briefing: dict[str, Any], url: str) -> str:
    lang = briefing["language"]
    _ = gettext_for(lang)
    score = briefing["score"]
    colour = STATUS_COLOURS.get(score["status"] or "none", STATUS_COLOURS["none"])
    title = _(FREQUENCY_TITLES[briefing["frequency"]])
    if score["previous"] is None:
        change = _("No earlier period with enough data to compare with")
    else:
        change = _("Previous period: {previous} · change {change}").format(
            previous=score_text(score["previous"], lang),
            change=score_change_text(score["change"], lang))
    meaning = _("1.00 means on target: each KPI scores its value against its target, and "
                "the score is their mean.")
    scored = _("{scored} of {total} KPIs scored").format(
        scored=format_number(score["kpis_scored"], lang),
        total=format_number(score["kpis_total"], lang))
    overview = link(absolute(url, score["link"]), _("Open the overview"))
    return (
        f'<tr><td style="background:{BRAND};color:#ffffff;padding:22px 28px 18px">'
        '<div style="font-size:13px;letter-spacing:1px;text-transform:uppercase;'
        f'opacity:.85">CityLens · {esc(scope_line(briefing))}</div>'
        f'<h1 style="margin:6px 0 2px;font-size:26px;color:#ffffff">{esc(title)}</h1>'
        f'<div style="font-size:16px">{esc(briefing["period"]["label"])}</div></td></tr>'
        '<tr><td style="padding:18px 28px 0"><table role="presentation" width="100%" '
        'cellpadding="0" cellspacing="0"><tr>'
        f'<td style="width:190px;padding:12px 16px;border:2px solid {colour};'
        'text-align:center;vertical-align:middle">'
        f'<div style="font-size:13px;color:{MUTED}">{esc(score_title(briefing))}</div>'
        f'<div style="font-size:52px;font-weight:bold;line-height:1.1;color:{INK}">'
        f'{esc(score_text(score["score"], lang))}</div>'
        f'<div style="font-size:14px">{status_mark(score["status"], lang)}</div></td>'
        f'<td style="padding:4px 0 4px 20px;font-size:14px;color:{INK};vertical-align:middle">'
        f'<p style="margin:0 0 6px">{esc(change)}</p>'
        f'<p style="margin:0 0 6px;color:{MUTED}">{esc(scored)}</p>'
        f'<p style="margin:0;color:{MUTED};font-size:13px">{esc(meaning)}</p>'
        f'<p style="margin:8px 0 0;font-size:13px">{overview} →</p></td>'
        "</tr></table></td></tr>" + _glance(briefing, url))


def _windows(briefing: dict[str, Any], url: str, charts: Mapping[str, str]) -> str:
    lang = briefing["language"]
    _ = gettext_for(lang)
    rows = []
    for window in briefing["windows"]:
        name = link(absolute(url, window["link"]), window_name(window["window"], lang))
        partial = " *" if window["kpis_partial"] else ""
        rows.append(row(name, [esc(window_days(window, lang)) + partial,
                               f"<strong>{esc(score_text(window['score'], lang))}</strong>",
                               esc(score_text(window["previous"], lang)),
                               esc(score_change_text(window["change"], lang)),
                               status_mark(window["status"], lang)]))
    head = [(_("Window"), False), (_("Dates"), True), (_("Score"), True), (_("Previous"), True),
            (_("Change"), True), (_("Status"), True)]
    note = ""
    if any(r["kpis_partial"] for r in briefing["windows"]):
        partly = _("Some KPIs have data for less than 90% of this window.")
        note = f'<p style="margin:0;font-size:12px;color:{MUTED}">* {esc(partly)}</p>'
    body = (chart_img(charts, "score-windows", _("Chart: the city score of each window beside "
                                                "the previous one; the table gives the numbers."))
            + table(_("Each window ends with the period"), head, rows)
            + note + _districts(briefing, url))
    return section(_("{score} by window").format(score=score_title(briefing)), body)


def _districts(briefing: dict[str, Any], url: str) -> str:
    lang = briefing["language"]
    _ = gettext_for(lang)
    if not briefing["districts"]:
        return ""
    rows = [row(link(absolute(url, d["link"]), d["name"]),
                [score_cell(w["score"], lang) for w in d["windows"]])
            for d in briefing["districts"]]
    head = [(_("District"), False)] + [(window_name(w, lang), True)
                                       for w in ("day", "week", "month", "quarter")]
    return table(_("Your districts: the score of your departments' KPIs there"), head, rows)


def _kpi_table(items: list[dict[str, Any]], url: str, lang: str, caption: str) -> str:
    _ = gettext_for(lang)
    rows = []
    for kpi in items:
        arrow, words = direction_words(kpi, lang)
        rows.append(row(link(absolute(url, kpi["link"]), kpi["name"]), [
            esc(kpi_value_text(kpi["value"], kpi["unit"], kpi["decimals"], lang)),
            esc(target_text(kpi, lang)), f"<strong>{esc(score_text(kpi['score'], lang))}</strong>",
            status_mark(kpi["status"], lang),
            esc(f"{arrow} {change_text(kpi, lang)}".strip()) + f"<br><span style=\"color:{MUTED};"
            f'font-size:12px">{esc(words)}</span>']))
    head = [(_("KPI"), False), (_("Value"), True), (_("Target"), True), (_("Score"), True),
            (_("Status"), True), (_("Change"), True)]
    return table(caption, head, rows)


def _kpis(briefing: dict[str, Any], url: str, charts: Mapping[str, str]) -> str:
    lang = briefing["language"]
    _ = gettext_for(lang)
    period = briefing["period"]["label"]
    parts = []
    for key, title, chart in (("best", _("Best results"), "kpi-best"),
                              ("worst", _("Needs attention"), "kpi-worst")):
        if not briefing[key]:
            none = _("No KPI has a score yet.")
            body = f'<p style="font-size:14px">{esc(none)}</p>'
        else:
            body = (chart_img(charts, chart, _("Chart: the scores of these KPIs against the "
                                            "target 1.00; the table gives the numbers."))
                    + _kpi_table(briefing[key], url, lang,
                                 _("Scores for {period}").format(period=period)))
        parts.append(section(title, body))
    still = _("No KPI moved against the previous period.")
    changed = (_kpi_table(briefing["changed"], url, lang,
                          _("Change against the previous period"))
               if briefing["changed"] else f'<p style="font-size:14px">{esc(still)}</p>')
    parts.append(section(_("Biggest changes"), changed))
    return "".join(parts)


def _all_scores(briefing: dict[str, Any], url: str) -> str:
    lang = briefing["language"]
    _ = gettext_for(lang)
    windows = ("day", "week", "month", "quarter")
    statuses = {k["key"]: k for k in briefing["kpis"]}
    rows = []
    for entry in briefing["kpi_scores"]:
        kpi = statuses.get(entry["key"], {})
        cells = [score_cell(entry["scores"][window], lang) for window in windows]
        label = link(absolute(url, entry["link"]), entry["name"])
        domain = domain_name(kpi.get("domain", ""), lang) if kpi else ""
        rows.append(row(f'{label}<br><span style="color:{MUTED};font-size:12px">'
                        f"{esc(domain)}</span>", cells))
    head = [(_("KPI"), False)] + [(window_name(w, lang), True) for w in windows]
    return section(_("Every KPI's score by window"),
                   table(_("✓ on target (1.00 or more), ! near (0.90 or more), ✕ off target"),
                         head, rows))


def briefing_html(briefing: dict[str, Any], public_url: str, *,
                  charts: Mapping[str, str]) -> str:
    """The whole briefing as one HTML document; ``charts`` maps a chart's name
    (``layouts.briefing_charts.briefing_figures``) to its image's ``src`` (``cid:NAME`` in
    the e-mail, a data URI for the PDF); a chart not given is left out."""
    lang = briefing["language"]
    _ = gettext_for(lang)
    generated = _("Made by CityLens on {moment} ({zone}). Links open the dashboard at "
                  "{url}").format(
        moment=moment_text(briefing["generated_at"], lang, briefing["timezone"]),
        zone=briefing["timezone"], url=public_url.rstrip("/") + "/")
    sections = [_header(briefing, public_url), _windows(briefing, public_url, charts),
                _kpis(briefing, public_url, charts), alerts_part(briefing, public_url),
                requests_part(briefing, public_url), feeds_part(briefing, public_url),
                _all_scores(briefing, public_url)]
    footer = (f'<tr><td style="padding:16px 28px 24px;font-size:12px;color:{MUTED};'
              f'border-top:1px solid {LINE}">{esc(generated)}</td></tr>')
    return (
        f'<!DOCTYPE html><html lang="{esc(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(briefing_subject(briefing))}</title><style>{PRINT_CSS}</style></head>"
        f'<body style="margin:0;padding:0;background:#eef1f4;color:{INK};font-family:{FONT}">'
        '<table role="presentation" class="outer" width="100%" cellpadding="0" '
        'cellspacing="0" style="padding:16px 0"><tr><td align="center">'
        '<table role="presentation" class="sheet" width="736" cellpadding="0" cellspacing="0" '
        'style="width:736px;max-width:100%;background:#ffffff;text-align:left">'
        + "".join(sections) + footer + "</table></td></tr></table></body></html>")
