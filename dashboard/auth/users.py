"""Users: adding, listing, disabling, and signing in.

A department head is bound to one or more departments (of the service catalogue) and,
optionally, districts; the other roles to none. Sign-in attempts are throttled per account,
client address and pair with growing delays (``dashboard.auth.throttle``). A wrong password,
an unknown or disabled user and an attempt made too soon get the same answer after the same
work (one password hash checked), so the answer never tells whether an account exists.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
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
from dashboard.auth.throttle import account_waits_until, clear_after_success, take_turn
from dashboard.model import District, Service, SignInSession, User

MAX_PASSWORD_LENGTH = 1_000  # longer is never a password of ours: refused unhashed
REFUSED = "Wrong username or password, or too many attempts: wait a minute and try again."
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
        departments=departments, districts=districts, disabled=False))


def list_users(conn: Connection, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every user without the password hash: name, role, bindings, disabled, and until when
    sign-in attempts on the account must wait (too many failures from anywhere), if they do."""
    now = now or datetime.now(timezone.utc)
    rows = conn.execute(select(USERS).order_by(USERS.c.username))
    found = []
    for u in rows:
        waits = account_waits_until(conn, u.username, now)
        found.append({"username": u.username, "role": u.role,
                      "departments": list(u.departments or []),
                      "districts": list(u.districts or []), "disabled": bool(u.disabled),
                      "email": u.email, "language": u.language, "briefing": u.briefing,
                      "sign_in_waits_until": waits.isoformat() if waits else None})
    return found


def disable_user(conn: Connection, username: str) -> None:
    """Disable a user: they can no longer sign in and their open sessions end now.
    KeyError when there is no such user."""
    username = username.strip().lower()
    done = conn.execute(update(User).where(User.username == username).values(disabled=True))
    if not done.rowcount:
        raise KeyError(username)
    conn.execute(update(SignInSession).where(SignInSession.username == username,
                                             SignInSession.ended_at.is_(None))
                 .values(ended_at=datetime.now(timezone.utc)))


def load_principal(conn: Connection, username: str) -> Principal | None:
    """The principal of an active (not disabled) user, or None."""
    row = conn.execute(select(USERS).where(USERS.c.username == username)).first()
    if row is None or row.disabled:
        return None
    return _principal(row)


def authenticate(engine: Engine, username: str, password: str, now: datetime,
                 address: str = "") -> Principal:
    """The principal for a correct name and password; SignInError (one message for every
    refusal) otherwise. Takes a turn on the sign-in counters of ``username`` and the
    client ``address`` first; without a turn no password is checked (a stand-in hash is,
    for the same timing). A success clears the account's counters and upgrades an outdated
    hash."""
    username = (username or "").strip().lower()[:100]
    password = password or ""
    sized = len(password) <= MAX_PASSWORD_LENGTH
    turn = take_turn(engine, username, address, now)
    with engine.connect() as conn:
        row = conn.execute(select(USERS).where(USERS.c.username == username)).first()
    usable = turn and sized and row is not None and not row.disabled
    stored = row.password_hash if usable and row is not None else _dummy_hash()
    correct = verify_password(stored, password[:MAX_PASSWORD_LENGTH])  # always one check
    if not (usable and correct) or row is None:
        raise SignInError(REFUSED)
    values: dict[str, Any] = {}
    if needs_rehash(row.password_hash):
        values["password_hash"] = hash_password(password)
    with engine.begin() as conn:
        clear_after_success(conn, username, address)
        if values:
            conn.execute(update(User).where(User.username == username).values(**values))
    return _principal(row)
