"""The briefing renderer this process uses, installed by the composition root (``app``):
the core cannot import the pages' Plotly charts or the browser that prints them, so the
root hands them in once, before any command runs."""
from __future__ import annotations

from dashboard.briefing import BriefingRenderer

_installed: list[BriefingRenderer] = []


def use_renderer(renderer: BriefingRenderer) -> None:
    """Render briefings with ``renderer`` from now on, in this process."""
    _installed[:] = [renderer]


def installed_renderer() -> BriefingRenderer | None:
    """The renderer installed, or None (then no briefing is scheduled here)."""
    return _installed[0] if _installed else None
