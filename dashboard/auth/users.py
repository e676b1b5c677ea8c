"""Users: adding, listing, disabling, and signing in with a lock-out after failed attempts.

A department head is bound to one or more departments (of the service catalogue) and,
optionally, districts; the other roles to none. Sign-in failures are counted per user;
``MAX_FAILURES`` in a row lock the account for ``LOCK_MINUTES``, whatever the password
given meanwhile. Unknown users and wrong passwords get the same answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from dashboard.auth import DEPARTMENT_HEAD, PUBLIC, SIGNED_IN
from dashboard.auth.passwords import (
    check_strength,
    hash_password,
    needs_rehash,
    verify_password,
)
from dashboard.model import District, Service, User

MAX_FAILURES = 5
LOCK_MINUTES = 15
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")
USERS = User.__table__


@dataclass(frozen=True)
class Principal:
    """Who is asking: a signed-in user, or the anonymous public."""

    username: str = ""
    role: str = PUBLIC
    departments: tuple[str, ...] = field(default_factory=tuple)
    districts: tuple[str, ...] = field(default_factory=tuple)

    @property
    def signed_in(self) -> bool:
        return self.role in SIGNED_IN


ANONYMOUS = Principal()


class SignInError(Exception):
    """Sign-in refused; the message is safe to show (it never says which part was wrong)."""


def _principal(row: Any) -> Principal:
    return Principal(row.username, row.role, tuple(row.departments or ()),
                     tuple(row.districts or ()))


@cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown users (made once, on first need)."""
    return hash_password("an unknown user's password")


def validate_user(conn: Connection, username: str, role: str, departments: list[str],
                  districts: list[str]) -> None:
    """ValueError naming what is wrong with a new user's name, role or bindings."""
    if not username or not set(username) <= USERNAME_CHARS or len(username) > 100:
        raise ValueError("a username is 1-100 characters of a-z, 0-9, '.', '_', '-', '@'")
    if role not in SIGNED_IN:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(SIGNED_IN)}")
    if role == DEPARTMENT_HEAD and not departments:
        raise ValueError("a department head needs at least one --department")
    if role != DEPARTMENT_HEAD and (departments or districts):
        raise ValueError("only a department head is bound to departments and districts")
    known = set(conn.execute(select(Service.department).distinct()).scalars())
    unknown = sorted(set(departments) - known)
    if unknown:
        raise ValueError(f"unknown department {unknown[0]!r}; known: {', '.join(sorted(known))}")
    places = set(conn.execute(select(District.id)).scalars())
    unknown = sorted(set(districts) - places)
    if unknown:
        raise ValueError(f"unknown district {unknown[0]!r}")


def add_user(conn: Connection, username: str, role: str, password: str, *,
             departments: list[str] | None = None, districts: list[str] | None = None) -> None:
    """Create a user (ValueError for a bad name, role, binding, weak password or a name
    already taken)."""
    departments, districts = list(departments or []), list(districts or [])
    username = username.strip().lower()
    validate_user(conn, username, role, departments, districts)
    check_strength(password)
    if conn.execute(select(User.username).where(User.username == username)).first():
        raise ValueError(f"user {username!r} already exists")
    conn.execute(insert(User).values(
        username=username, password_hash=hash_password(password), role=role,
        departments=departments, districts=districts, disabled=False, failed_attempts=0,
        locked_until=None))


def list_users(conn: Connection) -> list[dict[str, Any]]:
    """Every user without the password hash: name, role, bindings, disabled, lock state."""
    rows = conn.execute(select(USERS).order_by(USERS.c.username))
    return [{"username": u.username, "role": u.role, "departments": list(u.departments or []),
             "districts": list(u.districts or []), "disabled": bool(u.disabled),
             "failed_attempts": int(u.failed_attempts or 0),
             "locked_until": u.locked_until.isoformat() if u.locked_until else None}
            for u in rows]


def disable_user(conn: Connection, username: str) -> None:
    """Disable a user (they can no longer sign in; existing sessions end at their next
    request). KeyError when there is no such user."""
    done = conn.execute(update(User).where(User.username == username.strip().lower())
                        .values(disabled=True))
    if not done.rowcount:
        raise KeyError(username)


def load_principal(conn: Connection, username: str) -> Principal | None:
    """The principal of an active (not disabled) user, or None."""
    row = conn.execute(select(USERS).where(USERS.c.username == username)).first()
    if row is None or row.disabled:
        return None
    return _principal(row)


def authenticate(engine: Engine, username: str, password: str, now: datetime) -> Principal:
    """The principal for a correct name and password; SignInError otherwise.

    Counts failures; the ``MAX_FAILURES``-th locks the account for ``LOCK_MINUTES``. A
    success resets the count (and upgrades an outdated hash). Runs its own transaction,
    committed before a refusal is raised, so failures are never rolled back.
    """
    with engine.begin() as conn:
        outcome = _attempt(conn, (username or "").strip().lower(), password or "", now)
    if isinstance(outcome, SignInError):
        raise outcome
    return outcome


def _attempt(conn: Connection, username: str, password: str,
             now: datetime) -> Principal | SignInError:
    refused = SignInError("Wrong username or password.")
    row = conn.execute(select(USERS).where(USERS.c.username == username)).first()
    if row is None or row.disabled:
        verify_password(_dummy_hash(), password)  # the same work as a real check
        return refused
    locked = row.locked_until  # aware UTC (model.UTCDateTime)
    if locked is not None and locked > now:
        return SignInError("Too many failed attempts: this account is locked until "
                           f"{locked:%H:%M} UTC. Try again later or ask an administrator.")
    if not verify_password(row.password_hash, password):
        failures = int(row.failed_attempts or 0) + 1
        lock = now + timedelta(minutes=LOCK_MINUTES) if failures >= MAX_FAILURES else None
        conn.execute(update(User).where(User.username == username).values(
            failed_attempts=0 if lock else failures, locked_until=lock))
        if lock:
            return SignInError(f"Too many failed attempts: this account is locked for "
                               f"{LOCK_MINUTES} minutes.")
        return refused
    values: dict[str, Any] = {"failed_attempts": 0, "locked_until": None}
    if needs_rehash(row.password_hash):
        values["password_hash"] = hash_password(password)
    conn.execute(update(User).where(User.username == username).values(**values))
    return _principal(row)
