"""Access rules: which roles may use a page, a callback or an API route (default deny),
and the data scope of a department head.

Rules are data: ``PAGE_ROLES`` maps a path pattern (``/district/<id>`` style) to the
roles that may open it, ``CALLBACK_ROLES`` maps a component-id prefix (every id is
prefixed by its page, ``layouts/ids.py``) to the roles whose callbacks may update it.
Anything not listed is denied to everybody.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from dashboard.auth import ADMIN, DEPARTMENT_HEAD, OFFICIAL, PUBLIC
from dashboard.auth.users import Principal

EVERYONE = (PUBLIC, DEPARTMENT_HEAD, OFFICIAL, ADMIN)
STAFF = (DEPARTMENT_HEAD, OFFICIAL, ADMIN)
CITIZEN_READERS = (DEPARTMENT_HEAD, OFFICIAL)  # Citizen 360 profiles (each read audited)
ADMINS = (ADMIN,)


def allowed(who: Principal, roles: Iterable[str]) -> bool:
    """Whether ``who``'s role is among ``roles`` (an empty list allows nobody)."""
    return who.role in tuple(roles)


@cache
def _pattern(path: str) -> re.Pattern[str]:
    """``/district/<id>`` -> a regex matching one path segment per placeholder."""
    parts = re.split(r"(<[^>/]+>)", path.rstrip("/") or "/")
    body = "".join("[^/]+" if p.startswith("<") else re.escape(p) for p in parts)
    return re.compile(f"^{body}/?$")


def match_path(path: str, patterns: Iterable[str]) -> str | None:
    """The first of ``patterns`` (``/district/<id>`` style) that ``path`` matches, or None."""
    return next((p for p in patterns if _pattern(p).match(path)), None)


def roles_for_path(path: str, rules: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The roles the first matching rule gives ``path``; () (deny) when none matches."""
    pattern = match_path(path, rules)
    return () if pattern is None else rules[pattern]


def output_ids(body: Mapping[str, Any]) -> list[str]:
    """The component ids a Dash callback request writes to (``outputs`` of the request's
    JSON; pattern-matching ids give their ``type``), for the callback rules."""
    outputs = body.get("outputs")
    found: list[str] = []
    for item in outputs if isinstance(outputs, list) else [outputs]:
        for one in item if isinstance(item, list) else [item]:
            if not isinstance(one, Mapping):
                continue
            cid = one.get("id")
            if isinstance(cid, Mapping):
                cid = cid.get("type")
            if isinstance(cid, str) and cid:
                found.append(cid)
    return found


def callback_allowed(who: Principal, body: Mapping[str, Any],
                     rules: Mapping[str, tuple[str, ...]]) -> bool:
    """Whether every output of a callback request is one ``who`` may update: each id must
    start with a listed prefix whose roles include ``who``'s. No outputs: denied."""
    ids = output_ids(body)
    if not ids:
        return False
    for cid in ids:
        prefix = max((p for p in rules if cid == p or cid.startswith(p)), key=len, default=None)
        if prefix is None or not allowed(who, rules[prefix]):
            return False
    return True


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
