"""What the commitments' public page and kiosk slide share: the status badge, the late
flag and the progress bar, each saying in words what its colour shows; budgets in euros
per locale. The read model is ``dashboard.queries.commitments``."""
from __future__ import annotations

from typing import Any

from babel.numbers import format_compact_currency
from dash import html

from dashboard.i18n import N_, format_percent, gettext_for
from dashboard.i18n.formats import DASH, locale_of

STATUS_WORDS = {"planned": N_("Planned"), "under_way": N_("Under way"), "done": N_("Done"),
                "delayed": N_("Delayed"), "cancelled": N_("Cancelled")}
STATUS_MARKS = {"planned": "○", "under_way": "◐", "done": "✓", "delayed": "!",
                "cancelled": "✕"}


def status_badge(status: str, lang: str, prefix: str = "commitment") -> html.Span:
    """The status as a mark and a word (the colour only repeats them)."""
    _ = gettext_for(lang)
    word = _(STATUS_WORDS[status]) if status in STATUS_WORDS else status
    return html.Span([html.Span(STATUS_MARKS.get(status, "–"), **{"aria-hidden": "true"}),
                      " ", word], className=f"{prefix}-status {prefix}-status--{status}")


def late_flag(item: dict[str, Any], lang: str, prefix: str = "commitment") -> html.Span | None:
    """"Behind schedule" when the commitment is late (and not already marked delayed by
    staff), else None."""
    _ = gettext_for(lang)
    if not item.get("late") or item.get("status") == "delayed":
        return None
    return html.Span([html.Span("⚠", **{"aria-hidden": "true"}), " ", _("Behind schedule")],
                     className=f"{prefix}-late")


def percent_text(percent: float | None, lang: str) -> str:
    """``45 % complete`` in ``lang``."""
    _ = gettext_for(lang)
    return _("{percent} complete").format(percent=format_percent((percent or 0) / 100, lang))


def progress_bar(percent: float | None, lang: str, prefix: str = "commitment") -> html.Div:
    """A bar of % complete with its number written beside it (the bar itself is hidden
    from screen readers: the text says it)."""
    width = max(0.0, min(100.0, percent or 0.0))
    return html.Div(className=f"{prefix}-progress", children=[
        html.Span(html.Span(className=f"{prefix}-progress__fill",
                            style={"width": f"{width:.0f}%"}),
                  className=f"{prefix}-progress__track", **{"aria-hidden": "true"}),
        html.Span(percent_text(percent, lang), className=f"{prefix}-progress__text"),
    ])


def euros(value: float | None, lang: str) -> str:
    """An amount of euros, short: es ``1,85 M €``, en ``€640K``; a dash for none."""
    if value is None:
        return DASH
    digits = 2 if value >= 1_000_000 else 0
    text: str = format_compact_currency(value, "EUR", locale=locale_of(lang),
                                        fraction_digits=digits)
    return text
