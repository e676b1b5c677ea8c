"""What a user may be told: exactly what their pages show them. Officials and admins
hear about the whole city; a department head only about their departments' domains
(alerts), requests (SLA) and KPIs; nobody else about anything (deny by default)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboard.auth import ADMIN, DEPARTMENT_HEAD, OFFICIAL
from dashboard.auth.users import Principal
from dashboard.kpis import load_kpis
from dashboard.notify.events import ALERT_CLEARED, ALERT_RAISED, SLA_BREACHED
from dashboard.queries.departments import department_domains, department_kpis
from dashboard.settings import Settings


@dataclass(frozen=True)
class Reach:
    """A user's reach: None for "everything", else the domains, departments and KPIs."""

    domains: frozenset[str] | None
    departments: frozenset[str] | None
    kpis: frozenset[str] | None

    def covers(self, event: Any) -> bool:
        """Whether an event (anything with kind, domain, department, kpi) is theirs."""
        if event.kind in (ALERT_RAISED, ALERT_CLEARED):
            return self.domains is None or event.domain in self.domains
        if event.kind == SLA_BREACHED:
            return self.departments is None or event.department in self.departments
        return self.kpis is None or event.kpi in self.kpis


NOTHING = Reach(frozenset(), frozenset(), frozenset())
EVERYTHING = Reach(None, None, None)


def reach_of(who: Principal, settings: Settings) -> Reach:
    """The reach of a signed-in user (``NOTHING`` for anyone else)."""
    if who.role in (OFFICIAL, ADMIN):
        return EVERYTHING
    if who.role != DEPARTMENT_HEAD or not who.departments:
        return NOTHING
    domains: set[str] = set()
    kpis: set[str] = set()
    catalogue = load_kpis(settings.kpis_file)
    for department in who.departments:
        try:
            domains |= department_domains(settings, department) or set()
            kpis |= {k.id for k in department_kpis(settings, department, catalogue)}
        except ValueError:  # a department no service names (yet): nothing of its own
            pass
    return Reach(frozenset(domains), frozenset(who.departments), frozenset(kpis))
