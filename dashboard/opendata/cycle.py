"""One scheduled export round (``citylens opendata export``, the task queue's
``citylens.opendata``, a round of ``citylens sources run --loop``): under the store's
lease ``opendata``, so two schedulers never export at the same time."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from dashboard.notify.leases import give_up_lease, holder_name, take_lease
from dashboard.opendata.export import Exported, export_all
from dashboard.settings import Settings

LEASE = "opendata"
HOLD_FOR = timedelta(hours=2)  # an export of the benchmark city takes minutes; a dead one lapses


@dataclass
class ExportRound:
    """What one round did (``ran`` False: another process held the lease)."""

    ran: bool = False
    exported: list[Exported] = field(default_factory=list)

    def line(self) -> str:
        if not self.ran:
            return "opendata: another process holds the lease"
        return "opendata: " + "; ".join(done.line() for done in self.exported)


def export_once(engine: Engine, settings: Settings, names: Iterable[str] | None = None,
                force: bool = False, holder: str | None = None) -> ExportRound:
    """Export what changed, unless another process is exporting."""
    holder = holder or holder_name()
    found = ExportRound()
    if not take_lease(engine, LEASE, holder, settings.current_time(), HOLD_FOR):
        return found
    found.ran = True
    try:
        found.exported = export_all(engine, settings, names, force)
    finally:
        give_up_lease(engine, LEASE, holder, settings.current_time())
    return found
