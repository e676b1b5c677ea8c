"""The mayor's briefing: what each staff user receives daily, weekly or monthly.

The core builds the briefing's content (``build_briefing``: a JSON-ready dict read from
the existing read models, scoped like the user's pages) and its plain text
(``briefing_text``, ``briefing_subject``); a ``BriefingRenderer`` (``layouts.briefing_pdf``
prints it with headless Chromium) turns the content into the e-mail's HTML, inline chart
images and a PDF. Nothing here imports Plotly, Dash or a browser.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FREQUENCIES = ("daily", "weekly", "monthly")


@dataclass(frozen=True)
class RenderedBriefing:
    """A briefing ready to send: subject, HTML body (its charts as ``cid:NAME`` images),
    plain-text alternative, the PDF, and the PNG of every ``cid:NAME``."""

    subject: str
    html: str
    text: str
    pdf: bytes
    images: dict[str, bytes] = field(default_factory=dict)


# (briefing content from ``build_briefing``, the dashboard's public URL) -> rendered
BriefingRenderer = Callable[[dict[str, Any], str], RenderedBriefing]

from dashboard.briefing.content import build_briefing  # noqa: E402 - after the types above
from dashboard.briefing.text import briefing_subject, briefing_text  # noqa: E402

__all__ = ["FREQUENCIES", "BriefingRenderer", "RenderedBriefing", "briefing_subject",
           "briefing_text", "build_briefing"]
