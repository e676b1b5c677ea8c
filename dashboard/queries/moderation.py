"""Staff decide whether what a resident wrote on a request (description, address, status
notes) may be published in the open data (Open311, ``/api/v1``): approve it, or keep it
private. Each decision is audited (action ``moderate``) and refreshes every view of
requests. A department head decides only for their departments' requests."""
from __future__ import annotations

from datetime import datetime

from typing import Any

from sqlalchemy import Connection, Engine, select, update

from dashboard.auth import DEPARTMENT_HEAD, audit
from dashboard.auth.access import STAFF
from dashboard.auth.users import Principal
from dashboard.model import ServiceRequest
from dashboard.settings import Settings
from dashboard.store import bump_data_version, get_engine

DECISIONS = {"approve": ("approved", "approved the resident's text for publication"),
             "reject": ("rejected", "kept the resident's text private")}
STATES = {"approved": "Published", "rejected": "Kept private", "pending": "Awaiting moderation"}


def state_label(moderation: str | None) -> str:
    """How a request's moderation reads on its page."""
    return STATES.get(moderation or "", "Not published (never moderated)")


def staff_request(conn: Connection, who: Principal, request_id: str, *columns: Any) -> Any:
    """``columns`` of request ``request_id`` for a staff decision: LookupError when there
    is no such request, or it belongs to none of a department head's departments."""
    row = conn.execute(select(ServiceRequest.department, *columns)
                       .where(ServiceRequest.id == request_id)).first()
    if row is None or (who.role == DEPARTMENT_HEAD and row.department not in who.departments):
        raise LookupError(f"no service request {request_id!r} that you may see")
    return row


def moderate_request(engine: Engine, who: Principal, request_id: str, decision: str,
                     now: datetime) -> str:
    """Record ``decision`` ("approve" or "reject") on request ``request_id``; returns its
    new state. PermissionError for someone who may not moderate, LookupError for a request
    they may not see, ValueError for another decision; nothing is written then."""
    if who.role not in STAFF:
        raise PermissionError("only staff moderate what residents wrote")
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}")
    state, reason = DECISIONS[decision]
    with engine.begin() as conn:
        staff_request(conn, who, request_id)
        conn.execute(update(ServiceRequest).where(ServiceRequest.id == request_id)
                     .values(moderation=state))
        audit.record(conn, who, "moderate", request_id, reason, now)
        bump_data_version(conn, {"requests"})
    return state


def moderate(settings: Settings, who: Principal, request_id: str, decision: str) -> str:
    """``moderate_request`` on the settings' store, at their "now"."""
    return moderate_request(get_engine(settings.resolved_database_url), who, request_id,
                            decision, settings.current_time())
