"""Departments, from the Open311 service catalogue, and what each one is responsible for.

A department owns its services (``services.department``) and the domains of those
services (``services.domain``); its assets are the assets of those domains, and its KPIs
the sensor KPIs of those domains plus the request and case KPIs of what it handles
(requests closed on time, made online, ...), which then count its own requests and cases. Every page filters with these sets when a department is chosen.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from dashboard.kpis.definitions import KpiDefinition
from dashboard.model import Case, Service, ServiceRequest
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


REQUEST_SOURCES = {"service_requests": ServiceRequest.department, "cases": Case.department}


def counts_requests(kpi: KpiDefinition) -> bool:
    """Whether a KPI is computed from service requests or cases (and so can be narrowed to
    the requests and cases one department handles)."""
    return kpi.source in REQUEST_SOURCES


def sources_handled(settings: Settings, department: str) -> set[str]:
    """The request sources (``service_requests``, ``cases``) with at least one record the
    department handles (an index-only scan of each table's department column)."""

    def compute(conn: Connection) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for source, column in REQUEST_SOURCES.items():
            for name in conn.execute(select(column).distinct()).scalars():
                found.setdefault(name, []).append(source)
        return found

    handled = cached(settings, "departments_handling", {}, compute, ("requests", "cases"))
    return set(handled.get(department, []))


def department_kpis(settings: Settings, department: str | None,
                    kpis: Sequence[KpiDefinition]) -> list[KpiDefinition]:
    """The KPIs a department answers for (all of ``kpis`` when no department is chosen):
    the sensor KPIs of its domains, and the request and case KPIs of the sources where it
    handles records, unless narrowed to a domain not its own."""
    domains = department_domains(settings, department)
    if domains is None or department is None:
        return list(kpis)
    handled = sources_handled(settings, department)

    def answers_for(kpi: KpiDefinition) -> bool:
        if not counts_requests(kpi):
            return kpi.domain in domains
        narrowed_to = kpi.filter.get("domain")
        return kpi.source in handled and (not narrowed_to or narrowed_to in domains)

    return [k for k in kpis if answers_for(k)]
