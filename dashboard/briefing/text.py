"""The briefing as plain text (the e-mail's text alternative) and its subject, in the
briefing's language; the same figures, written the same way, as the HTML document."""
from __future__ import annotations

from datetime import date
from typing import Any

from dashboard.briefing.formats import (
    absolute,
    change_text,
    day_span,
    direction_words,
    feed_status_name,
    kpi_value_text,
    lag_text,
    moment_text,
    score_change_text,
    score_text,
    severity_name,
    share_text,
    status_words,
    target_text,
    window_name,
)
from dashboard.i18n import format_number, gettext_for, ngettext_for
from dashboard.queries.alerts import SEVERITY_ORDER

RULE = "─" * 60


def briefing_subject(briefing: dict[str, Any]) -> str:
    """``CityLens weekly briefing, 30 Nov – 6 Dec 2026`` in the briefing's language."""
    _ = gettext_for(briefing["language"])
    label = briefing["period"]["label"]
    subjects = {"daily": _("CityLens daily briefing, {period}"),
                "weekly": _("CityLens weekly briefing, {period}"),
                "monthly": _("CityLens monthly briefing, {period}")}
    return subjects[briefing["frequency"]].format(period=label)


def scope_line(briefing: dict[str, Any]) -> str:
    """Whom and what the briefing is for: ``Whole city`` or the departments (and their
    districts)."""
    _ = gettext_for(briefing["language"])
    recipient = briefing["recipient"]
    if not recipient["departments"]:
        return _("Whole city")
    line = ", ".join(recipient["departments"])
    if recipient["districts"]:
        line += " · " + _("your districts: {names}").format(
            names=", ".join(d["name"] for d in recipient["districts"]))
    return line


def score_title(briefing: dict[str, Any]) -> str:
    """``City score``, or for a department head the score of their departments' KPIs."""
    _ = gettext_for(briefing["language"])
    if briefing["recipient"]["departments"]:
        return _("Your departments' score")
    return _("City score")


def window_days(row: dict[str, Any], lang: str) -> str:
    """The local days a window row spans."""
    return day_span(date.fromisoformat(row["first_day"]), date.fromisoformat(row["last_day"]),
                    lang)


def kpi_line(kpi: dict[str, Any], lang: str) -> str:
    """``Name: 42% (target 30%) · score 0.71 · ✕ Off target``."""
    _ = gettext_for(lang)
    mark, words = status_words(kpi["status"], lang)
    return (f"{kpi['name']}: {kpi_value_text(kpi['value'], kpi['unit'], kpi['decimals'], lang)}"
            f" ({_('target')} {target_text(kpi, lang)}) · {_('score')} "
            f"{score_text(kpi['score'], lang)} · {mark} {words}")


def severity_counts(counts: dict[str, int], lang: str) -> str:
    """``critical: 2, warning: 5, info: 0``, in severity order."""
    return ", ".join(f"{severity_name(s, lang).lower()}: {format_number(counts.get(s, 0), lang)}"
                     for s in SEVERITY_ORDER)


def _kpi_sections(briefing: dict[str, Any], url: str, lang: str) -> list[str]:
    _ = gettext_for(lang)
    lines: list[str] = []
    for title, key in ((_("Best results"), "best"), (_("Needs attention"), "worst")):
        lines += ["", title.upper()]
        for n, kpi in enumerate(briefing[key], 1):
            lines += [f"  {n}. {kpi_line(kpi, lang)}", f"     {absolute(url, kpi['link'])}"]
        if not briefing[key]:
            lines.append("  " + _("No KPI has a score yet."))
    lines += ["", _("Biggest changes").upper()]
    for kpi in briefing["changed"]:
        arrow, words = direction_words(kpi, lang)
        lines += [f"  {arrow} {kpi['name']}: {change_text(kpi, lang)} ({words}), "
                  + _("now {value}").format(value=kpi_value_text(
                      kpi["value"], kpi["unit"], kpi["decimals"], lang)),
                  f"     {absolute(url, kpi['link'])}"]
    if not briefing["changed"]:
        lines.append("  " + _("No KPI moved against the previous period."))
    return lines


def _alert_lines(alerts: dict[str, Any], url: str, lang: str, tz: str) -> list[str]:
    _ = gettext_for(lang)
    lines = ["", _("Alerts").upper(),
             "  " + _("Raised in the period: {count} ({detail})").format(
                 count=format_number(alerts["raised_total"], lang),
                 detail=severity_counts(alerts["raised"], lang)),
             "  " + _("Cleared in the period: {count} ({detail})").format(
                 count=format_number(alerts["cleared_total"], lang),
                 detail=severity_counts(alerts["cleared"], lang)),
             "  " + _("Active now: {count} ({detail})").format(
                 count=format_number(alerts["active_total"], lang),
                 detail=severity_counts(alerts["active"], lang))]
    for alert in alerts["still_active"]:
        where = alert["district_name"] or _("no district")
        lines += [f"  - {severity_name(alert['severity'], lang)} · {alert['rule']} · "
                  f"{alert['asset_name']} ({where}) · "
                  + _("since {moment}").format(moment=moment_text(alert["raised_at"], lang, tz)),
                  f"    {absolute(url, alert['link'])}"]
    for district in alerts["districts"]:
        lines.append("  " + _("{district}: raised {raised}, active now {active}").format(
            district=district["name"], raised=format_number(sum(district["raised"].values()),
                                                            lang),
            active=format_number(sum(district["active"].values()), lang)))
    lines.append("  " + absolute(url, alerts["link"]))
    return lines


def requests_lead(requests: dict[str, Any], lang: str) -> str:
    """``24 of 104 open requests overdue (23%); 219 received and 162 closed in the period``."""
    _ = gettext_for(lang)
    return _("{overdue} of {open} open requests overdue ({share}); {received} received and "
             "{closed} closed in the period").format(
        overdue=format_number(requests["overdue"], lang),
        open=format_number(requests["open"], lang), share=share_text(requests["share"], lang),
        received=format_number(requests["received"], lang),
        closed=format_number(requests["closed"], lang))


def feeds_lead(feeds: dict[str, Any], lang: str) -> str:
    """``All 22 feeds are up to date.`` or ``2 of 22 feeds are stale or failing:``."""
    ngettext = ngettext_for(lang)
    total = format_number(feeds["total"], lang)
    if not feeds["problems"]:
        return ngettext("The {total} feed is up to date.", "All {total} feeds are up to date.",
                        feeds["total"]).format(total=total)
    count = len(feeds["problems"])
    return ngettext("{count} of {total} feeds is stale or failing:",
                    "{count} of {total} feeds are stale or failing:", count).format(
        count=format_number(count, lang), total=total)


def _request_lines(requests: dict[str, Any], url: str, lang: str) -> list[str]:
    _ = gettext_for(lang)
    lines = ["", _("Service requests overdue").upper(), "  " + requests_lead(requests, lang)]
    for row in requests["by_department"] + requests["districts"]:
        lines.append("  - " + _("{name}: {overdue} of {open} overdue ({share})").format(
            name=row["name"] or _("No department"), overdue=format_number(row["overdue"], lang),
            open=format_number(row["open"], lang), share=share_text(row["share"], lang)))
    lines.append("  " + absolute(url, requests["link"]))
    return lines


def _feed_lines(feeds: dict[str, Any], url: str, lang: str) -> list[str]:
    _ = gettext_for(lang)
    lines = ["", _("Data feeds").upper(), "  " + feeds_lead(feeds, lang)]
    for feed in feeds["problems"]:
        lines.append(f"  - {feed['id']} ({feed['kind']}): "
                     f"{feed_status_name(feed['status'], lang)}, "
                     + _("{lag} behind").format(lag=lag_text(feed["lag_seconds"], lang)))
    lines.append("  " + absolute(url, feeds["link"]))
    return lines


def briefing_text(briefing: dict[str, Any], public_url: str) -> str:
    """The whole briefing as plain text, every item with its absolute link."""
    lang, tz = briefing["language"], briefing["timezone"]
    _ = gettext_for(lang)
    score = briefing["score"]
    mark, words = status_words(score["status"], lang)
    lines = [briefing_subject(briefing), scope_line(briefing), RULE, "",
             score_title(briefing).upper(),
             f"  {score_text(score['score'], lang)}  {mark} {words}  ("
             + _("previous {previous}, change {change}").format(
                 previous=score_text(score["previous"], lang),
                 change=score_change_text(score["change"], lang)) + ")", ""]
    for row in briefing["windows"]:
        lines.append(f"  {window_name(row['window'], lang):<10} {window_days(row, lang):<26} "
                     f"{score_text(row['score'], lang):>6}  "
                     + _("previous {previous}, change {change}").format(
                         previous=score_text(row["previous"], lang),
                         change=score_change_text(row["change"], lang)))
    lines.append("  " + absolute(public_url, score["link"]))
    for district in briefing["districts"]:
        scores = " · ".join(f"{window_name(w['window'], lang)} {score_text(w['score'], lang)}"
                            for w in district["windows"])
        lines.append(f"  {district['name']}: {scores}")
    lines += _kpi_sections(briefing, public_url, lang)
    lines += _alert_lines(briefing["alerts"], public_url, lang, tz)
    lines += _request_lines(briefing["requests"], public_url, lang)
    lines += _feed_lines(briefing["feeds"], public_url, lang)
    lines += ["", RULE, _("A KPI's score is its value against its target (the target over "
                          "the value where lower is better); 1.00 means on target. The city "
                          "score is the mean of the KPI scores."),
              _("Sent by CityLens: {url}").format(url=public_url.rstrip("/") + "/")]
    return "\n".join(lines) + "\n"
