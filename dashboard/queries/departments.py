"""Departments, from the Open311 service catalogue, and what each one is responsible for.

A department owns its services (``services.department``) and the domains of those
services (``services.domain``); its assets are the assets of those domains, and its KPIs
the KPIs of those domains. Every page filters with these sets when a department is chosen.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from dashboard.model import Service
from dashboard.queries.base import cached
from dashboard.settings import Settings


def department_options(settings: Settings) -> list[dict[str, Any]]:
    """Every department: ``{"id", "name", "domains": [...], "services": [codes]}``, by name."""

    def compute(conn: Connection) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        stmt = select(Service.department, Service.domain, Service.service_code)
        for department, domain, code in conn.execute(stmt):
            if not department:
                continue
            entry = found.setdefault(department, {"id": department, "name": department,
                                                  "domains": set(), "services": []})
            if domain:
                entry["domains"].add(domain)
            entry["services"].append(code)
        return [{**d, "domains": sorted(d["domains"]), "services": sorted(d["services"])}
                for d in sorted(found.values(), key=lambda d: d["name"].casefold())]

    return cached(settings, "department_options", {}, compute)


def department_scope(settings: Settings, department: str | None) -> dict[str, Any] | None:
    """The chosen department's entry (domains, services), or None for "all departments".

    An unknown department raises ``ValueError`` (pages clean the URL before asking).
    """
    if not department:
        return None
    for entry in department_options(settings):
        if entry["id"] == department:
            return entry
    raise ValueError(f"unknown department {department!r}")


def department_domains(settings: Settings, department: str | None) -> set[str] | None:
    """The domains a department is responsible for (None = no department chosen)."""
    scope = department_scope(settings, department)
    return None if scope is None else set(scope["domains"])
