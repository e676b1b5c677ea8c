"""What the briefing's HTML document (``layouts.briefing_document``) is made of: its
e-mail-safe building blocks (escaped text, links, tables with header cells, sections,
chart images, status marks in colour and words) and its sections on alerts, overdue
requests and feeds."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from dashboard.briefing.formats import (
    absolute,
    feed_status_name,
    lag_text,
    moment_text,
    score_text,
    severity_name,
    share_text,
    status_words,
)
from dashboard.briefing.text import feeds_lead, requests_lead
from dashboard.i18n import format_number, gettext_for
from dashboard.kpis.scoring import target_status
from dashboard.queries.alerts import SEVERITY_ORDER
from layouts import SEVERITY_TEXT_COLOURS, STATUS_COLOURS

FONT = "'Segoe UI', Arial, 'Liberation Sans', Helvetica, sans-serif"
INK, MUTED, LINE, HEAD_BG, BRAND = "#1f2933", "#52606d", "#d9dee4", "#f2f4f7", "#12355b"
CELL = f"padding:6px 8px;border-bottom:1px solid {LINE};font-size:13px;vertical-align:top;"
NUM = CELL + "text-align:right;white-space:nowrap;"
TH = CELL + f"background:{HEAD_BG};font-weight:bold;text-align:left;color:{INK};"
KEEP_ROWS = 12  # a table this short is kept on one page (with its caption)


def esc(value: Any) -> str:
    """Any value as HTML text (quotes escaped too: safe in attributes)."""
    return escape(str(value), quote=True)


def link(url: str, text: str, style: str = "") -> str:
    """A link with its text escaped."""
    return f'<a href="{esc(url)}" style="color:#1f5fa8;{style}">{esc(text)}</a>'


def status_mark(status: str | None, lang: str, *, mark_only: bool = False) -> str:
    """A status in its colour, always with its mark (and words unless ``mark_only``)."""
    mark, words = status_words(status, lang)
    colour = STATUS_COLOURS.get(status or "none", STATUS_COLOURS["none"])
    shown = esc(mark) if mark_only else f"{esc(mark)} {esc(words)}"
    title = f' title="{esc(words)}"' if mark_only else ""
    return f'<span style="color:{colour};font-weight:bold"{title}>{shown}</span>'


def table(caption: str, head: Iterable[tuple[str, bool]], rows: Iterable[str]) -> str:
    """A data table: a caption, header cells (text, numeric) with ``scope="col"``, rows."""
    cells = "".join(f'<th scope="col" style="{TH}{"text-align:right;" if num else ""}">'
                    f"{esc(text)}</th>" for text, num in head)
    rows = list(rows)
    keep = ' class="keep"' if len(rows) <= KEEP_ROWS else ""
    return (f'<table role="table"{keep} width="100%" cellpadding="0" cellspacing="0" '
            'style="border-collapse:collapse;width:100%;margin:4px 0 8px">'
            f'<caption style="text-align:left;font-size:12px;color:{MUTED};padding:0 0 4px">'
            f"{esc(caption)}</caption><thead><tr>{cells}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def row(header: str, cells: Iterable[str]) -> str:
    """A table row: its header cell (``scope="row"``, already HTML) and numeric cells."""
    data = "".join(f'<td style="{NUM}">{cell}</td>' for cell in cells)
    return (f'<tr><th scope="row" style="{CELL}text-align:left;font-weight:normal">{header}'
            f"</th>{data}</tr>")


def score_cell(score: float | None, lang: str) -> str:
    """A score and the mark of its target status (in colour)."""
    mark = status_mark(target_status(score), lang, mark_only=True)
    return f"{esc(score_text(score, lang))} {mark}"


def section(title: str, body: str, more: tuple[str, str] | None = None) -> str:
    """A section of the document: its heading, its body (HTML) and a "more" link."""
    after = (f'<p style="margin:4px 0 0;font-size:13px">{link(more[0], more[1])} →</p>'
             if more else "")
    return (f'<tr><td style="padding:18px 28px 6px">'
            f'<h2 style="margin:0 0 8px;font-size:17px;color:{BRAND};border-bottom:2px solid '
            f'{BRAND};padding-bottom:4px">{esc(title)}</h2>{body}{after}</td></tr>')


def chart_img(charts: Mapping[str, str], name: str, alt: str) -> str:
    """The chart ``name`` as an image of the column's width (nothing when not given)."""
    if name not in charts:
        return ""
    return (f'<img src="{esc(charts[name])}" width="680" alt="{esc(alt)}" '
            'style="display:block;width:100%;max-width:680px;height:auto;border:0;'
            'margin:4px 0 6px">')


def _severity_cells(counts: Mapping[str, int], lang: str) -> list[str]:
    return [esc(format_number(counts.get(s, 0), lang)) for s in SEVERITY_ORDER]


def alerts_part(briefing: dict[str, Any], url: str) -> str:
    """Alerts raised, cleared and active by severity (and raised in a department head's
    districts), then the most severe still active."""
    lang, tz = briefing["language"], briefing["timezone"]
    _ = gettext_for(lang)
    alerts = briefing["alerts"]
    head = [("", False)] + [(severity_name(s, lang), True) for s in SEVERITY_ORDER] + [
        (_("Total"), True)]

    def counted(label: str, counts: Mapping[str, int]) -> str:
        total = esc(format_number(sum(counts.values()), lang))
        return row(label, [*_severity_cells(counts, lang), f"<strong>{total}</strong>"])

    rows = [counted(esc(label), alerts[key])
            for label, key in ((_("Raised in the period"), "raised"),
                               (_("Cleared in the period"), "cleared"),
                               (_("Active now"), "active"))]
    rows += [counted(link(absolute(url, d["link"]), _("{district}: raised").format(
        district=d["name"])), d["raised"]) for d in alerts["districts"]]
    body = table(_("Alerts by severity"), head, rows)
    listed = []
    for alert in alerts["still_active"]:
        colour = SEVERITY_TEXT_COLOURS.get(alert["severity"], INK)
        asset = (link(absolute(url, alert["link"]), alert["asset_name"])
                 + f'<br><span style="color:{MUTED};font-size:12px">{esc(alert["rule"])}</span>')
        listed.append(row(asset, [
            f'<span style="color:{colour};font-weight:bold">'
            f'{esc(severity_name(alert["severity"], lang))}</span>',
            esc(alert["district_name"] or _("no district")),
            esc(moment_text(alert["raised_at"], lang, tz))]))
    if listed:
        body += table(_("Most severe alerts still active"),
                      [(_("Asset"), False), (_("Severity"), True), (_("District"), True),
                       (_("Since"), True)], listed)
    return section(_("Alerts"), body, (absolute(url, alerts["link"]), _("See the alerts")))


def requests_part(briefing: dict[str, Any], url: str) -> str:
    """Open requests overdue now: by department, then in a department head's districts."""
    lang = briefing["language"]
    _ = gettext_for(lang)
    requests = briefing["requests"]

    def rows(found: list[dict[str, Any]]) -> list[str]:
        return [row(link(absolute(url, r["link"]), r["name"] or _("No department")),
                    [esc(format_number(r["open"], lang)),
                     f"<strong>{esc(format_number(r['overdue'], lang))}</strong>",
                     esc(share_text(r["share"], lang))]) for r in found]

    counts = [(_("Open"), True), (_("Overdue"), True), (_("Share overdue"), True)]
    body = f'<p style="margin:0 0 6px;font-size:14px">{esc(requests_lead(requests, lang))}</p>'
    if requests["by_department"]:
        body += table(_("Open requests past their due time, now"),
                      [(_("Department"), False), *counts], rows(requests["by_department"]))
    if requests["districts"]:
        body += table(_("In your districts"), [(_("District"), False), *counts],
                      rows(requests["districts"]))
    return section(_("Service requests overdue"), body,
                   (absolute(url, requests["link"]), _("See the service requests")))


def feeds_part(briefing: dict[str, Any], url: str) -> str:
    """Whether every feed is up to date, or the ones stale or failing."""
    lang = briefing["language"]
    _ = gettext_for(lang)
    feeds = briefing["feeds"]
    lead = feeds_lead(feeds, lang)
    if not feeds["problems"]:
        body = f'<p style="margin:0;font-size:14px">✓ {esc(lead)}</p>'
    else:
        rows = [row(link(absolute(url, f["link"]), f["id"]), [
            esc(f["kind"]), esc(feed_status_name(f["status"], lang)),
            esc(lag_text(f["lag_seconds"], lang))]) for f in feeds["problems"]]
        head = [(_("Feed"), False), (_("Kind"), True), (_("Last run"), True),
                (_("Behind"), True)]
        body = (f'<p style="margin:0 0 6px;font-size:14px">{esc(lead)}</p>'
                + table(_("Feeds that need a look"), head, rows))
    return section(_("Data feeds"), body, (absolute(url, feeds["link"]), _("See feed health")))
