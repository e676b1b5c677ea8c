"""A consultation's results as bars with their numbers in words (never colour alone): for
each question its counts per option, the scale's spread and mean, and the free texts staff
approved. Shared by the public page, the staff page and the kiosk."""
from __future__ import annotations

from typing import Any

from dash import html

from dashboard.i18n import format_number, format_percent, gettext_for
from layouts.resident import named


def bar(label: Any, count: int, total: int, lang: str) -> html.Li:
    """One option: its name, a bar of its share and the share in words."""
    share = count / total if total else 0.0
    words = f"{format_percent(share, lang)} ({format_number(count, lang)})"
    return html.Li(className="result-bar", children=[
        html.Span(label, className="result-bar__label"),
        html.Span(html.Span(className="result-bar__fill", style={"width": f"{share:.1%}"}),
                  className="result-bar__track", **{"aria-hidden": "true"}),
        html.Span(words, className="result-bar__value"),
    ])


def question_result(item: dict[str, Any], lang: str, texts_shown: int = 20) -> html.Section:
    """One question's result."""
    _ = gettext_for(lang)
    question = item["question"]
    parts: list[Any] = [html.H3(named(question["text"], lang), className="result__question")]
    answered = int(item.get("answered") or 0)
    if question["kind"] in ("single", "multiple"):
        labels = {o["key"]: named(o["label"], lang) for o in question["options"]}
        parts.append(html.Ul([bar(labels[key], count, answered, lang)
                              for key, count in item["counts"].items()],
                             className="result-bars"))
    elif question["kind"] == "scale":
        parts.append(html.P(_("Average {mean} out of {top}").format(
            mean=format_number(item["mean"], lang, 1) if item["mean"] is not None else "–",
            top=question["max"]), className="result__mean"))
        parts.append(html.Ul([bar(value, count, answered, lang)
                              for value, count in item["counts"].items()],
                             className="result-bars result-bars--scale"))
    else:
        shown = item.get("texts") or []
        parts.append(html.Ul([html.Li(text, className="result-text") for text in
                              shown[:texts_shown]], className="result-texts")
                     if shown else html.P(_("No answer published yet."), className="report-hint"))
        if item.get("awaiting"):
            parts.append(html.P(_("{n} awaiting moderation").format(n=item["awaiting"]),
                                className="result__awaiting"))
    parts.append(html.P(_("{n} answered this question").format(
        n=format_number(answered, lang)), className="result__answered"))
    return html.Section(parts, className="result")


def results_view(results: dict[str, Any], lang: str, texts_shown: int = 20) -> html.Div:
    """Every question's result, with the number of answers."""
    _ = gettext_for(lang)
    return html.Div(className="results", children=[
        html.P(_("{n} people answered.").format(n=format_number(results["answers"], lang)),
               className="results__total"),
        *[question_result(item, lang, texts_shown) for item in results["questions"]],
    ])
