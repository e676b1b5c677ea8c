"""Configured sources (a YAML file) run once or on a schedule, each isolated from the others.

    sources:
      - id: santander-air          # stable id: feed runs, watermarks and quarantine hang on it
        kind: ngsi                 # any kind the registry knows (citylens ingest --help)
        every_minutes: 10          # schedule for --loop and the scheduler (default 15)
        cron: "*/10 6-22 * * *"    # or a cron expression (minute hour day month weekday)
        after: [santander-devices] # runs after these sources when both are due
        enabled: true
        location: https://broker.example/v2/entities
        ...                        # the rest is the connector's own configuration
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from celery.schedules import ParseException, crontab
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from connectors.base import SourceFormatError
from connectors.registry import UnknownConnectorError, get_connector
from connectors.runner import RunReport, SourceBusy, run_source, store_error_line
from dashboard.settings import Settings
from dashboard.store.partitions import maintain_store

STORE_RETRY = timedelta(minutes=1)  # a source whose store was down is tried again this soon,
# then after twice as long each time it is still down (never later than its schedule)
MAINTAIN_EVERY = timedelta(days=1)  # the one-box loop maintains the store this often
log = logging.getLogger(__name__)


class SourceEntry(BaseModel):
    """One configured source: its id, kind, schedule (``every_minutes``, or a ``cron``
    expression), the sources it runs after, and the connector's configuration."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1)
    kind: str
    enabled: bool = True
    every_minutes: float = Field(default=15, gt=0)
    cron: str | None = None
    after: list[str] = Field(default_factory=list)

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str | None) -> str | None:
        if value is not None:
            cron_schedule(value)  # raises ValueError with the reason
        return value

    def connector_config(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @property
    def listens(self) -> bool:
        """A long-lived listener (``listen: true``): ``citylens listen sources`` runs it,
        never a schedule."""
        return bool(self.connector_config().get("listen"))

    def schedule(self) -> crontab | timedelta:
        """When it runs: its cron expression, else every ``every_minutes``."""
        return cron_schedule(self.cron) if self.cron else timedelta(minutes=self.every_minutes)


def cron_schedule(expression: str) -> crontab:
    """A five-field cron expression (minute hour day-of-month month day-of-week) as a
    Celery crontab; ValueError naming what is wrong."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"cron {expression!r}: expected 5 fields (minute hour day month "
                         f"weekday), got {len(fields)}")
    try:
        schedule = crontab(*fields[:2], day_of_month=fields[2], month_of_year=fields[3],
                           day_of_week=fields[4])
    except (ParseException, ValueError) as error:
        raise ValueError(f"cron {expression!r}: {error}") from error
    return schedule


def in_order(entries: list[SourceEntry]) -> list[SourceEntry]:
    """The entries with every source after those it names in ``after`` (otherwise in file
    order); SourceFormatError for an unknown name or a cycle."""
    by_id = {e.id: e for e in entries}
    for entry in entries:
        unknown = [name for name in entry.after if name not in by_id]
        if unknown:
            raise SourceFormatError(f"source {entry.id}: 'after' names unknown sources "
                                    f"{unknown}")
    ordered: list[SourceEntry] = []
    placed: set[str] = set()
    visiting: list[str] = []

    def place(entry: SourceEntry) -> None:
        if entry.id in placed:
            return
        if entry.id in visiting:
            cycle = " -> ".join([*visiting[visiting.index(entry.id):], entry.id])
            raise SourceFormatError(f"sources run after each other in a cycle: {cycle}")
        visiting.append(entry.id)
        for name in entry.after:
            place(by_id[name])
        visiting.pop()
        placed.add(entry.id)
        ordered.append(entry)

    for entry in entries:
        place(entry)
    return ordered


def load_sources(path: Path) -> list[SourceEntry]:
    """The sources of ``path``; a clear SourceFormatError when the file is wrong."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as error:
        raise SourceFormatError(f"{path}: no such file") from error
    except yaml.YAMLError as error:
        raise SourceFormatError(f"{path}: not valid YAML: {error}") from error
    items = raw.get("sources") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        raise SourceFormatError(f"{path}: expected a top-level 'sources:' list")
    entries = []
    for number, item in enumerate(items, 1):
        try:
            entries.append(SourceEntry.model_validate(item))
        except ValidationError as error:
            problem = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
            )
            raise SourceFormatError(f"{path}: source #{number}: {problem}") from error
    ids = [e.id for e in entries]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise SourceFormatError(f"{path}: duplicated source ids {duplicated}")
    try:
        return in_order(entries)
    except SourceFormatError as error:
        raise SourceFormatError(f"{path}: {error}") from error


def run_entry(engine: Engine, settings: Settings, entry: SourceEntry) -> RunReport:
    """Run one source; a misconfigured one, or a store that cannot be reached, gives a
    failed report instead of an exception."""
    try:
        connector = get_connector(entry.kind)(entry.connector_config())
    except (UnknownConnectorError, ValidationError, ValueError) as error:
        return RunReport(source=entry.id, kind=entry.kind, status="failed",
                         error=f"configuration: {error}".replace("\n", " "), failure="config")
    location = str(entry.connector_config().get("location", ""))
    try:
        return run_source(engine, settings, connector, entry.id, location)
    except SourceBusy as busy:  # not a failure: the run in progress elsewhere does it
        return RunReport(source=entry.id, kind=entry.kind, status="busy", error=str(busy))
    except SQLAlchemyError as error:  # the store is down: nothing was acknowledged
        return RunReport(source=entry.id, kind=entry.kind, status="failed",
                         error=f"store unavailable: {store_error_line(error)}",
                         failure="store")
    except Exception as error:  # noqa: BLE001 - a bug in one source never stops the others
        log.exception("source %s crashed", entry.id)
        line = " ".join(f"{type(error).__name__}: {error}".split())[:500]
        return RunReport(source=entry.id, kind=entry.kind, status="failed",
                         error=f"crashed: {line}", failure="crash")


def scheduled(entries: list[SourceEntry]) -> list[SourceEntry]:
    """The enabled sources that run on a schedule (not the long-lived listeners)."""
    return [e for e in entries if e.enabled and not e.listens]


def run_all(engine: Engine, settings: Settings, entries: list[SourceEntry]) -> list[RunReport]:
    """Run every enabled source once, in order (``load_sources`` puts each after those it
    names in ``after``); one failing never stops the others. Listeners are left to
    ``citylens listen sources``."""
    return [run_entry(engine, settings, e) for e in scheduled(entries)]


def run_forever(
    engine: Engine,
    settings: Settings,
    entries: list[SourceEntry],
    report: Callable[[RunReport], None],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    sleep: Callable[[float], None] = time.sleep,
    rounds: int | None = None,
) -> None:
    """Run each enabled source whenever it is due (its ``every_minutes``), maintain the
    store daily (``citylens db maintain``) and run the notifier every
    ``notify_every_seconds`` (subscriptions' messages, briefings) and export the open data
    (what changed) at the first round ``opendata_every_seconds`` after the last export (it
    never wakes the loop itself); ``rounds`` bounds the
    loop (tests), None runs until interrupted."""
    entries = scheduled(entries)
    due = {e.id: clock() for e in entries}
    store_failures = dict.fromkeys(due, 0)
    done = 0
    maintained: datetime | None = None
    notify_every = timedelta(seconds=settings.notify_every_seconds)
    notify_at = clock()
    opendata_every = timedelta(seconds=settings.opendata_every_seconds)
    opendata_at = clock()
    while rounds is None or done < rounds:
        now = clock()
        if maintained is None or now - maintained >= MAINTAIN_EVERY:
            maintained = now if _maintain(engine, settings) else maintained
        for entry in entries:
            if due[entry.id] <= now:
                done_run = run_entry(engine, settings, entry)
                report(done_run)
                due[entry.id] = now + next_wait(entry, done_run, store_failures)
        if clock() >= notify_at:
            _notify(engine, settings)
            notify_at = clock() + notify_every
        if clock() >= opendata_at:
            _export_opendata(engine, settings)
            opendata_at = clock() + opendata_every
        done += 1
        if rounds is None or done < rounds:
            sleep(max(1.0, (min([*due.values(), notify_at]) - clock()).total_seconds()))


def _notify(engine: Engine, settings: Settings) -> None:
    """A notifier round, logged; a store or delivery problem waits for the next one."""
    from dashboard.notify.cycle import notify_once
    from dashboard.notify.renderer import installed_renderer

    try:
        log.info("%s", notify_once(engine, settings, installed_renderer()).line())
    except SQLAlchemyError as error:
        log.warning("notifier round failed: %s", store_error_line(error))


def _export_opendata(engine: Engine, settings: Settings) -> None:
    """An open-data export round, logged; a store problem waits for the next one."""
    from dashboard.opendata import export_once

    try:
        log.info("%s", export_once(engine, settings).line())
    except SQLAlchemyError as error:
        log.warning("open-data export failed: %s", store_error_line(error))
    except OSError as error:  # the var folder full or unwritable: tried again next round
        log.warning("open-data export failed: %s", error)


def _maintain(engine: Engine, settings: Settings) -> bool:
    """The store's maintenance, logged; False when the store could not do it (tried again
    on the next round)."""
    try:
        done = maintain_store(engine, settings)
    except SQLAlchemyError as error:
        log.warning("store maintenance failed: %s", store_error_line(error))
        return False
    for line in done.lines():
        log.info("store maintenance: %s", line)
    return True


def next_wait(entry: SourceEntry, done_run: RunReport, store_failures: dict[str, int]
              ) -> timedelta:
    """How long until ``entry`` runs again: its schedule, or, while the store is down,
    ``STORE_RETRY`` doubled after each failure in a row (at most its schedule)."""
    every = entry.schedule()
    schedule = every if isinstance(every, timedelta) else every.remaining_estimate(
        datetime.now(timezone.utc))
    if done_run.failure != "store":
        store_failures[entry.id] = 0
        return schedule
    store_failures[entry.id] += 1
    backoff: timedelta = STORE_RETRY * (2 ** min(store_failures[entry.id] - 1, 10))
    return min(schedule, backoff)
