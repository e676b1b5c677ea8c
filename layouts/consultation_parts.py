"""What the staff pages of consultations share (``/consultations`` and
``/consultations/<id>``): their component ids, links, the state badge and the place."""
from __future__ import annotations

from typing import Any

from dash import html

from dashboard.consultations import CLOSED, OPEN, UPCOMING
from dashboard.settings import Settings
from layouts import current_settings, ids

PAGE = "consultations"
STAFF_LANG = "en"  # staff pages speak English; texts in another language are marked
STATE_BADGES = {OPEN: ("on", "●", "Open"), UPCOMING: ("none", "◷", "Upcoming"),
                CLOSED: ("closed", "■", "Closed")}
TEXT_TYPE = "consultations-text"  # pattern-matching id type of a moderation button


def fresh_settings() -> Settings:
    """The app's settings, its cached reads never served stale: staff who just created a
    consultation or decided on an answer see it at once, not after the cache revalidates."""
    return current_settings().model_copy(update={"cache_stale_seconds": 0})


def pid(name: str) -> str:
    """The consultations pages' component id ``consultations-<name>``."""
    return ids.page_id(PAGE, name)


def text_button(text_id: int, decision: str) -> dict[str, Any]:
    """Pattern-matching id of one moderation button (``approve`` or ``reject``)."""
    return {"type": TEXT_TYPE, "id": text_id, "decision": decision}


def survey_href(survey_id: str) -> str:
    """The staff view of one consultation."""
    return f"/consultations/{survey_id}"


def public_href(survey_id: str) -> str:
    """The residents' page of one consultation."""
    return f"/participate/{survey_id}"


def state_badge(state: str) -> html.Span:
    """The state in words and an icon (never colour alone)."""
    tone, icon, words = STATE_BADGES.get(state, STATE_BADGES[UPCOMING])
    return html.Span([html.Span(icon, **{"aria-hidden": "true"}), f" {words}"],
                     className=f"status-badge consultations-state consultations-state--{tone}")


def place(found: dict[str, Any]) -> str:
    """The consultation's district, or the whole city."""
    return found.get("district_name") or ("Whole city" if not found.get("district_id")
                                          else found["district_id"])
