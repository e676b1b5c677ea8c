"""Read models of the administrators' audit page: audit entries and the users list."""
from __future__ import annotations

from typing import Any

from dashboard.auth.audit import entries
from dashboard.auth.users import list_users
from dashboard.queries.base import engine_of
from dashboard.settings import Settings


def audit_entries(settings: Settings, citizen: str | None, user: str | None,
                  limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` audit entries about ``citizen`` and/or by ``user``."""
    with engine_of(settings).connect() as conn:
        return entries(conn, citizen=citizen or None, user=user or None, limit=limit)


def users(settings: Settings) -> list[dict[str, Any]]:
    """Every user, with their role, bindings and state (never a password hash)."""
    with engine_of(settings).connect() as conn:
        return list_users(conn, settings.current_time())
