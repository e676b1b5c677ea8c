"""The audit log: every read (and export) of a citizen's personal record, every decision
to publish or keep private what a resident wrote on a request, and every change to the
city's commitments, with who, in which role, when, which citizen, request or commitment
and why. The app only ever appends to it."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from dashboard.auth.users import Principal
from dashboard.model import AuditEntry

MIN_REASON = 5
ACTIONS = ("view_profile", "export_profile", "search", "moderate", "consultation", "commitment")


def record(conn: Connection, who: Principal, action: str, subject: str, reason: str,
           now: datetime) -> None:
    """Append one entry. ValueError without a signed-in user, a known action, a subject
    or a reason of at least ``MIN_REASON`` characters (nothing is written then)."""
    reason = " ".join((reason or "").split())
    if not who.signed_in:
        raise ValueError("only a signed-in user can read personal records")
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if not subject:
        raise ValueError("an audit entry needs its subject")
    if len(reason) < MIN_REASON:
        raise ValueError(f"give a reason (at least {MIN_REASON} characters) for opening a "
                         "personal record")
    conn.execute(insert(AuditEntry).values(time=now, username=who.username, role=who.role,
                                           action=action, subject=subject, reason=reason))


def entries(conn: Connection, *, citizen: str | None = None, user: str | None = None,
            limit: int | None = 1000) -> list[dict[str, Any]]:
    """Entries newest first, optionally of one citizen (subject) or one user."""
    stmt = select(AuditEntry.__table__).order_by(AuditEntry.time.desc(), AuditEntry.id.desc())
    if citizen:
        stmt = stmt.where(AuditEntry.subject == citizen)
    if user:
        stmt = stmt.where(AuditEntry.username == user)
    if limit:
        stmt = stmt.limit(limit)
    return [{"id": e.id, "time": e.time.isoformat(), "username": e.username, "role": e.role,
             "action": e.action, "subject": e.subject, "reason": e.reason}
            for e in conn.execute(stmt)]
