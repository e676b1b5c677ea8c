"""One round of the notifier, run every ``notify_every_seconds`` by the one-box loop
(``citylens sources run --loop``) or the task queue's scheduler: under a lease (one
notifier works at a time, whichever process), notice SLA breaches and KPI crossings,
match events to subscriptions, gather waiting events into messages, schedule the
briefings that are due, send what is due, and forget old events."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete

from dashboard.briefing import BriefingRenderer
from dashboard.model import Delivery, NotificationEvent
from dashboard.notify.briefings import briefing_sender, schedule_briefings
from dashboard.notify.deliveries import FAILED, SENT, gather, send_due
from dashboard.notify.detect import detect_kpi_crossings, detect_sla_breaches
from dashboard.notify.leases import give_up_lease, holder_name, take_lease
from dashboard.notify.matching import match_events
from dashboard.settings import Settings

log = logging.getLogger(__name__)

LEASE = "notifier"
HOLD_FOR = timedelta(minutes=10)  # longer than a round, even one sending briefings


@dataclass
class CycleReport:
    """What one round did (``ran`` False: another notifier held the lease)."""

    ran: bool = False
    sla_breaches: int = 0
    kpi_crossings: int = 0
    matched: int = 0
    gathered: int = 0
    briefings_due: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    forgotten: int = 0

    def line(self) -> str:
        """One line for the log."""
        if not self.ran:
            return "notifier: another process holds the lease"
        return (f"notifier: {self.matched} events matched ({self.sla_breaches} SLA, "
                f"{self.kpi_crossings} KPI), {self.gathered} messages gathered, "
                f"{self.briefings_due} briefings due; sent {self.sent}")


def _forget(engine: Engine, settings: Settings, now: datetime) -> int:
    """Events and deliveries older than ``notify_keep_days`` (a briefing's key row is
    kept a little longer than its period)."""
    before = now - timedelta(days=settings.notify_keep_days)
    with engine.begin() as conn:
        gone = conn.execute(delete(NotificationEvent).where(
            NotificationEvent.created_at < before)).rowcount
        gone += conn.execute(delete(Delivery).where(
            Delivery.created_at < before, Delivery.status.in_((SENT, FAILED)))).rowcount
    return int(gone)


def notify_once(engine: Engine, settings: Settings, renderer: BriefingRenderer | None, *,
                clock: Callable[[], datetime] | None = None,
                holder: str | None = None) -> CycleReport:
    """One round (see the module); without a renderer no briefing is scheduled."""
    now = (clock or settings.current_time)()
    holder = holder or holder_name()
    report = CycleReport()
    if not take_lease(engine, LEASE, holder, now, HOLD_FOR):
        return report
    report.ran = True
    try:
        with engine.begin() as conn:
            report.sla_breaches = detect_sla_breaches(conn, now)
        with engine.begin() as conn:
            report.kpi_crossings = detect_kpi_crossings(conn, settings, now)
        while True:
            with engine.begin() as conn:
                matched = match_events(conn, settings, now)
            report.matched += matched
            if not matched:
                break
        with engine.begin() as conn:
            report.gathered = gather(conn, settings, now)
        senders = {}
        if renderer is not None:
            with engine.begin() as conn:
                report.briefings_due = schedule_briefings(conn, settings, now)
            senders["briefing"] = briefing_sender(engine, renderer)
        report.sent = send_due(engine, settings, now, senders)
        report.forgotten = _forget(engine, settings, now)
    finally:
        give_up_lease(engine, LEASE, holder, now)
    return report
