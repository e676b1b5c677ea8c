"""Sign-in sessions kept on the server.

The browser's (signed) cookie carries a random token; the store keeps only its SHA-256 with
the user, when the session started, when it was last used and when it ended. A session is
good while it has not ended, has been used within the idle limit and started within the
maximum age; signing out ends it, so a copy of the cookie taken before is worthless.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, or_, select, update

from dashboard.auth.users import Principal, load_principal
from dashboard.model import SignInSession

SESSIONS = SignInSession.__table__
TOUCH_EVERY = timedelta(seconds=60)  # last use is written at most once a minute
KEEP_ENDED = timedelta(days=2)  # ended sessions are deleted after this long


@dataclass(frozen=True)
class Limits:
    """A session ends after ``idle`` without a request, and ``max_age`` after sign-in."""

    idle: timedelta
    max_age: timedelta


@dataclass(frozen=True)
class Lookup:
    """What a session token gives: the principal, or why not (``expired`` when it timed out,
    so the sign-in form can say so)."""

    principal: Principal | None
    expired: bool = False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(conn: Connection, username: str, now: datetime, limits: Limits) -> str:
    """A new session for ``username``; returns the token to keep in the cookie. Clears out
    sessions that ended (or could no longer be used) a while ago."""
    conn.execute(delete(SignInSession).where(or_(
        SignInSession.ended_at < now - KEEP_ENDED,
        SignInSession.started_at < now - limits.max_age - KEEP_ENDED)))
    token = secrets.token_urlsafe(32)
    conn.execute(insert(SignInSession).values(id=_digest(token), username=username,
                                              started_at=now, last_seen_at=now, ended_at=None))
    return token


def resume_session(conn: Connection, token: str, now: datetime, limits: Limits) -> Lookup:
    """The principal of a good session (its last use noted), else None; a session that timed
    out is ended here and reported as expired."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return Lookup(None)
    row = conn.execute(select(SESSIONS).where(SESSIONS.c.id == _digest(token))).first()
    if row is None or row.ended_at is not None:
        return Lookup(None)
    if now - row.last_seen_at > limits.idle or now - row.started_at > limits.max_age:
        conn.execute(update(SignInSession).where(SignInSession.id == row.id).values(ended_at=now))
        return Lookup(None, expired=True)
    principal = load_principal(conn, row.username)
    if principal is None:  # disabled (or removed) since signing in
        conn.execute(update(SignInSession).where(SignInSession.id == row.id).values(ended_at=now))
        return Lookup(None)
    if now - row.last_seen_at >= TOUCH_EVERY:
        conn.execute(update(SignInSession).where(SignInSession.id == row.id)
                     .values(last_seen_at=now))
    return Lookup(principal)


def end_session(conn: Connection, token: str, now: datetime) -> None:
    """Sign-out: the session can no longer be used, from any copy of its cookie."""
    if isinstance(token, str):
        conn.execute(update(SignInSession).where(SignInSession.id == _digest(token),
                                                 SignInSession.ended_at.is_(None))
                     .values(ended_at=now))
