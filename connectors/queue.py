"""Connectors as tasks on a queue (Celery, with RabbitMQ as the broker).

``citylens scheduler`` (Celery beat) sends ``citylens.run_source`` for each enabled source
of ``sources.yaml`` on its schedule (``every_minutes`` or ``cron``); ``citylens worker``
processes run them with the same code as ``citylens sources run`` (``run_entry``). A task
is acknowledged only when it finished (late acknowledgement): a worker killed mid-run has
its task delivered again, and idempotent upserts and watermarks make the second run store
nothing twice and lose nothing. The store keeps one run of a source at a time
(``runner.SourceBusy``): a task finding its source running waits and tries again, which
also covers the run of a killed worker until its lease lapses. A source waits for those it
runs ``after`` while they are running or due.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from celery import Celery, Task
from celery.schedules import crontab
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from connectors.runner import store_error_line
from connectors.sources import SourceEntry, load_sources, run_entry, scheduled
from dashboard.feed_health import RUN_LEASE_SECONDS, run_status
from dashboard.model import FeedRun
from dashboard.settings import Settings, get_settings
from dashboard.store import get_engine
from dashboard.store.partitions import maintain_store

TASK = "citylens.run_source"
MAINTAIN_TASK = "citylens.maintain_store"
NOTIFY_TASK = "citylens.notify"
OPENDATA_TASK = "citylens.opendata"
MAINTAIN_AT = crontab(hour=3, minute=17)  # daily, in the city's quiet hours (its time zone)
WAIT_SECONDS = 5.0  # a task whose source is busy, or waits for others, tries again this soon
log = logging.getLogger(__name__)

app = Celery("citylens")


def configure(settings: Settings, schedule: dict[str, Any] | None = None) -> Celery:
    """The Celery app for ``settings``: its broker and queue, late acknowledgement, one task
    at a time per worker process, no results kept, and (for the scheduler) ``schedule``."""
    app.conf.update(
        broker_url=settings.broker_url,
        task_default_queue=settings.queue,
        task_acks_late=True,  # acknowledged when the run ended, not when it started
        task_reject_on_worker_lost=True,  # a killed worker's task goes back on the queue
        worker_prefetch_multiplier=1,  # never hold a task that another worker could run
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        timezone=settings.timezone,
        enable_utc=True,
        beat_schedule=schedule or {},
    )
    return app


def beat_schedule(entries: list[SourceEntry], sources_file: Path) -> dict[str, Any]:
    """One beat entry per enabled source on a schedule (listeners run on their own):
    ``citylens.run_source(id, file)``; the store's daily maintenance, the notifier and
    the open-data export."""
    schedule: dict[str, Any] = {
        f"source:{entry.id}": {"task": TASK, "schedule": entry.schedule(),
                               "args": (entry.id, str(sources_file.resolve()))}
        for entry in scheduled(entries)}
    schedule["store:maintain"] = {"task": MAINTAIN_TASK, "schedule": MAINTAIN_AT}
    schedule["notify"] = {"task": NOTIFY_TASK,
                          "schedule": timedelta(seconds=get_settings().notify_every_seconds),
                          "options": {"expires": get_settings().notify_every_seconds}}
    every = get_settings().opendata_every_seconds
    schedule["opendata"] = {"task": OPENDATA_TASK, "schedule": timedelta(seconds=every),
                            "options": {"expires": every}}
    return schedule


def _due(entry: SourceEntry, last_start: datetime, now: datetime) -> bool:
    """Whether ``entry`` is due again, its last run having started at ``last_start`` (a
    fifth of its interval early, at most two minutes: the scheduler's sends drift)."""
    schedule = entry.schedule()
    if isinstance(schedule, crontab):
        return bool(schedule.is_due(last_start).is_due)
    slack = min(schedule / 5, timedelta(minutes=2))
    return now - last_start >= schedule - slack


def waiting_for(engine: Engine, entry: SourceEntry, entries: list[SourceEntry],
                now: datetime) -> list[str]:
    """The enabled sources ``entry`` runs after that are running now, have never run, or
    are due: it runs once they have."""
    by_id = {e.id: e for e in entries}
    pending = []
    with engine.connect() as conn:
        for name in entry.after:
            other = by_id.get(name)
            if other is None or not other.enabled:
                continue
            last = conn.execute(select(FeedRun).where(FeedRun.source_id == name)
                                .order_by(FeedRun.started.desc()).limit(1)).first()
            if last is None:
                pending.append(name)
                continue
            started = last.started if last.started.tzinfo else last.started.replace(
                tzinfo=timezone.utc)
            if run_status(last, now) == "running" or _due(other, started, now):
                pending.append(name)
    return pending


def _longest_wait(entry: SourceEntry) -> timedelta:
    schedule = entry.schedule()
    return schedule if isinstance(schedule, timedelta) else timedelta(minutes=15)


@app.task(bind=True, name=TASK, max_retries=None)  # type: ignore[untyped-decorator]
def run_source_task(self: Task, source_id: str, sources_file: str,
                    waiting_since: str | None = None) -> dict[str, Any]:
    """Run source ``source_id`` of ``sources_file`` once, after the sources it runs after
    (a warning in the log once it waited longer than its own interval); a busy source, or
    a store that is down, is tried again shortly."""
    settings = get_settings()
    entries = load_sources(Path(sources_file))
    entry = next((e for e in entries if e.id == source_id), None)
    if entry is None or not entry.enabled:
        log.warning("source %s is not an enabled source of %s: skipped", source_id,
                    sources_file)
        return {"source": source_id, "status": "skipped"}
    now = datetime.now(timezone.utc)
    since = datetime.fromisoformat(waiting_since) if waiting_since else now
    try:
        engine = get_engine(settings.resolved_database_url)
        pending = waiting_for(engine, entry, entries, now)
    except SQLAlchemyError as error:  # the store is down: nothing was read, try again
        log.warning("source %s: store unavailable: %s", source_id, store_error_line(error))
        raise self.retry(countdown=WAIT_SECONDS * 6,
                         kwargs={"waiting_since": since.isoformat()}) from None
    if pending:  # they run first (each is running, or due and sent by the scheduler)
        if now - since > _longest_wait(entry):
            log.warning("source %s still waits for %s", source_id, pending)
        raise self.retry(countdown=WAIT_SECONDS,
                         kwargs={"waiting_since": since.isoformat()})
    report = run_entry(engine, settings, entry)
    if report.status == "busy":  # another run of it is in progress, or a dead one's lease
        raise self.retry(countdown=max(WAIT_SECONDS, RUN_LEASE_SECONDS / 4),
                         kwargs={"waiting_since": waiting_since})
    log.info("source %s: %s, %s in, %s stored, %s quarantined", source_id, report.status,
             report.records_in, report.stored, report.quarantined)
    return report.as_dict()


@app.task(bind=True, name=MAINTAIN_TASK, max_retries=5)  # type: ignore[untyped-decorator]
def maintain_store_task(self: Task) -> list[str]:
    """``citylens db maintain`` on a worker: partitions ahead, the retention applied (tried
    again in ten minutes when the store is down or busy past the lock timeout)."""
    settings = get_settings()
    try:
        done = maintain_store(get_engine(settings.resolved_database_url), settings)
    except SQLAlchemyError as error:
        log.warning("store maintenance failed: %s", store_error_line(error))
        raise self.retry(countdown=600) from None
    for line in done.lines():
        log.info("store maintenance: %s", line)
    return done.lines()


@app.task(name=NOTIFY_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
def notify_task() -> str:
    """A notifier round on a worker (``dashboard.notify.cycle``): under the store's lease,
    so two workers, or two schedulers' sends, never run one at the same time."""
    from dashboard.notify.cycle import notify_once
    from dashboard.notify.renderer import installed_renderer

    settings = get_settings()
    return _logged_round("notifier round", lambda: notify_once(
        get_engine(settings.resolved_database_url), settings, installed_renderer()).line())


@app.task(name=OPENDATA_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
def opendata_task() -> str:
    """An open-data export round on a worker (``dashboard.opendata.export_once``): the
    datasets whose data changed, under the store's lease."""
    from dashboard.opendata import export_once

    settings = get_settings()
    return _logged_round("open-data export", lambda: export_once(
        get_engine(settings.resolved_database_url), settings).line())


def _logged_round(what: str, run: Callable[[], str]) -> str:
    """``run``'s one-line report, logged; a store that fails makes it a warning."""
    try:
        line = run()
    except SQLAlchemyError as error:
        line = f"{what} failed: {store_error_line(error)}"
        log.warning("%s", line)
        return line
    log.info("%s", line)
    return line
