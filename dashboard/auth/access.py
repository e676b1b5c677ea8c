"""Access rules: which roles may use a page, a callback or an API route (default deny),
and the data scope of a department head.

Rules are data that the pages declare (``layouts/access.py`` gathers them): each page
the roles that may open it, and component-id prefixes (every id is prefixed by its page,
``layouts/ids.py``) with the roles whose callbacks may write them. Anything not listed is
denied to everybody.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

from dashboard.auth import ADMIN, DEPARTMENT_HEAD, OFFICIAL, PUBLIC
from dashboard.auth.users import Principal

EVERYONE = (PUBLIC, DEPARTMENT_HEAD, OFFICIAL, ADMIN)
STAFF = (DEPARTMENT_HEAD, OFFICIAL, ADMIN)
CITIZEN_READERS = (DEPARTMENT_HEAD, OFFICIAL)  # Citizen 360 profiles (each read audited)
ADMINS = (ADMIN,)


def allowed(who: Principal, roles: Iterable[str]) -> bool:
    """Whether ``who``'s role is among ``roles`` (an empty list allows nobody)."""
    return who.role in tuple(roles)


def callback_output_ids(key: str) -> list[str]:
    """The component ids a callback writes, read from Dash's callback key (what Dash
    dispatches a request on: ``id.prop``, or ``..id1.prop1...id2.prop2..`` for several
    outputs; pattern-matching ids give their ``type``; escaped dots ``\\.`` kept)."""
    parts = key[2:-2].split("...") if key.startswith("..") and key.endswith("..") else [key]
    found: list[str] = []
    for part in parts:
        cid = re.split(r"(?<!\\)\.(?=[^.]*$)", part, maxsplit=1)[0].replace("\\.", ".")
        if cid.startswith("{"):
            try:
                cid = json.loads(cid).get("type")
            except (ValueError, AttributeError):
                return []
        if not isinstance(cid, str) or not cid:
            return []
        found.append(cid)
    return found


def roles_for_ids(ids: Iterable[str], prefixes: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The roles that may write every one of ``ids``: for each id the roles of the longest
    prefix in ``prefixes`` it starts with, intersected; () (nobody) when there are no ids or
    one matches no prefix."""
    common: set[str] | None = None
    for cid in ids:
        prefix = max((p for p in prefixes if cid.startswith(p)), key=len, default=None)
        if prefix is None:
            return ()
        roles = set(prefixes[prefix])
        common = roles if common is None else common & roles
    return tuple(role for role in EVERYONE if common and role in common)


def department_scope(who: Principal, requested: str | None) -> str | None:
    """The department a query may be filtered to: anything for officials and admins (None
    = all); for a department head one of theirs, their first when they asked for another
    or for all (a forged request gets their own data, never more). PermissionError for a
    department head bound to no department."""
    if who.role != DEPARTMENT_HEAD:
        return requested
    if not who.departments:
        raise PermissionError("this department head is bound to no department")
    return requested if requested in who.departments else who.departments[0]


def district_default(who: Principal, requested: str | None) -> str | None:
    """The district a page opens on: the asked one, else a department head's first."""
    if requested:
        return requested
    return who.districts[0] if who.role == DEPARTMENT_HEAD and who.districts else None
