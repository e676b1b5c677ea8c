"""Demo sign-ins: one user per role, so the demo city can be tried as each kind of user.

They share ``DEMO_PASSWORD`` and are printed by ``citylens demo``; a real deployment adds
its own with ``citylens users add`` (and never runs the demo on its store).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from dashboard.auth import ADMIN, DEPARTMENT_HEAD, OFFICIAL
from dashboard.auth.users import add_user
from dashboard.model import User

DEMO_PASSWORD = "citylens-demo"
# (username, role, departments, district indexes (1-based, as in the district ids), what for)
DEMO_MAIL_DOMAIN = "citylens.example"  # RFC 2606: never a real mailbox
DEMO_LANGUAGES = {"mayor": "es"}  # the mayor reads the briefing in Spanish
DEMO_USERS: tuple[tuple[str, str, tuple[str, ...], tuple[int, ...], str], ...] = (
    ("mayor", OFFICIAL, (), (), "the whole city, Citizen 360 (audited)"),
    ("waste.head", DEPARTMENT_HEAD, ("Residuos y Limpieza",), (1,),
     "waste and cleaning only, opens on the first district"),
    ("mobility.head", DEPARTMENT_HEAD, ("Movilidad", "Obras Públicas"), (),
     "mobility and public works"),
    ("admin", ADMIN, (), (), "users, feeds, quarantine and the audit log"),
)


def add_demo_users(conn: Connection, district_ids: list[str]) -> list[dict[str, Any]]:
    """Add the demo users that are not there yet; returns every demo user's summary."""
    present = set(conn.execute(select(User.username)).scalars())
    for name, role, departments, districts, _ in DEMO_USERS:
        if name not in present:
            add_user(conn, name, role, DEMO_PASSWORD, departments=list(departments),
                     districts=[district_ids[i - 1] for i in districts])
            conn.execute(update(User).where(User.username == name).values(
                email=f"{name}@{DEMO_MAIL_DOMAIN}", language=DEMO_LANGUAGES.get(name, "en")))
    return [{"username": n, "role": r, "sees": what} for n, r, _, _, what in DEMO_USERS]
